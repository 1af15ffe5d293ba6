"""Repeated-run statistics: Student's t, summaries and pooling, against textbook values
and the standard library."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracemetrics.stats import pool, summarize, t_quantile, welch_differs

# Two-sided 95% critical values of Student's t, from printed tables (5 significant
# digits or more), by degrees of freedom.
T_TABLE = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    9: 2.262,
    10: 2.228,
    15: 2.131,
    20: 2.086,
    30: 2.042,
    60: 2.000,
    120: 1.980,
}


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_t_quantile_matches_the_printed_table(df: int, expected: float) -> None:
    assert round(t_quantile(df), 3) == expected


def test_t_quantile_tends_to_the_normal_quantile() -> None:
    z = statistics.NormalDist().inv_cdf(0.975)
    assert abs(t_quantile(5000) - z) < 1e-3
    assert t_quantile(5000) > z  # t is always wider than the normal


def test_t_quantile_rejects_zero_degrees_of_freedom() -> None:
    with pytest.raises(ValueError):
        t_quantile(0)


def test_summary_of_four_runs_by_hand() -> None:
    # 1, 2, 3, 4: mean 2.5, sample variance 5/3, half-width t(3) * sqrt(5/3) / 2
    s = summarize([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305 * math.sqrt(5 / 3) / 2
    assert s.n == 4 and s.mean == 2.5
    assert math.isclose(s.std, math.sqrt(5 / 3), rel_tol=1e-12)
    assert math.isclose(s.ci95_low, 2.5 - half, rel_tol=1e-9)
    assert math.isclose(s.ci95_high, 2.5 + half, rel_tol=1e-9)


def test_one_run_has_no_spread() -> None:
    s = summarize([7.5])
    assert (s.n, s.mean, s.std, s.ci95_low, s.ci95_high) == (1, 7.5, None, None, None)


def test_identical_runs_have_a_zero_width_interval() -> None:
    s = summarize([3.0, 3.0, 3.0])
    assert s.std == 0.0 and s.ci95_low == s.ci95_high == 3.0


def test_values_near_the_float_maximum_do_not_overflow() -> None:
    s = summarize([1.7e308, 1.7e308, 1.6e308])
    assert math.isclose(s.mean, statistics.fmean([1.7, 1.7, 1.6]) * 1e308, rel_tol=1e-12)
    assert math.isfinite(s.std)
    wide = summarize([1.7e308, -1.7e308])  # its interval is beyond the float range
    assert wide.mean == 0.0 and wide.ci95_low is None


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(finite, min_size=1, max_size=6), min_size=1, max_size=6))
def test_pooling_groups_equals_summarizing_all_runs(groups: list[list[float]]) -> None:
    """Pooling each group's (n, mean, std) gives the statistics of all values at once,
    computed here with the standard library."""
    everything = [v for g in groups for v in g]
    parts = [
        (len(g), statistics.fmean(g), statistics.stdev(g) if len(g) > 1 else None) for g in groups
    ]
    pooled = pool(parts)
    assert pooled.n == len(everything)
    assert math.isclose(pooled.mean, statistics.fmean(everything), rel_tol=1e-9, abs_tol=1e-6)
    if len(everything) < 2:
        assert pooled.std is None and pooled.ci95_low is None
        return
    std = statistics.stdev(everything)
    assert math.isclose(pooled.std, std, rel_tol=1e-6, abs_tol=1e-6)
    half = t_quantile(len(everything) - 1) * std / math.sqrt(len(everything))
    assert math.isclose(pooled.ci95_high - pooled.ci95_low, 2 * half, rel_tol=1e-6, abs_tol=1e-5)


def test_welch_by_hand() -> None:
    # means 10 and 13, both sample variances 1, n = 3: t = 3 / sqrt(2/3) = 3.674,
    # df = 4, t(0.975, 4) = 2.776 -> different; with variances 4: t = 1.837 -> not
    tight = summarize([9.0, 10.0, 11.0]), summarize([12.0, 13.0, 14.0])
    loose = summarize([8.0, 10.0, 12.0]), summarize([11.0, 13.0, 15.0])
    assert welch_differs(*tight) is True
    assert welch_differs(*loose) is False
    assert welch_differs(summarize([1.0]), summarize([2.0, 3.0])) is None
    assert welch_differs(summarize([2.0, 2.0]), summarize([2.0, 2.0])) is False
    assert welch_differs(summarize([2.0, 2.0]), summarize([3.0, 3.0])) is True


def welch_p_rounded_df(a: list[float], b: list[float], scipy_stats) -> float:
    """Welch's two-sided p with the Welch-Satterthwaite df rounded down, as documented:
    textbook formulas here, the t distribution from scipy."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = abs(statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return 2 * scipy_stats.t.sf(t, max(1, math.floor(df + 1e-9)))  # whole up to rounding


@settings(max_examples=100, deadline=None)
@given(  # whole numbers: no nearly-equal samples, where scipy warns of precision loss
    st.lists(st.integers(0, 100).map(float), min_size=2, max_size=8),
    st.lists(st.integers(0, 100).map(float), min_size=2, max_size=8),
)
def test_welch_agrees_with_scipy(a: list[float], b: list[float]):
    scipy_stats = pytest.importorskip("scipy.stats")
    if statistics.stdev(a) == 0 or statistics.stdev(b) == 0:  # by hand above
        return
    p = welch_p_rounded_df(a, b, scipy_stats)
    if abs(p - 0.05) < 1e-9:  # on the threshold itself: floating-point noise decides
        return
    assert welch_differs(summarize(a), summarize(b)) is bool(p < 0.05)
    # with the exact df, scipy's own test disagrees only by calling more differences
    exact = scipy_stats.ttest_ind(a, b, equal_var=False).pvalue
    assert exact <= p + 1e-12
