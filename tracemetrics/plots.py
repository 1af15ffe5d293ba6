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
from .pooling import STAT_COLUMNS, pooled
from .registry import Quantity

AXIS_LABELS = {
    "max_num_seqs": "max-num-seqs",
    "max_num_batched_tokens": "max-num-batched-tokens",
}
POINT_COLUMNS = ["variant", "x", *STAT_COLUMNS]


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


def sweep_points(
    table: pd.DataFrame, sweep: Sweep, variants: list[str], column: str = "value"
) -> pd.DataFrame:
    """The plotted points per (variant, x), pooled over the traces the sweep selects
    (status ok, not excluded, a known variant, the fixed values, a value): y is the mean
    over their runs, n the traces, runs the measurements, with std and 95% CI."""
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
        & table[column].notna()
    )
    for fixed_column, fixed_value in sweep.fixed.items():
        keep &= table[fixed_column] == fixed_value
    selected = table[keep]
    if selected.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    points = pooled(selected, ["variant", sweep.x], column).rename(columns={sweep.x: "x"})
    points["order"] = points["variant"].map(variants.index)
    points = points.sort_values(["order", "x"]).drop(columns="order")
    return points[POINT_COLUMNS].reset_index(drop=True)


def write_points(path: Path, points: pd.DataFrame) -> None:
    write_atomic(path, lambda handle: points.to_csv(handle, index=False, lineterminator="\n"))


