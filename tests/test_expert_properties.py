"""Property tests: the expert statistics and the gate-log reader (fast and slow paths)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tracemetrics.errors import TraceError
from tracemetrics.expert_stats import ExpertLoadScan, assignment_summary
from tracemetrics.extract import compute
from tracemetrics.gate_files import gate_log_files
from tracemetrics.gates import _fast, _slow, read_gate_log
from tracemetrics.results import field_mean, read_runs

bounded = settings(max_examples=50, deadline=None)
EXPERT = "token_to_expert_assignment"

# Loads are token counts: zero or at least a thousandth (no subnormal noise), finite.
load = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(float),
    st.floats(min_value=1e-3, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.just(0.0),
)
totals_strategy = st.lists(load, min_size=2, max_size=16).filter(lambda t: any(x > 0 for x in t))


# ------------------------------------------------------------------ assignment_summary


@bounded
@given(totals=totals_strategy, steps=st.integers(min_value=0, max_value=10**7))
def test_summary_invariants(totals, steps, expert_reference):
    value = assignment_summary(totals, steps, "gates_logs")
    s = value["summary"]

    assert value["totals"] == totals
    assert math.isclose(math.fsum(value["normalized"]), 1.0, rel_tol=1e-12)
    assert all(0.0 <= p <= 1.0 for p in value["normalized"])
    assert 0.0 <= s["normalized_entropy"] <= 1.0
    assert 0.0 <= s["entropy"] <= math.log2(len(totals)) * (1 + 1e-12)
    assert s["coefficient_of_variation"] >= 0.0
    assert s["max_min_ratio"] >= 1.0
    assert math.isclose(s["total_tokens"], sum(totals), rel_tol=1e-12)
    assert s["num_experts"] == len(totals)
    assert s["total_steps"] == steps
    expert_reference.assert_close(value, expert_reference.summary(totals, steps))


@bounded
@given(
    experts=st.integers(min_value=2, max_value=64),
    each=st.one_of(
        st.integers(min_value=1, max_value=10**9).map(float),
        st.floats(min_value=1e-3, max_value=1e12, allow_nan=False, allow_infinity=False),
    ),
)
def test_uniform_totals(experts, each):
    s = assignment_summary([each] * experts, 1, "gates_logs")["summary"]
    assert s["normalized_entropy"] == pytest.approx(1.0, abs=1e-12)
    assert s["normalized_entropy"] <= 1.0
    assert s["entropy"] == pytest.approx(math.log2(experts), rel=1e-12)
    assert s["coefficient_of_variation"] == pytest.approx(0.0, abs=1e-12)
    assert s["max_min_ratio"] == 1.0


@pytest.mark.parametrize("experts", range(2, 20))
@pytest.mark.parametrize("each", [1.0, 3.0, 0.1, 7.3, 1e6])
def test_uniform_totals_never_pass_one(experts, each):
    # float rounding used to put some of these at 1.0000000000000002
    s = assignment_summary([each] * experts, 1, "gates_logs")["summary"]
    assert 1.0 - 1e-12 <= s["normalized_entropy"] <= 1.0


def test_single_busy_expert():
    s = assignment_summary([0.0, 12.0, 0.0, 0.0], 3, "gates_logs")["summary"]
    assert s["entropy"] == 0.0 and math.copysign(1.0, s["entropy"]) == 1.0  # not -0.0
    assert s["normalized_entropy"] == 0.0
    assert s["max_min_ratio"] == 1.0  # only non-zero totals count for the minimum
    assert s["coefficient_of_variation"] == pytest.approx(math.sqrt(3), rel=1e-12)


@bounded
@given(totals=totals_strategy, data=st.data())
def test_summary_ignores_expert_order_and_scale(totals, data):
    base = assignment_summary(totals, 1, "g")["summary"]
    shuffled = data.draw(st.permutations(totals))
    moved = assignment_summary(shuffled, 1, "g")["summary"]
    scaled = assignment_summary([t * 4.0 for t in totals], 1, "g")  # exact in binary
    for key in ("entropy", "normalized_entropy", "coefficient_of_variation", "max_min_ratio"):
        assert moved[key] == pytest.approx(base[key], rel=1e-9, abs=1e-12)
        assert scaled["summary"][key] == pytest.approx(base[key], rel=1e-9, abs=1e-12)
    assert scaled["normalized"] == assignment_summary(totals, 1, "g")["normalized"]


@pytest.mark.parametrize("totals", [[], [5.0], [0.0, 0.0, 0.0]])
def test_summary_refuses_degenerate_totals(totals):
    with pytest.raises(TraceError) as info:
        assignment_summary(totals, 0, "somewhere/gates_logs")
    assert "somewhere/gates_logs" in info.value.message


# ------------------------------------------------------------------------ gate-log reader

experts_strategy = st.integers(min_value=1, max_value=12)
json_load = st.one_of(
    st.integers(min_value=0, max_value=2**53),  # written as JSON integers
    st.floats(min_value=0.0, max_value=1e15, allow_nan=False, allow_infinity=False),
)


@st.composite
def gate_logs(draw, experts: int | None = None, min_steps: int = 0):
    e = experts if experts is not None else draw(experts_strategy)
    n = draw(st.integers(min_value=min_steps, max_value=25))
    rows = draw(st.lists(st.lists(json_load, min_size=e, max_size=e), min_size=n, max_size=n))
    tokens = draw(st.lists(st.integers(min_value=0, max_value=16384), min_size=n, max_size=n))
    return {"step": list(range(n)), "num_tokens": tokens, "expert_loads": rows}


def _dumps(log, indent) -> bytes:
    return json.dumps(log, indent=indent).encode()


@bounded
@given(log=gate_logs(), indent=st.sampled_from([None, 2]))
def test_fast_and_slow_paths_agree(log, indent, tmp_path_factory):
    path = tmp_path_factory.mktemp("gate") / "gate_logs_0.json"
    data = _dumps(log, indent)
    path.write_bytes(data)
    n = len(log["expert_loads"])
    width = len(log["expert_loads"][0]) if n else 0
    expected = np.array(log["expert_loads"], dtype=np.float64).reshape(n, width)

    fast = _fast(data)
    slow = _slow(path, data)
    read = read_gate_log(path)

    assert fast is not None  # a well-formed log takes the fast path
    for got in (fast, slow, read):
        assert got.steps == n
        assert got.loads.shape == (n, width)
        assert np.array_equal(got.loads, expected)
        assert np.array_equal(got.num_tokens, np.array(log["num_tokens"], dtype=np.float64))


@st.composite
def gate_trees(draw):
    """runs -> layers -> gate log, one expert count for the whole trace."""
    e = draw(st.integers(min_value=2, max_value=10))
    runs = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
    tree = {}
    for run in runs:
        layers = draw(st.lists(st.integers(0, 40), min_size=1, max_size=4, unique=True))
        tree[run] = {layer: draw(gate_logs(experts=e)) for layer in layers}
    return tree


def _write_trace(root, tree, name="Mixtral8x7B-vllmEP4-Perlmutter[defaultall2all_32_8192]-group12"):
    trace = root / name
    trace.mkdir()
    card = {"workload": {"model": {"phase": "serving", "moe": True}}}
    (trace / f"{name}.yaml").write_text(yaml.safe_dump(card))
    for run, layers in tree.items():
        folder = trace / "gates_logs" / f"gates_logs_{run:02d}"
        folder.mkdir(parents=True)
        for layer, log in layers.items():
            (folder / f"gate_logs_{layer}.json").write_text(json.dumps(log, indent=2))
    return trace


@bounded
@given(tree=gate_trees())
def test_scan_matches_the_naive_reference(tree, tmp_path_factory, expert_reference):
    trace = _write_trace(tmp_path_factory.mktemp("trace"), tree)
    files = gate_log_files(trace)
    assert len(files) == sum(len(layers) for layers in tree.values())

    scan = ExpertLoadScan().scan(files)
    totals, steps = expert_reference.totals(trace)

    assert scan.total_steps == steps
    if steps == 0:
        assert scan.totals is None
        return
    assert len(scan.totals) == len(totals)
    for got, want in zip(scan.totals.tolist(), totals, strict=True):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)

    if sum(totals) > 0:
        value = compute(trace, EXPERT).value
        expert_reference.assert_close(value, expert_reference.summary(totals, steps))


CORRUPTIONS = [
    "ragged",
    "string",
    "null",
    "bool",
    "negative",
    "nan",
    "short-step",
    "short-num-tokens",
    "extra-row",
    "truncated",
]


@bounded
@given(
    log=gate_logs(experts=4, min_steps=2),
    how=st.sampled_from(CORRUPTIONS),
    data=st.data(),
)
def test_corrupted_gate_logs_are_errors_naming_the_file(log, how, data, tmp_path_factory):
    rows = log["expert_loads"]
    i = data.draw(st.integers(0, len(rows) - 1), label="row")
    j = data.draw(st.integers(0, 3), label="expert")
    text = None
    if how == "ragged":
        rows[i] = rows[i][:-1]
    elif how in ("string", "null", "bool", "negative", "nan"):
        rows[i][j] = {
            "string": "3",
            "null": None,
            "bool": True,
            "negative": -1.0,
            "nan": float("nan"),
        }[how]
    elif how == "short-step":
        log["step"].pop()
    elif how == "short-num-tokens":
        log["num_tokens"].pop()
    elif how == "extra-row":
        rows.append([1.0] * 4)
    else:
        full = json.dumps(log, indent=2)
        text = full[: data.draw(st.integers(1, len(full) - 1), label="cut")]
    path = tmp_path_factory.mktemp("bad") / "gate_logs_3.json"
    path.write_text(text if text is not None else json.dumps(log, indent=2))

    assert _fast(path.read_bytes()) is None  # anything unusual leaves the fast path
    with pytest.raises(TraceError) as info:
        read_gate_log(path)
    assert str(path) in info.value.message
    assert "\n" not in info.value.message


# ------------------------------------------------------------------ arbitrary input bytes

json_ish = st.text(alphabet='{}[],:"0123456789.eE-+ ntrulfasNIy\n\\', max_size=120)
keys = st.sampled_from(["step", "num_tokens", "expert_loads", "mean_ttft_ms", "x"])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@bounded
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        json_ish.map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_bytes_give_a_result_or_a_trace_error(payload, tmp_path_factory):
    path = tmp_path_factory.mktemp("any") / "gate_logs_0.json"
    path.write_bytes(payload)
    try:
        read_gate_log(path)
    except TraceError as exc:
        assert str(path) in exc.message
        assert "\n" not in exc.message
    try:
        runs = read_runs(path)
    except TraceError as exc:
        assert str(path) in exc.message
        assert "\n" not in exc.message
    else:
        try:
            field_mean(runs, "mean_ttft_ms")
        except TraceError as exc:  # a bad value names the file, a missing field the folder
            assert str(path.parent) in exc.message
            assert "\n" not in exc.message
