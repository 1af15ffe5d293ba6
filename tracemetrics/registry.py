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
    )
}


def metric_names(source: Source | None = None) -> list[str]:
    return [m.name for m in METRICS.values() if source is None or m.source == source]
