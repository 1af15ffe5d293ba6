"""The metric registry: every fact about a metric is spelled here once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["results", "gates"]


@dataclass(frozen=True)
class Metric:
    name: str
    source: Source  # results: mean of a result-JSON field; gates: expert loads
    field: str | None
    unit: str
    label: str
    better: Literal["lower", "higher"] | None
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "TTFT",
            "results",
            "mean_ttft_ms",
            "ms",
            "Time to first token",
            "lower",
            "Mean time to first token: mean over runs of `mean_ttft_ms`.",
        ),
        Metric(
            "TPOT",
            "results",
            "mean_tpot_ms",
            "ms",
            "Time per output token",
            "lower",
            "Mean time per output token (excluding the first): mean over runs of `mean_tpot_ms`.",
        ),
        Metric(
            "request_throughput",
            "results",
            "request_throughput",
            "req/s",
            "Request throughput",
            "higher",
            "Completed requests per second: mean over runs of `request_throughput`.",
        ),
        Metric(
            "output_throughput",
            "results",
            "output_throughput",
            "tok/s",
            "Output token throughput",
            "higher",
            "Generated tokens per second: mean over runs of `output_throughput`.",
        ),
        Metric(
            "token_to_expert_assignment",
            "gates",
            None,
            "",
            "Token-to-expert load",
            None,
            "Expert loads summed over every step, layer and run of the gate logs, "
            "their normalized distribution, and its entropy, coefficient of "
            "variation and max/min ratio.",
        ),
        Metric(
            "expert_load_by_layer",
            "gates",
            None,
            "",
            "Expert load by layer",
            None,
            "Per MoE layer (gate_logs_<layer>.json): `layers` (layer ids, ascending); "
            "`totals` (layer x expert matrix: expert_loads summed over every run and step); "
            "`normalized` (each layer's row / its sum); `cv` (per layer: population std / "
            "mean of its row over experts); `max_over_mean` (per layer: max / mean of its "
            "row); a layer without load has null entries. `summary`: num_layers, "
            "num_experts, total_steps (rows summed), cv_mean, cv_max, max_over_mean_mean, "
            "max_over_mean_max (over layers with load). Steps above --max-step-tokens, "
            "when set, are dropped.",
        ),
        Metric(
            "expert_imbalance",
            "gates",
            None,
            "",
            "Per-step expert imbalance",
            "lower",
            "Over rows = (step, layer, run) with non-zero load: `expert_max_over_mean` "
            "(max over experts / mean over experts of the row): mean, median, p95 "
            "(linear interpolation as numpy, from a histogram with 4096 bins per unit: "
            "within `percentile_resolution` = 1/4096 below the exact value), max, and "
            "token_weighted_mean (weights: the row's num_tokens); `per_step_cv_mean`: "
            "population std / mean over experts of each row, averaged over rows; `rows`, "
            "`zero_load_rows` (rows without load, left out). `ep_balance` for the EP size "
            "(--ep-size, else the card's Model-executor.model_plan_parallelization.ep; "
            "`skipped` with a `reason` when it is missing, 1, or does not divide E): rank "
            "r owns experts r*E/ep .. (r+1)*E/ep-1, rank load = sum of its experts' loads; "
            "`balancedness` (vLLM EPLB): per step (position within a run, all layers), sum "
            "over layers of mean rank load / sum over layers of max rank load, averaged "
            "over the steps with load of all runs; `rank_max_over_mean_mean`: max / mean "
            "rank load averaged over rows with load; `steps`. `consistency`: top_k (the "
            "card's expert_parallel.top_k, default 2), rows_checked, rows_mismatched (rows "
            "whose sum differs from top_k x num_tokens by more than 1e-6 x max(1, "
            "top_k x num_tokens); a warning when any). `warmup_filter`: max_step_tokens, "
            "rows_dropped (steps with num_tokens above it, dropped from every gate metric).",
        ),
    )
}


def metric_names(source: Source | None = None) -> list[str]:
    return [m.name for m in METRICS.values() if source is None or m.source == source]


@dataclass(frozen=True)
class Quantity:
    """One plotted number: a column of a metric's table, with how to show it."""

    metric: str
    column: str
    name: str  # the file-name part: results/plots/<name>_vs_<sweep>.png
    label: str
    unit: str
    better: Literal["lower", "higher"] | None


# Table columns of expert_imbalance worth comparing across configurations.
IMBALANCE_QUANTITIES = (
    Quantity(
        "expert_imbalance",
        "max_over_mean_mean",
        "expert_max_over_mean",
        "Expert load max/mean per step",
        "",
        "lower",
    ),
    Quantity(
        "expert_imbalance",
        "per_step_cv_mean",
        "expert_step_cv",
        "Per-step CV of expert load",
        "",
        "lower",
    ),
    Quantity(
        "expert_imbalance",
        "ep_balancedness",
        "ep_balancedness",
        "EP-rank balancedness (vLLM EPLB)",
        "",
        "higher",
    ),
)


def plotted_quantities(metrics: list[str]) -> list[Quantity]:
    """What the sweep and EPLB plots show for the configured metrics, in order."""
    out = [
        Quantity(m, "value", m, METRICS[m].label, METRICS[m].unit, METRICS[m].better)
        for m in metrics
        if METRICS[m].source == "results"
    ]
    return out + [q for q in IMBALANCE_QUANTITIES if q.metric in metrics]
