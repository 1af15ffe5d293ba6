"""Workflow step (Snakemake `script:`): one line per trace with an invalid metric."""

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracemetrics.atomic import write_text_atomic

snakemake = globals()["snakemake"]  # injected by Snakemake
reasons: dict[str, str] = {}
for table in snakemake.input:
    with open(table, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["status"] == "invalid":
                reasons.setdefault(row["trace"], row["reason"])
lines = [f"{trace}: {reason}" for trace, reason in sorted(reasons.items())]
write_text_atomic(Path(snakemake.output[0]), "".join(line + "\n" for line in lines))
