#!/usr/bin/env python3
"""Peak memory of the gate-log pass on a big trace: bounded by the largest file?

Writes one trace with RUNS gate-log runs of 32 layers x 4000 steps (about 15.6 MB per
run, `indent=2`; runs are copies of the first, which does not matter for memory), then
measures, each in a fresh process, its peak resident set size (VmHWM) when:
  idle     importing the library and reading the card only (the interpreter's floor);
  extract  every gate-log metric of the trace (one pass over all files).
The growth over idle is what the data costs; compare it with the largest file.

    python benchmarks/bench_memory.py [--runs 34] [--steps 4000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tracemetrics.synth import TraceSpec, write_trace  # noqa: E402

CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from tracemetrics.extract import extract, open_card
from tracemetrics.registry import metric_names
trace = Path({trace!r})
if {work}:
    start = time.perf_counter()
    results = extract(trace, metric_names("gates"))
    assert all(r.status == "ok" for r in results.values()), results
    seconds = time.perf_counter() - start
else:
    open_card(trace)
    seconds = 0.0
# VmHWM: this process's own peak (ru_maxrss would include the parent's, across exec)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(hwm, seconds)
"""


def peak_mb(trace: Path, work: bool) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a fresh process, as that process reports it."""
    code = CHILD.format(repo=str(REPO), trace=str(trace), work=work)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    maxrss_kb, seconds = proc.stdout.split()
    return int(maxrss_kb) / 1024, float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=34)
    parser.add_argument("--steps", type=int, default=4000, help="steps per gate log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        spec = TraceSpec("DefaultAll2All", 64, 8192, gate_runs=1, layers=32, steps=args.steps)
        trace = write_trace(Path(tmp), spec)
        first = trace / "gates_logs" / "gates_logs_01"
        for run in range(2, args.runs + 1):
            shutil.copytree(first, trace / "gates_logs" / f"gates_logs_{run:02d}")
        files = list((trace / "gates_logs").rglob("gate_logs_*.json"))
        total = sum(p.stat().st_size for p in files) / 1e6
        largest = max(p.stat().st_size for p in files) / 1e6
        print(
            f"trace: {len(files)} gate logs, {total:.0f} MB in all, largest file "
            f"{largest:.1f} MB (written in {time.perf_counter() - start:.0f} s)"
        )
        idle, _ = peak_mb(trace, work=False)
        busy, seconds = peak_mb(trace, work=True)
    print(f"  peak RSS, library imported, no data   {idle:7.1f} MB")
    print(
        f"  peak RSS, all gate metrics computed   {busy:7.1f} MB  ({seconds:.1f} s, "
        f"{total / seconds:.0f} MB/s)"
    )
    print(
        f"  growth over idle                      {busy - idle:7.1f} MB  "
        f"= {(busy - idle) / largest:.1f} x the largest file, "
        f"{(busy - idle) / total * 100:.1f} % of the total"
    )


if __name__ == "__main__":
    main()
