#!/usr/bin/env python3
"""`python scripts/main.py --trace DIR --metric NAME`: works without installing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracemetrics.cli import main

main()
