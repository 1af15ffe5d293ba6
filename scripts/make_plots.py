"""Workflow step (Snakemake `script:`): every plot, in one process (one matplotlib import).

Sweep plots (and their plotted points) for each quantity, the EPLB on/off comparison,
the throughput-latency trade-offs, and a layer x expert heatmap per MoE trace.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from tracemetrics.plots import (
    Sweep,
    eplb_points,
    plot_eplb,
    plot_heatmap,
    plot_sweep,
    sweep_points,
    write_points,
)
from tracemetrics.registry import configured_metrics, plotted_quantities
from tracemetrics.tradeoff import plot_tradeoff, tradeoff_points

snakemake = globals()["snakemake"]  # injected by Snakemake
config = snakemake.config
variants = list(config["variants"])
names, metrics = configured_metrics(config)
quantities = plotted_quantities(names, metrics)
by_metric = {q.metric: q for q in quantities if q.column == "value"}
tables = {Path(p).stem: pd.read_csv(p) for p in snakemake.input.tables}
outputs = {Path(p).name: Path(p) for p in [*snakemake.output.png, *snakemake.output.csv]}

for quantity in quantities:
    for entry in config["sweeps"]:
        sweep = Sweep.from_config(entry)
        stem = f"{quantity.name}_vs_{sweep.name}"
        points = sweep_points(tables[quantity.metric], sweep, variants, quantity.column)
        write_points(outputs[f"{stem}.csv"], points)
        plot_sweep(points, quantity, sweep, variants, outputs[f"{stem}.png"])

points = eplb_points(tables, quantities)
write_points(outputs["eplb_on_vs_off.csv"], points)
plot_eplb(points, quantities, outputs["eplb_on_vs_off.png"])

for latency in ("TPOT", "TTFT"):
    stem = f"tradeoff_output_throughput_vs_{latency}"
    if f"{stem}.png" not in outputs:
        continue
    points = tradeoff_points(tables["output_throughput"], tables[latency], variants)
    write_points(outputs[f"{stem}.csv"], points)
    throughput = by_metric["output_throughput"]
    plot_tradeoff(points, by_metric[latency], throughput, variants, outputs[f"{stem}.png"])

if snakemake.output.heatmaps:
    folder = Path(snakemake.output.heatmaps[0])
    folder.mkdir(parents=True, exist_ok=True)
    for path in snakemake.input.layers:
        record = json.loads(Path(path).read_text())
        if record["status"] == "ok":
            plot_heatmap(record["value"], record["trace"], folder / f"{record['trace']}.png")
