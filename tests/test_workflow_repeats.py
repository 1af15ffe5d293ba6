"""Workflow with repeated runs, an SGLang variant and a metric defined in the config:
statistics in tables and plotted points, the custom metric end to end, and the
throughput-latency trade-off with Pareto fronts. Real Snakemake on generated traces;
expectations recomputed here from the files with json and statistics."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml

from tracemetrics.synth import TraceSpec, write_collection

from .conftest import ResultsReference
from .snakemake_runner import run_snakemake
from .test_stats import welch_p_rounded_df

pytestmark = pytest.mark.workflow

# Two-sided 95% Student t by degrees of freedom (printed tables, more digits).
T95 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105}
CUSTOM = {"name": "TTFT_p90", "field": "p90_ttft_ms", "unit": "ms", "better": "lower"}
SMALL = {"layers": 2, "steps": 6, "num_prompts": 3}


def specs() -> list[TraceSpec]:
    return [
        # 32/8192 Baseline: three runs in one trace and two in a second (another group)
        TraceSpec("Baseline", 32, 8192, result_files=3, **SMALL),
        TraceSpec("Baseline", 32, 8192, result_files=1, append_runs=2, group="group13", **SMALL),
        TraceSpec("Baseline", 8, 8192, **SMALL),
        # same throughput, more TTFT: off the sweep, dominated in the TTFT trade-off
        TraceSpec("Baseline", 32, 16384, **SMALL),
        TraceSpec("Baseline", 32, 2048, **SMALL),
        TraceSpec("Baseline", 64, 8192, result_files=2, **SMALL),
        TraceSpec("DefaultAll2All", 8, 8192, result_files=2, **SMALL),
        TraceSpec("DefaultAll2All", 32, 8192, **SMALL),
        TraceSpec("DefaultAll2All", 64, 8192, **SMALL),
        # EPLB on and off, run twice each: left out of sweeps and trade-offs
        TraceSpec("DefaultAll2All", 32, 8192, eplb="on", result_files=2, **SMALL),
        TraceSpec("DefaultAll2All", 32, 8192, eplb="off", result_files=2, **SMALL),
        # SGLang JSON lines, three runs each; they carry no p90_ttft_ms
        TraceSpec("SGLang", 8, 8192, append_runs=3, **SMALL),
        TraceSpec("SGLang", 32, 8192, append_runs=3, **SMALL),
    ]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# every run's value of a field: stdlib json, one object per file or per line, SGLang's
# spelling too
run_values = ResultsReference().values


def expected_stats(values: list[float]) -> tuple[float, float | None, float | None]:
    """(mean, std, CI half-width) by the textbook formulas."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    std = statistics.stdev(values)
    return mean, std, T95[len(values) - 1] * std / math.sqrt(len(values))


def number(cell: str) -> float | None:
    return float(cell) if cell != "" else None


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("repeats")
    traces = base / "traces"
    write_collection(traces, specs())
    config = base / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "metrics": ["TTFT", "TPOT", "output_throughput", "E2EL"],
                "custom_metrics": [CUSTOM],
                "variants": {
                    "Baseline": "vllmTP4",
                    "DefaultAll2All": "vllmEP4",
                    "SGLang": "sglangTP4",
                },
                "sweeps": [{"x": "max_num_seqs", "fixed": {"max_num_batched_tokens": 8192}}],
            }
        )
    )
    work = base / "work"
    run_snakemake(work, "--configfile", str(config), traces=traces)
    return {"traces": traces, "work": work, "results": work / "results", "config": config}


def by_configuration(traces: Path) -> dict[tuple[str, int, int], list[Path]]:
    """(variant, max_num_seqs, max_num_batched_tokens) -> its traces, from the names;
    EPLB traces (excluded from the comparisons) are left out."""
    labels = {"vllmTP4": "Baseline", "vllmEP4": "DefaultAll2All", "sglangTP4": "SGLang"}
    groups: dict[tuple[str, int, int], list[Path]] = {}
    for trace in sorted(traces.iterdir()):
        framework = trace.name.split("-")[1]
        if "_eplb" in trace.name:
            continue
        _, seqs, tokens = trace.name.split("[")[1].split("]")[0].split("_")
        groups.setdefault((labels[framework], int(seqs), int(tokens)), []).append(trace)
    return groups


