"""The new MoE metrics through the command line (real subprocesses) and the tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from tracemetrics.extract import extract
from tracemetrics.naming import Naming
from tracemetrics.tables import SUMMARY_KEYS, table_rows

REPO = Path(__file__).resolve().parent.parent
EXPERT = "token_to_expert_assignment"
NEW = ["expert_load_by_layer", "expert_imbalance"]


def ok(proc) -> str:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def usage_error(proc) -> str:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    return proc.stderr


@pytest.fixture
def warmup_trace(make_trace, tm_inputs):
    # EP 4 on 4 experts (the card's). Step 0 is a 100-token profiling batch.
    # Layer 0: [100,100,0,0] (100 tokens), [2,0,0,0] (1 token), [1,1,0,0] (1 token)
    return make_trace(
        gates={
            1: {
                0: tm_inputs.gate_log(
                    [[100.0, 100.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]],
                    [100, 1, 1],
                )
            }
        }
    )


@pytest.mark.parametrize("metric", NEW)
def test_new_metrics_print_json(metric, synth_trace, run_tracemetrics):
    trace = synth_trace(gate_runs=2, layers=3, steps=6)
    out = ok(run_tracemetrics("--trace", trace, "--metric", metric))
    value = json.loads(out)
    if metric == "expert_imbalance":
        assert set(value) == {
            "num_experts",
            "rows",
            "zero_load_rows",
            "expert_max_over_mean",
            "percentile_resolution",
            "per_step_cv_mean",
            "ep_balance",
            "consistency",
            "warmup_filter",
        }
        assert value["rows"] == 2 * 3 * 6
        assert value["ep_balance"]["ep_size"] == 4  # the generated EP card
        assert value["ep_balance"]["skipped"] is False
        assert value["consistency"]["rows_mismatched"] == 0  # generated rows are top-2
    else:
        assert set(value) == {"layers", "totals", "normalized", "cv", "max_over_mean", "summary"}
        assert value["layers"] == [0, 1, 2]
        assert len(value["totals"]) == 3 and len(value["totals"][0]) == 8


def test_flags_change_the_new_metrics(warmup_trace, run_tracemetrics):
    base = json.loads(ok(run_tracemetrics("--trace", warmup_trace, "--metric", "expert_imbalance")))
    # the three rows' max/mean: 100/50 = 2, 2/0.5 = 4, 1/0.5 = 2
    assert base["expert_max_over_mean"]["max"] == 4.0
    assert base["warmup_filter"] == {"max_step_tokens": None, "rows_dropped": 0}
    assert base["ep_balance"]["ep_size"] == 4
    out = ok(
        run_tracemetrics(
            "extract",
            "--trace",
            warmup_trace,
            "--metric",
            "expert_imbalance",
            "--max-step-tokens",
            "10",
            "--ep-size",
            "2",
        )
    )
    value = json.loads(out)
    assert value["warmup_filter"] == {"max_step_tokens": 10, "rows_dropped": 1}
    assert value["rows"] == 2
    # rows [2,0,0,0] -> 4 and [1,1,0,0] -> 2: mean 3
    assert value["expert_max_over_mean"]["mean"] == 3.0
    # EP 2 (option): rank loads [2,0] and [2,0]: max/mean 2 each; balancedness 1/2 each
    balance = value["ep_balance"]
    assert balance["ep_size"] == 2 and balance["source"] == "option"
    assert balance["rank_max_over_mean_mean"] == 2.0
    assert balance["balancedness"] == 0.5


def test_compatibility_metric_unchanged_without_flags(warmup_trace, run_tracemetrics):
    out = ok(run_tracemetrics("--trace", warmup_trace, "--metric", EXPERT))
    value = json.loads(out)
    assert value["totals"] == [103.0, 101.0, 0.0, 0.0]
    assert value["summary"]["total_steps"] == 3
    filtered = json.loads(
        ok(run_tracemetrics("--trace", warmup_trace, "--metric", EXPERT, "--max-step-tokens", "10"))
    )
    assert filtered["totals"] == [3.0, 1.0, 0.0, 0.0]
    assert filtered["summary"]["total_steps"] == 2


def test_consistency_warning_on_stderr_and_in_validate(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(gates={1: {0: tm_inputs.gate_log([[3.0, 1.0], [2.0, 2.0]], [2, 5])}})
    proc = run_tracemetrics("--trace", trace, "--metric", "expert_imbalance")
    ok(proc)
    assert json.loads(proc.stdout)["consistency"]["rows_mismatched"] == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ")
    assert "1 of 2" in lines[0] and "top_k" in lines[0]

    val = run_tracemetrics("validate", trace, "--ep-size", "2", "--max-step-tokens", "1000")
    out = ok(val)
    assert "expert_imbalance" in out and "warning:" in out and "1 of 2" in out
    statuses = {line.split()[0]: line.split()[1] for line in out.splitlines() if "  " in line}
    for name in [EXPERT, *NEW]:
        assert statuses[name] == "ok"


@pytest.mark.parametrize(
    "args",
    [
        ["--ep-size", "0"],
        ["--ep-size", "two"],
        ["--max-step-tokens", "-5"],
        ["--max-step-tokens", "1.5"],
    ],
)
def test_bad_flag_values_are_usage_errors(args, make_trace, run_tracemetrics):
    trace = make_trace()
    err = usage_error(run_tracemetrics("--trace", trace, "--metric", "expert_imbalance", *args))
    assert args[0] in err


def test_metrics_lists_the_new_metrics(run_tracemetrics):
    out = ok(run_tracemetrics("metrics"))
    lines = {line.split(":", 1)[0]: line for line in out.splitlines()}
    for name in NEW:
        assert name in lines
    assert "balancedness" in lines["expert_imbalance"]
    assert "4096" in lines["expert_imbalance"]
    assert "max_over_mean" in lines["expert_load_by_layer"]


def test_help_documents_the_flags(run_tracemetrics):
    for command in ("extract", "validate"):
        out = ok(run_tracemetrics(command, "--help"))
        assert "--max-step-tokens" in out and "--ep-size" in out


# --------------------------------------------------------------------------- tables


@pytest.fixture(scope="module")
def naming() -> Naming:
    return Naming.from_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def _records(traces, names):
    records = {name: [] for name in names}
    for trace in traces:
        for name, result in extract(trace, names).items():
            records[name].append(json.loads(json.dumps(result.to_json(), allow_nan=False)))
    return records


def test_tables_for_the_new_metrics(small_collection, naming):
    records = _records(small_collection, [EXPERT, *NEW])

    columns, rows = table_rows("expert_imbalance", records["expert_imbalance"], naming)
    for column in (
        "max_over_mean_mean",
        "max_over_mean_median",
        "max_over_mean_p95",
        "max_over_mean_max",
        "max_over_mean_token_weighted_mean",
        "per_step_cv_mean",
        "ep_size",
        "ep_balancedness",
        "ep_rank_max_over_mean_mean",
        "ep_skipped_reason",
        "rows_mismatched",
        "rows_dropped",
    ):
        assert column in columns
    assert len(rows) == 4
    moe = [r for r in rows if r["status"] == "ok"]
    assert len(moe) == 2  # the two DefaultAll2All traces have gate logs
    for row in moe:
        assert 1.0 <= row["max_over_mean_mean"] <= 8.0
        assert 0.0 < row["ep_balancedness"] <= 1.0
        assert row["ep_size"] == 4 and row["ep_skipped_reason"] is None
        assert row["rows_mismatched"] == 0
    for row in rows:
        if row["status"] != "ok":
            assert row["status"] == "not_applicable"
            assert row.get("max_over_mean_mean") is None

    columns, rows = table_rows("expert_load_by_layer", records["expert_load_by_layer"], naming)
    assert [f"cv_layer_{i}" for i in range(4)] == [c for c in columns if c.startswith("cv_layer_")]
    for key in ("num_layers", "cv_mean", "cv_max", "max_over_mean_max"):
        assert key in columns
    for row in rows:
        if row["status"] == "ok":
            assert row["num_layers"] == 4
            cvs = [row[f"cv_layer_{i}"] for i in range(4)]
            assert math.isclose(row["cv_max"], max(cvs))

    # the compatibility table keeps its columns
    columns, rows = table_rows(EXPERT, records[EXPERT], naming)
    start = columns.index("reason") + 1
    assert columns[start : start + len(SUMMARY_KEYS) + 8] == [
        *SUMMARY_KEYS,
        *(f"normalized_{i}" for i in range(8)),
    ]


def test_table_of_skipped_ep_balance(make_trace, tm_inputs, naming):
    card = tm_inputs.card()
    card["Model-executor"]["model_plan_parallelization"]["ep"] = 1
    trace = make_trace(card=card, gates={1: {0: tm_inputs.gate_log([[3.0, 1.0]])}})
    records = _records([trace], ["expert_imbalance"])["expert_imbalance"]
    _, rows = table_rows("expert_imbalance", records, naming)
    assert rows[0]["ep_size"] == 1
    assert rows[0]["ep_balancedness"] is None
    assert "EP size is 1" in rows[0]["ep_skipped_reason"]
