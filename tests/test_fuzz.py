"""Fuzzed inputs for the readers and for metric extraction (issue 6, item 2).

Mutated result JSON, gate logs and workload cards (bytes flipped, cut, inserted, deleted
or repeated; values swapped for other JSON types) go to `read_runs`, `read_gate_log`,
`load_card` and `compute`. The only exception allowed out is `TraceError`, and its
message names the file. Where a reader accepts the input, it must agree with an exact
reference parse (stdlib `json`) written here, so the fast simdjson paths cannot read a
different number than the file holds. Bounded: 100 examples a test, no deadline.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracemetrics.card import load_card
from tracemetrics.errors import TraceError
from tracemetrics.extract import compute
from tracemetrics.gates import read_gate_log
from tracemetrics.registry import METRICS
from tracemetrics.results import field_mean, read_runs

# TM_FUZZ_EXAMPLES=5000 fuzzes deeper, locally; CI keeps 100 a test.
EXAMPLES = int(os.environ.get("TM_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RESULT = {
    "backend": "vllm",
    "request_rate": "inf",
    "completed": 3,
    "request_throughput": 3.2,
    "output_throughput": 160.0,
    "mean_ttft_ms": 120.0,
    "mean_tpot_ms": 24.0,
    "mean_e2el_ms": 900.0,
    "ttfts": [0.1, 0.2, 0.12],
    "itls": [[0.02], [0.03, 0.01], []],
    "generated_texts": ["a", "b", "c"],
}
GATE = {
    "step": [0, 1, 2],
    "num_tokens": [4, 2, 3],
    "expert_loads": [[3.0, 1.0, 2.0, 2.0], [1.0, 1.0, 0.0, 2.0], [2.0, 2.0, 1.0, 1.0]],
}
CARD = {
    "workload": {
        "model": {"phase": "serving", "moe": True},
        "data": {"max-num-seqs": 32, "max-num-batched-tokens": 8192},
    },
    "Model-executor": {
        "model_plan_parallelization": {"tp": 1, "ep": 2},
        "expert_parallel": {"eplb": False, "top_k": 2},
    },
}
# SGLang bench_serving: its own names for some fields, JSON lines, a bare Infinity
SGLANG = {
    "backend": "sglang",
    "request_rate": float("inf"),
    "request_throughput": 3.1,
    "output_throughput": 150.0,
    "total_throughput": 400.0,
    "mean_ttft_ms": 130.0,
    "mean_tpot_ms": 25.0,
    "mean_e2e_latency_ms": 950.0,
}
RESULT_BYTES = [
    json.dumps(RESULT, indent=2).encode(),
    (json.dumps(SGLANG) + "\n" + json.dumps({**SGLANG, "mean_e2e_latency_ms": 990.0})).encode(),
    json.dumps(RESULT).encode(),
    (json.dumps(RESULT) + "\n" + json.dumps({**RESULT, "mean_ttft_ms": 80.0}) + "\n").encode(),
]
GATE_BYTES = [json.dumps(GATE, indent=2).encode(), json.dumps(GATE).encode()]
CARD_BYTES = [yaml.safe_dump(CARD).encode(), yaml.safe_dump(CARD, default_flow_style=True).encode()]

# Pieces that matter to a JSON or YAML parser, and numbers at the edges of float64.
TOKENS = [
    *(c.encode() for c in '{}[],:"\\-+.eE0 \n\t\r'),
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"1e308",
    b"-1",
    b"1" + b"0" * 30,
    b"1" + b"0" * 400,
    b"null",
    b"true",
    b'"x"',
    b"[1]",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xe2\x80\xa8",  # U+2028: a line break to str.splitlines, not to JSON
    b"\x00",
    b'"mean_ttft_ms": 1, ',
    b'"expert_loads": [[1, 1]], ',
    b"- ",
    b": ",
    b"&a ",
    b"*a",
    b"!!python/object ",
    b"? ",
]
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=4)
    | st.sampled_from([10**400, -(10**30), 1e308, 2**64])
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def byte_mutations(draw: st.DrawFn, bases: list[bytes]) -> bytes:
    """A base document with one to four edits: flip, cut, insert, delete, repeat."""
    data = bytearray(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "repeat"]))
        pos = draw(st.integers(0, len(data)))
        end = min(len(data), pos + draw(st.integers(0, 24)))
        if kind == "flip" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.sampled_from(TOKENS) | st.binary(max_size=3))
        elif kind == "delete":
            del data[pos:end]
        elif kind == "repeat":  # e.g. a key and its value twice
            data[end:end] = data[pos:end]
    return bytes(data)


def paths_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts and lists."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += paths_of(item, (*prefix, i))
    return out


@st.composite
def type_swaps(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """The document with one to three values replaced by values of any JSON type."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        *parents, last = draw(st.sampled_from(paths_of(doc)))  # of the doc as it is now
        node = doc
        for key in parents:
            node = node[key]
        node[last] = draw(json_values)
    return doc


