#!/usr/bin/env python3
"""Regenerate the built-in example collection, resources/example_traces/."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tracemetrics.synth import example_specs, write_collection  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "example_traces")
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    traces = write_collection(args.out, example_specs())
    print(f"wrote {len(traces)} traces to {args.out}")


if __name__ == "__main__":
    main()