def say_empty(ax: Any, text: str) -> None:
    """A grey note in the middle of an axes that has nothing to show."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")


def axis_label(quantity: Quantity) -> str:
    unit = f" [{quantity.unit}]" if quantity.unit else ""
    better = f" ({quantity.better} is better)" if quantity.better else ""
    return f"{quantity.label}{unit}{better}"


def plot_sweep(
    points: pd.DataFrame, quantity: Quantity, sweep: Sweep, variants: list[str], path: Path
) -> None:
    colors = variant_colors(variants)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    for variant in variants:
        sub = points[points["variant"] == variant]
        if sub.empty:
            continue
        ax.plot(sub["x"], sub["y"], marker="o", linewidth=2, color=colors[variant], label=variant)
        ci = sub.dropna(subset=["ci95_low", "ci95_high"])
        if not ci.empty:  # 95% confidence interval of the mean over repeated runs
            ax.errorbar(
                ci["x"],
                ci["y"],
                yerr=[ci["y"] - ci["ci95_low"], ci["ci95_high"] - ci["y"]],
                fmt="none",
                ecolor=colors[variant],
                elinewidth=1.2,
                capsize=4,
            )
    xs = sorted(points["x"].unique()) if not points.empty else []
    if xs and min(xs) > 0:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(xs))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{x:g}" for x in xs])
    if points.empty:
        say_empty(ax, "no traces match this sweep")
    ax.set_xlabel(AXIS_LABELS.get(sweep.x, sweep.x))
    ax.set_ylabel(axis_label(quantity))
    ax.set_title(f"{quantity.label} vs {AXIS_LABELS.get(sweep.x, sweep.x)}")
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
    if points["ci95_low"].notna().any():
        ax.annotate(
            "error bars: 95% CI of the mean over repeated runs",
            (1.0, 0.0),
            xycoords="figure fraction",
            ha="right",
            va="bottom",
            fontsize=7,
            color="gray",
        )
    savefig_atomic(fig, path, dpi=150)
    plt.close(fig)


def eplb_points(tables: dict[str, pd.DataFrame], quantities: list[Quantity]) -> pd.DataFrame:
    """EPLB on vs off: per quantity and configuration, the mean over the EPLB traces."""
    frames = []
    for q in quantities:
        table = tables[q.metric]
        keep = (table["status"] == "ok") & table["eplb"].isin(["on", "off"])
        keep &= table[q.column].notna()
        sub = table[keep]
        if sub.empty:
            continue
        config = (
            sub["variant"].fillna("?").astype(str)
            + " "
            + sub["max_num_seqs"].astype("Int64").astype(str)
            + "/"
            + sub["max_num_batched_tokens"].astype("Int64").astype(str)
        )
        grouped = (
            pooled(sub.assign(configuration=config), ["configuration", "eplb"], q.column)
            .rename(columns={"y": "value"})
            .sort_values(["configuration", "eplb"])
        )
        grouped.insert(0, "quantity", q.name)
        frames.append(grouped)
    columns = ["quantity", "configuration", "eplb", "value", *STAT_COLUMNS[1:]]
    return (
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    )


def plot_eplb(points: pd.DataFrame, quantities: list[Quantity], path: Path) -> None:
    """Grouped bars, one panel per quantity: each configuration with EPLB off and on."""
    shown = [q for q in quantities if (points["quantity"] == q.name).any()]
    panels = max(1, len(shown))
    cols = min(3, panels)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.6 * cols, 3.6 * rows), layout="constrained", squeeze=False
    )
    colors = {"off": "#9e9e9e", "on": "#2ca02c"}
    for ax, q in zip(axes.flat, shown, strict=False):
        sub = points[points["quantity"] == q.name]
        configs = sorted(sub["configuration"].unique())
        width = 0.38
        for k, state in enumerate(("off", "on")):
            # one pooled row per (configuration, state), or none: NaN draws no bar
            cells = sub[sub["eplb"] == state].set_index("configuration").reindex(configs)
            xs = [i + (k - 0.5) * width for i in range(len(configs))]
            ax.bar(xs, cells["value"], width, color=colors[state], label=f"EPLB {state}")
            ci = cells.assign(x=xs).dropna(subset=["ci95_low", "ci95_high"])
            if not ci.empty:  # 95% CI where the configuration was run more than once
                ax.errorbar(
                    ci["x"],
                    ci["value"],
                    yerr=[ci["value"] - ci["ci95_low"], ci["ci95_high"] - ci["value"]],
                    fmt="none",
                    ecolor="#333333",
                    elinewidth=1,
                    capsize=3,
                )
        ax.set_xticks(range(len(configs)), configs, fontsize=8)
        ax.set_xlim(-1, len(configs))  # keeps bars narrow when there are few configurations
        ax.set_title(q.label, fontsize=10)
        ax.set_ylabel(axis_label(q).removeprefix(q.label).strip() or "value", fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    if shown:
        axes.flat[0].legend(fontsize=8)
    else:
        say_empty(axes.flat[0], "no EPLB on/off traces")
    fig.suptitle("What the expert-parallel load balancer changes (EPLB off vs on)")
    savefig_atomic(fig, path, dpi=130)
    plt.close(fig)


def plot_heatmap(value: dict[str, Any], trace: str, path: Path) -> None:
    """Layer x expert share of each layer's load; white is the uniform share 1/E."""
    from matplotlib.colors import TwoSlopeNorm

    matrix = [[v if v is not None else float("nan") for v in row] for row in value["normalized"]]
    experts = len(matrix[0]) if matrix else 1
    uniform = 1.0 / experts
    flat = [v for row in matrix for v in row if v == v]
    top = max([*flat, uniform * 1.01])
    low = min([*flat, uniform * 0.99])
    fig, ax = plt.subplots(
        figsize=(1.2 + 0.5 * experts, 1.6 + 0.16 * len(matrix)), layout="constrained"
    )
    image = ax.imshow(
        matrix,
        aspect="auto",
        cmap="RdBu_r",
        interpolation="nearest",
        norm=TwoSlopeNorm(vmin=low, vcenter=uniform, vmax=top),
    )
    ax.set_xticks(range(experts))
    ax.set_xlabel("expert")
    layers = value["layers"]
    step = max(1, len(layers) // 16)
    ax.set_yticks(range(0, len(layers), step), [str(layer) for layer in layers[::step]])
    ax.set_ylabel("MoE layer")
    ax.set_title(f"{trace}\nshare of each layer's expert load (uniform = 1/{experts})", fontsize=8)
    fig.colorbar(image, ax=ax, label="share of layer load")
    savefig_atomic(fig, path, dpi=120)
    plt.close(fig)