def json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, indent=2).encode()  # NaN and Infinity as Python writes them


def result_inputs() -> st.SearchStrategy[bytes]:
    return byte_mutations(RESULT_BYTES) | type_swaps(RESULT).map(json_bytes)


def gate_inputs() -> st.SearchStrategy[bytes]:
    return byte_mutations(GATE_BYTES) | type_swaps(GATE).map(json_bytes)


def card_inputs() -> st.SearchStrategy[bytes]:
    return byte_mutations(CARD_BYTES) | type_swaps(CARD).map(lambda d: yaml.safe_dump(d).encode())


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def names_file(exc: TraceError, *paths: Path) -> None:
    assert any(str(p) in exc.message for p in paths), (paths, exc.message)
    assert "\n" not in exc.message, exc.message


# ------------------------------------------------------------ exact reference parses


class Invalid(Exception):
    pass


class Object(dict):
    repeated: set[str]  # keys the file gives more than once


def _pairs(pairs: list[tuple[str, Any]]) -> Object:
    obj = Object(pairs)
    obj.repeated = {k for k, n in Counter(k for k, _ in pairs).items() if n > 1}
    return obj


def reference_documents(data: bytes, lines: bool) -> list[Any]:
    """The file parsed by the stdlib alone (JSON Lines split on \\n only); Invalid if not."""
    try:
        text = data.decode("utf-8-sig")
        if not text.strip():
            raise Invalid
        try:
            return [json.loads(text, object_pairs_hook=_pairs)]
        except json.JSONDecodeError as exc:
            if not (lines and exc.msg == "Extra data"):
                raise Invalid from None
        return [
            json.loads(line, object_pairs_hook=_pairs) for line in text.split("\n") if line.strip()
        ]
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError too
        raise Invalid from None


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


def reference_gate_log(data: bytes) -> tuple[list[float], list[list[float]]]:
    """num_tokens and loads as the format defines them, or Invalid."""
    (doc,) = reference_documents(data, lines=False)
    if not isinstance(doc, dict) or set(GATE) & doc.repeated:
        raise Invalid
    if not all(isinstance(doc.get(k), list) for k in GATE):
        raise Invalid
    tokens, rows = doc["num_tokens"], doc["expert_loads"]
    if not len(doc["step"]) == len(tokens) == len(rows):
        raise Invalid
    if not all(isinstance(row, list) for row in rows) or len({len(r) for r in rows}) > 1:
        raise Invalid
    if rows and not rows[0]:
        raise Invalid

    def count(v: Any) -> bool:  # a token count: a number in [0, 2**53] as a float64
        if not isinstance(v, int | float) or isinstance(v, bool):
            return False
        try:
            return 0 <= float(v) <= 2**53
        except OverflowError:
            return False

    if not all(map(count, tokens)) or not all(count(v) for row in rows for v in row):
        raise Invalid
    return tokens, rows


def sglang_e2e(key: str) -> bool:
    return key.endswith("_e2e_latency_ms") and key != "_e2e_latency_ms"


def vllm_name(key: str) -> str:
    """SGLang's spelling of a field -> vLLM's (FORMATS.md and SGLang's bench_serving)."""
    if sglang_e2e(key):
        return key[: -len("_e2e_latency_ms")] + "_e2el_ms"
    return {"total_throughput": "total_token_throughput"}.get(key, key)


# ----------------------------------------------------------------------------- tests


