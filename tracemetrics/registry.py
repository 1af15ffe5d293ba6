"""The metric registry: every fact about a metric is spelled here once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
            "E2EL",
            "results",
            "mean_e2el_ms",
            "ms",
            "End-to-end request latency",
            "lower",
            "Mean end-to-end request latency: mean over runs of `mean_e2el_ms` "
            "(SGLang: `mean_e2e_latency_ms`).",
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


# What the workflow builds unless configured otherwise (the schema's default), and
# what `tracemetrics validate` checks: E2EL is left out, older vLLM does not write it.
DEFAULT_METRICS = [
    "TTFT",
    "TPOT",
    "request_throughput",
    "output_throughput",
    "token_to_expert_assignment",
    "expert_load_by_layer",
    "expert_imbalance",
]


def metric_names(source: Source | None = None) -> list[str]:
    return [m.name for m in METRICS.values() if source is None or m.source == source]


NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")  # it names files: results/metrics/<t>/<name>.json


def field_metric(entry: Mapping[str, Any]) -> Metric:
    """A metric defined by configuration: the mean over runs of one result-JSON field."""
    name, field = entry.get("name"), entry.get("field")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"metric name {name!r}: use letters, digits, '_', '.', '-'")
    if not isinstance(field, str) or not field:
        raise ValueError(f"metric {name!r}: `field` must name a result-JSON field")
    better = entry.get("better")
    if better not in ("higher", "lower", None):
        raise ValueError(f"metric {name!r}: `better` is {better!r}, expected higher or lower")
    unit = entry.get("unit") or ""
    return Metric(
        name,
        "results",
        field,
        str(unit),
        str(entry.get("label") or name),
        better,
        f"Mean over runs of `{field}` (defined in the configuration).",
    )


def catalog(custom: Iterable[Mapping[str, Any]] = ()) -> dict[str, Metric]:
    """The built-in metrics plus those a configuration defines (`custom_metrics`)."""
    out = dict(METRICS)
    for entry in custom:
        try:
            metric = field_metric(entry)
        except ValueError as exc:
            raise ValueError(f"custom_metrics: {exc}") from None
        if metric.name in out:
            what = "a built-in metric" if metric.name in METRICS else "defined twice"
            raise ValueError(f"custom_metrics: metric {metric.name!r} is {what}")
        out[metric.name] = metric
    return out


def configured_metrics(config: Mapping[str, Any]) -> tuple[list[str], dict[str, Metric]]:
    """What a workflow configuration builds: `metrics` then every custom metric, and
    the catalog that defines them. Raises ValueError naming the bad entry."""
    metrics = catalog(config.get("custom_metrics") or [])
    names = list(config.get("metrics") or DEFAULT_METRICS)
    unknown = [n for n in names if n not in metrics]
    if unknown:
        raise ValueError(f"metrics: unknown {', '.join(unknown)}; available: {', '.join(metrics)}")
    names += [n for n in metrics if n not in METRICS and n not in names]
    return names, metrics


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


def plotted_quantities(names: list[str], metrics: Mapping[str, Metric] = METRICS) -> list[Quantity]:
    """What the sweep and EPLB plots show for the configured metrics, in order."""
    out = [
        Quantity(m, "value", m, metrics[m].label, metrics[m].unit, metrics[m].better)
        for m in names
        if metrics[m].source == "results"
    ]
    return out + [q for q in IMBALANCE_QUANTITIES if q.metric in names]
