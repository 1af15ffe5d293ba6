"""Gate logs of an instrumented MoE layer: a validated fast reader (gate_files.py finds them).

Layout: `gates_logs/gates_logs_<run>/gate_logs_<layer>.json`, each holding
`step`, `num_tokens` and `expert_loads` (one row of per-expert loads per step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import simdjson

from .errors import TraceError
from .jsonio import duplicate_keys, parse_documents, read_bytes, shown, type_name

KEYS = ("step", "num_tokens", "expert_loads")
# Loads and num_tokens are token counts: above 2**53 a float64 no longer holds every
# integer, and sums of such values could overflow to inf. Larger is not a count.
MAX_COUNT = 2**53


@dataclass(frozen=True)
class GateLog:
    """One layer's log for one run: `loads` is steps x experts, float64."""

    num_tokens: np.ndarray
    loads: np.ndarray

    @property
    def steps(self) -> int:
        return self.loads.shape[0]


def _counts(values: np.ndarray) -> bool:
    """Every value a token count: in [0, MAX_COUNT]."""
    return values.size == 0 or (values.min() >= 0 and values.max() <= MAX_COUNT)


def _fast(data: bytes) -> GateLog | None:
    """simdjson straight into numpy; None when anything is unusual."""
    # as_buffer flattens nesting ([[1], 2] reads as [1, 2]; [[1, 2], []] as [1, 2]), so
    # sizes can match a wrong shape: the file must hold no array but the three lists and
    # the n rows. numpy counts the "[" bytes 7x faster than bytes.count, if done before
    # the parse (after it, the temporary costs 40x more: measured).
    brackets = np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == ord("["))
    try:
        doc = simdjson.Parser().parse(data)
        if not isinstance(doc, simdjson.Object) or not all(k in doc for k in KEYS):
            return None
        if duplicate_keys(doc.keys()):
            return None  # the slow path says which (simdjson would read the first)
        steps, tokens, rows = (doc[k] for k in KEYS)
        if not all(isinstance(x, simdjson.Array) for x in (rows, tokens, steps)):
            return None
        n = len(rows)
        if len(tokens) != n or len(steps) != n:
            return None
        widths = set(map(len, rows))  # len() of a non-list row raises: slow path
        if len(widths) > 1 or widths == {0}:
            return None
        loads = np.frombuffer(rows.as_buffer(of_type="d"), dtype=np.float64)
        num_tokens = np.frombuffer(tokens.as_buffer(of_type="d"), dtype=np.float64)
        width = widths.pop() if widths else 0
        if loads.size != n * width or num_tokens.size != n or brackets != n + 3:
            return None  # nested deeper than steps x experts
        if not (_counts(loads) and _counts(num_tokens)):
            return None
        return GateLog(num_tokens, loads.reshape(n, width))
    except (ValueError, TypeError, RuntimeError, UnicodeDecodeError, KeyError):
        return None  # RuntimeError: simdjson's BIGINT_ERROR


def _number_list(path: Path, key: str, values: Any, where: str = "") -> None:
    for i, v in enumerate(values):
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise TraceError(
                path, f"{key}{where}[{i}] is {type_name(v)} ({shown(v)}), expected a number"
            )
        try:
            finite = math.isfinite(v)
        except OverflowError:  # an integer beyond the float range
            finite = False
        if not finite:
            raise TraceError(path, f"{key}{where}[{i}] is {shown(v)}, not a finite number")
        if v < 0:
            raise TraceError(path, f"{key}{where}[{i}] is negative ({v!r})")
        if float(v) > MAX_COUNT:  # as float64, like the fast path (2**53 + 1 rounds down)
            raise TraceError(
                path, f"{key}{where}[{i}] is {shown(v)}, too large for a token count (> 2**53)"
            )


def _slow(path: Path, data: bytes) -> GateLog:
    """Exact parse and validation, for a precise message on any defect."""
    (doc,) = parse_documents(path, data, allow_lines=False)
    if not isinstance(doc, dict):
        raise TraceError(path, f"gate log is {type_name(doc)}, expected an object")
    repeated = sorted(set(KEYS) & getattr(doc, "duplicates", frozenset()))
    if repeated:  # json keeps the last value, simdjson the first: refuse both
        raise TraceError(path, f"duplicate key {repeated[0]!r}: given more than once")
    missing = [k for k in KEYS if k not in doc]
    if missing:
        raise TraceError(path, f"gate log lacks {', '.join(missing)}")
    for key in KEYS:
        if not isinstance(doc[key], list):
            raise TraceError(path, f"{key} is {type_name(doc[key])}, expected a list")
    lengths = {k: len(doc[k]) for k in KEYS}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise TraceError(path, f"lists of different lengths: {detail}")
    _number_list(path, "num_tokens", doc["num_tokens"])
    rows = doc["expert_loads"]
    width = None
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise TraceError(path, f"expert_loads[{i}] is {type_name(row)}, expected a list")
        if width is None:
            width = len(row)
            if width == 0:
                raise TraceError(path, "expert_loads rows are empty (zero experts)")
        elif len(row) != width:
            raise TraceError(
                path,
                f"ragged expert_loads: row {i} has {len(row)} experts, row 0 has {width}",
            )
        _number_list(path, "expert_loads", row, f"[{i}]")
    loads = np.array(rows, dtype=np.float64).reshape(len(rows), width or 0)
    return GateLog(np.array(doc["num_tokens"], dtype=np.float64), loads)


def read_gate_log(path: Path) -> GateLog:
    data = read_bytes(path, "gate log")
    return _fast(data) or _slow(path, data)
