"""Repeated measurements: mean, sample standard deviation and a 95% confidence interval.

The interval is Student's t: mean +- t(0.975, n-1) * std / sqrt(n). The t quantile is
found by bisection on the exact closed-form t distribution for integer degrees of
freedom, so no SciPy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


def _t_central(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with `df` degrees of freedom (closed form)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:  # odd: 2/pi * (theta + sin cos (1 + 2/3 c2 + 2*4/(3*5) c2^2 + ...))
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    term, total = 1.0, 1.0  # even: sin (1 + 1/2 c2 + 1*3/(2*4) c2^2 + ...)
    for k in range(1, df // 2):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return math.sin(theta) * total


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The t with P(|T| < t) = confidence: the two-sided critical value."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    low, high = 0.0, 1.0
    while _t_central(high, df) < confidence:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if _t_central(mid, df) < confidence:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * high:
            break
    return (low + high) / 2


@dataclass(frozen=True)
class Summary:
    """n measurements: their mean, sample std (n >= 2) and 95% confidence interval."""

    n: int
    mean: float
    std: float | None = None
    ci95_low: float | None = None
    ci95_high: float | None = None

    @classmethod
    def of(cls, n: int, mean: float, variance: float | None) -> Summary:
        if n < 2 or variance is None:
            return cls(n, mean)
        std = math.sqrt(max(variance, 0.0))
        half = t_quantile(n - 1) * std / math.sqrt(n)
        return cls(n, mean, std, mean - half, mean + half)


def summarize(values: Sequence[float]) -> Summary:
    """Summary of one list of measurements (e.g. a trace's benchmark runs)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = math.fsum(values) / n
    if not math.isfinite(mean):  # values near the float maximum
        mean = math.fsum(v / n for v in values)
    if n < 2:
        return Summary(n, mean)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Summary.of(n, mean, variance if math.isfinite(variance) else None)


def pool(groups: Iterable[tuple[int, float, float | None]]) -> Summary:
    """One summary of several groups of measurements, from each group's (n, mean, std).

    Exactly what summarize() gives on all the measurements together: the mean weights
    each group by its n; the variance adds the within-group and between-group sums of
    squares. A group with n = 1 has no std (None) and adds none within.
    """
    groups = [(n, m, s) for n, m, s in groups if n > 0]
    total = sum(n for n, _, _ in groups)
    if total == 0:
        raise ValueError("no values to pool")
    mean = math.fsum(n * m for n, m, _ in groups) / total
    if total < 2:
        return Summary(total, mean)
    within = math.fsum((n - 1) * s * s for n, _, s in groups if s is not None and n > 1)
    between = math.fsum(n * (m - mean) ** 2 for n, m, _ in groups)
    return Summary.of(total, mean, (within + between) / (total - 1))
