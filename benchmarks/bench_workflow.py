#!/usr/bin/env python3
"""Workflow speed: a full `snakemake --cores 2` build against the old way, and no-op reruns.

Old way (the baseline): one process per trace per metric (benchmarks/legacy_metric.py)
plus one plotting process per inference metric (benchmarks/legacy_plot.py), run
sequentially, as the per-metric scripts were. Both are timed on the same copy of the
example collection, interleaved, several times; then a no-op rerun, and optionally the
no-op dry run on a generated collection of N small traces.

    python benchmarks/bench_workflow.py [--repeats 3] [--big 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tracemetrics.synth import many_specs, write_collection  # noqa: E402

# The old tools' five metrics: the like-for-like comparison.
OLD_METRICS = [
    "TTFT",
    "TPOT",
    "request_throughput",
    "output_throughput",
    "token_to_expert_assignment",
]

HERE = Path(__file__).resolve().parent


def timed(cmd: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start, proc


def snakemake(workdir: Path, traces: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "2",
        "--config",
        f"traces={traces}",
        *extra,
    ]


def legacy(traces: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for metric in OLD_METRICS:
        values = {}
        for trace in sorted(p for p in traces.iterdir() if p.is_dir()):
            proc = subprocess.run(
                [
                    sys.executable,
                    str(HERE / "legacy_metric.py"),
                    "--trace",
                    str(trace),
                    "--metric",
                    metric,
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode == 0 and metric != "token_to_expert_assignment":
                values[trace.name] = float(proc.stdout)
        if metric != "token_to_expert_assignment":
            (out / f"{metric}.json").write_text(json.dumps(values))
            subprocess.run(
                [
                    sys.executable,
                    str(HERE / "legacy_plot.py"),
                    metric,
                    str(out / f"{metric}.json"),
                    str(out / metric),
                ],
                check=True,
            )


def big_collection(root: Path, count: int) -> None:
    write_collection(root, many_specs(count, steps=5, num_prompts=4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", type=int, default=0, help="traces in the large collection")
    args = parser.parse_args()
    traces = REPO / "resources" / "example_traces"
    count = sum(1 for p in traces.iterdir() if p.is_dir())
    same = (f"metrics=[{','.join(OLD_METRICS)}]", "custom_metrics=[]")
    full, old, noop, default = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            start = time.perf_counter()
            legacy(traces, Path(tmp) / f"legacy{i}")
            old.append(time.perf_counter() - start)
            work = Path(tmp) / f"wf{i}"
            t, proc = timed(snakemake(work, traces, *same))
            assert proc.returncode == 0, proc.stderr[-2000:]
            full.append(t)
            t, proc = timed(snakemake(work, traces, *same))
            assert "Nothing to be done" in proc.stderr, proc.stderr[-2000:]
            noop.append(t)
            t, proc = timed(snakemake(Path(tmp) / f"default{i}", traces))
            assert proc.returncode == 0, proc.stderr[-2000:]
            default.append(t)
        med = {
            k: statistics.median(v)
            for k, v in (("old", old), ("full", full), ("noop", noop), ("default", default))
        }
        print(f"example collection: {count} traces, median of {args.repeats} interleaved runs")
        print(f"  old scripts (5 metrics, 4 plot processes)  {med['old']:6.2f} s")
        print(f"  snakemake --cores 2, same 5 metrics        {med['full']:6.2f} s")
        print(
            f"  ratio snakemake / old                      {med['full'] / med['old']:6.2f}"
            "  (target <= 1.0)"
        )
        print(f"  no-op rerun                                {med['noop']:6.2f} s  (target < 2 s)")
        print(
            f"  snakemake --cores 2, default config        {med['default']:6.2f} s  "
            "(7 metrics and TTFT_p99, 16 sweep plots, 2 trade-offs, EPLB chart, heatmaps)"
        )
        if args.big:
            root = Path(tmp) / "big"
            big_collection(root, args.big)
            work = Path(tmp) / "bigwf"
            build, proc = timed(snakemake(work, root, "-q"))
            assert proc.returncode == 0, proc.stderr[-2000:]
            dry = []
            for _ in range(args.repeats):
                t, proc = timed(snakemake(work, root, "-n"))
                assert "Nothing to be done" in proc.stdout + proc.stderr
                dry.append(t)
            print(
                f"{args.big} small traces: full build {build:.1f} s; "
                f"no-op dry run {statistics.median(dry):.2f} s  (target < 5 s)"
            )


if __name__ == "__main__":
    main()
