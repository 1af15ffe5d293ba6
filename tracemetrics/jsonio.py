"""JSON reading with a fast path (simdjson) and an exact slow path (stdlib json).

simdjson parses in C++ and lets us pull out only the values we need, without
building Python objects for the large per-request arrays.  Anything it rejects
(NaN literals, one object per line, broken files) goes to the stdlib parser, which
either accepts it or gives the line and column of the problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import TraceError


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise TraceError(path, f"{what} is a directory, expected a file") from None
    except OSError as exc:
        raise TraceError(path, f"cannot read {what}: {exc.strerror}") from None


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TraceError(path, f"not valid UTF-8 (bad byte at offset {exc.start})") from None


def _error(path: Path, exc: json.JSONDecodeError, line_offset: int = 0) -> TraceError:
    return TraceError(path, f"not valid JSON: {exc.msg}", exc.lineno + line_offset, exc.colno)


def parse_documents(path: Path, data: bytes, allow_lines: bool) -> list[Any]:
    """Parse a JSON file exactly; with `allow_lines`, a file of one object per line
    (vLLM's --append-result, SGLang's bench_serving) gives one document per line."""
    text = _decode(path, data)
    if not text.strip():
        raise TraceError(path, "file is empty")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as exc:
        if not (allow_lines and exc.msg == "Extra data"):
            raise _error(path, exc) from None
    except RecursionError:
        raise TraceError(path, "not valid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise TraceError(path, f"not valid JSON: {exc}") from None
    docs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise _error(path, exc, number - 1) from None
            except RecursionError:
                raise TraceError(path, "not valid JSON: nested too deeply", number) from None
            except ValueError as exc:
                raise TraceError(path, f"not valid JSON: {exc}", number) from None
    return docs


def type_name(value: Any) -> str:
    """JSON's name for a parsed value's type, for messages."""
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)
