"""Benchmark result files: vLLM's result JSON (one object per file, or one per line
with --append-result) and SGLang bench_serving's JSON lines.

The format is read from each object's keys. Field names are vLLM's: SGLang's
`<stat>_e2e_latency_ms` is read as `<stat>_e2el_ms` and `total_throughput` as
`total_token_throughput`, so one metric covers both tools.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simdjson

from .errors import TraceError
from .jsonio import parse_documents, read_bytes, shown, type_name

RESULTS_DIR = "results_json"
Scalar = int | float | str | bool | None


RESULT_SUFFIXES = (".json", ".jsonl")


def result_files(trace_dir: Path) -> list[Path]:
    """The result files of a trace: `results_json/*.json[l]`, less profiler dumps."""
    folder = trace_dir / RESULTS_DIR
    try:
        with os.scandir(folder) as entries:
            names = sorted(
                e.name
                for e in entries
                if e.name.endswith(RESULT_SUFFIXES) and not e.name.endswith(".pytorch.json")
            )
    except FileNotFoundError:
        raise TraceError(folder, "results directory is missing") from None
    except NotADirectoryError:
        raise TraceError(folder, "is a file, expected the results directory") from None
    except OSError as exc:
        raise TraceError(folder, f"cannot list directory: {exc.strerror}") from None
    if not names:
        raise TraceError(folder, "holds no result file (*.json, *.jsonl)")
    return [folder / name for name in names]


# SGLang name -> vLLM name; everything else is spelled the same by both.
_SGLANG_E2E = "_e2e_latency_ms"  # <stat>_e2e_latency_ms is vLLM's <stat>_e2el_ms
_SGLANG_RENAMES = {"total_throughput": "total_token_throughput"}
# Keys only one tool writes: how a run's format is recognised.
_VLLM_ONLY = ("mean_e2el_ms", "model_id", "tokenizer_id", "total_token_throughput")


def _is_sglang_e2e(name: str) -> bool:
    return name.endswith(_SGLANG_E2E) and len(name) > len(_SGLANG_E2E)


def canonical_field(name: str) -> str:
    """A field's vLLM name, whichever tool's name is given."""
    if _is_sglang_e2e(name):
        return name.removesuffix(_SGLANG_E2E) + "_e2el_ms"
    return _SGLANG_RENAMES.get(name, name)


def detect_format(keys: list[str]) -> str:
    """`sglang`, `vllm`, or `unknown` (fields are then read under their own names)."""
    if any(map(_is_sglang_e2e, keys)) or "total_throughput" in keys:
        return "sglang"
    if any(k in keys for k in _VLLM_ONLY) or any(k.endswith("_ttft_ms") for k in keys):
        return "vllm"
    return "unknown"


@dataclass(frozen=True)
class Run:
    """The scalar top-level fields of one benchmark run (one JSON object)."""

    path: Path
    fields: dict[str, Scalar]
    nested: frozenset[str] = frozenset()  # keys holding a list or an object
    duplicates: frozenset[str] = frozenset()  # keys given more than once: not to be read
    format: str = "unknown"
    aliases: tuple[tuple[str, str], ...] = ()  # (vLLM name, this file's name) renamed


def _run(path: Path, obj: Any) -> Run:
    # Containers (the per-request arrays) are skipped without being materialised;
    # only their keys are kept, so a list where a number belongs is an error.
    # simdjson iterates a repeated key twice; the exact parser's object lists it.
    keys = list(obj)
    fmt = detect_format(keys)
    out: dict[str, Scalar] = {}
    nested: set[str] = set()
    repeated = {canonical_field(k) for k in getattr(obj, "duplicates", ())}
    aliases = []
    for key in keys:
        name = canonical_field(key) if fmt == "sglang" else key
        if name in out or name in nested:  # given twice, or under both tools' names
            repeated.add(name)
            continue
        if name != key:
            aliases.append((name, key))
        value = obj[key]
        if value is None or isinstance(value, int | float | str):
            out[name] = value
        else:
            nested.add(name)
    return Run(path, out, frozenset(nested), frozenset(repeated), fmt, tuple(aliases))


def read_runs(path: Path) -> list[Run]:
    """Every run in one result file: one object, or one object per line."""
    data = read_bytes(path, "result file")
    try:
        doc = simdjson.Parser().parse(data)
    except (ValueError, RuntimeError, UnicodeDecodeError):  # RuntimeError: BIGINT_ERROR
        doc = None  # not plain JSON to simdjson: let the exact parser decide
    if isinstance(doc, simdjson.Object):
        return [_run(path, doc)]
    docs = parse_documents(path, data, allow_lines=True)
    runs = []
    for number, obj in enumerate(docs, start=1):
        if not isinstance(obj, dict):
            where = f"JSON value {number}" if len(docs) > 1 else "top-level JSON value"
            raise TraceError(path, f"{where} is {type_name(obj)}, expected an object")
        runs.append(_run(path, obj))
    return runs


def read_all_runs(files: list[Path]) -> list[Run]:
    return [run for path in files for run in read_runs(path)]


def is_number(value: Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class FieldInfo:
    """A numeric field as `tracemetrics fields` shows it."""

    name: str  # vLLM's spelling
    runs: int  # runs holding a finite number in it
    mean: float | None
    spelled: tuple[str, ...]  # other spellings met in the files (SGLang's)


def field_inventory(runs: list[Run]) -> list[FieldInfo]:
    """Every numeric field of the runs, with how many runs hold it and its mean."""
    values: dict[str, list[float]] = {}
    spelled: dict[str, set[str]] = {}
    for run in runs:
        for name, value in run.fields.items():
            if is_number(value) and name not in run.duplicates:
                number = _as_float(value)
                if math.isfinite(number):
                    values.setdefault(name, []).append(number)
        for name, original in run.aliases:
            spelled.setdefault(name, set()).add(original)
    return [
        FieldInfo(name, len(v), _mean(v), tuple(sorted(spelled.get(name, ()))))
        for name, v in sorted(values.items())
    ]


PERCENTILE_FIELD = re.compile(r"p(\d+(?:\.\d+)?)_(.+)")


def percentile_of(field: str) -> tuple[float, str] | None:
    """(percentile, quantity) for a key such as `p99.9_ttft_ms`, else None."""
    match = PERCENTILE_FIELD.fullmatch(field)
    return (float(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True)
class FieldMean:
    value: float
    count: int
    warnings: list[str]
    values: list[float]  # one per run that has the field, in file and line order


def field_mean(runs: list[Run], field: str) -> FieldMean:
    """Mean of `field` over all runs; errors for bad values, warnings for gaps.

    `field` may be given in either tool's spelling."""
    field = canonical_field(field)
    values: list[float] = []
    missing: list[str] = []
    for run in runs:
        named = repr(dict(run.aliases).get(field, field))  # as the file spells it
        if field in run.duplicates:  # the two parsers would pick different values
            raise TraceError(run.path, f"duplicate key {named}: given more than once")
        if field in run.nested:
            raise TraceError(run.path, f"field {named} is a list or an object, expected a number")
        if field not in run.fields:
            missing.append(run.path.name)
            continue
        value = run.fields[field]
        if not is_number(value):
            raise TraceError(
                run.path,
                f"field {named} is {type_name(value)} ({shown(value)}), expected a number",
            )
        number = _as_float(value)
        if not math.isfinite(number):
            raise TraceError(run.path, f"field {named} is {shown(value)}, not a finite number")
        values.append(number)
    if not values:
        where = runs[0].path.parent if runs else "results"
        available = ", ".join(i.name for i in field_inventory(runs)) or "none"
        raise TraceError(
            where,
            f"no result file has the field {field!r}; numeric fields present: {available}",
        )
    warnings = []
    if missing:
        names = ", ".join(sorted(set(missing)))
        warnings.append(
            f"{runs[0].path.parent}: field {field!r} missing from {names}; "
            f"mean over the other {len(values)} run(s)"
        )
    return FieldMean(_mean(values), len(values), warnings, values)


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf  # an integer beyond the float range


def _mean(values: list[float]) -> float:
    try:
        return math.fsum(values) / len(values)
    except OverflowError:  # values near the float maximum: their mean is still finite
        return math.fsum(v / len(values) for v in values)
