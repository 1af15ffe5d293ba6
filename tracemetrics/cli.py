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
from typing import Any

import yaml

from . import __version__
from .card import DEFAULT_PHASES
from .errors import TraceError
from .extract import Options, compute, extract
from .registry import METRICS, Metric, configured_metrics
from .results import field_inventory, percentile_of, read_all_runs, result_files

SUBCOMMANDS = ("extract", "metrics", "validate", "fields")


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

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            metavar="FILE",
            help="a workflow config (config/config.yaml): its custom_metrics, "
            "inference_phases, ep_size and max_step_tokens apply; flags override them",
        )

    def trace_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--phases",
            type=_phases,
            default=None,
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
        config_option(p)

    ext = sub.add_parser("extract", help="print one metric of one trace")
    ext.add_argument("--trace", required=True, type=Path, help="trace directory")
    what = ext.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--metric",
        metavar="NAME",
        help=f"one of: {', '.join(METRICS)}, or a custom metric of --config",
    )
    what.add_argument(
        "--field",
        metavar="KEY",
        help="any numeric result-JSON field (see `tracemetrics fields DIR`), "
        "e.g. p99_ttft_ms: prints its mean over the runs",
    )
    trace_options(ext)

    met = sub.add_parser("metrics", help="list the metrics")
    config_option(met)

    val = sub.add_parser("validate", help="check which metrics a trace can give")
    val.add_argument("trace", type=Path, help="trace directory")
    trace_options(val)

    fld = sub.add_parser(
        "fields", help="list the numeric result-JSON fields a trace offers, with their means"
    )
    fld.add_argument("trace", type=Path, help="trace directory")
    return parser


class UsageError(Exception):
    """A problem with what was asked for (exit 2), not with the trace."""


def _load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read config: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a config is a mapping of keys, not {type(data).__name__}")
    return data


def _catalog(config: dict[str, Any], where: Path | None) -> tuple[list[str], dict[str, Metric]]:
    """The metrics a config builds (default: DEFAULT_METRICS) and their definitions."""
    custom = config.get("custom_metrics") or []
    try:
        if not isinstance(custom, list) or not all(isinstance(c, dict) for c in custom):
            raise ValueError("custom_metrics: expected a list of mappings")
        if not isinstance(config.get("metrics") or [], list):
            raise ValueError("metrics: expected a list of names")
        return configured_metrics(config)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _options(args: argparse.Namespace, config: dict[str, Any], where: Path | None) -> Options:
    """The flags, else the config's values (checked: they come from a file)."""
    phases = config.get("inference_phases")
    if phases is not None and not (
        isinstance(phases, list) and phases and all(isinstance(p, str) for p in phases)
    ):
        raise UsageError(f"{where}: inference_phases: expected a list of phase names")
    for key in ("ep_size", "max_step_tokens"):
        value = config.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise UsageError(f"{where}: {key}: expected a positive integer or null, not {value!r}")

    def pick(flag: Any, key: str) -> Any:
        return flag if flag is not None else config.get(key)

    phases = args.phases or tuple(phases or DEFAULT_PHASES)
    return Options(
        phases=phases,
        max_step_tokens=pick(args.max_step_tokens, "max_step_tokens"),
        ep_size=pick(args.ep_size, "ep_size"),
    )


def _fields(trace: Path) -> int:
    try:
        files = result_files(trace)
        runs = read_all_runs(files)
    except TraceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    by_format: dict[str, int] = {}
    for run in runs:
        by_format[run.format] = by_format.get(run.format, 0) + 1
    formats = ", ".join(f"{fmt} ({n} run{'s' * (n != 1)})" for fmt, n in by_format.items())
    print(f"{len(runs)} run(s) in {len(files)} file(s); format: {formats}")
    metric_of = {m.field: m.name for m in METRICS.values() if m.field}
    infos = field_inventory(runs)
    width = max((len(i.name) for i in infos), default=5)
    print(f"{'field':<{width}}  {'runs':>4}  mean")
    for info in infos:
        notes = []
        if info.name in metric_of:
            notes.append(f"metric {metric_of[info.name]}")
        percentile = percentile_of(info.name)
        if percentile:
            notes.append(f"p{percentile[0]:g} of {percentile[1]}")
        if info.spelled:
            notes.append(f"written {', '.join(info.spelled)}")
        note = f"  ({'; '.join(notes)})" if notes else ""
        print(f"{info.name:<{width}}  {info.runs:>4}  {info.mean!r}{note}")
    return 0


def _print_value(value: object) -> None:
    if isinstance(value, float):
        print(repr(value))
    else:
        print(json.dumps(value, indent=2))


def run(argv: Sequence[str]) -> int:
    argv = list(argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "extract")  # the historical form: --trace DIR --metric NAME
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "fields":
        return _fields(args.trace)
    try:
        config = _load_config(args.config)
        names, metrics = _catalog(config, args.config)
        if args.command == "metrics":
            for m in metrics.values():
                unit = f" [{m.unit}]" if m.unit else ""
                print(f"{m.name}{unit}: {m.description}")
            return 0
        options = _options(args, config, args.config)
        if args.command == "extract":
            name = args.metric
            if args.field is not None:
                name = args.field  # a one-off metric: the mean of that field
                metrics = {name: Metric(name, "results", name, "", name, None, "")}
            elif name not in metrics:
                raise UsageError(
                    f"unknown metric {name!r}; available: {', '.join(metrics)} "
                    "(or --field KEY for any numeric result-JSON field)"
                )
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "extract":
        try:
            result = compute(args.trace, name, options, metrics)
        except TraceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        _print_value(result.value)
        return 0
    # validate: every metric's status, exit 1 if any is invalid
    results = extract(args.trace, names, options, metrics)
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
