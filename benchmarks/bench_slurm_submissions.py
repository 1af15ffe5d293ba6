#!/usr/bin/env python3
"""Count the SLURM submissions the slurm profile would make for N traces (a dry run).

python benchmarks/bench_slurm_submissions.py [--traces 1000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_workflow import REPO, big_collection, snakemake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "traces"
        big_collection(root, args.traces)
        profile = str(REPO / "workflow" / "profiles" / "slurm")
        cmd = snakemake(Path(tmp) / "work", root, "--workflow-profile", profile, "-n")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    text = proc.stdout + proc.stderr
    groups = len(re.findall(r"Group job extract_batch", text))
    local = len(re.findall(r"^(?:local)?rule \w+:", text, re.MULTILINE))
    extract = int(re.search(r"^extract\s+(\d+)$", text, re.MULTILINE)[1])
    print(
        f"{args.traces} traces: {extract} extraction jobs in {groups} SLURM submissions; "
        f"{local} jobs run locally (localrules)"
    )


if __name__ == "__main__":
    main()
