"""From a trace directory to metric results: the functions the CLI and workflow share."""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .card import DEFAULT_PHASES, Card, find_card, load_card, trace_name
from .errors import TraceError
from .gate_files import gate_log_files
from .registry import METRICS, Metric
from .results import field_mean, read_all_runs, result_files
from .stats import summarize


@dataclass(frozen=True)
class Options:
    """How metrics are computed.

    `max_step_tokens`: drop gate-log steps whose num_tokens exceed it (vLLM's profiling
    batch) from every gate metric; None keeps all. `ep_size`: the EP size for
    expert_imbalance's rank balance, instead of the card's.
    """

    phases: tuple[str, ...] = DEFAULT_PHASES
    max_step_tokens: int | None = None
    ep_size: int | None = None


@dataclass
class MetricResult:
    """One metric of one trace, as cached by the workflow."""

    metric: str
    trace: str
    status: str  # ok | invalid | not_applicable
    value: float | dict[str, Any] | None = None
    unit: str = ""
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    runs: int | None = None  # benchmark runs averaged (result-JSON metrics)
    card_config: dict[str, Any] = field(default_factory=dict)  # from workload.data
    # Result-JSON metrics: each run's value, their sample std and 95% CI of the mean
    # (std and CI need two runs), and the file formats read (vllm, sglang, unknown).
    run_values: list[float] | None = None
    std: float | None = None
    ci95: tuple[float, float] | None = None
    formats: list[str] | None = None
    error: TraceError | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "trace": self.trace,
            "status": self.status,
            "value": self.value,
            "unit": self.unit,
            "reason": self.reason,
            "warnings": self.warnings,
            "sources": self.sources,
            "runs": self.runs,
            "std": self.std,
            "ci95": list(self.ci95) if self.ci95 else None,
            "run_values": self.run_values,
            "formats": self.formats,
            "card_config": self.card_config,
        }


def open_card(trace_dir: Path) -> Card:
    """Check the trace directory and load its workload card."""
    try:
        is_dir = stat.S_ISDIR(trace_dir.stat().st_mode)
    except FileNotFoundError:
        what = "is a broken symbolic link" if trace_dir.is_symlink() else "does not exist"
        raise TraceError(trace_dir, f"trace directory {what}") from None
    except OSError as exc:  # e.g. a symbolic link loop, which exists() calls missing
        raise TraceError(trace_dir, f"cannot open trace directory: {exc.strerror}") from None
    if not is_dir:
        raise TraceError(trace_dir, "trace path is not a directory")
    return load_card(find_card(trace_dir))


def _relative(trace_dir: Path, paths: Iterable[Path]) -> list[str]:
    return [str(p.relative_to(trace_dir)) for p in paths]


def _results_metrics(
    trace_dir: Path, card: Card, metrics: list[Metric], options: Options
) -> dict[str, MetricResult]:
    try:
        card.require_inference(options.phases)
        files = result_files(trace_dir)
        runs = read_all_runs(files)
    except TraceError as exc:
        return {m.name: _failed(m, trace_dir, exc) for m in metrics}
    sources = [str(card.path.relative_to(trace_dir)), *_relative(trace_dir, files)]
    formats = sorted({run.format for run in runs})
    out = {}
    for metric in metrics:
        try:
            mean = field_mean(runs, metric.field or metric.name)
        except TraceError as exc:
            out[metric.name] = _failed(metric, trace_dir, exc)
            continue
        result = _ok(metric, trace_dir, mean.value, mean.warnings, sources, mean.count)
        spread = summarize(mean.values)
        result.run_values = mean.values
        result.std = spread.std
        if spread.ci95_low is not None and spread.ci95_high is not None:
            result.ci95 = (spread.ci95_low, spread.ci95_high)
        result.formats = formats
        out[metric.name] = result
    return out


