#!/usr/bin/env python3
"""Gate-log reading: tracemetrics vs the floor (bare orjson.loads) and the naive reader.

Generates one trace of LAYERS x STEPS gate logs (default 32 x 4000, indent=2 as the
instrumented layer writes them), then times, interleaved and repeated:
  floor     orjson.loads of every file, nothing else;
  tracemetrics  the library's single pass computing all three gate-log metrics
                (token_to_expert_assignment, expert_load_by_layer, expert_imbalance
                with EP-rank balance for EP 4, the card's value);
  naive     json.load + a Python loop over rows, as the old scripts did.
Prints medians and the two ratios the targets are stated in.

    python benchmarks/bench_gate_logs.py [--layers 32] [--steps 4000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracemetrics.expert_stats import assignment_summary
from tracemetrics.extract import extract
from tracemetrics.gate_files import gate_log_files
from tracemetrics.registry import metric_names
from tracemetrics.synth import TraceSpec, write_trace


def floor(paths: list[Path]) -> None:
    for path in paths:
        orjson.loads(path.read_bytes())


def library(trace: Path) -> dict:
    """Every gate-log metric (the card says EP 4), as the workflow computes them."""
    results = extract(trace, metric_names("gates"))
    assert all(r.status == "ok" for r in results.values()), results
    return results["token_to_expert_assignment"].value


def naive(paths: list[Path]) -> dict:
    totals = None
    steps = 0
    for path in paths:
        with open(path) as handle:
            log = json.load(handle)
        for row in log["expert_loads"]:
            if totals is None:
                totals = [0.0] * len(row)
            for i, value in enumerate(row):
                totals[i] += value
            steps += 1
    return assignment_summary(totals, steps, "naive")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = TraceSpec(
            "DefaultAll2All", 64, 8192, gate_runs=1, layers=args.layers, steps=args.steps
        )
        trace = write_trace(Path(tmp), spec)
        paths = [g.path for g in gate_log_files(trace)]
        size = sum(p.stat().st_size for p in paths)
        ours, reference = library(trace), naive(paths)
        for key, value in reference["summary"].items():  # same numbers, or no benchmark
            assert math.isclose(ours["summary"][key], value, rel_tol=1e-9), key
        times: dict[str, list[float]] = {"floor": [], "tracemetrics": [], "naive": []}
        for _ in range(args.repeats):
            for name, call in (
                ("floor", lambda: floor(paths)),
                ("tracemetrics", lambda: library(trace)),
                ("naive", lambda: naive(paths)),
            ):
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{len(paths)} files, {args.steps} steps each, {size / 1e6:.1f} MB, "
        f"median of {args.repeats} interleaved repeats"
    )
    for name, value in med.items():
        print(f"  {name:<13} {value * 1000:8.1f} ms  {size / value / 1e6:7.1f} MB/s")
    print(f"tracemetrics / floor = {med['tracemetrics'] / med['floor']:.2f}  (target <= 1.3)")
    print(f"naive / tracemetrics = {med['naive'] / med['tracemetrics']:.2f}  (target >= 3)")


if __name__ == "__main__":
    main()
