"""Benchmark result JSON files (vLLM --save-result / --append-result)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simdjson

from .errors import TraceError
from .jsonio import parse_documents, read_bytes, shown, type_name

RESULTS_DIR = "results_json"
Scalar = int | float | str | bool | None


def result_files(trace_dir: Path) -> list[Path]:
    """The result files of a trace: `results_json/*.json`, less profiler dumps."""
    folder = trace_dir / RESULTS_DIR
    try:
        with os.scandir(folder) as entries:
            names = sorted(
                e.name
                for e in entries
                if e.name.endswith(".json") and not e.name.endswith(".pytorch.json")
            )
    except FileNotFoundError:
        raise TraceError(folder, "results directory is missing") from None
    except NotADirectoryError:
        raise TraceError(folder, "is a file, expected the results directory") from None
    except OSError as exc:
        raise TraceError(folder, f"cannot list directory: {exc.strerror}") from None
    if not names:
        raise TraceError(folder, "holds no result file (*.json)")
    return [folder / name for name in names]


@dataclass(frozen=True)
class Run:
    """The scalar top-level fields of one benchmark run (one JSON object)."""

    path: Path
    fields: dict[str, Scalar]
    nested: frozenset[str] = frozenset()  # keys holding a list or an object
    duplicates: frozenset[str] = frozenset()  # keys given more than once: not to be read


def _scalars(obj: Any) -> tuple[dict[str, Scalar], frozenset[str], frozenset[str]]:
    # Containers (the per-request arrays) are skipped without being materialised;
    # only their keys are kept, so a list where a number belongs is an error.
    # simdjson iterates a repeated key twice; the exact parser's object lists it.
    out: dict[str, Scalar] = {}
    nested: set[str] = set()
    repeated = set(getattr(obj, "duplicates", ()))
    for key in obj:
        if key in out or key in nested:
            repeated.add(key)
            continue
        value = obj[key]
        if value is None or isinstance(value, int | float | str):
            out[key] = value
        else:
            nested.add(key)
    return out, frozenset(nested), frozenset(repeated)


def read_runs(path: Path) -> list[Run]:
    """Every run in one result file: one object, or one object per line."""
    data = read_bytes(path, "result file")
    try:
        doc = simdjson.Parser().parse(data)
    except (ValueError, RuntimeError, UnicodeDecodeError):  # RuntimeError: BIGINT_ERROR
        doc = None  # not plain JSON to simdjson: let the exact parser decide
    if isinstance(doc, simdjson.Object):
        return [Run(path, *_scalars(doc))]
    docs = parse_documents(path, data, allow_lines=True)
    runs = []
    for number, obj in enumerate(docs, start=1):
        if not isinstance(obj, dict):
            where = f"JSON value {number}" if len(docs) > 1 else "top-level JSON value"
            raise TraceError(path, f"{where} is {type_name(obj)}, expected an object")
        runs.append(Run(path, *_scalars(obj)))
    return runs


def read_all_runs(files: list[Path]) -> list[Run]:
    return [run for path in files for run in read_runs(path)]


def is_number(value: Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numeric_fields(runs: list[Run]) -> list[str]:
    return sorted({k for run in runs for k, v in run.fields.items() if is_number(v)})


@dataclass(frozen=True)
class FieldMean:
    value: float
    count: int
    warnings: list[str]


def field_mean(runs: list[Run], field: str) -> FieldMean:
    """Mean of `field` over all runs; errors for bad values, warnings for gaps."""
    values: list[float] = []
    missing: list[str] = []
    for run in runs:
        if field in run.duplicates:  # the two parsers would pick different values
            raise TraceError(run.path, f"duplicate key {field!r}: given more than once")
        if field in run.nested:
            raise TraceError(run.path, f"field {field!r} is a list or an object, expected a number")
        if field not in run.fields:
            missing.append(run.path.name)
            continue
        value = run.fields[field]
        if not is_number(value):
            raise TraceError(
                run.path,
                f"field {field!r} is {type_name(value)} ({shown(value)}), expected a number",
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf  # an integer beyond the float range
        if not math.isfinite(number):
            raise TraceError(run.path, f"field {field!r} is {shown(value)}, not a finite number")
        values.append(number)
    if not values:
        where = runs[0].path.parent if runs else "results"
        available = ", ".join(numeric_fields(runs)) or "none"
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
    return FieldMean(_mean(values), len(values), warnings)


def _mean(values: list[float]) -> float:
    try:
        return math.fsum(values) / len(values)
    except OverflowError:  # values near the float maximum: their mean is still finite
        return math.fsum(v / len(values) for v in values)
