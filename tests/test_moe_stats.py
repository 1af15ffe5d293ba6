"""expert_load_by_layer and expert_imbalance against small cases worked out by hand.

Every expected number below is derived in the comments next to it from the loads
written in the test, not taken from the code's output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tracemetrics import gates
from tracemetrics.expert_stats import RESOLUTION, ExpertLoadScan
from tracemetrics.extract import Options, compute, extract
from tracemetrics.gate_files import GateLogFile
from tracemetrics.gates import GateLog

EXPERT = "token_to_expert_assignment"
BY_LAYER = "expert_load_by_layer"
IMBALANCE = "expert_imbalance"
GATE_METRICS = [EXPERT, BY_LAYER, IMBALANCE]


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


def card(tm_inputs, ep=4, top_k=2):
    """The usual card with EP size and top_k set (None: key removed)."""
    data = tm_inputs.card()
    executor = data["Model-executor"]
    if ep is None:
        del executor["model_plan_parallelization"]["ep"]
    else:
        executor["model_plan_parallelization"]["ep"] = ep
    if top_k is None:
        del executor["expert_parallel"]["top_k"]
    else:
        executor["expert_parallel"]["top_k"] = top_k
    return data


def log(rows, tokens=None):
    """A gate log; num_tokens defaults to row sum / 2 (consistent top-2 routing)."""
    if tokens is None:
        tokens = [sum(r) / 2 for r in rows]
    return {"step": list(range(len(rows))), "num_tokens": list(tokens), "expert_loads": rows}


# --------------------------------------------------- uniform overall, skewed every step


@pytest.fixture
def skewed_trace(make_trace, tm_inputs):
    # Two experts, two steps: [4, 0] then [0, 4] (2 tokens each, top-2).
    return make_trace(card=card(tm_inputs, ep=2), gates={1: {0: log([[4.0, 0.0], [0.0, 4.0]])}})


def test_uniform_aggregate_hides_skewed_steps(skewed_trace):
    results = extract(skewed_trace, GATE_METRICS)
    assert all(r.status == "ok" for r in results.values())

    # The aggregate: totals [4, 4], perfectly uniform.
    summary = results[EXPERT].value["summary"]
    assert results[EXPERT].value["totals"] == [4.0, 4.0]
    assert summary["coefficient_of_variation"] == 0.0
    assert summary["max_min_ratio"] == 1.0
    assert summary["normalized_entropy"] == 1.0

    # By layer: the one layer is uniform too.
    by_layer = results[BY_LAYER].value
    assert by_layer["layers"] == [0]
    assert by_layer["totals"] == [[4.0, 4.0]]
    assert by_layer["normalized"] == [[0.5, 0.5]]
    assert by_layer["cv"] == [0.0]
    assert by_layer["max_over_mean"] == [1.0]

    # Per step: each row has mean 2 and max 4 -> max/mean 2 (the most a 2-expert row
    # can have); population std of [4, 0] = sqrt((2^2 + 2^2)/2) = 2 -> CV 2/2 = 1.
    value = results[IMBALANCE].value
    assert value["rows"] == 2
    assert value["zero_load_rows"] == 0
    assert value["expert_max_over_mean"] == {
        "mean": 2.0,
        "median": 2.0,
        "p95": 2.0,
        "max": 2.0,
        "token_weighted_mean": 2.0,
    }
    assert value["per_step_cv_mean"] == 1.0
    # EP 2 on 2 experts: a rank per expert; rank loads [4, 0] and [0, 4]: mean 2, max 4.
    # Balancedness per step (one layer) = 2 / 4 = 0.5, average over the 2 steps 0.5.
    balance = value["ep_balance"]
    assert balance == {
        "ep_size": 2,
        "source": "card",
        "skipped": False,
        "balancedness": 0.5,
        "rank_max_over_mean_mean": 2.0,
        "steps": 2,
    }
    assert value["consistency"] == {"top_k": 2, "rows_checked": 2, "rows_mismatched": 0}
    assert value["warmup_filter"] == {"max_step_tokens": None, "rows_dropped": 0}
    assert value["percentile_resolution"] == 1 / 4096
    assert results[IMBALANCE].warnings == []


# ------------------------------------------------------ EP 2 on 4 experts, two runs


@pytest.fixture
def ep_trace(make_trace, tm_inputs):
    # Layer ids 2 and 10 (sorted numerically: 2 before 10).
    return make_trace(
        card=card(tm_inputs, ep=2),
        gates={
            1: {
                2: log([[3.0, 1.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]]),
                10: log([[4.0, 4.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0]]),
            },
            2: {
                2: log([[2.0, 2.0, 2.0, 2.0]]),
                10: log([[6.0, 0.0, 1.0, 1.0]]),
            },
        },
    )


def test_expert_imbalance_by_hand(ep_trace):
    result = compute(ep_trace, IMBALANCE)
    value = result.value
    # Rows (run, layer, step) -> mean over 4 experts, max, max/mean, population CV:
    #   r1 L2 s0 [3,1,2,2]: mean 2,   max 3 -> 1.5; devs 1,-1,0,0: var 2/4 -> CV sqrt(.5)/2
    #   r1 L2 s1 [0,0,1,1]: mean 0.5, max 1 -> 2;   devs +-0.5: var 0.25 -> CV 0.5/0.5 = 1
    #   r1 L10 s0 [4,4,0,0]: mean 2,  max 4 -> 2;   devs +-2: var 4 -> CV 2/2 = 1
    #   r1 L10 s1 [1,0,0,1]: mean 0.5, max 1 -> 2;  CV 1
    #   r2 L2 s0 [2,2,2,2]: mean 2,   max 2 -> 1;   CV 0
    #   r2 L10 s0 [6,0,1,1]: mean 2,  max 6 -> 3;   devs 4,-2,-1,-1: var 22/4 -> CV sqrt(5.5)/2
    # max/mean sorted: 1, 1.5, 2, 2, 2, 3
    #   mean 11.5/6; median (positions 2 and 3) 2; p95 at position 5*0.95 = 4.75:
    #   2 + 0.75 * (3 - 2) = 2.75; max 3
    #   token weights (sum/2): 4, 1, 4, 1, 4, 4 (total 18):
    #   (1.5*4 + 2*1 + 2*4 + 2*1 + 1*4 + 3*4) / 18 = 34/18
    ratio = value["expert_max_over_mean"]
    assert value["num_experts"] == 4
    assert value["rows"] == 6
    assert close(ratio["mean"], 11.5 / 6)
    assert close(ratio["median"], 2.0)
    assert close(ratio["p95"], 2.75)
    assert ratio["max"] == 3.0
    assert close(ratio["token_weighted_mean"], 34 / 18)
    cvs = [math.sqrt(0.5) / 2, 1, 1, 1, 0, math.sqrt(5.5) / 2]
    assert close(value["per_step_cv_mean"], sum(cvs) / 6)

    # EP 2: rank 0 owns experts 0-1, rank 1 owns 2-3. Rank loads, mean, max, max/mean:
    #   r1 L2 s0 [4,4] 4 4 1     r1 L2 s1 [0,2] 1 2 2
    #   r1 L10 s0 [8,0] 4 8 2    r1 L10 s1 [1,1] 1 1 1
    #   r2 L2 s0 [4,4] 4 4 1     r2 L10 s0 [6,2] 4 6 1.5
    # rank_max_over_mean_mean = (1 + 2 + 2 + 1 + 1 + 1.5) / 6 = 8.5/6
    # balancedness per step = sum over layers of means / sum over layers of maxes:
    #   r1 s0 (4+4)/(4+8) = 2/3;  r1 s1 (1+1)/(2+1) = 2/3;  r2 s0 (4+4)/(4+6) = 0.8
    #   average over the 3 steps: (2/3 + 2/3 + 0.8) / 3 = 32/45
    balance = value["ep_balance"]
    assert balance["skipped"] is False
    assert balance["ep_size"] == 2 and balance["source"] == "card"
    assert balance["steps"] == 3
    assert close(balance["balancedness"], 32 / 45)
    assert close(balance["rank_max_over_mean_mean"], 8.5 / 6)
    assert value["consistency"] == {"top_k": 2, "rows_checked": 6, "rows_mismatched": 0}
    assert result.warnings == []


def test_expert_load_by_layer_by_hand(ep_trace):
    value = compute(ep_trace, BY_LAYER).value
    # Layer 2: [3,1,2,2] + [0,0,1,1] + [2,2,2,2] = [5,3,5,5], sum 18, mean 4.5
    #   devs .5,-1.5,.5,.5 -> squares sum 3, var .75 -> CV sqrt(.75)/4.5; max/mean 5/4.5
    # Layer 10: [4,4,0,0] + [1,0,0,1] + [6,0,1,1] = [11,4,1,2], sum 18, mean 4.5
    #   devs 6.5,-.5,-3.5,-2.5 -> squares 42.25+.25+12.25+6.25 = 61, var 15.25
    #   -> CV sqrt(15.25)/4.5; max/mean 11/4.5
    assert value["layers"] == [2, 10]
    assert value["totals"] == [[5.0, 3.0, 5.0, 5.0], [11.0, 4.0, 1.0, 2.0]]
    for got, want in zip(value["normalized"], [[5, 3, 5, 5], [11, 4, 1, 2]], strict=True):
        assert all(close(g, w / 18) for g, w in zip(got, want, strict=True))
    cv2, cv10 = math.sqrt(0.75) / 4.5, math.sqrt(15.25) / 4.5
    assert close(value["cv"][0], cv2)
    assert close(value["cv"][1], cv10)
    assert close(value["max_over_mean"][0], 5 / 4.5)
    assert close(value["max_over_mean"][1], 11 / 4.5)
    summary = value["summary"]
    assert summary["num_layers"] == 2
    assert summary["num_experts"] == 4
    assert summary["total_steps"] == 6
    assert close(summary["cv_mean"], (cv2 + cv10) / 2)
    assert close(summary["cv_max"], cv10)
    assert close(summary["max_over_mean_mean"], (5 / 4.5 + 11 / 4.5) / 2)
    assert close(summary["max_over_mean_max"], 11 / 4.5)


def test_ep_size_option_overrides_the_card(ep_trace):
    # EP 4 on 4 experts: a rank per expert, so rank statistics equal expert statistics:
    # rank max/mean mean = 11.5/6 (as above). Balancedness per step:
    #   r1 s0 (2+2)/(3+4) = 4/7;  r1 s1 (.5+.5)/(1+1) = 1/2;  r2 s0 (2+2)/(2+6) = 1/2
    #   average (4/7 + 1/2 + 1/2) / 3 = 11/21
    balance = compute(ep_trace, IMBALANCE, Options(ep_size=4)).value["ep_balance"]
    assert balance["ep_size"] == 4 and balance["source"] == "option"
    assert close(balance["rank_max_over_mean_mean"], 11.5 / 6)
    assert close(balance["balancedness"], 11 / 21)


# ------------------------------------------------------------------- EP skipped


@pytest.mark.parametrize(
    ("ep", "option", "words"),
    [
        (1, None, ["EP size is 1"]),
        (None, None, ["no EP size", "model_plan_parallelization.ep"]),
        (4, None, ["6 experts", "4 EP ranks"]),  # 6 experts do not split over 4 ranks
        (2, 4, ["6 experts", "4 EP ranks"]),  # the option's size is checked too
    ],
    ids=["ep-1", "ep-missing", "not-divisible", "option-not-divisible"],
)
def test_ep_balance_skipped_with_a_reason(make_trace, tm_inputs, ep, option, words):
    rows = [[1.0, 2.0, 3.0, 0.0, 1.0, 1.0]]
    trace = make_trace(card=card(tm_inputs, ep=ep), gates={1: {0: log(rows)}})
    result = compute(trace, IMBALANCE, Options(ep_size=option))
    assert result.status == "ok"
    balance = result.value["ep_balance"]
    assert balance["skipped"] is True
    assert balance["ep_size"] == (option if option is not None else ep)
    for word in words:
        assert word in balance["reason"], balance["reason"]
    assert "balancedness" not in balance and "rank_max_over_mean_mean" not in balance
    # the per-row expert statistics are still there: mean 8/6, max 3 -> 3 / (8/6) = 2.25
    assert close(result.value["expert_max_over_mean"]["max"], 2.25)


def test_ep_1_option_skips_even_when_the_card_has_ep(ep_trace):
    balance = compute(ep_trace, IMBALANCE, Options(ep_size=1)).value["ep_balance"]
    assert balance["skipped"] is True and balance["source"] == "option"
    assert "EP size is 1" in balance["reason"]


# ------------------------------------------------------------------- consistency


def test_consistency_mismatch_is_counted_and_warned(make_trace, tm_inputs):
    # top_k 2: row sums must be 2 x num_tokens.
    #   [3, 1] with 2 tokens: 4 = 4 ok
    #   [3, 1] with 3 tokens: 4 != 6 mismatch
    #   [2, 2] with 2 tokens plus 1e-9: |4 - 4.000000002| = 2e-9 <= 1e-6 x 4: ok (float noise)
    #   [0, 0] with 1 token: 0 != 2 mismatch (and a zero-load row, left out of the ratios)
    trace = make_trace(
        card=card(tm_inputs, ep=2),
        gates={
            1: {0: log([[3.0, 1.0], [3.0, 1.0]], [2, 3])},
            2: {0: log([[2.0, 2.0], [0.0, 0.0]], [2 + 1e-9, 1])},
        },
    )
    results = extract(trace, GATE_METRICS)
    result = results[IMBALANCE]
    assert result.value["consistency"] == {"top_k": 2, "rows_checked": 4, "rows_mismatched": 2}
    assert result.value["rows"] == 3
    assert result.value["zero_load_rows"] == 1
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "2 of 4" in warning and "top_k" in warning
    assert str(trace / "gates_logs") in warning
    assert "gates_logs_01" in warning and "row 1" in warning  # the first mismatch
    assert "\n" not in warning
    # the compatibility metric keeps its output (no new warnings)
    assert results[EXPERT].warnings == []


def test_consistency_uses_the_cards_top_k(make_trace, tm_inputs):
    # top_k 1: [3, 1] with 4 tokens is consistent; with the default 2 it would not be.
    gates = {1: {0: log([[3.0, 1.0], [1.0, 1.0]], [4, 2])}}
    one = compute(make_trace(card=card(tm_inputs, top_k=1), gates=gates), IMBALANCE)
    assert one.value["consistency"] == {"top_k": 1, "rows_checked": 2, "rows_mismatched": 0}
    assert one.warnings == []
    default = compute(make_trace(card=card(tm_inputs, top_k=None), gates=gates), IMBALANCE)
    assert default.value["consistency"] == {"top_k": 2, "rows_checked": 2, "rows_mismatched": 2}
    assert len(default.warnings) == 1


# ---------------------------------------------------------------- warm-up filter


@pytest.fixture
def warmup_trace(make_trace, tm_inputs):
    # Step 0 is a 100-token profiling batch; steps 1 and 2 are 2-token decode steps.
    return make_trace(
        card=card(tm_inputs, ep=2),
        gates={
            1: {
                0: log([[200.0, 0.0], [2.0, 2.0], [1.0, 3.0]], [100, 2, 2]),
                1: log([[0.0, 200.0], [4.0, 0.0], [2.0, 2.0]], [100, 2, 2]),
            }
        },
    )


def test_warmup_filter_off_leaves_the_compatibility_metric_unchanged(
    warmup_trace, expert_reference
):
    default = compute(warmup_trace, EXPERT).value
    # totals over all 6 rows: [200+2+1+0+4+2, 0+2+3+200+0+2] = [209, 207]
    assert default["totals"] == [209.0, 207.0]
    assert default["summary"]["total_steps"] == 6
    expert_reference.assert_close(default, expert_reference.expected(warmup_trace))
    assert compute(warmup_trace, EXPERT, Options(max_step_tokens=None)).value == default
    # a threshold no step exceeds changes nothing either
    assert compute(warmup_trace, EXPERT, Options(max_step_tokens=100)).value == default


def test_warmup_filter_drops_the_big_first_step_from_every_gate_metric(warmup_trace):
    results = extract(warmup_trace, GATE_METRICS, Options(max_step_tokens=10))
    # Left: layer 0 rows [2,2], [1,3]; layer 1 rows [4,0], [2,2].
    expert = results[EXPERT].value
    assert expert["totals"] == [9.0, 7.0]
    assert expert["summary"]["total_steps"] == 4

    by_layer = results[BY_LAYER].value
    assert by_layer["totals"] == [[3.0, 5.0], [6.0, 2.0]]
    assert by_layer["summary"]["total_steps"] == 4

    value = results[IMBALANCE].value
    assert value["warmup_filter"] == {"max_step_tokens": 10, "rows_dropped": 2}
    assert value["rows"] == 4
    assert value["consistency"]["rows_checked"] == 4
    # max/mean: [2,2] 1; [1,3] 3/2 = 1.5; [4,0] 4/2 = 2; [2,2] 1 -> mean 5.5/4, max 2
    ratio = value["expert_max_over_mean"]
    assert close(ratio["mean"], 5.5 / 4)
    assert ratio["max"] == 2.0
    # sorted 1, 1, 1.5, 2: median = (1 + 1.5) / 2 = 1.25
    assert close(ratio["median"], 1.25)
    # EP 2 on 2 experts; steps keep their position (1 and 2) in both layers:
    #   step 1: means 2 + 2, maxes 2 + 4 -> 4/6;  step 2: means 2 + 2, maxes 3 + 2 -> 4/5
    #   balancedness (2/3 + 4/5) / 2 = 11/15
    balance = value["ep_balance"]
    assert balance["steps"] == 2
    assert close(balance["balancedness"], 11 / 15)


def test_warmup_filter_that_drops_everything_is_an_error(warmup_trace):
    results = extract(warmup_trace, GATE_METRICS, Options(max_step_tokens=1))
    for name in GATE_METRICS:
        assert results[name].status == "invalid"
        assert "max_step_tokens" in results[name].reason
        assert str(warmup_trace / "gates_logs") in results[name].reason


# ------------------------------------------------------------------- edge cases


def test_layers_of_different_lengths_align_by_position(make_trace, tm_inputs):
    # Layer 0 has 2 steps, layer 1 only the first (its log was written earlier).
    #   step 0: layer 0 [2,0] (rank mean 1, max 2), layer 1 [1,1] (mean 1, max 1): 2/3
    #   step 1: layer 0 [1,1] only: 1/1 = 1;   balancedness (2/3 + 1) / 2 = 5/6
    trace = make_trace(
        card=card(tm_inputs, ep=2),
        gates={1: {0: log([[2.0, 0.0], [1.0, 1.0]]), 1: log([[1.0, 1.0]])}},
    )
    balance = compute(trace, IMBALANCE).value["ep_balance"]
    assert balance["steps"] == 2
    assert close(balance["balancedness"], 5 / 6)


def test_a_layer_without_load_has_null_entries(make_trace, tm_inputs):
    trace = make_trace(
        card=card(tm_inputs, ep=2),
        gates={1: {0: log([[1.0, 3.0]]), 1: log([[0.0, 0.0]], [0])}},
    )
    value = compute(trace, BY_LAYER).value
    assert value["layers"] == [0, 1]
    assert value["normalized"] == [[0.25, 0.75], [None, None]]
    assert value["cv"][1] is None and value["max_over_mean"][1] is None
    # layer 0: mean 2, std 1 -> CV 0.5; max/mean 1.5; the summary skips layer 1
    assert value["cv"][0] == 0.5 and value["max_over_mean"][0] == 1.5
    assert value["summary"]["cv_max"] == 0.5 and value["summary"]["num_layers"] == 2


def test_all_zero_load_is_an_error_for_every_gate_metric(make_trace, tm_inputs):
    trace = make_trace(gates={1: {0: log([[0.0, 0.0], [0.0, 0.0]], [0, 0])}})
    results = extract(trace, GATE_METRICS)
    for name in GATE_METRICS:
        assert results[name].status == "invalid"
        assert "no expert load" in results[name].reason


def test_not_applicable_without_moe_or_gate_logs(make_trace, tm_inputs):
    dense = make_trace(card=tm_inputs.card(moe=False), gates={1: {0: log([[1.0, 1.0]])}})
    no_logs = make_trace()
    for trace in (dense, no_logs):
        results = extract(trace, GATE_METRICS)
        assert all(r.status == "not_applicable" for r in results.values())


def test_token_weighted_mean_without_tokens_is_null(make_trace, tm_inputs):
    # loads but num_tokens 0: inconsistent (warned), and no weight for the weighted mean
    trace = make_trace(card=card(tm_inputs, ep=2), gates={1: {0: log([[1.0, 3.0]], [0])}})
    result = compute(trace, IMBALANCE)
    assert result.value["expert_max_over_mean"]["token_weighted_mean"] is None
    assert result.value["expert_max_over_mean"]["mean"] == 1.5
    assert len(result.warnings) == 1


def test_percentiles_of_values_off_the_histogram_grid(make_trace, tm_inputs):
    # Rows on 3 experts: [2,1,1] mean 4/3, max 2 -> 1.5;  [1,1,1] -> 1;  [3,1,0] -> 2.25
    # and [5,4,3] mean 4, max 5 -> 1.25. Sorted 1, 1.25, 1.5, 2.25 -> median 1.375,
    # p95 at position 3*0.95 = 2.85: 1.5 + 0.85 * 0.75 = 2.1375 (not on the 1/4096 grid:
    # the histogram gives it within RESOLUTION below).
    rows = [[2.0, 1.0, 1.0], [1.0, 1.0, 1.0], [3.0, 1.0, 0.0], [5.0, 4.0, 3.0]]
    trace = make_trace(card=card(tm_inputs, ep=None), gates={1: {0: log(rows)}})
    ratio = compute(trace, IMBALANCE).value["expert_max_over_mean"]
    assert close(ratio["median"], 1.375)
    assert 2.1375 - RESOLUTION <= ratio["p95"] <= 2.1375 + 1e-12
    assert ratio["max"] == 2.25


def test_one_off_grid_value_is_exact(make_trace, tm_inputs):
    # [2, 1, 1]: 1.5 is on the grid; [3, 2, 2]: mean 7/3, max 3 -> 9/7 is not, but the
    # percentiles of a single row are clamped to the exact min and max.
    trace = make_trace(card=card(tm_inputs, ep=None), gates={1: {0: log([[3.0, 2.0, 2.0]])}})
    ratio = compute(trace, IMBALANCE).value["expert_max_over_mean"]
    assert close(ratio["median"], 9 / 7) and close(ratio["p95"], 9 / 7)


def test_one_scan_reads_each_gate_log_once(ep_trace, monkeypatch):
    reads = []
    real = gates.read_gate_log

    def counting(path):
        reads.append(path)
        return real(path)

    monkeypatch.setattr("tracemetrics.expert_stats.read_gate_log", counting)
    results = extract(ep_trace, GATE_METRICS)
    assert all(r.status == "ok" for r in results.values())
    assert len(reads) == 4 and len(set(reads)) == 4


def test_values_are_strict_json(ep_trace, skewed_trace):
    for trace in (ep_trace, skewed_trace):
        for options in (Options(), Options(ep_size=1)):
            for result in extract(trace, GATE_METRICS, options).values():
                json.dumps(result.to_json(), allow_nan=False)


def test_scan_requires_files_grouped_by_run():
    scan = ExpertLoadScan(ep_size=2)
    one = GateLog(np.array([1.0]), np.array([[1.0, 1.0]]))
    scan.add(GateLogFile(Path("a"), 1, 0), one)
    scan.add(GateLogFile(Path("b"), 2, 0), one)
    with pytest.raises(ValueError, match="run 1"):
        scan.add(GateLogFile(Path("c"), 1, 1), one)
