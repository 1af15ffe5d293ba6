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


def summarize(values: Sequence[float]) -> Summary:
    """Summary of one list of measurements (e.g. a trace's benchmark runs)."""
    return pool((1, v, None) for v in values)


def pool(groups: Iterable[tuple[int, float, float | None]]) -> Summary:
    """One summary of several groups of measurements, from each group's (n, mean, std).

    The same as summarizing all the measurements together: the mean weights
    each group by its n; the variance adds the within-group and between-group sums of
    squares. A group with n = 1 has no std (None) and adds none within.
    """
    groups = [(n, m, s) for n, m, s in groups if n > 0]
    total = sum(n for n, _, _ in groups)
    if total == 0:
        raise ValueError("no values to pool")
    # In units of the largest magnitude: sums and squares of numbers near the float
    # maximum cannot overflow. Scaled back at the end.
    scale = max(max(abs(m), s or 0.0) for _, m, s in groups) or 1.0
    unit = [(n, m / scale, None if s is None else s / scale) for n, m, s in groups]
    mean = math.fsum(n * (m / total) for n, m, _ in unit)
    if total < 2:
        return Summary(total, mean * scale)
    within = math.fsum((n - 1) * s * s for n, _, s in unit if s is not None and n > 1)
    between = math.fsum(n * (m - mean) ** 2 for n, m, _ in unit)
    std = math.sqrt((within + between) / (total - 1))
    half = t_quantile(total - 1) * std / math.sqrt(total)
    low, high = (mean - half) * scale, (mean + half) * scale
    if not math.isfinite(std * scale):
        return Summary(total, mean * scale)
    if not (math.isfinite(low) and math.isfinite(high)):
        return Summary(total, mean * scale, std * scale)
    return Summary(total, mean * scale, std * scale, low, high)


def welch_differs(a: Summary, b: Summary) -> bool | None:
    """Whether two means differ at the 5% level (Welch's two-sided t-test), or None
    when either side has fewer than two measurements.

    Degrees of freedom: Welch-Satterthwaite, rounded down (a slightly wider, safe
    threshold, and t_quantile takes whole numbers)."""
    if a.std is None or b.std is None:
        return None
    va, vb = a.std**2 / a.n, b.std**2 / b.n
    if va + vb == 0:  # no spread on either side: any difference is real
        return a.mean != b.mean
    t = abs(a.mean - b.mean) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    # + 1e-9: a df that is whole in exact arithmetic (equal variances and sizes) can
    # come out as 1.9999999999 here
    return t > t_quantile(max(1, math.floor(df + 1e-9)))
