"""Real Snakemake runs on temporary generated collections (issue 3)."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tracemetrics.registry import DEFAULT_METRICS  # noqa: E402
from tracemetrics.synth import TraceSpec, write_collection  # noqa: E402

from .conftest import RESULT_FIELDS, ResultsReference  # noqa: E402
from .snakemake_runner import run_snakemake  # noqa: E402

pytestmark = pytest.mark.workflow

INFERENCE = ["TTFT", "TPOT", "request_throughput", "output_throughput"]
EXPERT = "token_to_expert_assignment"
NAME = re.compile(r"-(vllmTP4|vllmEP4)-\w+\[[a-z0-9]+_(\d+)_(\d+)(_eplbo(?:n|ff))?\]-")


def small_specs() -> list[TraceSpec]:
    """Both variants over a 3-point seqs sweep and a 3-point tokens sweep, plus EPLB."""
    specs = []
    for variant in ("Baseline", "DefaultAll2All"):
        gates = 1 if variant == "DefaultAll2All" else 0
        for seqs, tokens in ((8, 8192), (32, 8192), (64, 8192), (32, 2048), (32, 16384)):
            specs.append(
                TraceSpec(
                    variant,
                    seqs,
                    tokens,
                    gate_runs=gates,
                    layers=2,
                    steps=6,
                    num_prompts=3,
                    result_files=2 if seqs == 8 else 1,
                )
            )
    specs.append(
        TraceSpec(
            "DefaultAll2All", 32, 8192, eplb="on", gate_runs=1, layers=2, steps=6, num_prompts=3
        )
    )
    specs.append(
        TraceSpec(
            "DefaultAll2All", 32, 8192, eplb="off", gate_runs=1, layers=2, steps=6, num_prompts=3
        )
    )
    return specs


def snakemake(
    workdir: Path, traces: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the workflow on `traces`; `key=value` arguments are extra config entries."""
    config = tuple(a for a in args if "=" in a and not a.startswith("-"))
    flags = [a for a in args if a not in config]
    return run_snakemake(workdir, *flags, traces=traces, config=config, check=check)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


reference_mean = ResultsReference().mean  # stdlib json, every run of every result file


def reference_totals(trace: Path) -> list[float]:
    totals: list[float] = []
    for run in sorted((trace / "gates_logs").iterdir()):
        for path in sorted(run.iterdir()):
            for row in json.loads(path.read_text())["expert_loads"]:
                totals = totals or [0.0] * len(row)
                for i, v in enumerate(row):
                    totals[i] += v
    return totals


def mtimes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