def test_tables_carry_runs_std_and_confidence_interval(build: dict[str, Any]) -> None:
    for metric, field in (("TTFT", "mean_ttft_ms"), ("E2EL", "mean_e2el_ms")):
        rows = {r["trace"]: r for r in read_csv(build["results"] / "tables" / f"{metric}.csv")}
        assert len(rows) == len(specs())
        for trace in build["traces"].iterdir():
            row = rows[trace.name]
            values = run_values(trace, field)
            mean, std, half = expected_stats(values)
            assert row["status"] == "ok", row
            assert int(row["runs"]) == len(values)
            assert math.isclose(float(row["value"]), mean, rel_tol=1e-12)
            assert row["format"] == ("sglang" if "sglang" in trace.name else "vllm")
            if std is None:
                assert row["std"] == row["ci95_low"] == row["ci95_high"] == ""
                continue
            assert math.isclose(float(row["std"]), std, rel_tol=1e-9)
            assert math.isclose(float(row["ci95_low"]), mean - half, rel_tol=1e-8)
            assert math.isclose(float(row["ci95_high"]), mean + half, rel_tol=1e-8)


def test_plotted_points_pool_every_run_of_a_configuration(build: dict[str, Any]) -> None:
    points = read_csv(build["results"] / "plots" / "TTFT_vs_max_num_seqs.csv")
    got = {(p["variant"], int(p["x"])): p for p in points}
    groups = {
        (variant, seqs): traces
        for (variant, seqs, tokens), traces in by_configuration(build["traces"]).items()
        if tokens == 8192
    }
    assert set(got) == set(groups)
    for key, traces in groups.items():
        values = [v for t in traces for v in run_values(t, "mean_ttft_ms")]
        mean, std, half = expected_stats(values)
        point = got[key]
        assert int(point["n"]) == len(traces) and int(point["runs"]) == len(values)
        assert math.isclose(float(point["y"]), mean, rel_tol=1e-12)
        if std is None:
            assert point["ci95_low"] == ""
        else:
            assert math.isclose(float(point["std"]), std, rel_tol=1e-9)
            assert math.isclose(float(point["ci95_high"]) - mean, half, rel_tol=1e-8)
    # the two Baseline 32/8192 traces really were pooled: 3 + 2 runs
    assert (int(got["Baseline", 32]["n"]), int(got["Baseline", 32]["runs"])) == (2, 5)


def test_eplb_chart_carries_the_statistics_of_repeated_runs(build: dict[str, Any]) -> None:
    rows = read_csv(build["results"] / "plots" / "eplb_on_vs_off.csv")
    for state in ("on", "off"):
        trace = next(build["traces"].glob(f"*_eplb{state}]*"))
        values = run_values(trace, "mean_ttft_ms")
        mean, std, half = expected_stats(values)
        (row,) = [r for r in rows if r["quantity"] == "TTFT" and r["eplb"] == state]
        assert math.isclose(float(row["std"]), std, rel_tol=1e-9)
        assert row["configuration"] == "DefaultAll2All 32/8192"
        assert (int(row["n"]), int(row["runs"])) == (1, 2)
        assert math.isclose(float(row["value"]), mean, rel_tol=1e-12)
        assert math.isclose(float(row["ci95_high"]) - mean, half, rel_tol=1e-8)
    assert (build["results"] / "plots" / "eplb_on_vs_off.png").stat().st_size > 10_000


def test_custom_metric_is_built_tabulated_plotted_and_compared(build: dict[str, Any]) -> None:
    results = build["results"]
    rows = {r["trace"]: r for r in read_csv(results / "tables" / "TTFT_p90.csv")}
    for trace in build["traces"].iterdir():
        row = rows[trace.name]
        cached = json.loads((results / "metrics" / trace.name / "TTFT_p90.json").read_text())
        if "sglang" in trace.name:  # SGLang wrote no p90: invalid, with what it has
            assert row["status"] == cached["status"] == "invalid"
            assert "'p90_ttft_ms'" in row["reason"] and "p99_ttft_ms" in row["reason"]
            continue
        expected = statistics.fmean(run_values(trace, "p90_ttft_ms"))
        assert row["status"] == "ok" and row["unit"] == "ms"
        assert math.isclose(float(row["value"]), expected, rel_tol=1e-12)
    assert (results / "plots" / "TTFT_p90_vs_max_num_seqs.png").stat().st_size > 10_000
    compared = [r for r in read_csv(results / "tables" / "comparison.csv")]
    custom = [r for r in compared if r["quantity"] == "TTFT_p90"]
    assert custom and {r["better"] for r in custom} == {"lower"}
    assert {r["unit"] for r in custom} == {"ms"}
    invalid = (results / "invalid_traces.txt").read_text()
    assert "sglang" in invalid and "p90_ttft_ms" in invalid


