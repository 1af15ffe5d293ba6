"""Workflow step (Snakemake `script:`): one metric's table from the per-trace files."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracemetrics.naming import Naming
from tracemetrics.registry import configured_metrics
from tracemetrics.tables import load_results, table_rows, write_table

snakemake = globals()["snakemake"]  # injected by Snakemake
records = load_results(Path(p) for p in snakemake.input)
_, metrics = configured_metrics(snakemake.config)
columns, rows = table_rows(
    snakemake.wildcards.metric, records, Naming.from_config(snakemake.config), metrics
)
for row in rows:  # the name and the card disagree: say so, once per trace and table
    if row.get("config_note") and "card says" in row["config_note"]:
        print(f"warning: {row['trace']}: {row['config_note']}", file=sys.stderr)
write_table(Path(snakemake.output[0]), columns, rows)
