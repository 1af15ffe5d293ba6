"""Comparison plots along configuration sweeps (imports matplotlib: not per-trace code)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FixedLocator, NullLocator

from .atomic import savefig_atomic, write_atomic
from .registry import Metric

AXIS_LABELS = {
    "max_num_seqs": "max-num-seqs",
    "max_num_batched_tokens": "max-num-batched-tokens",
}
POINT_COLUMNS = ["variant", "x", "y", "n"]


@dataclass(frozen=True)
class Sweep:
    name: str
    x: str
    fixed: dict[str, Any]

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> Sweep:
        return cls(entry.get("name") or entry["x"], entry["x"], dict(entry.get("fixed") or {}))

    def describe_fixed(self) -> str:
        return ", ".join(f"{AXIS_LABELS.get(k, k)} = {v}" for k, v in self.fixed.items())


def variant_colors(variants: list[str]) -> dict[str, Any]:
    """One colour per variant, the same in every plot (by legend order)."""
    palette = plt.get_cmap("tab10").colors
    return {v: palette[i % len(palette)] for i, v in enumerate(variants)}


def sweep_points(table: pd.DataFrame, sweep: Sweep, variants: list[str]) -> pd.DataFrame:
    """The plotted points: mean value per (variant, x) over the traces the sweep selects."""
    missing = [c for c in [sweep.x, *sweep.fixed] if c not in table.columns]
    if missing:
        available = ", ".join(c for c in table.columns if c not in ("trace", "reason"))
        raise KeyError(
            f"sweep {sweep.name!r} uses unknown column(s) {missing}; available: {available}"
        )
    keep = (
        (table["status"] == "ok")
        & ~table["excluded"].astype(bool)
        & table["variant"].isin(variants)
        & table[sweep.x].notna()
    )
    for column, value in sweep.fixed.items():
        keep &= table[column] == value
    selected = table[keep]
    if selected.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    points = (
        selected.groupby(["variant", sweep.x], sort=False)["value"]
        .agg(y="mean", n="count")
        .reset_index()
        .rename(columns={sweep.x: "x"})
    )
    points["order"] = points["variant"].map(variants.index)
    points = points.sort_values(["order", "x"]).drop(columns="order")
    return points[POINT_COLUMNS].reset_index(drop=True)


def write_points(path: Path, points: pd.DataFrame) -> None:
    write_atomic(path, lambda handle: points.to_csv(handle, index=False, lineterminator="\n"))


def plot_sweep(
    points: pd.DataFrame, metric: Metric, sweep: Sweep, variants: list[str], path: Path
) -> None:
    colors = variant_colors(variants)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    for variant in variants:
        sub = points[points["variant"] == variant]
        if sub.empty:
            continue
        ax.plot(sub["x"], sub["y"], marker="o", linewidth=2, color=colors[variant], label=variant)
    xs = sorted(points["x"].unique()) if not points.empty else []
    if xs and min(xs) > 0:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(xs))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{x:g}" for x in xs])
    if points.empty:
        ax.text(
            0.5,
            0.5,
            "no traces match this sweep",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="gray",
        )
    unit = f" [{metric.unit}]" if metric.unit else ""
    ax.set_xlabel(AXIS_LABELS.get(sweep.x, sweep.x))
    ax.set_ylabel(f"{metric.label}{unit}")
    ax.set_title(f"{metric.label} vs {AXIS_LABELS.get(sweep.x, sweep.x)}")
    if sweep.fixed:
        ax.text(
            0.02,
            0.97,
            sweep.describe_fixed(),
            transform=ax.transAxes,
            va="top",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8},
        )
    ax.grid(True, which="major", alpha=0.3)
    if not points.empty:
        ax.legend(title="variant", loc="best")
    savefig_atomic(fig, path, dpi=150)
    plt.close(fig)
