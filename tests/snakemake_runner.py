"""Running the real workflow from tests: one way to build the snakemake command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def snakemake_cmd(
    workdir: Path, *args: str, traces: Path | None = None, config: tuple[str, ...] = ()
) -> list[str]:
    """`snakemake -s REPO/Snakefile -d WORKDIR --cores 2 ARGS [--config traces=... CONFIG]`."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    entries = [*([f"traces={traces}"] if traces is not None else []), *config]
    return cmd + (["--config", *entries] if entries else [])


def run_snakemake(
    workdir: Path,
    *args: str,
    traces: Path | None = None,
    config: tuple[str, ...] = (),
    check: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `snakemake_cmd(...)`; with `check`, a failure shows Snakemake's stderr."""
    cmd = snakemake_cmd(workdir, *args, traces=traces, config=config)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd or workdir.parent)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc
