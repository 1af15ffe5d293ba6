"""Workflow step (Snakemake `script:`): the variant comparison table."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from tracemetrics.compare import comparison, write_comparison
from tracemetrics.registry import configured_metrics, plotted_quantities

snakemake = globals()["snakemake"]  # injected by Snakemake
tables = {Path(p).stem: pd.read_csv(p) for p in snakemake.input}
quantities = plotted_quantities(*configured_metrics(snakemake.config))
rows = comparison(tables, quantities, list(snakemake.config["variants"]))
write_comparison(Path(snakemake.output[0]), rows)