@FUZZ
@given(data=result_inputs())
def test_result_reader(data, work):
    path = work / "results_json" / "run.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    try:
        expected = reference_documents(data, lines=True)
        if not all(isinstance(doc, dict) for doc in expected):
            raise Invalid
    except Invalid:
        expected = None
    try:
        runs = read_runs(path)
    except TraceError as exc:
        names_file(exc, path)
        assert expected is None, "read_runs refused a file the stdlib reads"
        return
    assert expected is not None, "read_runs accepted a file the stdlib refuses"
    assert len(runs) == len(expected)
    for run, doc in zip(runs, expected, strict=True):
        # SGLang objects are read under vLLM's names; two keys meeting on one name
        # (both tools' spellings) count as a repeated key
        sglang = any(map(sglang_e2e, doc)) or "total_throughput" in doc
        assert run.format == "sglang" if sglang else run.format != "sglang"
        name = vllm_name if sglang else str
        names = Counter(name(k) for k in dict.fromkeys(doc))
        repeated = {name(k) for k in doc.repeated} | {n for n, c in names.items() if c > 1}
        assert run.duplicates == repeated
        for key, value in doc.items():
            if name(key) in run.duplicates or isinstance(value, dict | list):
                continue
            assert same(run.fields[name(key)], value), (key, run.fields[name(key)], value)
    for field in ("mean_ttft_ms", "completed", "backend", "ttfts"):
        try:
            mean = field_mean(runs, field)
        except TraceError as exc:
            names_file(exc, path, path.parent)
        else:
            assert math.isfinite(mean.value)


@FUZZ
@given(data=gate_inputs())
def test_gate_log_reader(data, work):
    path = work / "gates_logs" / "gates_logs_01" / "gate_logs_0.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        expected = reference_gate_log(data)
    except Invalid:
        expected = None
    try:
        log = read_gate_log(path)
    except TraceError as exc:
        names_file(exc, path)
        assert expected is None, "read_gate_log refused a log the reference reads"
        return
    assert expected is not None, "read_gate_log accepted a log the reference refuses"
    tokens, rows = expected
    assert np.array_equal(log.num_tokens, np.array(tokens, dtype=float))
    assert log.loads.shape == (len(rows), len(rows[0]) if rows else 0)
    assert np.array_equal(log.loads, np.array(rows, dtype=float).reshape(log.loads.shape))


@FUZZ
@given(data=card_inputs())
def test_card_reader(data, work):
    path = work / "card.yaml"
    path.write_bytes(data)
    try:
        card = load_card(path)
        card.require_inference(("inference", "serving"))
        card.require_moe()
    except TraceError as exc:
        names_file(exc, path)
        return
    assert isinstance(card.data, dict)
    for value in (card.ep_size, card.top_k):
        assert value is None or isinstance(value, int)


FILES = {
    "card": ("trace.yaml", card_inputs, yaml.safe_dump(CARD).encode()),
    "result": ("results_json/run-1.json", result_inputs, RESULT_BYTES[0]),
    "gate 0": ("gates_logs/gates_logs_01/gate_logs_0.json", gate_inputs, GATE_BYTES[0]),
    "gate 1": ("gates_logs/gates_logs_01/gate_logs_1.json", gate_inputs, GATE_BYTES[0]),
}


@FUZZ
@given(
    which=st.sampled_from(sorted(FILES)),
    metric=st.sampled_from(sorted(METRICS)),
    data=st.data(),
)
def test_compute(which, metric, data, work):
    """One file of a small trace mutated: compute gives a JSON-safe value or a TraceError
    naming the file (or a folder holding it, for problems across files)."""
    trace = work / "trace"
    for rel, _, good in FILES.values():
        (trace / rel).parent.mkdir(parents=True, exist_ok=True)
        (trace / rel).write_bytes(good)
    rel, inputs, _ = FILES[which]
    mutated = trace / rel
    mutated.write_bytes(data.draw(inputs()))
    try:
        result = compute(trace, metric)
    except TraceError as exc:
        holders = [p for p in mutated.parents if p == trace or trace in p.parents]
        assert str(mutated) in exc.message or Path(exc.path) in holders, exc.message
        assert "\n" not in exc.message
        return
    json.dumps(result.to_json(), allow_nan=False)  # what the workflow writes
