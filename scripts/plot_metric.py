"""Workflow step (Snakemake `script:`): one metric's sweep plots and plotted points."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from tracemetrics.plots import Sweep, plot_sweep, sweep_points, write_points
from tracemetrics.registry import METRICS

snakemake = globals()["snakemake"]  # injected by Snakemake
metric = METRICS[snakemake.wildcards.metric]
variants = list(snakemake.config["variants"])
table = pd.read_csv(snakemake.input[0])
for entry, png, csv in zip(
    snakemake.config["sweeps"], snakemake.output.png, snakemake.output.csv, strict=True
):
    sweep = Sweep.from_config(entry)
    points = sweep_points(table, sweep, variants)
    write_points(Path(csv), points)
    plot_sweep(points, metric, sweep, variants, Path(png))
