"""Workflow step (Snakemake `script:`): every sweep plot, with its plotted points."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from tracemetrics.plots import Sweep, plot_sweep, sweep_points, write_points
from tracemetrics.registry import METRICS

snakemake = globals()["snakemake"]  # injected by Snakemake
variants = list(snakemake.config["variants"])
sweeps = [Sweep.from_config(entry) for entry in snakemake.config["sweeps"]]
outputs = {Path(p).name: Path(p) for p in [*snakemake.output.png, *snakemake.output.csv]}
for table_path in snakemake.input:
    metric = METRICS[Path(table_path).stem]
    table = pd.read_csv(table_path)
    for sweep in sweeps:
        png = outputs[f"{metric.name}_vs_{sweep.name}.png"]
        csv = outputs[f"{metric.name}_vs_{sweep.name}.csv"]
        points = sweep_points(table, sweep, variants)
        write_points(csv, points)
        plot_sweep(points, metric, sweep, variants, png)
