"""The five metrics against values computed independently from the files.

Expected values come from `results_reference` / `expert_reference` (stdlib `json`,
`statistics.fmean`, naive loops; see conftest.py) or are worked out by hand here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tracemetrics.extract import compute, extract
from tracemetrics.registry import METRICS

from .conftest import RESULT_FIELDS

EXPERT = "token_to_expert_assignment"
REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "resources" / "example_traces"


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12)


MOE_METRICS = {"expert_load_by_layer", "expert_imbalance"}


def test_registry_has_exactly_the_known_metrics():
    assert set(METRICS) == {*RESULT_FIELDS, EXPERT, *MOE_METRICS}
    for name, field in RESULT_FIELDS.items():
        assert METRICS[name].source == "results"
        assert METRICS[name].field == field
    for name in (EXPERT, *MOE_METRICS):
        assert METRICS[name].source == "gates"


# ------------------------------------------------------------------ inference metrics


@pytest.mark.parametrize("metric", list(RESULT_FIELDS))
def test_inference_metric_over_several_result_files(metric, synth_trace, results_reference):
    trace = synth_trace(result_files=3, profiler_dump=True)
    runs = results_reference.runs(trace)
    assert len(runs) == 3  # three files, the profiler dump is not one
    expected = results_reference.mean(trace, RESULT_FIELDS[metric])

    result = compute(trace, metric)

    assert result.status == "ok"
    assert isinstance(result.value, float)
    assert close(result.value, expected)
    assert result.warnings == []


@pytest.mark.parametrize("metric", list(RESULT_FIELDS))
def test_inference_metric_with_append_result_files(metric, synth_trace, results_reference):
    trace = synth_trace(result_files=2, append_runs=3)
    assert len(results_reference.runs(trace)) == 6
    result = compute(trace, metric)
    assert close(result.value, results_reference.mean(trace, RESULT_FIELDS[metric]))


@pytest.mark.parametrize("metric", list(RESULT_FIELDS))
def test_every_appended_object_is_one_run(metric, make_trace, tm_inputs):
    field = RESULT_FIELDS[metric]
    trace = make_trace(
        results={
            # --append-result: three runs in one file, one object per line
            "vllm-append.json": [tm_inputs.result(**{field: v}) for v in (1.0, 2.0, 3.0)],
            "vllm-single.json": tm_inputs.result(**{field: 10.0}),
        }
    )
    # mean over the 4 runs; not (2 + 10) / 2 (mean of file means) nor (1 + 10) / 2
    assert compute(trace, metric).value == 4.0


def test_json_lines_with_crlf_and_blank_lines(make_trace, tm_inputs):
    lines = [tm_inputs.result(mean_tpot_ms=v) for v in (10.0, 20.0, 60.0)]
    text = "\r\n".join(json.dumps(o) for o in lines) + "\r\n\r\n"
    trace = make_trace(results={"sglang.jsonl.json": text})
    assert compute(trace, "TPOT").value == 30.0


def test_profiler_dumps_and_other_files_are_not_results(make_trace, tm_inputs):
    trace = make_trace(
        results={
            "vllm-32qps-run01.json": tm_inputs.result(mean_ttft_ms=5.0),
            # a result-looking profiler file must not count, a broken one must not fail
            "vllm-32qps-run01.pytorch.json": {"mean_ttft_ms": 1000.0, "traceEvents": []},
            "trace.pytorch.json": "{ not json",
            "notes.txt": "mean_ttft_ms: 7",
        }
    )
    result = compute(trace, "TTFT")
    assert result.value == 5.0
    assert result.warnings == []


def test_several_hand_made_result_files(make_trace, tm_inputs):
    values = [1.5, 2.25, 10.125, 7]  # an int is a number too
    trace = make_trace(
        results={f"run{i}.json": tm_inputs.result(mean_ttft_ms=v) for i, v in enumerate(values)}
    )
    result = compute(trace, "TTFT")
    assert result.value == (1.5 + 2.25 + 10.125 + 7) / 4
    assert isinstance(result.value, float)


def test_field_missing_from_some_files_warns_and_averages_the_rest(make_trace, tm_inputs):
    without = tm_inputs.result()
    del without["mean_tpot_ms"]
    trace = make_trace(
        results={
            "a.json": tm_inputs.result(mean_tpot_ms=20.0),
            "b.json": without,
            "c.json": tm_inputs.result(mean_tpot_ms=30.0),
            "d.json": [tm_inputs.result(mean_tpot_ms=40.0), without],
        }
    )
    result = compute(trace, "TPOT")
    assert result.value == 30.0
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "b.json" in warning and "d.json" in warning
    assert "a.json" not in warning and "c.json" not in warning
    assert "mean_tpot_ms" in warning


# ------------------------------------------------------------------------ the expert metric


def test_expert_metric_on_generated_trace(synth_trace, expert_reference):
    trace = synth_trace(gate_runs=2, layers=3, steps=12)
    result = compute(trace, EXPERT)
    assert result.status == "ok"
    expected = expert_reference.expected(trace)
    expert_reference.assert_close(result.value, expected)
    summary = result.value["summary"]
    assert summary["total_steps"] == 2 * 3 * 12
    assert summary["num_experts"] == 8
    # top-2 routing: every row sums to 2 x num_tokens, so the grand total is known
    logs = [json.loads(p.read_text()) for p in expert_reference.gate_files(trace)]
    assert len(logs) == 6
    assert summary["total_tokens"] == 2 * sum(sum(log["num_tokens"]) for log in logs)


def test_expert_metric_hand_made_several_runs_and_a_silent_expert(make_trace, tm_inputs):
    gl = tm_inputs.gate_log
    trace = make_trace(
        gates={
            1: {
                0: gl([[1.5, 0.0, 2.5, 4.0], [3.0, 0.0, 1.0, 0.5]]),
                1: gl([[0.5, 0.0, 0.5, 1.0]]),
            },
            2: {0: gl([[1.0, 0.0, 2.0, 2.5], [2.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 2.0]])},
        }
    )
    value = compute(trace, EXPERT).value
    totals = [8.0, 0.0, 8.0, 10.0]  # summed by hand
    assert value["totals"] == totals
    assert value["normalized"] == [8 / 26, 0.0, 8 / 26, 10 / 26]
    s = value["summary"]
    entropy = -(2 * (8 / 26) * math.log2(8 / 26) + (10 / 26) * math.log2(10 / 26))
    assert math.isclose(s["entropy"], entropy, rel_tol=1e-12)
    assert math.isclose(s["normalized_entropy"], entropy / 2, rel_tol=1e-12)
    mean = 26 / 4
    std = math.sqrt(((8 - mean) ** 2 * 2 + mean**2 + (10 - mean) ** 2) / 4)
    assert math.isclose(s["coefficient_of_variation"], std / mean, rel_tol=1e-12)
    assert s["max_min_ratio"] == 10 / 8  # smallest non-zero total, not the zero
    assert s["total_tokens"] == 26.0
    assert s["num_experts"] == 4
    assert s["total_steps"] == 6


def test_expert_metric_only_reads_gate_logs_by_their_layout(
    make_trace, tm_inputs, expert_reference
):
    gl = tm_inputs.gate_log
    trace = make_trace(
        gates={
            1: {0: gl([[4.0, 2.0, 1.0, 1.0]]), 10: gl([[1.0, 1.0, 1.0, 5.0]])},
            2: {3: gl([[0.0, 8.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]), 4: gl([])},
        },
        extra={
            "gates_logs/gates_logs_01/notes.json": "{ not a gate log",
            "gates_logs/gates_logs_01/gate_logs_2.json.bak": "{ not a gate log",
            "gates_logs/gates_logs_01/gate_logs_x.json": "{ not a gate log",
            "gates_logs/old_01/gate_logs_0.json": '{"step": [0], "num_tokens": [1], '
            '"expert_loads": [[100.0, 0.0, 0.0, 0.0]]}',
            "gates_logs/README.md": "notes",
            "gate_logs_0.json": "{ misplaced",
        },
    )
    value = compute(trace, EXPERT).value
    assert value["totals"] == [6.0, 12.0, 3.0, 7.0]
    assert value["summary"]["total_steps"] == 4
    expert_reference.assert_close(value, expert_reference.expected(trace))


def test_expert_metric_accepts_integer_loads(make_trace, tm_inputs):
    log = {"step": [0, 1], "num_tokens": [3, 2], "expert_loads": [[3, 1, 2], [0, 2, 2]]}
    trace = make_trace(gates={1: {0: log}})
    value = compute(trace, EXPERT).value
    assert value["totals"] == [3.0, 3.0, 4.0]
    assert all(isinstance(t, float) for t in value["totals"])


def test_generated_collection_all_metrics(small_collection, results_reference, expert_reference):
    assert len(small_collection) == 4
    for trace in small_collection:
        assert "[" in trace.name and "]" in trace.name
        results = extract(trace, [*RESULT_FIELDS, EXPERT])
        for metric, field in RESULT_FIELDS.items():
            assert results[metric].status == "ok", results[metric].reason
            assert close(results[metric].value, results_reference.mean(trace, field))
        if (trace / "gates_logs").is_dir():
            assert results[EXPERT].status == "ok", results[EXPERT].reason
            expert_reference.assert_close(results[EXPERT].value, expert_reference.expected(trace))
        else:
            assert results[EXPERT].status == "not_applicable"


def test_extract_reports_status_instead_of_raising(make_trace, tm_inputs):
    training = make_trace(
        card=tm_inputs.card(phase="training"), gates={1: {0: tm_inputs.gate_log([[1.0, 3.0]])}}
    )
    results = extract(training, [*RESULT_FIELDS, EXPERT])
    for metric in RESULT_FIELDS:
        assert results[metric].status == "not_applicable"
        assert "training" in results[metric].reason
    assert results[EXPERT].status == "ok"
    assert results[EXPERT].value["totals"] == [1.0, 3.0]

    dense = make_trace(card=tm_inputs.card(moe=False))
    assert extract(dense, [EXPERT])[EXPERT].status == "not_applicable"

    broken = make_trace(results={"r.json": '{"mean_ttft_ms": NaN}'})
    ttft = extract(broken, ["TTFT"])["TTFT"]
    assert ttft.status == "invalid"
    assert "r.json" in ttft.reason and "mean_ttft_ms" in ttft.reason


# ------------------------------------------------------------- the built-in example collection


def _example_traces() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir()) if EXAMPLES.is_dir() else []


def test_example_collection_is_present():
    assert len(_example_traces()) >= 16


@pytest.mark.parametrize("trace", _example_traces(), ids=lambda p: p.name)
def test_example_collection_metrics(trace, results_reference, expert_reference):
    results = extract(trace, [*RESULT_FIELDS, EXPERT])
    for metric, field in RESULT_FIELDS.items():
        assert results[metric].status == "ok", results[metric].reason
        assert close(results[metric].value, results_reference.mean(trace, field))
    if (trace / "gates_logs").is_dir():
        expert_reference.assert_close(results[EXPERT].value, expert_reference.expected(trace))


def test_a_trace_without_gate_logs_never_imports_numpy(make_trace):
    """Half of a typical collection has no gate logs; each is one workflow job, which
    should not pay for numpy's import (a tenth of a second)."""
    trace = make_trace()  # moe: true, results, no gates_logs/
    code = (
        "import sys; from pathlib import Path; from tracemetrics.extract import extract; "
        "from tracemetrics.registry import DEFAULT_METRICS; "
        f"r = extract(Path({str(trace)!r}), DEFAULT_METRICS); "
        "print(sorted({x.status for x in r.values()}), 'numpy' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert proc.stdout.split() == ["['not_applicable',", "'ok']", "False"]
