"""Promises to users with expensive traces (issue 6): the collection is never touched,
a killed run resumes cleanly, and two runs at once cannot corrupt outputs."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracemetrics.synth import many_specs, write_collection

from .snakemake_runner import REPO, run_snakemake, snakemake_cmd

pytestmark = pytest.mark.workflow


def collection(root: Path, count: int) -> Path:
    """`count` small traces of both variants (gate logs on the EP ones), unique names."""
    write_collection(root, many_specs(count))
    return root


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every entry under `root` (files, folders, links) with its mode and content hash."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            digest = ""
            if path.is_file() and not path.is_symlink():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path.relative_to(root))] = (info.st_mode, digest, info.st_mtime_ns)
    return state


def outputs(results: Path) -> dict[str, bytes]:
    """The outputs compared between runs: metric files, tables, plotted points."""
    files = [
        *results.glob("metrics/*/*.json"),
        *results.glob("tables/*.csv"),
        *results.glob("plots/*.csv"),
        results / "invalid_traces.txt",
    ]
    return {str(p.relative_to(results)): p.read_bytes() for p in files}


def assert_no_truncated_files(results: Path) -> None:
    for path in results.rglob("*"):
        if not path.is_file():
            continue
        if path.name == ".snakemake_timestamp":  # Snakemake's marker in directory outputs
            continue
        assert not path.name.startswith("."), f"leftover temporary file {path}"
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            rows = list(csv.reader(path.open()))
            assert rows and all(len(r) == len(rows[0]) for r in rows), path
        elif path.suffix == ".png":
            assert path.read_bytes().endswith(b"IEND\xaeB`\x82"), f"truncated PNG {path}"


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return collection(tmp_path_factory.mktemp("robust") / "traces", 40)


@pytest.fixture(scope="module")
def reference(traces: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("reference")
    run_snakemake(work, traces=traces)
    return outputs(work / "results")


def test_collection_is_never_modified(traces: Path, tmp_path: Path) -> None:
    before = snapshot(traces)
    work = tmp_path / "work"
    run_snakemake(work, traces=traces)
    run_snakemake(work, "--report", str(work / "report.html"), traces=traces)
    for trace in sorted(traces.iterdir())[:3]:
        for args in (["--metric", "TTFT"], ["--metric", "expert_imbalance"]):
            subprocess.run(
                [sys.executable, str(REPO / "scripts" / "main.py"), "--trace", str(trace), *args],
                capture_output=True,
                check=False,
            )
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "main.py"), "validate", str(trace)],
            capture_output=True,
            check=False,
        )
    assert snapshot(traces) == before


def start(work: Path, traces: Path) -> subprocess.Popen[bytes]:
    """Snakemake in the background; its log goes to a file (a pipe could fill and block)."""
    cmd = snakemake_cmd(work, traces=traces)
    work.mkdir(parents=True, exist_ok=True)
    with open(work.parent / "background.log", "wb") as log:
        # its own process group, like a job in a terminal
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_progress(work: Path, proc: subprocess.Popen[bytes], traces_done: int) -> None:
    """Block until some traces are extracted, so the signal lands mid-run."""
    metrics = work / "results" / "metrics"
    while proc.poll() is None:
        if metrics.is_dir() and sum(1 for _ in metrics.iterdir()) >= traces_done:
            return
        time.sleep(0.05)
    raise AssertionError("the run finished before it could be interrupted")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_run_resumes_to_the_same_outputs(
    traces: Path, reference: dict[str, bytes], tmp_path: Path, sig: signal.Signals
) -> None:
    work = tmp_path / "work"
    proc = start(work, traces)
    wait_for_progress(work, proc, 4)
    os.killpg(proc.pid, sig)  # the whole group, as Ctrl-C or an OOM kill would
    proc.wait()
    assert proc.returncode != 0
    results = work / "results"
    for path in results.rglob("*.json"):  # whatever is there is whole
        if not path.name.startswith("."):
            json.loads(path.read_text())
    if sig == signal.SIGKILL:  # a hard kill leaves Snakemake's lock behind
        run_snakemake(work, "--unlock", traces=traces)
    # The same command again: profiles/default redoes jobs left marked incomplete.
    run_snakemake(work, traces=traces)
    assert outputs(results) == reference
    assert_no_truncated_files(results)


def test_second_concurrent_run_is_refused_by_the_lock(
    traces: Path, reference: dict[str, bytes], tmp_path: Path
) -> None:
    for attempt in range(3):  # valid only if the first run outlives the other two
        work = tmp_path / f"work{attempt}"
        first = start(work, traces)
        wait_for_progress(work, first, 1)
        second = run_snakemake(work, traces=traces, check=False)
        overlapped = first.poll() is None
        first.wait()
        if overlapped:
            break
    else:
        pytest.fail("the first run always finished before the others could overlap it")
    log = (tmp_path / "background.log").read_text()
    assert first.returncode == 0, log[-3000:]
    assert second.returncode != 0 and "Directory cannot be locked" in second.stderr
    assert outputs(work / "results") == reference
    assert_no_truncated_files(work / "results")
