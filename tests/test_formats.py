"""Result formats (vLLM object, vLLM JSON lines, SGLang bench_serving JSON lines), any
field as a metric, and `tracemetrics fields`. Each case writes real files in that
format; expectations are worked out by hand."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import yaml

from tracemetrics.extract import compute, extract
from tracemetrics.registry import catalog

# An SGLang bench_serving --output-file line: its own key names, no per-request arrays,
# and Python's json.dumps writes request_rate=inf as the bare literal Infinity.
SGLANG_LINE = {
    "backend": "sglang",
    "dataset_name": "sharegpt",
    "request_rate": float("inf"),
    "max_concurrency": 32,
    "duration": 20.0,
    "completed": 16,
    "request_throughput": 0.8,
    "output_throughput": 100.0,
    "total_throughput": 400.0,
    "mean_e2e_latency_ms": 2000.0,
    "median_e2e_latency_ms": 1900.0,
    "p99_e2e_latency_ms": 5000.0,
    "mean_ttft_ms": 150.0,
    "p99_ttft_ms": 400.0,
    "mean_tpot_ms": 20.0,
    "mean_itl_ms": 21.0,
    "concurrency": 12.5,
}


def sglang_lines(*overrides: dict[str, float]) -> str:
    text = "".join(json.dumps({**SGLANG_LINE, **o}) + "\n" for o in overrides)
    assert "Infinity" in text  # as SGLang writes it
    return text


def test_sglang_json_lines_give_the_same_metrics(make_trace) -> None:
    trace = make_trace(
        results={
            "sglang_0415_16_1.jsonl": sglang_lines(
                {"mean_ttft_ms": 100.0, "mean_e2e_latency_ms": 1000.0},
                {"mean_ttft_ms": 200.0, "mean_e2e_latency_ms": 3000.0},
            )
        }
    )
    assert compute(trace, "TTFT").value == 150.0
    assert compute(trace, "TPOT").value == 20.0
    assert compute(trace, "output_throughput").value == 100.0
    e2el = compute(trace, "E2EL")  # mean_e2e_latency_ms is vLLM's mean_e2el_ms
    assert e2el.value == 2000.0 and e2el.runs == 2
    assert e2el.formats == ["sglang"]


def test_each_format_is_detected_from_the_content(make_trace, tm_inputs) -> None:
    vllm_object = make_trace(results={"run.json": tm_inputs.result(mean_e2el_ms=10.0)})
    vllm_lines = make_trace(
        results={"run.json": [tm_inputs.result(mean_e2el_ms=v) for v in (10.0, 30.0)]}
    )
    sglang = make_trace(results={"out.jsonl": sglang_lines({"mean_e2e_latency_ms": 10.0})})
    for trace, fmt, runs, e2el in (
        (vllm_object, "vllm", 1, 10.0),
        (vllm_lines, "vllm", 2, 20.0),
        (sglang, "sglang", 1, 10.0),
    ):
        result = compute(trace, "E2EL")
        assert (result.formats, result.runs, result.value) == ([fmt], runs, e2el)


def test_a_trace_mixing_formats_averages_every_run(make_trace, tm_inputs) -> None:
    trace = make_trace(
        results={
            "vllm.json": tm_inputs.result(mean_e2el_ms=1000.0),
            "sglang.jsonl": sglang_lines({"mean_e2e_latency_ms": 4000.0}),
        }
    )
    result = compute(trace, "E2EL")
    assert result.value == 2500.0 and result.formats == ["sglang", "vllm"]


def test_either_spelling_of_a_field_reads_both_formats(make_trace, tm_inputs) -> None:
    vllm = make_trace(results={"run.json": tm_inputs.result(p99_e2el_ms=7.0)})
    sglang = make_trace(results={"run.jsonl": sglang_lines({"p99_e2e_latency_ms": 9.0})})
    metrics = catalog(
        [
            {"name": "vllm_name", "field": "p99_e2el_ms"},
            {"name": "sglang_name", "field": "p99_e2e_latency_ms"},
        ]
    )
    for trace, expected in ((vllm, 7.0), (sglang, 9.0)):
        results = extract(trace, ["vllm_name", "sglang_name"], metrics=metrics)
        assert [r.value for r in results.values()] == [expected, expected]


def test_both_spellings_in_one_sglang_object_is_an_error(make_trace) -> None:
    text = json.dumps({**SGLANG_LINE, "mean_e2el_ms": 5.0}) + "\n"
    trace = make_trace(results={"out.jsonl": text})
    result = extract(trace, ["E2EL", "TTFT"])
    assert result["E2EL"].status == "invalid"
    assert "out.jsonl" in result["E2EL"].reason and "more than once" in result["E2EL"].reason
    assert result["TTFT"].status == "ok"  # the other fields are unaffected


def test_a_bad_value_is_named_as_the_file_spells_it(make_trace) -> None:
    trace = make_trace(results={"out.jsonl": sglang_lines({"mean_e2e_latency_ms": "slow"})})
    result = extract(trace, ["E2EL"])["E2EL"]
    assert result.status == "invalid"
    assert "'mean_e2e_latency_ms'" in result.reason and "out.jsonl" in result.reason


def test_infinity_in_a_field_no_metric_reads_is_harmless(make_trace) -> None:
    trace = make_trace(results={"out.jsonl": sglang_lines({})})
    assert compute(trace, "request_throughput").value == 0.8


# ------------------------------------------------------------------ the command line


def test_fields_lists_every_numeric_field_with_runs_and_mean(make_trace, run_tracemetrics):
    trace = make_trace(
        results={
            "a.json": {"mean_ttft_ms": 10.0, "p99.9_ttft_ms": 50.0, "backend": "vllm"},
            "b.json": {"mean_ttft_ms": 30.0, "p90_ttft_ms": 40.0, "model_id": "m"},
        }
    )
    proc = run_tracemetrics("fields", trace)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[2:]}
    assert set(rows) == {"mean_ttft_ms", "p99.9_ttft_ms", "p90_ttft_ms"}
    assert rows["mean_ttft_ms"][1:3] == ["2", "20.0"]
    assert rows["p99.9_ttft_ms"][1:3] == ["1", "50.0"]
    assert "(metric TTFT)" in proc.stdout
    assert "p99.9 of ttft_ms" in proc.stdout and "p90 of ttft_ms" in proc.stdout
    assert "2 run(s) in 2 file(s); format: vllm (2 runs)" in proc.stdout


def test_fields_shows_sglang_spellings(make_trace, run_tracemetrics):
    trace = make_trace(results={"out.jsonl": sglang_lines({}, {})})
    proc = run_tracemetrics("fields", trace)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("mean_e2el_ms "))
    assert "written mean_e2e_latency_ms" in line and "metric E2EL" in line
    assert "request_rate" not in proc.stdout  # Infinity is not a usable number
    assert "format: sglang (2 runs)" in proc.stdout


def test_fields_of_a_trace_without_results(make_trace, run_tracemetrics):
    trace = make_trace(results=None)
    proc = run_tracemetrics("fields", trace)
    assert proc.returncode == 1
    assert "results_json" in proc.stderr and "missing" in proc.stderr


def test_any_field_by_flag(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(
        results={"r.json": [tm_inputs.result(**{"p99.9_ttft_ms": v}) for v in (1.0, 2.5)]}
    )
    proc = run_tracemetrics("--trace", trace, "--field", "p99.9_ttft_ms")
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) == 1.75


def test_a_field_no_file_has_lists_the_available_ones(make_trace, tm_inputs, run_tracemetrics):
    trace = make_trace(results={"r.json": tm_inputs.result(p90_tpot_ms=3.0)})
    proc = run_tracemetrics("--trace", trace, "--field", "p99.9_ttft_ms")
    assert proc.returncode == 1 and proc.stdout == ""
    message = proc.stderr.strip()
    assert "\n" not in message and "results_json" in message
    assert "'p99.9_ttft_ms'" in message
    for present in ("p90_tpot_ms", "mean_ttft_ms", "output_throughput"):
        assert present in message


def test_custom_metrics_from_a_config_file(make_trace, tm_inputs, run_tracemetrics, tmp_path):
    trace = make_trace(results={"r.json": [tm_inputs.result(p90_ttft_ms=v) for v in (4.0, 8.0)]})
    config = tmp_path / "my.yaml"
    config.write_text(
        yaml.safe_dump(
            {"custom_metrics": [{"name": "TTFT_p90", "field": "p90_ttft_ms", "unit": "ms"}]}
        )
    )
    proc = run_tracemetrics("--trace", trace, "--metric", "TTFT_p90", "--config", config)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) == 6.0
    listed = run_tracemetrics("metrics", "--config", config)
    assert "TTFT_p90 [ms]: Mean over runs of `p90_ttft_ms`" in listed.stdout
    validated = run_tracemetrics("validate", trace, "--config", config)
    assert any(line.split()[:2] == ["TTFT_p90", "ok"] for line in validated.stdout.splitlines())
    # without the config the name is unknown: a usage error that lists the metrics
    unknown = run_tracemetrics("--trace", trace, "--metric", "TTFT_p90")
    assert unknown.returncode == 2 and "TTFT" in unknown.stderr


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"name": "TTFT", "field": "p99_ttft_ms"}, "built-in"),
        ({"name": "bad name", "field": "x"}, "bad name"),
        ({"name": "ok", "field": "x", "better": "faster"}, "faster"),
        ({"name": "ok"}, "field"),
    ],
)
def test_bad_custom_metric_in_a_config_is_a_usage_error(
    entry, words, make_trace, run_tracemetrics, tmp_path
):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"custom_metrics": [entry]}))
    proc = run_tracemetrics("--trace", make_trace(), "--metric", "TTFT", "--config", config)
    assert proc.returncode == 2
    assert str(config) in proc.stderr and words in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("config", "words", "also_metrics"),  # also_metrics: `metrics` reads it too
    [
        ({"ep_size": "four"}, "ep_size: expected a positive integer", False),
        ({"max_step_tokens": 0}, "max_step_tokens: expected a positive integer", False),
        ({"max_step_tokens": True}, "max_step_tokens", False),
        ({"inference_phases": "serving"}, "inference_phases: expected a list", False),
        ({"metrics": ["TTFT", "nope"]}, "unknown nope", True),
        (["not", "a", "mapping"], "mapping", True),
    ],
)
def test_bad_values_in_a_config_are_usage_errors(
    config, words, also_metrics, make_trace, run_tracemetrics, tmp_path
):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    commands = [["--trace", make_trace(), "--metric", "expert_imbalance"]]
    if also_metrics:
        commands.append(["metrics"])
    for args in commands:
        proc = run_tracemetrics(*args, "--config", path)
        assert proc.returncode == 2, proc.stderr
        assert str(path) in proc.stderr and words in proc.stderr
        assert "Traceback" not in proc.stderr


def test_repeated_runs_carry_std_and_confidence_interval(make_trace, tm_inputs):
    values = [100.0, 110.0, 130.0]
    trace = make_trace(
        results={
            "a.json": tm_inputs.result(mean_ttft_ms=values[0]),
            "b.json": [tm_inputs.result(mean_ttft_ms=v) for v in values[1:]],
        }
    )
    result = compute(trace, "TTFT")
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half = 4.302652729749464 * std / math.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert result.run_values == values and result.runs == 3
    assert math.isclose(result.value, mean) and math.isclose(result.std, std)
    assert math.isclose(result.ci95[0], mean - half) and math.isclose(result.ci95[1], mean + half)
    single = compute(make_trace(), "TTFT")
    assert single.std is None and single.ci95 is None and single.run_values == [120.0]
