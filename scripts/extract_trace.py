#!/usr/bin/env python3
"""Workflow step: compute metrics of one trace and write one cached JSON per metric.

Exit 0 even for invalid traces (their files record the reason), unless --strict.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracemetrics.atomic import write_text_atomic
from tracemetrics.extract import Options, extract
from tracemetrics.registry import catalog


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--metrics", required=True, help="comma-separated metric names")
    parser.add_argument("--phases", required=True, help="comma-separated accepted phases")
    parser.add_argument("--strict", action="store_true", help="fail on an invalid trace")
    parser.add_argument("--ep-size", type=int, help="EP size override (default: the card's)")
    parser.add_argument("--max-step-tokens", type=int, help="drop gate-log steps above this")
    parser.add_argument("--custom-metrics", default="[]", help="config custom_metrics, as JSON")
    args = parser.parse_args()
    options = Options(
        phases=tuple(args.phases.split(",")),
        ep_size=args.ep_size,
        max_step_tokens=args.max_step_tokens,
    )
    metrics = catalog(json.loads(args.custom_metrics))
    results = extract(args.trace, args.metrics.split(","), options, metrics)
    if args.strict:
        for result in results.values():
            if result.status == "invalid":
                print(f"error: invalid trace: {result.reason}", file=sys.stderr)
                return 1
    for name, result in results.items():
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        text = json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n"
        write_text_atomic(args.out_dir / f"{name}.json", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