def _gates_metrics(
    trace_dir: Path, card: Card, metrics: list[Metric], options: Options
) -> dict[str, MetricResult]:
    where = trace_dir / "gates_logs"
    if options.ep_size is not None:
        ep_size, ep_source = options.ep_size, "option"
    else:
        ep_size, ep_source = card.ep_size, "card"
    try:
        card.require_moe()
        files = gate_log_files(trace_dir)
    except TraceError as exc:
        return {m.name: _failed(m, trace_dir, exc) for m in metrics}
    # Imported only now: numpy costs a tenth of a second, which a trace without gate
    # logs (one workflow job each) need not pay.
    from .expert_stats import (
        DEFAULT_TOP_K,
        ExpertLoadScan,
        assignment_summary,
        consistency_warning,
        imbalance_value,
        load_by_layer,
    )

    top_k = card.top_k if card.top_k is not None and card.top_k > 0 else DEFAULT_TOP_K
    try:
        scan = ExpertLoadScan(
            max_step_tokens=options.max_step_tokens, ep_size=ep_size, top_k=top_k
        ).scan(files)
        if scan.rows_dropped and not scan.total_steps:
            raise TraceError(
                where,
                f"all {scan.rows_dropped} steps have num_tokens above "
                f"max_step_tokens = {options.max_step_tokens}; nothing left to measure",
            )
    except TraceError as exc:
        return {m.name: _failed(m, trace_dir, exc) for m in metrics}
    sources = [
        str(card.path.relative_to(trace_dir)),
        *_relative(trace_dir, (f.path for f in files)),
    ]

    def value_of(name: str) -> tuple[dict[str, Any], list[str]]:
        if name == "expert_load_by_layer":
            return load_by_layer(scan, where), []
        if name == "expert_imbalance":
            warning = consistency_warning(scan, where)
            return imbalance_value(scan, where, ep_source), [warning] if warning else []
        return assignment_summary(
            [] if scan.totals is None else scan.totals.tolist(), scan.total_steps, where
        ), []

    out = {}
    for metric in metrics:
        try:
            value, warnings = value_of(metric.name)
        except TraceError as exc:
            out[metric.name] = _failed(metric, trace_dir, exc)
            continue
        out[metric.name] = _ok(metric, trace_dir, value, warnings, sources)
    return out


def _ok(
    metric: Metric,
    trace_dir: Path,
    value: float | dict[str, Any],
    warnings: list[str],
    sources: list[str],
    runs: int | None = None,
) -> MetricResult:
    return MetricResult(
        metric.name,
        trace_name(trace_dir),
        "ok",
        value,
        metric.unit,
        warnings=warnings,
        sources=sources,
        runs=runs,
    )


def _failed(metric: Metric, trace_dir: Path, exc: TraceError) -> MetricResult:
    return MetricResult(
        metric.name,
        trace_name(trace_dir),
        exc.status,
        None,
        metric.unit,
        exc.message,
        error=exc,
    )


def extract(
    trace_dir: Path,
    names: Iterable[str],
    options: Options = Options(),
    metrics: Mapping[str, Metric] = METRICS,
) -> dict[str, MetricResult]:
    """Compute the named metrics of one trace, reading each input file once.

    `metrics` defines the names: the built-ins, or registry.catalog(...) with the
    configuration's own. Never raises TraceError: problems become results with a
    status and reason.
    """
    names = list(names)
    unknown = [n for n in names if n not in metrics]
    if unknown:
        raise KeyError(f"unknown metric(s): {', '.join(unknown)}")
    chosen = [metrics[n] for n in names]
    try:
        card = open_card(trace_dir)
    except TraceError as exc:
        return {m.name: _failed(m, trace_dir, exc) for m in chosen}
    out: dict[str, MetricResult] = {}
    by_results = [m for m in chosen if m.source == "results"]
    by_gates = [m for m in chosen if m.source == "gates"]
    if by_results:
        out.update(_results_metrics(trace_dir, card, by_results, options))
    if by_gates:
        out.update(_gates_metrics(trace_dir, card, by_gates, options))
    for result in out.values():
        result.card_config = card.config()
    return {n: out[n] for n in names}


def compute(
    trace_dir: Path,
    name: str,
    options: Options = Options(),
    metrics: Mapping[str, Metric] = METRICS,
) -> MetricResult:
    """One metric of one trace; raises TraceError if it cannot be computed."""
    result = extract(trace_dir, [name], options, metrics)[name]
    if result.error is not None:
        raise result.error
    return result