def jobs_planned(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """Rule -> job count from a dry run's 'Job stats' table."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    counts = {}
    for line in text.split("Job stats:")[1].splitlines()[3:]:
        parts = line.split()
        if parts[:1] == ["total"]:
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One full build, shared by the read-only checks."""
    base = tmp_path_factory.mktemp("wf")
    traces = base / "traces"
    write_collection(traces, small_specs())
    work = base / "work"
    proc = snakemake(work, traces)
    return {"traces": traces, "work": work, "results": work / "results", "proc": proc}


def test_every_output_exists(built: dict[str, Any]) -> None:
    results = built["results"]
    names = sorted(p.name for p in built["traces"].iterdir())
    for metric in [*INFERENCE, EXPERT, "expert_load_by_layer", "expert_imbalance"]:
        assert (results / "tables" / f"{metric}.csv").is_file()
        for name in names:
            assert (results / "metrics" / name / f"{metric}.json").is_file()
    for metric in INFERENCE:
        for sweep in ("max_num_seqs", "max_num_batched_tokens"):
            assert (results / "plots" / f"{metric}_vs_{sweep}.png").stat().st_size > 10_000
            assert (results / "plots" / f"{metric}_vs_{sweep}.csv").is_file()
    assert (results / "invalid_traces.txt").read_text() == ""


def test_table_values_match_independent_computation(built: dict[str, Any]) -> None:
    traces = built["traces"]
    for metric in INFERENCE:
        rows = read_csv(built["results"] / "tables" / f"{metric}.csv")
        assert len(rows) == len(list(traces.iterdir()))
        for row in rows:
            expected = reference_mean(traces / row["trace"], RESULT_FIELDS[metric])
            assert row["status"] == "ok"
            assert math.isclose(float(row["value"]), expected, rel_tol=1e-12)
            m = NAME.search(row["trace"])
            assert row["variant"] == {"vllmTP4": "Baseline", "vllmEP4": "DefaultAll2All"}[m[1]]
            assert int(row["max_num_seqs"]) == int(m[2])
            assert int(row["max_num_batched_tokens"]) == int(m[3])
            assert row["excluded"] == str(bool(m[4]))


def test_expert_table(built: dict[str, Any]) -> None:
    rows = read_csv(built["results"] / "tables" / f"{EXPERT}.csv")
    for row in rows:
        trace = built["traces"] / row["trace"]
        if not (trace / "gates_logs").exists():
            assert row["status"] == "not_applicable"
            assert "gates_logs" in row["reason"]
            continue
        totals = reference_totals(trace)
        total = sum(totals)
        assert row["status"] == "ok"
        assert math.isclose(float(row["total_tokens"]), total, rel_tol=1e-12)
        for i, t in enumerate(totals):
            assert math.isclose(float(row[f"normalized_{i}"]), t / total, rel_tol=1e-9)
        mean = total / len(totals)
        cv = math.sqrt(sum((t - mean) ** 2 for t in totals) / len(totals)) / mean
        assert math.isclose(float(row["coefficient_of_variation"]), cv, rel_tol=1e-9)
        # the cached per-trace file carries the same value and its sources
        cached = json.loads(
            (built["results"] / "metrics" / row["trace"] / f"{EXPERT}.json").read_text()
        )
        assert cached["status"] == "ok"
        assert cached["value"]["totals"] == totals
        assert any(s.startswith("gates_logs/") for s in cached["sources"])


@pytest.mark.parametrize("metric", INFERENCE)
def test_plotted_points_follow_sweeps_and_exclusions(built: dict[str, Any], metric: str) -> None:
    traces = built["traces"]
    for x_index, fixed_index, fixed, sweep in (
        (2, 3, 8192, "max_num_seqs"),
        (3, 2, 32, "max_num_batched_tokens"),
    ):
        expected: dict[tuple[str, int], list[float]] = {}
        for trace in traces.iterdir():
            m = NAME.search(trace.name)
            if m[4] or int(m[fixed_index]) != fixed:  # EPLB runs excluded
                continue
            variant = {"vllmTP4": "Baseline", "vllmEP4": "DefaultAll2All"}[m[1]]
            expected.setdefault((variant, int(m[x_index])), []).append(
                reference_mean(trace, RESULT_FIELDS[metric])
            )
        rows = read_csv(built["results"] / "plots" / f"{metric}_vs_{sweep}.csv")
        got = {(r["variant"], int(r["x"])): (float(r["y"]), int(r["n"])) for r in rows}
        assert set(got) == set(expected)
        for key, values in expected.items():
            assert math.isclose(got[key][0], statistics.fmean(values), rel_tol=1e-12)
            assert got[key][1] == len(values)
        # legend order: Baseline rows first, x ascending within a variant
        order = [(r["variant"], int(r["x"])) for r in rows]
        assert order == sorted(order, key=lambda k: (k[0] != "Baseline", k[1]))


def test_noop_rerun_has_nothing_to_do(built: dict[str, Any]) -> None:
    proc = snakemake(built["work"], built["traces"], "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_report_is_self_contained(built: dict[str, Any]) -> None:
    report = built["work"] / "results" / "report.html"
    snakemake(built["work"], built["traces"], "--report", str(report))
    html = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000
    for metric in [*INFERENCE, EXPERT]:
        assert metric in html


@pytest.fixture
def fresh(tmp_path: Path) -> dict[str, Path]:
    traces = tmp_path / "traces"
    write_collection(traces, small_specs())
    work = tmp_path / "work"
    snakemake(work, traces)
    return {"traces": traces, "work": work, "results": work / "results"}


def test_editing_one_result_file_reruns_only_its_trace(fresh: dict[str, Path]) -> None:
    traces, results = fresh["traces"], fresh["results"]
    target = sorted(traces.iterdir())[3]
    result_file = sorted((target / "results_json").glob("*.json"))[0]
    obj = json.loads(result_file.read_text())
    obj["mean_ttft_ms"] = 12345.0
    result_file.write_text(json.dumps(obj, indent=2))

    planned = jobs_planned(snakemake(fresh["work"], traces, "-n"))
    assert planned.get("extract") == 1
    assert set(planned) <= {"extract", "table", "plot", "comparison", "invalid_traces", "all"}

    before = mtimes(results / "metrics")
    snakemake(fresh["work"], traces)
    after = mtimes(results / "metrics")
    changed = {k.split("/")[0] for k in before if before[k] != after[k]}
    assert changed == {target.name}
    row = next(r for r in read_csv(results / "tables" / "TTFT.csv") if r["trace"] == target.name)
    assert math.isclose(float(row["value"]), reference_mean(target, "mean_ttft_ms"))
    assert (
        "Nothing to be done"
        in snakemake(fresh["work"], traces, "-n").stderr
        + snakemake(fresh["work"], traces, "-n").stdout
    )


def test_a_deleted_output_is_made_again_and_nothing_else(fresh: dict[str, Path]) -> None:
    traces, results = fresh["traces"], fresh["results"]
    for lost in ("plots/TTFT_vs_max_num_seqs.png", "plots/tradeoff_output_throughput_vs_TPOT.csv"):
        (results / lost).unlink()
        assert jobs_planned(snakemake(fresh["work"], traces, "-n")) == {"plot": 1, "all": 1}
        snakemake(fresh["work"], traces)
        assert (results / lost).stat().st_size > 0


def test_adding_and_removing_a_trace_updates_tables(fresh: dict[str, Path]) -> None:
    traces, results = fresh["traces"], fresh["results"]
    new = TraceSpec("Baseline", 16, 8192, layers=2, steps=6, num_prompts=3)
    write_collection(traces, [new])
    snakemake(fresh["work"], traces)
    names = [r["trace"] for r in read_csv(results / "tables" / "TTFT.csv")]
    assert new.name in names
    points = read_csv(results / "plots" / "TTFT_vs_max_num_seqs.csv")
    assert ("Baseline", "16") in {(p["variant"], p["x"]) for p in points}

    shutil.rmtree(traces / new.name)
    snakemake(fresh["work"], traces)
    names = [r["trace"] for r in read_csv(results / "tables" / "TTFT.csv")]
    assert new.name not in names
    assert len(names) == len(list(traces.iterdir()))


def test_invalid_trace_is_reported_and_others_build(fresh: dict[str, Path]) -> None:
    traces, results = fresh["traces"], fresh["results"]
    bad = sorted(traces.iterdir())[0]
    broken = sorted((bad / "results_json").glob("*.json"))[0]
    broken.write_text('{"mean_ttft_ms": 1.0,\n  "oops"\n')
    proc = snakemake(fresh["work"], traces)
    summary = (results / "invalid_traces.txt").read_text().splitlines()
    assert len(summary) == 1 and summary[0].startswith(bad.name)
    assert broken.name in summary[0] and "not valid JSON" in summary[0]
    assert bad.name in proc.stderr and "invalid trace" in proc.stderr
    rows = read_csv(results / "tables" / "TTFT.csv")
    statuses = {r["trace"]: r["status"] for r in rows}
    assert statuses.pop(bad.name) == "invalid"
    assert set(statuses.values()) == {"ok"}
    record = json.loads((results / "metrics" / bad.name / "TTFT.json").read_text())
    assert record["status"] == "invalid" and str(broken.name) in record["reason"]


def test_strict_fails_on_invalid_trace(fresh: dict[str, Path]) -> None:
    traces = fresh["traces"]
    bad = sorted(traces.iterdir())[0]
    card = next(bad.glob("*.yaml"))
    card.write_text("workload:\n  model: [unclosed\n")
    proc = snakemake(fresh["work"], traces, "strict=true", check=False)
    assert proc.returncode != 0
    assert card.name in proc.stderr and "not valid YAML" in proc.stderr


def test_directories_without_card_are_ignored_and_reported(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    write_collection(traces, small_specs()[:2])
    (traces / "notes").mkdir()
    (traces / "notes" / "README.md").write_text("not a trace")
    proc = snakemake(tmp_path / "work", traces)
    assert "ignoring 1 directory without a YAML card" in proc.stderr and "notes" in proc.stderr
    assert len(read_csv(tmp_path / "work" / "results" / "tables" / "TTFT.csv")) == 2


def test_default_config_runs_from_another_directory(tmp_path: Path) -> None:
    """No --config traces: the default example collection is found via the Snakefile."""
    proc = run_snakemake(tmp_path / "out", "-n", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    example = sorted(p.name for p in (REPO / "resources" / "example_traces").iterdir())
    assert jobs_planned(proc)["extract"] == len(example)


def test_example_collection_shows_every_kind_of_output(tmp_path: Path) -> None:
    """The README's main command on the built-in collection: repeated runs give error
    bars, the SGLang traces are read and compared, the trade-off plots are drawn."""
    work = tmp_path / "work"
    run_snakemake(work, cwd=tmp_path)
    results = work / "results"
    assert (results / "invalid_traces.txt").read_text() == ""
    ttft = read_csv(results / "tables" / "TTFT.csv")
    assert {r["format"] for r in ttft if r["variant"] == "SGLang"} == {"sglang"}
    assert max(int(r["runs"]) for r in ttft) >= 3
    points = read_csv(results / "plots" / "TTFT_vs_max_num_seqs.csv")
    assert {p["variant"] for p in points} == {"Baseline", "DefaultAll2All", "SGLang"}
    assert any(p["ci95_low"] for p in points)  # drawn as error bars
    compared = read_csv(results / "tables" / "comparison.csv")
    assert {r["variant"] for r in compared} == {"DefaultAll2All", "SGLang"}
    for latency in ("TPOT", "TTFT"):
        rows = read_csv(results / "plots" / f"tradeoff_output_throughput_vs_{latency}.csv")
        assert {r["variant"] for r in rows} == {"Baseline", "DefaultAll2All", "SGLang"}
        assert any(r["pareto"] == "True" for r in rows)
    assert (results / "tables" / "TTFT_p99.csv").is_file()  # the config's custom metric


def test_registry_defaults_match_the_schema() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["properties"]["metrics"]["default"] == DEFAULT_METRICS


def test_config_yaml_matches_schema_defaults() -> None:
    """config.yaml shows every knob; its values must be the schema's defaults."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert set(config) == set(schema["properties"])
    for key, prop in schema["properties"].items():
        assert config[key] == prop["default"], key
    documented = (REPO / "config" / "README.md").read_text()
    for key in schema["properties"]:
        assert f"`{key}`" in documented, key


# --- MoE load analysis outputs (issue 5) ---------------------------------------------


def test_heatmap_per_moe_trace(built: dict[str, Any]) -> None:
    heatmaps = built["results"] / "plots" / "heatmaps"
    moe = {p.name for p in built["traces"].iterdir() if (p / "gates_logs").is_dir()}
    assert moe and {p.stem for p in heatmaps.glob("*.png")} == moe


def test_imbalance_sweep_points_follow_the_table(built: dict[str, Any]) -> None:
    rows = read_csv(built["results"] / "tables" / "expert_imbalance.csv")
    for column, name in (
        ("max_over_mean_mean", "expert_max_over_mean"),
        ("ep_balancedness", "ep_balancedness"),
    ):
        expected: dict[tuple[str, int], list[float]] = {}
        for row in rows:
            if row["status"] != "ok" or row["excluded"] == "True":
                continue
            if row["max_num_batched_tokens"] != "8192":
                continue
            key = (row["variant"], int(row["max_num_seqs"]))
            expected.setdefault(key, []).append(float(row[column]))
        points = read_csv(built["results"] / "plots" / f"{name}_vs_max_num_seqs.csv")
        got = {(p["variant"], int(p["x"])): float(p["y"]) for p in points}
        assert expected and set(got) == set(expected)
        for key, values in expected.items():
            assert math.isclose(got[key], statistics.fmean(values), rel_tol=1e-12)
        # Baseline traces carry no gate logs here, so only DefaultAll2All is plotted
        assert {k[0] for k in got} == {"DefaultAll2All"}


def test_eplb_comparison_uses_only_the_eplb_traces(built: dict[str, Any]) -> None:
    points = read_csv(built["results"] / "plots" / "eplb_on_vs_off.csv")
    assert {p["eplb"] for p in points} == {"on", "off"}
    assert {p["configuration"] for p in points} == {"DefaultAll2All 32/8192"}
    ttft = {p["eplb"]: float(p["value"]) for p in points if p["quantity"] == "TTFT"}
    for state in ("on", "off"):
        trace = next(t for t in built["traces"].iterdir() if t.name.count(f"_eplb{state}]"))
        assert math.isclose(ttft[state], reference_mean(trace, "mean_ttft_ms"), rel_tol=1e-12)
    assert {p["quantity"] for p in points} >= {"TTFT", "expert_max_over_mean", "ep_balancedness"}


def test_gate_options_reach_extraction(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    spec = TraceSpec("DefaultAll2All", 32, 8192, gate_runs=1, layers=2, steps=6, num_prompts=3)
    write_collection(traces, [spec])
    snakemake(tmp_path / "work", traces, "max_step_tokens=4096", "ep_size=2")
    record = json.loads(
        (
            tmp_path / "work" / "results" / "metrics" / spec.name / "expert_imbalance.json"
        ).read_text()
    )
    value = record["value"]
    assert value["warmup_filter"]["max_step_tokens"] == 4096
    # the generator's first step of every layer is the 8192-token profiling batch
    assert value["warmup_filter"]["rows_dropped"] == 2
    assert value["ep_balance"]["ep_size"] == 2 and value["ep_balance"]["source"] == "option"


def test_comparison_table_gives_relative_differences(built: dict[str, Any]) -> None:
    """Independent: per configuration in both variants, (EP - TP) / TP from the tables."""
    results = built["results"]
    rows = read_csv(results / "tables" / "comparison.csv")
    for metric in INFERENCE:
        table = read_csv(results / "tables" / f"{metric}.csv")
        by_config: dict[tuple[str, str], dict[str, list[float]]] = {}
        for row in table:
            if row["status"] == "ok" and row["excluded"] == "False":
                key = (row["max_num_seqs"], row["max_num_batched_tokens"])
                by_config.setdefault(key, {}).setdefault(row["variant"], []).append(
                    float(row["value"])
                )
        expected = {
            key: (statistics.fmean(v["DefaultAll2All"]) - statistics.fmean(v["Baseline"]))
            / statistics.fmean(v["Baseline"])
            for key, v in by_config.items()
            if {"Baseline", "DefaultAll2All"} <= set(v)
        }
        got = {
            (r["max_num_seqs"], r["max_num_batched_tokens"]): float(r["relative_difference"])
            for r in rows
            if r["quantity"] == metric
        }
        assert expected and got.keys() == expected.keys()
        for key, value in expected.items():
            assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-12)
    assert {r["reference"] for r in rows} == {"Baseline"}
    assert {r["variant"] for r in rows} == {"DefaultAll2All"}


def test_configuration_falls_back_to_the_card(tmp_path: Path) -> None:
    """A name without the configuration takes the card's; a disagreement is noted."""
    traces = tmp_path / "traces"
    plain, odd = (
        TraceSpec("Baseline", 16, 4096, layers=2, steps=6, num_prompts=3),
        TraceSpec("Baseline", 32, 8192, layers=2, steps=6, num_prompts=3),
    )
    write_collection(traces, [plain, odd])
    renamed = traces / "my-custom-run-vllmTP4"  # matches no name pattern; variant rule only
    (traces / plain.name).rename(renamed)
    (renamed / f"{plain.name}.yaml").rename(renamed / "card.yaml")
    card = traces / odd.name / f"{odd.name}.yaml"
    card.write_text(card.read_text().replace("max-num-seqs: 32", "max-num-seqs: 64"))
    proc = snakemake(tmp_path / "work", traces)
    rows = {r["trace"]: r for r in read_csv(tmp_path / "work" / "results" / "tables" / "TTFT.csv")}
    custom = rows[renamed.name]
    assert (custom["max_num_seqs"], custom["max_num_batched_tokens"]) == ("16", "4096")
    assert "from the card" in custom["config_note"]
    assert custom["variant"] == "Baseline"
    clash = rows[odd.name]
    assert clash["max_num_seqs"] == "32"  # the name wins
    assert "name says 32, card says 64" in clash["config_note"]
    assert f"warning: {odd.name}: max_num_seqs: name says 32, card says 64" in proc.stderr
