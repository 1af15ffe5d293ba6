"""The throughput-vs-latency trade-off: Pareto front, pooled points and the plot.

Expected values are worked out by hand, by a brute-force Pareto definition, or from
the raw run values with `statistics` and textbook Student t quantiles.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracemetrics.registry import METRICS, Quantity
from tracemetrics.tradeoff import COLUMNS, pareto_front, plot_tradeoff, tradeoff_points

# t(0.975, df): two-sided 95% critical values from a t table.
T95 = {2: 4.302652729749462, 3: 3.182446305283708, 4: 2.7764451051977934}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


def quantity(metric: str) -> Quantity:
    m = METRICS[metric]
    return Quantity(metric, "value", metric, m.label, m.unit, m.better)


# ---------------------------------------------------------------------- pareto_front


def brute_force_front(latency: list[float], throughput: list[float]) -> list[bool]:
    """The definition: no other point is at least as good on both and better on one."""
    points = list(zip(latency, throughput, strict=True))
    return [
        not any(
            lq <= lp and tq >= tp and (lq < lp or tq > tp)
            for j, (lq, tq) in enumerate(points)
            if j != i
        )
        for i, (lp, tp) in enumerate(points)
    ]


@pytest.mark.parametrize(
    ("latency", "throughput", "expected"),
    [
        ([], [], []),
        ([5.0], [1.0], [True]),
        # (2, 5) dominates (3, 4); (1, 1) and (4, 9) trade off against it
        ([1.0, 2.0, 3.0, 4.0], [1.0, 5.0, 4.0, 9.0], [True, True, False, True]),
        # identical points are both on the front
        ([2.0, 2.0, 3.0], [5.0, 5.0, 5.0], [True, True, False]),
        # same latency: only the higher throughput survives
        ([2.0, 2.0], [4.0, 5.0], [False, True]),
        # same throughput: only the lower latency survives
        ([1.0, 2.0], [5.0, 5.0], [True, False]),
        # a line where lower latency costs throughput: every point is a trade-off
        ([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0], [True] * 4),
        # a line where one point is best on both: it dominates all others
        ([1.0, 2.0, 3.0, 4.0], [40.0, 30.0, 20.0, 10.0], [True, False, False, False]),
    ],
)
def test_pareto_front_hand_cases(latency, throughput, expected):
    assert pareto_front(latency, throughput) == expected
    assert brute_force_front(latency, throughput) == expected  # the reference agrees


def test_pareto_front_rejects_unequal_lengths():
    with pytest.raises(ValueError):
        pareto_front([1.0, 2.0], [1.0])


small = st.integers(0, 4).map(float)  # few distinct values: many ties
anywhere = st.floats(allow_nan=False)


@given(st.lists(st.tuples(small, small), max_size=12))
def test_pareto_front_matches_definition_with_ties(points):
    latency = [p[0] for p in points]
    throughput = [p[1] for p in points]
    assert pareto_front(latency, throughput) == brute_force_front(latency, throughput)


@given(st.lists(st.tuples(anywhere, anywhere), max_size=12))
def test_pareto_front_matches_definition_on_any_floats(points):
    latency = [p[0] for p in points]
    throughput = [p[1] for p in points]
    front = pareto_front(latency, throughput)
    assert front == brute_force_front(latency, throughput)
    assert not points or any(front)  # a non-empty set always has a front


# ------------------------------------------------------------------- tradeoff_points


def row(trace: str, raw: list[float], **over: Any) -> dict[str, Any]:
    """A table row for a trace whose runs gave `raw` (value and std as the tables say)."""
    cells = {
        "trace": trace,
        "variant": "A",
        "max_num_seqs": 32.0,
        "max_num_batched_tokens": 8192.0,
        "excluded": False,
        "status": "ok",
        "reason": None,
        "value": statistics.mean(raw),
        "unit": "ms",
        "runs": len(raw),
        "std": statistics.stdev(raw) if len(raw) > 1 else math.nan,
        "ci95_low": math.nan,  # not used by the trade-off: it pools runs itself
        "ci95_high": math.nan,
    }
    cells.update(over)
    return cells


def table(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def expected_summary(raw: list[float]) -> tuple[float, float, float]:
    """Mean and 95% CI of all runs together, the textbook way."""
    mean = statistics.mean(raw)
    half = T95[len(raw) - 1] * statistics.stdev(raw) / math.sqrt(len(raw))
    return mean, mean - half, mean + half


def test_two_traces_of_one_configuration_are_pooled():
    thr1, thr2 = [100.0, 110.0, 125.0], [130.0, 90.0]
    lat1, lat2 = [20.0], [24.0, 27.0]  # a single run: no std, adds nothing within
    throughput = table(row("t1", thr1), row("t2", thr2))
    latency = table(row("t1", lat1), row("t2", lat2))

    points = tradeoff_points(throughput, latency, ["A"])

    assert list(points.columns) == COLUMNS
    assert len(points) == 1
    p = points.iloc[0]
    assert (p["variant"], p["configuration"], p["traces"]) == ("A", "32/8192", 2)
    assert (p["max_num_seqs"], p["max_num_batched_tokens"]) == (32, 8192)
    for axis, raw in (("throughput", thr1 + thr2), ("latency", lat1 + lat2)):
        mean, low, high = expected_summary(raw)
        assert p[f"{axis}_runs"] == len(raw)
        assert close(p[axis], mean)
        assert close(p[f"{axis}_ci95_low"], low)
        assert close(p[f"{axis}_ci95_high"], high)
    assert bool(p["pareto"])


def test_single_run_has_no_ci():
    points = tradeoff_points(table(row("t1", [100.0])), table(row("t1", [20.0])), ["A"])
    p = points.iloc[0]
    assert (p["throughput"], p["latency"], p["throughput_runs"]) == (100.0, 20.0, 1)
    assert math.isnan(p["throughput_ci95_low"]) and math.isnan(p["latency_ci95_high"])


def test_rows_left_out():
    keep = row("keep", [10.0])
    throughput = table(
        keep,
        row("excluded", [10.0], excluded=True),
        row("invalid_in_latency", [10.0]),
        row("invalid_in_throughput", [10.0], status="invalid", value=math.nan),
        row("unknown_variant", [10.0], variant="Z"),
        row("no_variant", [10.0], variant=math.nan),
        row("throughput_only", [10.0]),
    )
    latency = table(
        row("keep", [1.0]),
        row("excluded", [1.0], excluded=True),
        row("invalid_in_latency", [1.0], status="invalid", value=math.nan),
        row("invalid_in_throughput", [1.0]),
        row("unknown_variant", [1.0], variant="Z"),
        row("no_variant", [1.0], variant=math.nan),
        row("not_applicable", [1.0], status="not_applicable"),
    )
    # each dropped row would otherwise pool into the one configuration and move it
    points = tradeoff_points(throughput, latency, ["A"])
    assert points[["configuration", "traces", "throughput", "latency"]].values.tolist() == [
        ["32/8192", 1, 10.0, 1.0]
    ]


def test_missing_configuration_stands_alone_per_trace():
    throughput = table(
        row("lost_a", [10.0], max_num_seqs=math.nan),
        row("lost_b", [12.0], max_num_batched_tokens=math.nan),
        row("known", [20.0]),
    )
    latency = table(row("lost_a", [1.0]), row("lost_b", [2.0]), row("known", [3.0]))
    points = tradeoff_points(throughput, latency, ["A"])
    assert points["configuration"].tolist() == ["lost_a", "lost_b", "32/8192"]
    assert points["traces"].tolist() == [1, 1, 1]
    assert math.isnan(points["max_num_seqs"].iloc[0])
    assert points["max_num_seqs"].iloc[1] == 32


def test_order_and_pareto_per_variant():
    # (variant, trace, seqs, tokens, throughput, latency)
    spec = [
        ("A", "a1", 16, 4096, 100.0, 10.0),
        ("A", "a2", 32, 8192, 300.0, 30.0),
        ("A", "a3", 64, 8192, 250.0, 40.0),  # dominated by a2: slower and less output
        ("B", "b1", 16, 4096, 50.0, 35.0),  # dominated by A's points, but not by B's
        ("B", "b2", 32, 8192, 40.0, 5.0),
    ]
    thr_rows, lat_rows = [], []
    for variant, trace, seqs, tokens, y, x in spec:
        config = {"variant": variant, "max_num_seqs": seqs, "max_num_batched_tokens": tokens}
        thr_rows.append(row(trace, [y], **config))
        lat_rows.append(row(trace, [x], **config))
    throughput, latency = table(*thr_rows), table(*lat_rows)
    points = tradeoff_points(throughput, latency, ["B", "A", "C"])
    got = points[["variant", "configuration", "latency", "pareto"]].values.tolist()
    assert got == [
        ["B", "32/8192", 5.0, True],
        ["B", "16/4096", 35.0, True],
        ["A", "16/4096", 10.0, True],
        ["A", "32/8192", 30.0, True],
        ["A", "64/8192", 40.0, False],
    ]


def test_empty_inputs_give_empty_frame():
    empty = pd.DataFrame(columns=list(row("x", [1.0])))
    points = tradeoff_points(empty, empty, ["A"])
    assert points.empty and list(points.columns) == COLUMNS
    only_excluded = table(row("t", [1.0], excluded=True))
    assert tradeoff_points(only_excluded, only_excluded, ["A"]).empty


def test_reads_tables_from_csv(tmp_path):
    """Tables come from CSV: NaN std and configuration survive the round trip."""
    for name, raw in (("thr", [100.0, 120.0]), ("lat", [5.0])):
        table(row("t1", raw), row("t2", raw, max_num_seqs=math.nan)).to_csv(
            tmp_path / f"{name}.csv", index=False
        )
    points = tradeoff_points(
        pd.read_csv(tmp_path / "thr.csv"), pd.read_csv(tmp_path / "lat.csv"), ["A"]
    )
    assert points["configuration"].tolist() == ["32/8192", "t2"]  # same latency: by label
    assert points["throughput_runs"].tolist() == [2, 2]
    assert points["pareto"].tolist() == [True, True]  # identical points


# ---------------------------------------------------------------------- plot_tradeoff


@pytest.mark.parametrize("latency_metric", ["TPOT", "TTFT"])
def test_plot_writes_png(tmp_path, latency_metric):
    throughput = table(
        row("t1", [100.0, 110.0]),
        row("t2", [200.0], max_num_seqs=64),  # one run: no CI, no error bar
        row("t3", [150.0, 160.0, 170.0], variant="B", max_num_seqs=math.nan),
    )
    latency = table(
        row("t1", [10.0, 12.0]),
        row("t2", [30.0], max_num_seqs=64),
        row("t3", [20.0, 21.0], variant="B", max_num_seqs=math.nan),
    )
    points = tradeoff_points(throughput, latency, ["A", "B"])
    assert len(points) == 3
    path = tmp_path / "plots" / f"tradeoff_{latency_metric}.png"
    plot_tradeoff(points, quantity(latency_metric), quantity("output_throughput"), ["A", "B"], path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_plot_of_no_points_writes_png(tmp_path):
    path = tmp_path / "empty.png"
    empty = pd.DataFrame(columns=COLUMNS)
    plot_tradeoff(empty, quantity("TPOT"), quantity("output_throughput"), ["A"], path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
