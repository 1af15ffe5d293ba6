"""Expert load statistics: the token_to_expert_assignment summary."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TraceError
from .gates import GateLog, GateLogFile, read_gate_log


class ExpertLoadScan:
    """Accumulates every gate log of a trace in one pass, one file in memory at once."""

    def __init__(self) -> None:
        self.totals: np.ndarray | None = None
        self.total_steps = 0
        self.files = 0
        self._first: Path | None = None

    def add(self, source: GateLogFile, log: GateLog) -> None:
        if log.steps == 0:
            self.files += 1
            return  # an empty log adds nothing; its width is unknown
        width = log.loads.shape[1]
        if self.totals is None:
            self.totals = np.zeros(width)
            self._first = source.path
        elif width != self.totals.size:
            raise TraceError(
                source.path,
                f"rows have {width} experts but {self._first} has {self.totals.size}",
            )
        self.totals += log.loads.sum(axis=0)
        self.total_steps += log.steps
        self.files += 1

    def scan(self, sources: Sequence[GateLogFile]) -> ExpertLoadScan:
        for source in sources:
            self.add(source, read_gate_log(source.path))
        return self


def assignment_summary(
    totals: Sequence[float], total_steps: int, where: str | Path
) -> dict[str, Any]:
    """The token_to_expert_assignment object: totals, normalized, summary."""
    totals = [float(t) for t in totals]
    experts = len(totals)
    total = math.fsum(totals)
    if experts < 2:
        raise TraceError(
            where,
            f"gate logs have {experts} expert(s); expert statistics need at least 2",
        )
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
