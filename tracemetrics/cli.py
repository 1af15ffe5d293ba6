"""The `tracemetrics` command line (also `python scripts/main.py`).

Exit codes: 0 success, 1 a problem with the input (one line on stderr naming the
file), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .card import DEFAULT_PHASES
from .errors import TraceError
from .extract import Options, compute, extract
from .registry import METRICS

SUBCOMMANDS = ("extract", "metrics", "validate")


def _phases(text: str) -> tuple[str, ...]:
    phases = tuple(p.strip() for p in text.split(",") if p.strip())
    if not phases:
        raise argparse.ArgumentTypeError("give at least one phase")
    return phases


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracemetrics",
        description="Metrics from LLM-serving benchmark traces. "
        "`tracemetrics --trace DIR --metric NAME` is short for `tracemetrics extract ...`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def trace_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--phases",
            type=_phases,
            default=DEFAULT_PHASES,
            metavar="P1,P2",
            help=f"workload phases accepted as inference (default: {','.join(DEFAULT_PHASES)})",
        )
        p.add_argument(
            "--max-step-tokens",
            type=_positive_int,
            default=None,
            metavar="N",
            help="drop gate-log steps with more than N tokens (vLLM's profiling/warm-up "
            "batch) from every expert metric (default: keep all)",
        )
        p.add_argument(
            "--ep-size",
            type=_positive_int,
            default=None,
            metavar="N",
            help="EP size for expert_imbalance's rank balance "
            "(default: the card's Model-executor.model_plan_parallelization.ep)",
        )

    ext = sub.add_parser("extract", help="print one metric of one trace")
    ext.add_argument("--trace", required=True, type=Path, help="trace directory")
    ext.add_argument(
        "--metric",
        required=True,
        choices=list(METRICS),
        metavar="NAME",
        help=f"one of: {', '.join(METRICS)}",
    )
    trace_options(ext)

    sub.add_parser("metrics", help="list the metrics")

    val = sub.add_parser("validate", help="check which metrics a trace can give")
    val.add_argument("trace", type=Path, help="trace directory")
    trace_options(val)
    return parser


def _print_value(value: object) -> None:
    if isinstance(value, float):
        print(repr(value))
    else:
        print(json.dumps(value, indent=2))


def run(argv: Sequence[str]) -> int:
    argv = list(argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "extract")  # the historical form: --trace DIR --metric NAME
    args = _parser().parse_args(argv)
    if args.command == "metrics":
        for m in METRICS.values():
            unit = f" [{m.unit}]" if m.unit else ""
            print(f"{m.name}{unit}: {m.description}")
        return 0
    options = Options(
        phases=args.phases, max_step_tokens=args.max_step_tokens, ep_size=args.ep_size
    )
    if args.command == "extract":
        try:
            result = compute(args.trace, args.metric, options)
        except TraceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        _print_value(result.value)
        return 0
    # validate: every metric's status, exit 1 if any is invalid
    results = extract(args.trace, METRICS, options)
    width = max(map(len, results))
    for name, res in results.items():
        line = f"{name:<{width}}  {res.status}"
        if res.reason:
            line += f"  {res.reason}"
        print(line)
        for warning in res.warnings:
            print(f"{'':<{width}}  warning: {warning}")
    return 1 if any(r.status == "invalid" for r in results.values()) else 0


def main() -> None:
    try:
        code = run(sys.argv[1:])
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
