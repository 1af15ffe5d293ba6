"""Trade-off plot: output throughput against a latency metric, one point per configuration.

A configuration is (variant, max_num_seqs, max_num_batched_tokens). Its traces' benchmark
runs are pooled as for the sweep points (pooling.pooled), so each point is the mean over
every run of the configuration, with a 95% CI on both axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from .atomic import savefig_atomic
from .plots import axis_label, say_empty, variant_colors
from .pooling import pooled
from .registry import Quantity

AXES = ("latency", "throughput")
COLUMNS = [
    "variant",
    "configuration",
    "max_num_seqs",
    "max_num_batched_tokens",
    "traces",
    *(f"{a}{s}" for a in AXES for s in ("", "_runs", "_ci95_low", "_ci95_high")),
    "pareto",
]


def pareto_front(latency: Sequence[float], throughput: Sequence[float]) -> list[bool]:
    """Which points no other point dominates (latency <= and throughput >=, one strictly).

    Sorted by latency, a point is on the front when it has the highest throughput at
    its latency and beats every point of strictly lower latency; equal points all stay.
    """
    if len(latency) != len(throughput):
        raise ValueError("latency and throughput differ in length")
    front = [False] * len(latency)
    best: float | None = None  # highest throughput at a strictly lower latency
    order = sorted(range(len(latency)), key=lambda i: latency[i])
    for _, tied in groupby(order, key=lambda i: latency[i]):
        same = list(tied)
        top = max(throughput[i] for i in same)
        for i in same:
            front[i] = throughput[i] == top and (best is None or top > best)
        best = top if best is None else max(best, top)
    return front


def _configuration(row: pd.Series) -> str:
    seqs, tokens = row["max_num_seqs"], row["max_num_batched_tokens"]
    if pd.isna(seqs) or pd.isna(tokens):
        return str(row["trace"])  # unknown configuration: the trace stands alone
    return f"{int(seqs)}/{int(tokens)}"


def tradeoff_points(
    throughput: pd.DataFrame, latency: pd.DataFrame, variants: list[str]
) -> pd.DataFrame:
    """One row per (variant, configuration): pooled latency and throughput, and whether
    the point is on its variant's Pareto front (see COLUMNS)."""

    def usable(table: pd.DataFrame) -> pd.DataFrame:
        keep = (table["status"] == "ok") & ~table["excluded"].astype(bool)
        return table[keep & table["variant"].isin(variants) & table["value"].notna()]

    thr, lat = usable(throughput), usable(latency)
    both = set(thr["trace"]) & set(lat["trace"])  # a point needs both metrics
    thr = thr[thr["trace"].isin(both)]
    if thr.empty:
        return pd.DataFrame(columns=COLUMNS)
    keys = ["variant", "configuration"]
    thr = thr.assign(configuration=thr.apply(_configuration, axis=1))
    lat = lat[["trace", "value", "runs", "std"]].merge(thr[["trace", *keys]], on="trace")
    grouped = thr.groupby(keys, sort=False)
    points = grouped[["max_num_seqs", "max_num_batched_tokens"]].first()
    points = points.assign(traces=grouped.size()).reset_index()
    for axis, table in (("latency", lat), ("throughput", thr)):
        stats = pooled(table, keys)[[*keys, "y", "runs", "ci95_low", "ci95_high"]]
        stats.columns = [*keys, axis, *(f"{axis}_{c}" for c in ("runs", "ci95_low", "ci95_high"))]
        points = points.merge(stats, on=keys)
    points["order"] = points["variant"].map(variants.index)
    points = points.sort_values(["order", "latency", "configuration"], kind="stable")
    points = points.drop(columns="order").reset_index(drop=True)
    points["pareto"] = False
    for _, sub in points.groupby("variant", sort=False):
        points.loc[sub.index, "pareto"] = pareto_front(
            sub["latency"].tolist(), sub["throughput"].tolist()
        )
    return points[COLUMNS]


def _errors(sub: pd.DataFrame, axis: str) -> list[list[float]]:
    """Distances from the mean to the CI bounds; NaN (no bar) without a CI."""
    return [
        (sub[axis] - sub[f"{axis}_ci95_low"]).tolist(),
        (sub[f"{axis}_ci95_high"] - sub[axis]).tolist(),
    ]


# Where a point's label may go, in points from the marker: the first that overlaps no
# label placed before it wins (or the first, when every one does).
_LABEL_OFFSETS = ((5, 5), (5, -11), (-5, 5), (-5, -11), (5, 14), (5, -20))


def _spread_labels(fig: Any, labels: list[Any]) -> None:
    """Move point labels off each other: configurations often sit close together."""
    if not labels:
        return
    fig.canvas.draw()  # settles the constrained layout, so label boxes are final
    renderer = fig.canvas.get_renderer()
    # the markers too: a label should not hide another point
    taken: list[Any] = [
        Bbox.from_bounds(x - 4, y - 4, 8, 8)
        for x, y in (label.axes.transData.transform(label.xy) for label in labels)
    ]
    for label in labels:
        for dx, dy in _LABEL_OFFSETS:
            label.set_position((dx, dy))
            label.set_horizontalalignment("left" if dx > 0 else "right")
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken):
                break
        else:
            label.set_position(_LABEL_OFFSETS[0])
            label.set_horizontalalignment("left")
            box = label.get_window_extent(renderer)
        taken.append(box)


def plot_tradeoff(
    points: pd.DataFrame, latency: Quantity, throughput: Quantity, variants: list[str], path: Path
) -> None:
    colors = variant_colors(variants)
    fig, ax = plt.subplots(figsize=(7.2, 5.0), layout="constrained")
    labels: list[Any] = []
    for variant in variants:
        sub = points[points["variant"] == variant]
        if sub.empty:
            continue
        color = colors[variant]
        ax.errorbar(
            sub["latency"],
            sub["throughput"],
            xerr=_errors(sub, "latency"),
            yerr=_errors(sub, "throughput"),
            fmt="o",
            color=color,
            ecolor=to_rgba(color, 0.35),  # faint: the points and fronts stay readable
            elinewidth=1,
            capsize=3,
            label=variant,
        )
        front = sub[sub["pareto"].astype(bool)].sort_values("latency")
        # post steps trace the edge of the region the front dominates
        ax.step(
            front["latency"],
            front["throughput"],
            where="post",
            linestyle="--",
            linewidth=1.4,
            color=color,
            alpha=0.85,
        )
        for x, y, text in zip(sub["latency"], sub["throughput"], sub["configuration"], strict=True):
            labels.append(
                ax.annotate(
                    text, (x, y), xytext=(5, 5), textcoords="offset points", fontsize=7, color=color
                )
            )
    _spread_labels(fig, labels)
    if points.empty:
        say_empty(ax, "no configuration has both metrics")
    else:
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], linestyle="--", color="gray"))
        labels.append("Pareto front")
        ax.legend(handles, labels, title="variant", loc="best", fontsize=8)
    ax.set_xlabel(axis_label(latency))
    ax.set_ylabel(axis_label(throughput))
    ax.set_title(f"{throughput.label} vs {latency.label[:1].lower()}{latency.label[1:]}")
    ax.grid(True, which="major", alpha=0.3)
    savefig_atomic(fig, path, dpi=150)
    plt.close(fig)