def brute_force_front(points: list[tuple[float, float]]) -> list[bool]:
    return [
        not any(
            (lo <= la and th >= ta) and (lo < la or th > ta)
            for j, (lo, th) in enumerate(points)
            if j != i
        )
        for i, (la, ta) in enumerate(points)
    ]


@pytest.mark.parametrize("latency", ["TPOT", "TTFT"])
def test_tradeoff_points_and_pareto_fronts(build: dict[str, Any], latency: str) -> None:
    field = {"TPOT": "mean_tpot_ms", "TTFT": "mean_ttft_ms"}[latency]
    stem = f"tradeoff_output_throughput_vs_{latency}"
    assert (build["results"] / "plots" / f"{stem}.png").stat().st_size > 10_000
    rows = read_csv(build["results"] / "plots" / f"{stem}.csv")
    groups = by_configuration(build["traces"])

    def key(row: dict[str, str]) -> tuple[str, int, int]:
        return (
            row["variant"],
            int(float(row["max_num_seqs"])),
            int(float(row["max_num_batched_tokens"])),
        )

    assert {key(r) for r in rows} == set(groups)
    for row in rows:
        traces = groups[key(row)]
        lat = [v for t in traces for v in run_values(t, field)]
        thr = [v for t in traces for v in run_values(t, "output_throughput")]
        assert math.isclose(float(row["latency"]), statistics.fmean(lat), rel_tol=1e-12)
        assert math.isclose(float(row["throughput"]), statistics.fmean(thr), rel_tol=1e-12)
        assert row["configuration"] == "{}/{}".format(*key(row)[1:])
    fronts = []
    for variant in {r["variant"] for r in rows}:
        mine = [r for r in rows if r["variant"] == variant]
        front = brute_force_front([(float(r["latency"]), float(r["throughput"])) for r in mine])
        assert [r["pareto"] == "True" for r in mine] == front
        fronts += front
    if latency == "TTFT":
        assert not all(fronts)  # the test data has dominated configurations


def test_report_holds_the_tradeoff_plots(build: dict[str, Any]) -> None:
    report = build["work"] / "report.html"
    run_snakemake(
        build["work"],
        "--configfile",
        str(build["config"]),
        "--report",
        str(report),
        traces=build["traces"],
    )
    html = report.read_text(errors="replace")
    for latency in ("TPOT", "TTFT"):
        assert f"tradeoff_output_throughput_vs_{latency}.png" in html
    assert "Pareto front" in html


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"name": "TTFT", "field": "p99_ttft_ms"}, "custom_metrics: metric 'TTFT' is a built-in"),
        ({"name": "x y", "field": "p99_ttft_ms"}, "'x y' does not match"),
        ({"name": "p99"}, "'field' is a required property"),
    ],
)
def test_a_bad_custom_metric_stops_the_run_with_its_name(
    tmp_path: Path, entry: dict[str, str], words: str
) -> None:
    traces = tmp_path / "traces"
    write_collection(traces, specs()[:1])
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"custom_metrics": [entry]}))
    proc = run_snakemake(
        tmp_path / "work", "--configfile", str(config), "-n", traces=traces, check=False
    )
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr  # Snakemake logs errors to stdout
    assert words in output
    assert "Traceback" not in output


def test_comparison_says_whether_a_difference_is_beyond_noise(build: dict[str, Any]) -> None:
    """`significant` against Welch's test (df rounded down, t from scipy) on the runs of
    both configurations."""
    scipy_stats = pytest.importorskip("scipy.stats")
    rows = read_csv(build["results"] / "tables" / "comparison.csv")
    groups = by_configuration(build["traces"])
    checked = 0
    for row in (r for r in rows if r["quantity"] == "TTFT"):
        config = (int(float(row["max_num_seqs"])), int(float(row["max_num_batched_tokens"])))
        ref = [
            v for t in groups[(row["reference"], *config)] for v in run_values(t, "mean_ttft_ms")
        ]
        other = [
            v for t in groups[(row["variant"], *config)] for v in run_values(t, "mean_ttft_ms")
        ]
        assert (int(row["reference_runs"]), int(row["runs"])) == (len(ref), len(other))
        if min(len(ref), len(other)) < 2:
            assert row["significant"] == ""
            continue
        p = welch_p_rounded_df(ref, other, scipy_stats)
        assert row["significant"] == ("yes" if p < 0.05 else "no"), (row, p)
        checked += 1
    assert checked
