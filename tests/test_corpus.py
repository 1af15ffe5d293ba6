"""The corpus of broken and odd traces (tests/broken_corpus.py) through the real CLI and
one real Snakemake run (issue 6, item 1).

Every case runs `python scripts/main.py --trace root/<case> --metric <metric>` as a
subprocess (all at once, in a module fixture, then one test per case checks its
outcome). The workflow runs once over the whole corpus as one collection, plus two
generated traces that must still build, and each case's table row is checked.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tracemetrics.registry import DEFAULT_METRICS, METRICS
from tracemetrics.synth import TraceSpec, write_collection

from .broken_corpus import Case, all_cases, build_corpus
from .snakemake_runner import run_snakemake

CASES = [case for case, _ in all_cases()]
IDS = [case.name for case in CASES]
VALID = [  # generated traces that must build beside the broken ones
    TraceSpec("Baseline", 32, 8192, layers=2, steps=6, num_prompts=3),
    TraceSpec("DefaultAll2All", 32, 8192, gate_runs=1, layers=2, steps=6, num_prompts=3),
]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    assert {c.status for c in CASES} >= {"ok", "invalid", "not_applicable", None}


def culprit(root: Path, case: Case) -> str:
    """The path the message must name: the offending file, or the trace itself."""
    trace = root / case.name
    return str(trace / case.file) if case.file else str(trace)


def check_message(message: str, root: Path, case: Case) -> None:
    path = culprit(root, case)
    assert path in message, f"{path} not named in: {message}"
    if case.line is not None:
        assert f"{path}:{case.line}:" in message, message
    for word in case.words:
        assert word in message, f"{word!r} not in: {message}"


# ------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory, run_tracemetrics):
    """Every case through the CLI, a few subprocesses at a time: {name: process}."""
    root = tmp_path_factory.mktemp("corpus")
    cases = build_corpus(root)
    assert [c.name for c in cases] == IDS

    def run(case: Case) -> subprocess.CompletedProcess[str]:
        return run_tracemetrics("--trace", root / case.name, "--metric", case.metric)

    with ThreadPoolExecutor(4) as pool:
        procs = dict(zip(IDS, pool.map(run, cases), strict=True))
    return root, procs


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli(case, cli_runs):
    root, procs = cli_runs
    proc = procs[case.name]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == case.exit_code, (proc.returncode, proc.stdout, proc.stderr)
    if case.exit_code == 0:
        assert proc.stderr == ""
        if case.value is None:
            json.loads(proc.stdout)
        elif METRICS[case.metric].source == "results":
            assert float(proc.stdout) == case.value
        else:
            assert json.loads(proc.stdout)["totals"] == case.value
        return
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    check_message(lines[0], root, case)


# -------------------------------------------------------------------------- workflow


@pytest.fixture(scope="module")
def workflow_tables(tmp_path_factory):
    """ONE snakemake run over the corpus (less what Snakemake cannot take) and two good
    generated traces: the work directory and each table's rows by trace."""
    base = tmp_path_factory.mktemp("corpus_workflow")
    root = base / "traces"
    cases = build_corpus(root)
    for case in cases:
        if not case.in_workflow:
            shutil.rmtree(root / case.name)
    write_collection(root, VALID)
    proc = run_snakemake(base / "work", traces=root)
    tables = {}
    for metric in DEFAULT_METRICS:  # what the default config builds
        path = base / "work" / "results" / "tables" / f"{metric}.csv"
        with open(path, encoding="utf-8", newline="") as handle:
            tables[metric] = {row["trace"]: row for row in csv.DictReader(handle)}
    return root, base / "work", tables, proc.stderr


@pytest.mark.workflow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_workflow_row(case, workflow_tables):
    if not case.in_workflow:
        pytest.skip(case.note)
    root, _, tables, _ = workflow_tables
    rows = tables[case.metric]
    if case.status is None:  # not a trace: no row in any table
        assert all(case.name not in table for table in tables.values())
        return
    row = rows[case.name]
    assert row["status"] == case.status, row
    if case.status == "ok":
        assert row["reason"] == ""
        if case.value is None:
            pass
        elif METRICS[case.metric].source == "results":
            assert float(row["value"]) == case.value
        else:
            assert float(row["total_tokens"]) == sum(case.value)
    else:
        check_message(row["reason"], root, case)


@pytest.mark.workflow
def test_workflow_builds_the_valid_traces_and_lists_the_invalid(workflow_tables):
    _, work, tables, stderr = workflow_tables
    for spec in VALID:
        for metric, rows in tables.items():
            has_input = METRICS[metric].source == "results" or spec.gate_runs > 0
            expected = "ok" if has_input else "not_applicable"
            assert rows[spec.name]["status"] == expected, (spec.name, metric, rows[spec.name])
    assert (work / "results" / "plots" / "heatmaps" / f"{VALID[1].name}.png").is_file()
    listed = (work / "results" / "invalid_traces.txt").read_text(encoding="utf-8")
    names = {line.split(": ", 1)[0] for line in listed.splitlines()}
    assert not names & {spec.name for spec in VALID}
    for case in CASES:
        if case.status == "invalid" and case.in_workflow:
            assert case.name in names, case.name
    # a name Snakemake cannot take is left out, and the run says so
    assert "leaving out 1 trace whose name holds { or }" in stderr
    assert "trace{with}braces" in stderr
