"""The SLURM paths against a real SLURM controller (issue 4).

Skipped when SLURM cannot be started here, unless TRACEMETRICS_REQUIRE_SLURM=1 (set by
.ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import filecmp
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .slurm_cluster import SlurmCluster, SlurmUnavailable
from .snakemake_runner import run_snakemake

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "resources" / "example_traces"
pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    slurm = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        slurm.start()
    except SlurmUnavailable as exc:
        if os.environ.get("TRACEMETRICS_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM required but unavailable: {exc}")
        pytest.skip(f"SLURM unavailable: {exc}")
    try:
        yield slurm
    finally:
        slurm.stop()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("local")
    run_snakemake(work, traces=EXAMPLES)
    return work / "results"


def assert_same_outputs(results: Path, reference: Path) -> None:
    tables = sorted(p.name for p in (reference / "tables").iterdir())
    assert tables and tables == sorted(p.name for p in (results / "tables").iterdir())
    for name in tables:  # byte for byte
        assert (results / "tables" / name).read_bytes() == (
            reference / "tables" / name
        ).read_bytes()
    points = sorted(p.name for p in (reference / "plots").glob("*.csv"))
    match, mismatch, errors = filecmp.cmpfiles(
        reference / "plots", results / "plots", points, shallow=False
    )
    assert (mismatch, errors) == ([], []) and len(match) == len(points) > 0


def test_workflow_through_slurm_profile(
    cluster: SlurmCluster, local_run: Path, tmp_path: Path
) -> None:
    env = {
        **cluster.env,
        "TRACEMETRICS_SLURM_PARTITION": "debug",
        "TRACEMETRICS_SLURM_CONSTRAINT": "cpu",
    }
    proc = run_snakemake(
        tmp_path,
        "--workflow-profile",
        str(REPO / "workflow" / "profiles" / "slurm"),
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-keep-successful-logs",
        # this test node is small: 2 cores; the profile's limits are for Perlmutter
        "--resources",
        "mem_mb=4000",
        "--latency-wait",
        "5",
        traces=EXAMPLES,
        env=env,
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    job_ids = re.findall(r"submitted with SLURM jobid (\d+)", log)
    traces = sum(1 for p in EXAMPLES.iterdir() if p.is_dir())
    # grouped: 16 traces in batches of 50 make one submission, not 16
    assert len(job_ids) == -(-traces // 50), log[-3000:]
    slurm_logs = tmp_path / ".snakemake" / "slurm_logs"
    for job_id in job_ids:
        logs = list(slurm_logs.rglob(f"{job_id}.log"))
        assert logs, f"no SLURM log for job {job_id} under {slurm_logs}"
        text = logs[0].read_text()
        ran = set(re.findall(r"wildcards: trace=(\S+)", text))
        assert len(ran) == traces and "steps (100%) done" in text  # one batch, every trace
        job = cluster.scontrol_job(job_id)
        assert job["JobState"] == "COMPLETED"
        assert job["Partition"] == "debug" and job["Features"] == "cpu"  # from the profile
    assert_same_outputs(tmp_path / "results", local_run)


def test_in_allocation_batch_script(cluster: SlurmCluster, local_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "job.out"
    proc = subprocess.run(
        [
            "sbatch",
            "--wait",
            "--parsable",
            f"--chdir={tmp_path}",
            f"--output={out}",
            "--cpus-per-task=2",
            "--mem=4000",
            str(REPO / "scripts" / "slurm_allocation.sbatch"),
            "--config",
            f"traces={EXAMPLES}",
        ],
        capture_output=True,
        text=True,
        env={**cluster.env, "TRACEMETRICS_REPO": str(REPO)},
    )
    job_log = out.read_text() if out.exists() else ""
    assert proc.returncode == 0, proc.stderr + job_log[-4000:]
    job = cluster.scontrol_job(proc.stdout.strip().split(";")[0])
    assert job["JobState"] == "COMPLETED"
    assert "with 2 cores" in job_log
    assert_same_outputs(tmp_path / "results", local_run)
