#!/usr/bin/env python3
"""Baseline for benchmarks only: the old one-metric-per-process script, re-created.

Does what the pre-tracemetrics per-metric scripts did, the straightforward way:
check the directory and card (yaml.safe_load), json.load every input file, loop in
Python, print one number (or the expert JSON). Not used by the project itself.
"""

import argparse
import glob
import json
import math
import os
import sys

import yaml

FIELDS = {
    "TTFT": "mean_ttft_ms",
    "TPOT": "mean_tpot_ms",
    "request_throughput": "request_throughput",
    "output_throughput": "output_throughput",
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trace", required=True)
    parser.add_argument("--metric", required=True)
    args = parser.parse_args()
    cards = [f for f in os.listdir(args.trace) if f.endswith(".yaml")]
    with open(os.path.join(args.trace, cards[0])) as handle:
        card = yaml.safe_load(handle)
    model = card["workload"]["model"]
    if args.metric in FIELDS:
        if model.get("phase") not in ("inference", "serving"):
            return 1
        folder = os.path.join(args.trace, "results_json")
        values = []
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json") or name.endswith(".pytorch.json"):
                continue
            with open(os.path.join(folder, name)) as handle:
                text = handle.read()
            try:
                objs = [json.loads(text)]
            except json.JSONDecodeError:
                objs = [json.loads(line) for line in text.splitlines() if line.strip()]
            values += [o[FIELDS[args.metric]] for o in objs]
        print(sum(values) / len(values))
        return 0
    pattern = os.path.join(glob.escape(args.trace), "gates_logs", "gates_logs_*", "*.json")
    totals, steps = None, 0
    for path in sorted(glob.glob(pattern)):
        with open(path) as handle:
            log = json.load(handle)
        for row in log["expert_loads"]:
            totals = totals or [0.0] * len(row)
            for i, value in enumerate(row):
                totals[i] += value
            steps += 1
    if totals is None:
        return 1
    total = sum(totals)
    norm = [t / total for t in totals]
    entropy = -sum(p * math.log2(p) for p in norm if p > 0)
    mean = total / len(totals)
    std = math.sqrt(sum((t - mean) ** 2 for t in totals) / len(totals))
    print(
        json.dumps(
            {
                "totals": totals,
                "normalized": norm,
                "summary": {
                    "entropy": entropy,
                    "normalized_entropy": entropy / math.log2(len(totals)),
                    "coefficient_of_variation": std / mean,
                    "max_min_ratio": max(totals) / min(t for t in totals if t > 0),
                    "total_tokens": total,
                    "num_experts": len(totals),
                    "total_steps": steps,
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
