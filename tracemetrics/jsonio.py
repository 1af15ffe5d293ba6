"""JSON reading with a fast path (simdjson) and an exact slow path (stdlib json).

simdjson parses in C++ and lets us pull out only the values we need, without
building Python objects for the large per-request arrays.  Anything it rejects
(NaN literals, one object per line, broken files) goes to the stdlib parser, which
either accepts it or gives the line and column of the problem.

Duplicate keys: `json` keeps a repeated key's last value, simdjson's lookup its first.
So that the two paths never give different numbers, objects from the exact parser
record their repeated keys (`JSONObject.duplicates`), and the readers refuse a repeated
key they read (see `duplicate_keys` for the fast path).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
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


class JSONObject(dict[str, Any]):
    """A parsed JSON object (last value of a repeated key, as `json` keeps it) and the
    keys it repeats."""

    duplicates: frozenset[str] = frozenset()


def duplicate_keys(keys: Iterable[str]) -> frozenset[str]:
    """The keys that occur more than once (simdjson iterates an object's keys as written)."""
    return frozenset(key for key, count in Counter(keys).items() if count > 1)


def _object(pairs: list[tuple[str, Any]]) -> JSONObject:
    obj = JSONObject(pairs)
    if len(obj) < len(pairs):
        obj.duplicates = duplicate_keys(key for key, _ in pairs)
    return obj


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_object)


def _error(path: Path, exc: json.JSONDecodeError, line_offset: int = 0) -> TraceError:
    return TraceError(path, f"not valid JSON: {exc.msg}", exc.lineno + line_offset, exc.colno)


def parse_documents(path: Path, data: bytes, allow_lines: bool) -> list[Any]:
    """Parse a JSON file exactly (objects are `JSONObject`s); with `allow_lines`, a file of
    one object per line (vLLM's --append-result, SGLang's bench_serving) gives one
    document per line."""
    text = _decode(path, data)
    if not text.strip():
        raise TraceError(path, "file is empty")
    try:
        return [_loads(text)]
    except json.JSONDecodeError as exc:
        if not (allow_lines and exc.msg == "Extra data"):
            raise _error(path, exc) from None
    except RecursionError:
        raise TraceError(path, "not valid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise TraceError(path, f"not valid JSON: {exc}") from None
    docs = []
    # Only "\n" ends a JSON line: splitlines() would also cut at a "\r" (JSON whitespace)
    # or a raw U+2028 inside a string.
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                docs.append(_loads(line))
            except json.JSONDecodeError as exc:
                raise _error(path, exc, number - 1) from None
            except RecursionError:
                raise TraceError(path, "not valid JSON: nested too deeply", number) from None
            except ValueError as exc:
                raise TraceError(path, f"not valid JSON: {exc}", number) from None
    return docs


def type_name(value: Any) -> str:
    """JSON's name for a parsed value's type, for messages (also YAML's, e.g. "a date")."""
    if value is None:
        return "null"
    for kind, name in (
        (dict, "an object"),
        (list, "a list"),
        (str, "a string"),
        (bool, "a boolean"),  # before int: a bool is an int
        (int | float, "a number"),
    ):
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def shown(value: Any, limit: int = 40) -> str:
    """repr for a message, kept short: a 10**400 literal or a long string stays readable."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
