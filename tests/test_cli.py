"""The command line as users run it: `python scripts/main.py --trace DIR --metric NAME`.

Every run is a real subprocess.  Input problems must exit 1 with exactly one line on
stderr naming the offending file and the problem, usage errors exit 2, and no run may
print a Python traceback.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from .conftest import RESULT_FIELDS

EXPERT = "token_to_expert_assignment"
ALL_METRICS = [*RESULT_FIELDS, EXPERT, "expert_load_by_layer", "expert_imbalance"]
# what `validate` checks without --config: not E2EL, which older vLLM does not write
VALIDATED = [m for m in ALL_METRICS if m != "E2EL"]


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def assert_ok(proc) -> str:
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def assert_input_error(proc, path: Path | str, *words: str) -> str:
    """Exit 1, nothing on stdout, one stderr line naming `path` and saying `words`."""
    no_traceback(proc)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert str(path) in line, f"{path} not named in: {line}"
    for word in words:
        assert word.lower() in line.lower(), f"{word!r} not in: {line}"
    return line


def assert_usage_error(proc) -> str:
    no_traceback(proc)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stderr


# ------------------------------------------------------------------------------ success


@pytest.mark.parametrize("metric", list(RESULT_FIELDS))
def test_inference_metric_prints_the_mean(metric, synth_trace, results_reference, run_tracemetrics):
    trace = synth_trace(result_files=2, append_runs=2, profiler_dump=True)
    expected = results_reference.mean(trace, RESULT_FIELDS[metric])

    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", metric))

    assert out.endswith("\n") and out.count("\n") == 1
    value = float(out)
    assert out.strip() == repr(value)  # full precision, Python's repr
    assert math.isclose(value, expected, rel_tol=1e-12)


def test_float_is_printed_at_full_precision(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(
        results={f"r{i}.json": tm_inputs.result(mean_ttft_ms=v) for i, v in enumerate([1, 0, 0])}
    )
    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", "TTFT"))
    assert out == "0.3333333333333333\n"


def test_module_entry_and_extract_subcommand_agree(synth_trace, run_tracemetrics):
    trace = synth_trace(result_files=2)
    plain = assert_ok(run_tracemetrics("--trace", trace, "--metric", "TPOT"))
    sub = assert_ok(run_tracemetrics("extract", "--trace", trace, "--metric", "TPOT"))
    module = assert_ok(run_tracemetrics("--trace", trace, "--metric", "TPOT", module=True))
    assert plain == sub == module
    assert float(plain) > 0


def test_expert_metric_prints_json(synth_trace, expert_reference, run_tracemetrics):
    trace = synth_trace(gate_runs=2, layers=3, steps=10)
    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", EXPERT))
    value = json.loads(out)
    expert_reference.assert_close(value, expert_reference.expected(trace))
    assert value["summary"]["total_steps"] == 2 * 3 * 10


def test_trace_name_brackets_are_not_a_glob_pattern(make_trace, tm_inputs, run_tracemetrics):
    # "trace[ab]" as a glob pattern matches "tracea"; the CLI must read "trace[ab]" itself
    trace = make_trace(
        "Mixtral8x7B-vllmEP4-Perlmutter[ab]-group12",
        results={"r.json": tm_inputs.result(mean_ttft_ms=42.0)},
        gates={1: {0: tm_inputs.gate_log([[1.0, 3.0]])}},
    )
    decoy = trace.parent / "Mixtral8x7B-vllmEP4-Perlmuttera-group12"
    shutil.copytree(trace, decoy)
    (decoy / "results_json" / "r.json").write_text(json.dumps(tm_inputs.result(mean_ttft_ms=1.0)))
    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", "TTFT"))
    assert float(out) == 42.0
    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", EXPERT))
    assert json.loads(out)["totals"] == [1.0, 3.0]


# ----------------------------------------------------------------- the trace directory


def test_trace_path_missing(tmp_path, tm_inputs, run_tracemetrics):
    missing = tmp_path / tm_inputs.name
    proc = run_tracemetrics("--trace", missing, "--metric", "TTFT")
    assert_input_error(proc, missing, "not exist")


def test_trace_path_is_a_file(tmp_path, tm_inputs, run_tracemetrics):
    path = tmp_path / tm_inputs.name
    path.write_text("not a directory")
    proc = run_tracemetrics("--trace", path, "--metric", "TTFT")
    assert_input_error(proc, path, "not a directory")


# ------------------------------------------------------------------------ workload card


def test_no_card(make_trace, run_tracemetrics):
    trace = make_trace(card=None)
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace, "no workload card")


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_several_cards_prefer_the_one_named_after_the_directory(
    suffix, make_trace, tm_inputs, run_tracemetrics
):
    trace = make_trace(
        card_name=f"{tm_inputs.name}{suffix}",
        results={"r.json": tm_inputs.result(mean_ttft_ms=12.5)},
        # a competing card that would fail if it were read
        extra={"launch.yaml": "workload: [unclosed", "docker-compose.yml": "services: {}"},
    )
    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", "TTFT"))
    assert float(out) == 12.5


def test_several_cards_without_a_preferred_one(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(card_name="card-a.yaml", extra={"card-b.yml": json.dumps(tm_inputs.card())})
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace, "card-a.yaml", "card-b.yml", "several")


def test_real_card_that_is_not_valid_yaml(make_trace, broken_real_card, run_tracemetrics):
    trace = make_trace(card=None)
    card = trace / broken_real_card.name
    shutil.copyfile(broken_real_card, card)
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    line = assert_input_error(proc, card, "yaml")
    assert f"{card}:18:" in line  # file:line:column of the stray line


def test_invalid_yaml_reports_line_and_column(make_trace, run_tracemetrics):
    trace = make_trace(card="workload:\n  model:\n    phase: serving\n    moe: [true\n")
    card = trace / f"{trace.name}.yaml"
    line = assert_input_error(run_tracemetrics("--trace", trace, "--metric", "TTFT"), card)
    loc = line.split(f"{card}:", 1)[1].split(":")
    assert loc[0].isdigit() and loc[1].isdigit(), line


@pytest.mark.parametrize(
    "card",
    [
        {"workload": {"data": {"max-num-seqs": 32}}},
        {"workload": {"model": "mixtral"}},
        {"Model-executor": {"framework": {"name": "vllm"}}},
        "- a list\n- not a mapping\n",
        "",
    ],
    ids=["no-model", "model-not-mapping", "no-workload", "list", "empty"],
)
def test_card_without_workload_model(card, make_trace, run_tracemetrics):
    trace = make_trace(card=card)
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / f"{trace.name}.yaml")


def test_card_without_workload_model_names_the_key(make_trace, run_tracemetrics):
    trace = make_trace(card={"workload": {"data": {"max-num-seqs": 32}}})
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / f"{trace.name}.yaml", "workload.model")


def test_card_not_utf8(make_trace, run_tracemetrics):
    trace = make_trace(card=b"workload:\n  model:\n    phase: \xff\xfe\n")
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / f"{trace.name}.yaml", "yaml")


# ---------------------------------------------------------------------------- phases


@pytest.mark.parametrize("phase", ["serving", "inference"])
def test_serving_and_inference_phases_accepted_by_default(
    phase, make_trace, tm_inputs, run_tracemetrics
):
    trace = make_trace(
        card=tm_inputs.card(phase=phase), results={"r.json": tm_inputs.result(mean_tpot_ms=9.5)}
    )
    assert float(assert_ok(run_tracemetrics("--trace", trace, "--metric", "TPOT"))) == 9.5


def test_training_phase_refused_for_inference_metrics(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(card=tm_inputs.card(phase="training"))
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / f"{trace.name}.yaml", "phase", "training")


def test_phases_option_changes_the_accepted_set(make_trace, tm_inputs, run_tracemetrics):
    training = make_trace(
        card=tm_inputs.card(phase="training"),
        results={"r.json": tm_inputs.result(mean_ttft_ms=3.0)},
    )
    serving = make_trace(card=tm_inputs.card(phase="serving"))

    out = run_tracemetrics("--trace", training, "--metric", "TTFT", "--phases", "training")
    assert float(assert_ok(out)) == 3.0
    out = run_tracemetrics(
        "--trace", training, "--metric", "TTFT", "--phases", "inference,training"
    )
    assert float(assert_ok(out)) == 3.0

    proc = run_tracemetrics("--trace", serving, "--metric", "TTFT", "--phases", "inference")
    assert_input_error(proc, serving / f"{serving.name}.yaml", "serving")
    proc = run_tracemetrics("--trace", training, "--metric", "TTFT", "--phases", "inference")
    assert_input_error(proc, training / f"{training.name}.yaml", "training")


def test_empty_phases_option_is_a_usage_error(make_trace, run_tracemetrics):
    trace = make_trace()
    assert_usage_error(run_tracemetrics("--trace", trace, "--metric", "TTFT", "--phases", ","))


def test_card_without_phase(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(card=tm_inputs.card(phase=None))
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / f"{trace.name}.yaml", "phase")


def test_expert_metric_ignores_the_phase(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(
        card=tm_inputs.card(phase="training"), gates={1: {0: tm_inputs.gate_log([[2.0, 6.0]])}}
    )
    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", EXPERT))
    assert json.loads(out)["totals"] == [2.0, 6.0]


# ------------------------------------------------------------- what the expert metric needs


@pytest.mark.parametrize("moe", [False, None], ids=["moe-false", "moe-missing"])
def test_expert_metric_needs_moe_true(moe, make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(
        card=tm_inputs.card(moe=moe), gates={1: {0: tm_inputs.gate_log([[1.0, 1.0]])}}
    )
    proc = run_tracemetrics("--trace", trace, "--metric", EXPERT)
    assert_input_error(proc, trace / f"{trace.name}.yaml", "moe")


def test_expert_metric_needs_gate_logs(make_trace, run_tracemetrics):
    trace = make_trace()
    proc = run_tracemetrics("--trace", trace, "--metric", EXPERT)
    assert_input_error(proc, trace / "gates_logs", "gate logs")


def test_expert_metric_needs_gate_log_files(make_trace, run_tracemetrics):
    trace = make_trace(
        extra={
            "gates_logs/gates_logs_01/README.md": "empty run",
            "gates_logs/gate_logs_0.json": "{}",
        }
    )
    proc = run_tracemetrics("--trace", trace, "--metric", EXPERT)
    assert_input_error(proc, trace / "gates_logs", "gate logs")


def test_expert_metric_with_no_load_at_all(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(gates={1: {0: tm_inputs.gate_log([[0.0, 0.0], [0.0, 0.0]])}})
    proc = run_tracemetrics("--trace", trace, "--metric", EXPERT)
    assert_input_error(proc, trace / "gates_logs", "no expert load")


# --------------------------------------------------------------------------- result files


def test_results_dir_missing(make_trace, run_tracemetrics):
    trace = make_trace(results=None)
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / "results_json", "missing")


def test_results_dir_empty(make_trace, run_tracemetrics):
    trace = make_trace(results={})
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / "results_json", "no result file")


def test_results_dir_with_only_a_profiler_dump(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(results={"vllm-run01.pytorch.json": tm_inputs.result(), "notes.txt": "x"})
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / "results_json", "no result file")


def test_results_path_is_a_file(make_trace, run_tracemetrics):
    trace = make_trace(results=None, extra={"results_json": "{}"})
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    assert_input_error(proc, trace / "results_json", "file")


@pytest.mark.parametrize(
    ("content", "line_no"),
    [
        ('{\n  "mean_ttft_ms": 1.0,\n  "duration": ,\n  "completed": 4\n}\n', 3),
        ('{"mean_ttft_ms": 1.0}\n{"mean_ttft_ms": 2.0, \n{"mean_ttft_ms": 3.0}\n', 2),
        ('{\n  "mean_ttft_ms": 1.0,\n  "ttfts": [0.1, 0.2\n', 4),
    ],
    ids=["save-result", "append-result", "truncated"],
)
def test_result_file_that_does_not_parse(content, line_no, make_trace, run_tracemetrics):
    trace = make_trace(results={"vllm-run01.json": content})
    path = trace / "results_json" / "vllm-run01.json"
    line = assert_input_error(run_tracemetrics("--trace", trace, "--metric", "TTFT"), path, "json")
    assert f"{path}:{line_no}:" in line


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", ["empty"]),
        ("  \n\n", ["empty"]),
        ("[1, 2, 3]", ["object"]),
        ('{"mean_ttft_ms": 1.0}\n[1]\n', ["object"]),
        (b'{"mean_ttft_ms": 1.0, "backend": "\xff"}', ["utf-8"]),
        ("[" * 100_000, ["json"]),
        ('{"mean_ttft_ms": 1, "seed": ' + "7" * 5000 + "}", ["json"]),
    ],
    ids=["empty", "blank", "list", "line-not-object", "not-utf8", "deep-nesting", "huge-int"],
)
def test_result_file_with_bad_content(content, words, make_trace, run_tracemetrics):
    trace = make_trace(results={"good.json": {"mean_ttft_ms": 1.0}, "vllm-run01.json": content})
    path = trace / "results_json" / "vllm-run01.json"
    assert_input_error(run_tracemetrics("--trace", trace, "--metric", "TTFT"), path, *words)


def test_big_integer_in_another_field_is_fine(make_trace, tm_inputs, run_tracemetrics):
    # beyond 64 bits: simdjson refuses it, the exact parser must take over
    big = 123456789012345678901234567890
    trace = make_trace(
        results={
            "a.json": tm_inputs.result(mean_ttft_ms=4.0, seed=big),
            "b.json": tm_inputs.result(mean_ttft_ms=6.0),
        }
    )
    assert float(assert_ok(run_tracemetrics("--trace", trace, "--metric", "TTFT"))) == 5.0


def test_field_missing_from_every_file(make_trace, tm_inputs, run_tracemetrics):
    def without_ttft():
        obj = tm_inputs.result()
        del obj["mean_ttft_ms"]
        return obj

    trace = make_trace(results={"a.json": without_ttft(), "b.json": [without_ttft()] * 2})
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT")
    line = assert_input_error(proc, trace / "results_json", "mean_ttft_ms")
    # the numeric fields that are there, so the user can see what to ask for
    for present in ("mean_tpot_ms", "median_ttft_ms", "duration", "completed"):
        assert present in line
    for not_numeric in ("backend", "request_rate", "use_beam_search", "ttfts"):
        assert not_numeric not in line


def test_field_missing_from_some_files(make_trace, tm_inputs, run_tracemetrics):
    without = tm_inputs.result()
    del without["output_throughput"]
    trace = make_trace(
        results={
            "run-1.json": tm_inputs.result(output_throughput=100.0),
            "run-2.json": without,
            "run-3.json": tm_inputs.result(output_throughput=200.0),
            "run-4.json": [without, tm_inputs.result(output_throughput=600.0)],
        }
    )
    proc = run_tracemetrics("--trace", trace, "--metric", "output_throughput")
    out = assert_ok(proc)
    assert float(out) == 300.0  # mean over the three runs that have it
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    warning = lines[0]
    assert "warning" in warning.lower()
    assert "output_throughput" in warning
    assert "run-2.json" in warning and "run-4.json" in warning
    assert "run-1.json" not in warning and "run-3.json" not in warning


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('"12.5"', ["string"]),
        ("null", ["null"]),
        ("true", ["boolean"]),
        ("NaN", ["nan"]),
        ("Infinity", ["inf"]),
        ("-Infinity", ["inf"]),
        ("1e400", ["inf"]),
        ("1" + "0" * 400, ["finite"]),
        ("[1.0, 2.0]", []),
        ('{"value": 1.0}', []),
    ],
    ids=[
        "string",
        "null",
        "bool",
        "nan",
        "inf",
        "-inf",
        "overflow",
        "huge-int",
        "list",
        "object",
    ],
)
@pytest.mark.parametrize("metric", ["TTFT", "request_throughput"])
def test_bad_metric_value(metric, raw, words, make_trace, tm_inputs, run_tracemetrics):
    field = RESULT_FIELDS[metric]
    good = json.dumps(tm_inputs.result(**{field: 10.0}), indent=2)
    bad = good.replace(f'"{field}": 10.0', f'"{field}": {raw}')
    assert bad != good
    trace = make_trace(results={"a-good.json": good, "b-bad.json": bad})
    proc = run_tracemetrics("--trace", trace, "--metric", metric)
    assert_input_error(proc, trace / "results_json" / "b-bad.json", field, *words)


def test_nan_in_an_appended_run(make_trace, tm_inputs, run_tracemetrics):
    line1 = json.dumps(tm_inputs.result(mean_tpot_ms=1.0))
    line2 = json.dumps(tm_inputs.result(mean_tpot_ms=float("nan"), completed=0))
    assert "NaN" in line2  # as Python's json writes a mean over zero requests
    trace = make_trace(results={"append.json": f"{line1}\n{line2}\n"})
    proc = run_tracemetrics("--trace", trace, "--metric", "TPOT")
    assert_input_error(proc, trace / "results_json" / "append.json", "mean_tpot_ms", "nan")


def test_nan_in_another_field_is_fine(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(
        results={"r.json": tm_inputs.result(mean_ttft_ms=8.0, p99_tpot_ms=float("nan"))}
    )
    assert float(assert_ok(run_tracemetrics("--trace", trace, "--metric", "TTFT"))) == 8.0


# ----------------------------------------------------------------------------- gate logs

GOOD_LOG = {"step": [0, 1], "num_tokens": [2, 1], "expert_loads": [[1.0, 3.0], [2.0, 0.0]]}
BAD_LOGS = {
    "not-json": ('{"step": [0, 1], "num_tokens": [2, 1], "expert_loads": [[1.0, 3.0], [2.0', []),
    "empty-file": ("", ["empty"]),
    "top-level-list": ([[1.0, 3.0]], ["object"]),
    "ragged": (
        {"step": [0, 1], "num_tokens": [2, 1], "expert_loads": [[1.0, 3.0], [2.0]]},
        ["ragged"],
    ),
    "string-load": (
        {"step": [0, 1], "num_tokens": [2, 1], "expert_loads": [[1.0, "3.0"], [2.0, 0.0]]},
        ["expert_loads"],
    ),
    "null-load": (
        {"step": [0, 1], "num_tokens": [2, 1], "expert_loads": [[1.0, 3.0], [None, 0.0]]},
        ["expert_loads"],
    ),
    "bool-load": (
        {"step": [0, 1], "num_tokens": [2, 1], "expert_loads": [[1.0, 3.0], [True, 0.0]]},
        ["expert_loads"],
    ),
    "nan-load": (
        '{"step": [0], "num_tokens": [2], "expert_loads": [[NaN, 4.0]]}',
        ["expert_loads", "nan"],
    ),
    "inf-load": (
        '{"step": [0], "num_tokens": [2], "expert_loads": [[Infinity, 4.0]]}',
        ["expert_loads"],
    ),
    "huge-int-load": (
        '{"step": [0], "num_tokens": [2], "expert_loads": [[1' + "0" * 400 + ", 4.0]]}",
        ["expert_loads"],
    ),
    "negative-load": (
        {"step": [0], "num_tokens": [2], "expert_loads": [[-1.0, 5.0]]},
        ["negative"],
    ),
    "row-not-list": (
        {"step": [0, 1], "num_tokens": [2, 1], "expert_loads": [4.0, 2.0]},
        ["expert_loads"],
    ),
    "nested-too-deep": (
        {"step": [0], "num_tokens": [2], "expert_loads": [[[1.0, 1.0], [1.0, 1.0]]]},
        ["expert_loads"],
    ),
    "zero-experts": ({"step": [0, 1], "num_tokens": [0, 0], "expert_loads": [[], []]}, []),
    "string-num-tokens": (
        {"step": [0, 1], "num_tokens": ["2", 1], "expert_loads": [[1.0, 3.0], [2.0, 0.0]]},
        ["num_tokens"],
    ),
    "short-step": (
        {"step": [0], "num_tokens": [2, 1], "expert_loads": [[1.0, 3.0], [2.0, 0.0]]},
        ["step", "length"],
    ),
    "short-num-tokens": (
        {"step": [0, 1], "num_tokens": [2], "expert_loads": [[1.0, 3.0], [2.0, 0.0]]},
        ["num_tokens", "length"],
    ),
    "short-expert-loads": (
        {"step": [0, 1, 2], "num_tokens": [2, 1, 1], "expert_loads": [[1.0, 3.0], [2.0, 0.0]]},
        ["expert_loads", "length"],
    ),
    "missing-key": ({"step": [0], "expert_loads": [[1.0, 3.0]]}, ["num_tokens"]),
    "loads-not-list": (
        {"step": [0], "num_tokens": [2], "expert_loads": {"0": [1.0, 3.0]}},
        ["expert_loads"],
    ),
}


@pytest.mark.parametrize(("log", "words"), list(BAD_LOGS.values()), ids=list(BAD_LOGS))
def test_bad_gate_log(log, words, make_trace, run_tracemetrics):
    trace = make_trace(gates={1: {0: GOOD_LOG, 1: GOOD_LOG}, 2: {0: GOOD_LOG, 7: log}})
    path = trace / "gates_logs" / "gates_logs_02" / "gate_logs_7.json"
    proc = run_tracemetrics("--trace", trace, "--metric", EXPERT)
    assert_input_error(proc, path, *words)


def test_gate_log_parse_error_has_line(make_trace, run_tracemetrics):
    text = json.dumps(GOOD_LOG, indent=2).replace("3.0", "3.0.1")
    trace = make_trace(gates={1: {0: text}})
    path = trace / "gates_logs" / "gates_logs_01" / "gate_logs_0.json"
    line = assert_input_error(run_tracemetrics("--trace", trace, "--metric", EXPERT), path, "json")
    assert f"{path}:" in line and line.split(f"{path}:", 1)[1].split(":")[0].isdigit()


@pytest.mark.parametrize("where", ["same-run", "other-run"])
def test_different_expert_counts_across_layers(where, make_trace, tm_inputs, run_tracemetrics):
    eight = tm_inputs.gate_log([[2.0] * 8, [1.0] * 8])
    six = tm_inputs.gate_log([[2.0] * 6])
    if where == "same-run":
        gates = {1: {0: eight, 1: eight, 2: six}}
        path = ("gates_logs_01", "gate_logs_2.json")
    else:
        gates = {1: {0: eight, 1: eight}, 2: {0: eight, 1: six}}
        path = ("gates_logs_02", "gate_logs_1.json")
    trace = make_trace(gates=gates)
    proc = run_tracemetrics("--trace", trace, "--metric", EXPERT)
    line = assert_input_error(proc, trace.joinpath("gates_logs", *path), "experts")
    assert "6" in line and "8" in line


def test_gate_log_with_big_integer_in_step(make_trace, run_tracemetrics):
    # beyond 64 bits: the fast parser refuses it; `step` is not used, so it is fine
    log = {"step": [0, 10**25], "num_tokens": [2, 1], "expert_loads": [[1.0, 3.0], [2.0, 0.0]]}
    trace = make_trace(gates={1: {0: log}})
    out = assert_ok(run_tracemetrics("--trace", trace, "--metric", EXPERT))
    assert json.loads(out)["totals"] == [3.0, 3.0]


# ------------------------------------------------------------------------- usage errors


def test_unknown_metric_lists_the_available_ones(make_trace, run_tracemetrics):
    trace = make_trace()
    err = assert_usage_error(run_tracemetrics("--trace", trace, "--metric", "ITL"))
    assert "ITL" in err
    for name in ALL_METRICS:
        assert name in err
    assert "ttft" in err.lower()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--trace", "somewhere"],
        ["--metric", "TTFT"],
        ["--trace", "somewhere", "--metric", "ttft"],
        ["--trace", "somewhere", "--metric", "TTFT", "--bogus"],
        ["frobnicate"],
    ],
    ids=["nothing", "no-metric", "no-trace", "lowercase-metric", "unknown-option", "unknown-cmd"],
)
def test_usage_errors_exit_2(args, run_tracemetrics):
    proc = run_tracemetrics(*args)
    assert_usage_error(proc)
    assert proc.stdout == ""


def test_metrics_subcommand_lists_every_metric(run_tracemetrics):
    out = assert_ok(run_tracemetrics("metrics"))
    lines = out.splitlines()
    assert len(lines) == len(ALL_METRICS)
    names = [line.split(":", 1)[0].split(" [", 1)[0] for line in lines]
    assert sorted(names) == sorted(ALL_METRICS)


# ----------------------------------------------------------------------------- validate


def _validate_lines(out: str) -> dict[str, str]:
    statuses = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ALL_METRICS:
            statuses[parts[0]] = line
    return statuses


def test_validate_a_complete_trace(synth_trace, run_tracemetrics):
    trace = synth_trace(gate_runs=1, layers=2, steps=5)
    statuses = _validate_lines(assert_ok(run_tracemetrics("validate", trace)))
    assert set(statuses) == set(VALIDATED)
    for metric, line in statuses.items():
        assert line.split()[1] == "ok", (metric, line)


def test_validate_a_dense_trace(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(card=tm_inputs.card(moe=False))
    proc = run_tracemetrics("validate", trace)
    statuses = _validate_lines(assert_ok(proc))
    for metric in VALIDATED[:4]:  # the inference metrics
        assert statuses[metric].split()[1] == "ok"
    assert statuses[EXPERT].split()[1] == "not_applicable"
    assert "moe" in statuses[EXPERT]


def test_validate_a_broken_trace(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(results={"r.json": '{"mean_ttft_ms": NaN}'})
    proc = run_tracemetrics("validate", trace)
    no_traceback(proc)
    assert proc.returncode == 1
    statuses = _validate_lines(proc.stdout)
    assert statuses["TTFT"].split()[1] == "invalid"
    assert "r.json" in statuses["TTFT"] and "mean_ttft_ms" in statuses["TTFT"]


def test_validate_a_missing_trace(tmp_path, tm_inputs, run_tracemetrics):
    missing = tmp_path / tm_inputs.name
    proc = run_tracemetrics("validate", missing)
    no_traceback(proc)
    assert proc.returncode == 1
    statuses = _validate_lines(proc.stdout)
    assert set(statuses) == set(VALIDATED)
    assert all(line.split()[1] == "invalid" for line in statuses.values())
    assert str(missing) in proc.stdout


def test_validate_the_real_broken_card(make_trace, broken_real_card, run_tracemetrics):
    trace = make_trace(card=None)
    shutil.copyfile(broken_real_card, trace / broken_real_card.name)
    proc = run_tracemetrics("validate", trace)
    no_traceback(proc)
    assert proc.returncode == 1
    assert f"{trace / broken_real_card.name}:18:" in proc.stdout


def test_trace_given_as_dot_prefers_its_named_card(tmp_path):
    """`--trace .` from inside the trace: the directory's own name picks the card."""
    import statistics
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    source = next((repo / "resources" / "example_traces").glob("*baseline_8_8192*"))
    trace = tmp_path / source.name
    shutil.copytree(source, trace)
    (trace / "notes.yaml").write_text("workload: {model: {phase: training}}\n")
    results = [json.loads(p.read_text()) for p in sorted((trace / "results_json").glob("*.json"))]
    expected = statistics.fmean(r["mean_ttft_ms"] for r in results)
    proc = subprocess.run(
        [sys.executable, str(repo / "scripts" / "main.py"), "--trace", ".", "--metric", "TTFT"],
        cwd=trace,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert math.isclose(float(proc.stdout), expected, rel_tol=1e-12)
