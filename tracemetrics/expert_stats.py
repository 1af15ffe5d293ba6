"""Expert load statistics from gate logs, gathered in one pass.

`token_to_expert_assignment` (the compatibility metric: loads summed over everything),
`expert_load_by_layer` (a layer x expert matrix) and `expert_imbalance` (statistics over
(step, layer) rows, EP-rank balance and a top-k consistency check) all come from one
`ExpertLoadScan`; the functions below turn it into each metric's value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TraceError
from .gate_files import GateLogFile
from .gates import GateLog, read_gate_log

# Histogram bins per unit of max/mean over [1, E]: the median and p95 of expert_imbalance
# are known to RESOLUTION = 1/4096 (about 2.4e-4); mean and max are exact.
BINS_PER_UNIT = 4096
RESOLUTION = 1.0 / BINS_PER_UNIT
DEFAULT_TOP_K = 2
# A row is inconsistent when |sum - top_k x num_tokens| > 1e-6 x max(1, top_k x num_tokens).
CONSISTENCY_RTOL = 1e-6
_BIN_EPS = 1e-9  # a ratio a rounding error below a bin edge still lands in that bin


def ep_problem(ep: int | None, experts: int) -> str | None:
    """Why EP-rank balance cannot be computed for `ep` ranks and `experts`, or None."""
    if ep is None:
        return (
            "no EP size: the card has no Model-executor.model_plan_parallelization.ep "
            "(the ep_size option sets one)"
        )
    if ep < 1:
        return f"EP size {ep} is not a positive integer"
    if ep == 1:
        return "EP size is 1: no expert parallelism, every expert is on the one rank"
    if experts % ep:
        return f"{experts} experts cannot be placed evenly on {ep} EP ranks"
    return None


class ExpertLoadScan:
    """Accumulates every gate log of a trace in one pass, one file in memory at once.

    One scan feeds all three gate metrics: the grand totals (token_to_expert_assignment),
    per-layer totals (expert_load_by_layer) and per-row statistics (expert_imbalance).
    A *row* is one step of one layer of one run. Each file is reduced with a few numpy
    operations into running sums, a histogram of the rows' max/mean ratio
    (BINS_PER_UNIT bins per unit over [1, E]), and, for EP balance, two arrays as long
    as one run's steps; nothing is kept per row across files.

    `max_step_tokens` drops rows whose num_tokens exceed it (vLLM's profiling batch) from
    every statistic; `ep_size` ranks own contiguous expert blocks; `top_k` is the routing
    fan-out the consistency check expects. Files must come grouped by run (as
    `gate_log_files` orders them); `scan` finishes the last run, `add` callers call
    `finish`.
    """

    def __init__(
        self,
        *,
        max_step_tokens: float | None = None,
        ep_size: int | None = None,
        top_k: int = DEFAULT_TOP_K,
    ) -> None:
        self.max_step_tokens = max_step_tokens
        self.ep_size = ep_size
        self.top_k = top_k
        self.totals: np.ndarray | None = None
        self.total_steps = 0
        self.files = 0
        self._first: Path | None = None
        self.layer_totals: dict[int, np.ndarray] = {}
        self.rows_dropped = 0  # by the max_step_tokens filter
        # consistency: row sum against top_k x num_tokens
        self.rows_checked = 0
        self.rows_mismatched = 0
        self.first_mismatch: str | None = None
        # per-row expert imbalance, over rows with non-zero load
        self.rows = 0
        self.zero_rows = 0
        self.ratio_sum = 0.0
        self.ratio_min = math.inf
        self.ratio_max = 0.0
        self.weighted_ratio_sum = 0.0
        self.weight_total = 0.0
        self.cv_sum = 0.0
        self.histogram: np.ndarray | None = None
        # EP ranks
        self.ep_reason: str | None = None  # set once the expert count is known
        self.rank_ratio_sum = 0.0
        self.balance_sum = 0.0
        self.balance_steps = 0
        self._run: int | None = None
        self._finished_runs: set[int] = set()
        self._step_mean = np.zeros(0)  # per step of the current run: sum over layers
        self._step_max = np.zeros(0)

    @property
    def num_experts(self) -> int:
        return 0 if self.totals is None else self.totals.size

    def _start(self, width: int, path: Path) -> None:
        self.totals = np.zeros(width)
        self._first = path
        self.histogram = np.zeros((max(width, 1) - 1) * BINS_PER_UNIT + 1, dtype=np.int64)
        self.ep_reason = ep_problem(self.ep_size, width)

    def add(self, source: GateLogFile, log: GateLog) -> None:
        if log.steps == 0:
            self.files += 1
            return  # an empty log adds nothing; its width is unknown
        width = log.loads.shape[1]
        if self.totals is None:
            self._start(width, source.path)
        elif width != self.totals.size:
            raise TraceError(
                source.path,
                f"rows have {width} experts but {self._first} has {self.totals.size}",
            )
        assert self.totals is not None
        self._enter_run(source.run)
        loads, tokens, positions = log.loads, log.num_tokens, None
        if self.max_step_tokens is not None:
            keep = tokens <= self.max_step_tokens
            if not keep.all():
                self.rows_dropped += int(keep.size - np.count_nonzero(keep))
                positions = np.flatnonzero(keep)
                loads, tokens = loads[keep], tokens[keep]
        column_sums = loads.sum(axis=0)
        self.totals += column_sums
        self.total_steps += loads.shape[0]
        self.files += 1
        if not loads.shape[0]:
            return  # every step dropped by the filter: the layer is not listed
        layer = self.layer_totals.get(source.layer)
        if layer is None:
            self.layer_totals[source.layer] = column_sums.copy()
        else:
            layer += column_sums
        self._add_rows(source, loads, tokens, positions)

    def _add_rows(
        self,
        source: GateLogFile,
        loads: np.ndarray,
        tokens: np.ndarray,
        positions: np.ndarray | None,
    ) -> None:
        n, experts = loads.shape
        # Experts x steps, contiguous: reductions over a few experts then run along
        # long contiguous rows (numpy is slow reducing many short rows).
        by_expert = np.ascontiguousarray(loads.T)
        row_sums = by_expert.sum(axis=0)

        expected = self.top_k * tokens
        bad = np.abs(row_sums - expected) > CONSISTENCY_RTOL * np.maximum(expected, 1.0)
        mismatched = int(np.count_nonzero(bad))
        self.rows_checked += n
        if mismatched:
            if self.first_mismatch is None:
                i = int(np.flatnonzero(bad)[0])
                step = i if positions is None else int(positions[i])
                self.first_mismatch = (
                    f"{source.path} row {step} sums to {row_sums[i]:g}, "
                    f"expected {self.top_k} x {tokens[i]:g}"
                )
            self.rows_mismatched += mismatched

        nonzero = row_sums > 0
        if nonzero.all():
            rows, sums, weights = by_expert, row_sums, tokens
        else:
            rows, sums, weights = by_expert[:, nonzero], row_sums[nonzero], tokens[nonzero]
        k = sums.size
        self.zero_rows += n - k
        if k:
            means = sums / experts
            # max/mean lies in [1, E]; clipping only removes rounding noise
            ratio = np.clip(rows.max(axis=0) / means, 1.0, experts)
            deviations = rows - means
            deviations *= deviations
            cv = np.sqrt(deviations.sum(axis=0) / experts) / means  # population std / mean
            self.rows += k
            self.ratio_sum += float(ratio.sum())
            self.ratio_min = min(self.ratio_min, float(ratio.min()))
            self.ratio_max = max(self.ratio_max, float(ratio.max()))
            self.weighted_ratio_sum += float(ratio @ weights)
            self.weight_total += float(weights.sum())
            self.cv_sum += float(cv.sum())
            assert self.histogram is not None
            bins = ((ratio - 1.0) * BINS_PER_UNIT + _BIN_EPS).astype(np.intp)
            self.histogram += np.bincount(bins, minlength=self.histogram.size)

        if self.ep_reason is None:
            ep = self.ep_size
            assert ep is not None
            # rank r owns experts r*E/ep .. (r+1)*E/ep - 1
            rank_max = by_expert.reshape(ep, experts // ep, n).sum(axis=1).max(axis=0)
            rank_mean = row_sums / ep
            if k:
                rank_ratio = rank_max / rank_mean if k == n else rank_max[nonzero] / sums * ep
                self.rank_ratio_sum += float(np.clip(rank_ratio, 1.0, ep).sum())
            # steps are aligned by their position in the run's logs (dropped rows
            # keep their place, so layers stay aligned)
            if positions is None:
                self._grow(n)
                self._step_mean[:n] += rank_mean
                self._step_max[:n] += rank_max
            else:
                self._grow(int(positions[-1]) + 1)
                self._step_mean[positions] += rank_mean
                self._step_max[positions] += rank_max

    def _grow(self, size: int) -> None:
        extra = size - self._step_mean.size
        if extra > 0:
            self._step_mean = np.concatenate([self._step_mean, np.zeros(extra)])
            self._step_max = np.concatenate([self._step_max, np.zeros(extra)])

    def _enter_run(self, run: int) -> None:
        if run == self._run:
            return
        self._finish_run()
        if run in self._finished_runs:
            raise ValueError(f"gate logs of run {run} must be added together (order by run)")
        self._run = run

    def _finish_run(self) -> None:
        if self._run is None:
            return
        loaded = self._step_max > 0
        if loaded.any():
            ratio = np.clip(self._step_mean[loaded] / self._step_max[loaded], 0.0, 1.0)
            self.balance_sum += float(ratio.sum())
            self.balance_steps += int(np.count_nonzero(loaded))
        self._finished_runs.add(self._run)
        self._run = None
        self._step_mean = np.zeros(0)
        self._step_max = np.zeros(0)

    def finish(self) -> ExpertLoadScan:
        """Close the last run (its steps' EP balancedness); call once all files are in."""
        self._finish_run()
        return self

    def scan(self, sources: Sequence[GateLogFile]) -> ExpertLoadScan:
        for source in sources:
            self.add(source, read_gate_log(source.path))
        return self.finish()

    def quantile(self, q: float) -> float:
        """The q-quantile of the rows' max/mean, interpolated like numpy's default.

        Each order statistic is read from the histogram as its bin's lower edge, so the
        result is within RESOLUTION below the exact one (clamped to the exact min/max).
        """
        if not self.rows or self.histogram is None:
            raise ValueError("no rows with load")
        cumulative = np.cumsum(self.histogram)

        def order_statistic(k: int) -> float:
            return 1.0 + int(np.searchsorted(cumulative, k + 1)) / BINS_PER_UNIT

        h = (self.rows - 1) * q
        lo = math.floor(h)
        hi = min(lo + 1, self.rows - 1)
        low = order_statistic(lo)
        value = low + (h - lo) * (order_statistic(hi) - low) if h > lo else low
        return min(max(value, self.ratio_min), self.ratio_max)


def _check_experts(experts: int, where: str | Path) -> None:
    if experts == 0:  # no log had a row, so the expert count is unknown
        raise TraceError(where, "gate logs hold no steps (every gate log is empty)")
    if experts < 2:
        raise TraceError(
            where,
            f"gate logs have {experts} expert(s); expert statistics need at least 2",
        )


def assignment_summary(
    totals: Sequence[float], total_steps: int, where: str | Path
) -> dict[str, Any]:
    """The token_to_expert_assignment object: totals, normalized, summary."""
    totals = [float(t) for t in totals]
    experts = len(totals)
    total = math.fsum(totals)
    _check_experts(experts, where)
    if total <= 0:
        raise TraceError(where, "gate logs hold no expert load (no steps, or all zero)")
    normalized = [t / total for t in totals]
    entropy = 0.0 - math.fsum(p * math.log2(p) for p in normalized if p > 0)  # never -0.0
    mean = total / experts
    std = math.sqrt(math.fsum((t - mean) ** 2 for t in totals) / experts)
    return {
        "totals": totals,
        "normalized": normalized,
        "summary": {
            "entropy": entropy,
            # rounding can take a uniform distribution a hair past 1
            "normalized_entropy": min(entropy / math.log2(experts), 1.0),
            "coefficient_of_variation": std / mean,
            "max_min_ratio": max(totals) / min(t for t in totals if t > 0),
            "total_tokens": total,
            "num_experts": experts,
            "total_steps": total_steps,
        },
    }


def _no_load(scan: ExpertLoadScan, where: str | Path) -> None:
    """The same checks, and messages, as assignment_summary."""
    _check_experts(scan.num_experts, where)
    assert scan.totals is not None
    if not math.fsum(scan.totals.tolist()) > 0:
        raise TraceError(where, "gate logs hold no expert load (no steps, or all zero)")


def load_by_layer(scan: ExpertLoadScan, where: str | Path) -> dict[str, Any]:
    """The expert_load_by_layer object.

    `layers`: layer ids, ascending; `totals[i]`: layer i's loads per expert, summed over
    runs and steps; `normalized[i]`: totals[i] / its sum; `cv[i]`: population std / mean
    of totals[i]; `max_over_mean[i]`: max / mean of totals[i] (None for a layer with no
    load); `summary`: num_layers, num_experts, total_steps, and the mean and max of cv
    and of max_over_mean over the layers with load.
    """
    _no_load(scan, where)
    experts = scan.num_experts
    layers = sorted(scan.layer_totals)
    totals, normalized, cvs, ratios = [], [], [], []
    for layer in layers:
        row = [float(t) for t in scan.layer_totals[layer]]
        total = math.fsum(row)
        totals.append(row)
        if total > 0:
            mean = total / experts
            std = math.sqrt(math.fsum((t - mean) ** 2 for t in row) / experts)
            normalized.append([t / total for t in row])
            cvs.append(std / mean)
            ratios.append(max(row) / mean)
        else:
            normalized.append([None] * experts)
            cvs.append(None)
            ratios.append(None)
    cv_known = [c for c in cvs if c is not None]
    ratio_known = [r for r in ratios if r is not None]
    return {
        "layers": layers,
        "totals": totals,
        "normalized": normalized,
        "cv": cvs,
        "max_over_mean": ratios,
        "summary": {
            "num_layers": len(layers),
            "num_experts": experts,
            "total_steps": scan.total_steps,
            "cv_mean": math.fsum(cv_known) / len(cv_known),
            "cv_max": max(cv_known),
            "max_over_mean_mean": math.fsum(ratio_known) / len(ratio_known),
            "max_over_mean_max": max(ratio_known),
        },
    }


def imbalance_value(
    scan: ExpertLoadScan, where: str | Path, ep_source: str | None = None
) -> dict[str, Any]:
    """The expert_imbalance object (see the registry's description for each number)."""
    scan.finish()
    _no_load(scan, where)
    experts = scan.num_experts
    rows = scan.rows

    def bounded(value: float) -> float:  # a mean of values in [1, E] stays there
        return min(max(value, 1.0), float(experts))

    ep = scan.ep_size
    balance: dict[str, Any] = {"ep_size": ep, "source": ep_source}
    if scan.ep_reason is not None:
        balance.update(skipped=True, reason=scan.ep_reason)
    else:
        assert ep is not None
        balance.update(
            skipped=False,
            balancedness=min(scan.balance_sum / scan.balance_steps, 1.0),
            rank_max_over_mean_mean=min(max(scan.rank_ratio_sum / rows, 1.0), float(ep)),
            steps=scan.balance_steps,
        )
    return {
        "num_experts": experts,
        "rows": rows,
        "zero_load_rows": scan.zero_rows,
        "expert_max_over_mean": {
            "mean": bounded(scan.ratio_sum / rows),
            "median": scan.quantile(0.5),
            "p95": scan.quantile(0.95),
            "max": scan.ratio_max,
            "token_weighted_mean": (
                bounded(scan.weighted_ratio_sum / scan.weight_total)
                if scan.weight_total > 0
                else None
            ),
        },
        "percentile_resolution": RESOLUTION,
        "per_step_cv_mean": scan.cv_sum / rows,
        "ep_balance": balance,
        "consistency": {
            "top_k": scan.top_k,
            "rows_checked": scan.rows_checked,
            "rows_mismatched": scan.rows_mismatched,
        },
        "warmup_filter": {
            "max_step_tokens": scan.max_step_tokens,
            "rows_dropped": scan.rows_dropped,
        },
    }


def consistency_warning(scan: ExpertLoadScan, where: str | Path) -> str | None:
    """One line when some rows do not sum to top_k x num_tokens, else None."""
    if not scan.rows_mismatched:
        return None
    return (
        f"{where}: {scan.rows_mismatched} of {scan.rows_checked} step rows do not sum to "
        f"top_k x num_tokens (top_k = {scan.top_k}); first: {scan.first_mismatch}"
    )
