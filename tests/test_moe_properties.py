"""Property tests: the streaming MoE statistics against a naive all-in-memory reference.

The reference below parses every gate log with `json`, keeps every row in a list and
computes each statistic with plain Python loops (percentiles by numpy's default linear
interpolation, written out), independently of `tracemetrics`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tracemetrics.expert_stats import RESOLUTION, ExpertLoadScan
from tracemetrics.extract import Options, extract
from tracemetrics.gate_files import GateLogFile
from tracemetrics.gates import GateLog

bounded = settings(max_examples=50, deadline=None)
GATE_METRICS = ["token_to_expert_assignment", "expert_load_by_layer", "expert_imbalance"]
NAME = "Mixtral8x7B-vllmEP4-Perlmutter[defaultall2all_32_8192]-group12"

load = st.one_of(
    st.just(0.0),
    st.integers(min_value=0, max_value=1000).map(float),
    st.floats(min_value=1e-3, max_value=1e5, allow_nan=False, allow_infinity=False),
)


@st.composite
def rows_and_tokens(draw, experts: int, min_steps: int = 0):
    n = draw(st.integers(min_value=min_steps, max_value=12))
    rows = draw(
        st.lists(st.lists(load, min_size=experts, max_size=experts), min_size=n, max_size=n)
    )
    tokens = []
    for row in rows:
        # consistent top-2 routing, or off by at least one token (never borderline)
        off = draw(st.sampled_from([0, 0, 0, 1, 7]))
        tokens.append(sum(row) / 2 + off)
    if rows and draw(st.booleans()):
        tokens[0] = 8192.0  # a profiling step
    return rows, tokens


@st.composite
def gate_trees(draw):
    experts = draw(st.sampled_from([2, 3, 4, 6, 8]))
    runs = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3, unique=True))
    tree = {}
    for run in runs:
        layers = draw(st.lists(st.integers(0, 40), min_size=1, max_size=4, unique=True))
        tree[run] = {layer: draw(rows_and_tokens(experts)) for layer in layers}
    return experts, tree


def write_trace(root, tree, ep):
    trace = root / NAME
    trace.mkdir()
    executor = {"model_plan_parallelization": {"tp": 1}, "expert_parallel": {"top_k": 2}}
    if ep is not None:
        executor["model_plan_parallelization"]["ep"] = ep
    card = {"workload": {"model": {"phase": "serving", "moe": True}}, "Model-executor": executor}
    (trace / f"{NAME}.yaml").write_text(yaml.safe_dump(card))
    for run, layers in tree.items():
        folder = trace / "gates_logs" / f"gates_logs_{run:02d}"
        folder.mkdir(parents=True)
        for layer, (rows, tokens) in layers.items():
            log = {"step": list(range(len(rows))), "num_tokens": tokens, "expert_loads": rows}
            (folder / f"gate_logs_{layer}.json").write_text(json.dumps(log, indent=2))
    return trace


# ---------------------------------------------------------------- the naive reference


def percentile(values, q):
    """numpy's default (linear) percentile, by hand."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def reference(trace, ep, top_k=2, max_step_tokens=None):
    """Every statistic from all rows held in memory at once."""
    root = trace / "gates_logs"
    rows = []  # (run, layer, position, loads, tokens)
    for run_dir in sorted(root.iterdir()):
        run = int(run_dir.name.rsplit("_", 1)[1])
        for path in run_dir.iterdir():
            layer = int(path.stem.rsplit("_", 1)[1])
            log = json.loads(path.read_text())
            for pos, (loads, tokens) in enumerate(
                zip(log["expert_loads"], log["num_tokens"], strict=True)
            ):
                if max_step_tokens is None or tokens <= max_step_tokens:
                    rows.append((run, layer, pos, [float(x) for x in loads], tokens))
    experts = len(rows[0][3])
    mismatched = 0
    ratios, weights, cvs, rank_ratios = [], [], [], []
    step_mean = defaultdict(float)
    step_max = defaultdict(float)
    layer_totals = defaultdict(lambda: [0.0] * experts)
    for run, layer, pos, loads, tokens in rows:
        total = sum(loads)
        for e in range(experts):
            layer_totals[layer][e] += loads[e]
        if abs(total - top_k * tokens) > 1e-6 * max(1.0, top_k * tokens):
            mismatched += 1
        if ep is not None:
            size = experts // ep
            ranks = [sum(loads[r * size : (r + 1) * size]) for r in range(ep)]
            step_mean[run, pos] += sum(ranks) / ep
            step_max[run, pos] += max(ranks)
        if total <= 0:
            continue
        mean = total / experts
        ratios.append(max(loads) / mean)
        weights.append(tokens)
        cvs.append(math.sqrt(sum((x - mean) ** 2 for x in loads) / experts) / mean)
        if ep is not None:
            rank_ratios.append(max(ranks) / (total / ep))
    balances = [step_mean[k] / step_max[k] for k in step_max if step_max[k] > 0]
    return {
        "rows_checked": len(rows),
        "rows_mismatched": mismatched,
        "ratios": ratios,
        "weighted": (
            sum(r * w for r, w in zip(ratios, weights, strict=True)) / sum(weights)
            if sum(weights) > 0
            else None
        ),
        "cv_mean": sum(cvs) / len(cvs) if cvs else None,
        "balancedness": sum(balances) / len(balances) if balances else None,
        "rank_ratio_mean": sum(rank_ratios) / len(rank_ratios) if rank_ratios else None,
        "layer_totals": dict(layer_totals),
        "experts": experts,
    }


def near(a, b, rel=1e-9, abs_=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# ----------------------------------------------------------------------- properties


@bounded
@given(
    drawn=gate_trees(),
    ep_choice=st.sampled_from([None, 1, 2, "E"]),
    threshold=st.sampled_from([None, 1000]),
)
def test_streaming_equals_the_naive_reference(drawn, ep_choice, threshold, tmp_path_factory):
    experts, tree = drawn
    ep = experts if ep_choice == "E" else ep_choice
    if ep is not None and experts % ep:
        ep = None
    trace = write_trace(tmp_path_factory.mktemp("moe"), tree, ep)
    results = extract(trace, GATE_METRICS, Options(max_step_tokens=threshold))
    kept_rows = [
        t
        for layers in tree.values()
        for _, tokens in layers.values()
        for t in tokens
        if threshold is None or t <= threshold
    ]
    if not kept_rows:  # nothing (left) to measure: an error, never a crash
        event("no rows kept")
        assert all(r.status == "invalid" for r in results.values())
        return
    ref = reference(trace, ep if ep and ep > 1 else None, max_step_tokens=threshold)
    if not ref["ratios"]:  # all loads zero
        event("all loads zero")
        assert all(r.status == "invalid" for r in results.values())
        assert all("no expert load" in r.reason for r in results.values())
        return
    assert all(r.status == "ok" for r in results.values()), results

    value = results["expert_imbalance"].value
    ratios = ref["ratios"]
    e = ref["experts"]
    assert value["num_experts"] == e
    assert value["rows"] == len(ratios)
    got = value["expert_max_over_mean"]
    # properties: every statistic lies in [1, E]
    for key in ("mean", "median", "p95", "max"):
        assert 1.0 <= got[key] <= e, (key, got[key])
    # against the reference: exact statistics to rounding, percentiles to the resolution
    assert near(got["mean"], sum(ratios) / len(ratios))
    assert near(got["max"], max(ratios))
    for key, q in (("median", 0.5), ("p95", 0.95)):
        want = percentile(ratios, q)
        assert want - RESOLUTION - 1e-9 <= got[key] <= want + 1e-9, (key, got[key], want)
    if ref["weighted"] is None:
        assert got["token_weighted_mean"] is None
    else:
        assert near(got["token_weighted_mean"], ref["weighted"])
    assert near(value["per_step_cv_mean"], ref["cv_mean"], abs_=1e-9)
    assert value["consistency"] == {
        "top_k": 2,
        "rows_checked": ref["rows_checked"],
        "rows_mismatched": ref["rows_mismatched"],
    }
    assert bool(results["expert_imbalance"].warnings) == (ref["rows_mismatched"] > 0)

    balance = value["ep_balance"]
    event(f"compared, ep {'skipped' if ep is None or ep == 1 else 'computed'}")
    if ep is None or ep == 1:
        assert balance["skipped"] is True and balance["reason"]
    else:
        assert balance["skipped"] is False
        assert 0.0 < balance["balancedness"] <= 1.0
        assert 1.0 <= balance["rank_max_over_mean_mean"] <= ep
        assert near(balance["balancedness"], ref["balancedness"])
        assert near(balance["rank_max_over_mean_mean"], ref["rank_ratio_mean"])

    by_layer = results["expert_load_by_layer"].value
    assert by_layer["layers"] == sorted(ref["layer_totals"])
    for layer, row in zip(by_layer["layers"], by_layer["totals"], strict=True):
        for a, b in zip(row, ref["layer_totals"][layer], strict=True):
            assert near(a, b)
    for ratio in by_layer["max_over_mean"]:
        assert ratio is None or 1.0 - 1e-12 <= ratio <= e * (1 + 1e-12)
    # the layers add up to the compatibility totals
    totals = results["token_to_expert_assignment"].value["totals"]
    for expert in range(e):
        column = math.fsum(row[expert] for row in by_layer["totals"])
        assert near(column, totals[expert])


@bounded
@given(
    experts=st.sampled_from([2, 3, 5, 8, 16]),
    data=st.data(),
)
def test_histogram_percentiles_within_the_resolution(experts, data):
    """Many rows fed straight to the scan: quantiles against numpy's percentile."""
    n = data.draw(st.integers(min_value=1, max_value=300), label="rows")
    seed = data.draw(st.integers(min_value=0, max_value=2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    skew = data.draw(st.sampled_from([0.05, 1.0, 20.0]), label="skew")
    loads = rng.dirichlet(np.full(experts, skew), n) * rng.integers(1, 500, (n, 1))
    scan = ExpertLoadScan(ep_size=1)
    half = n // 2  # two files of one run: the histogram accumulates
    for i, part in enumerate((loads[:half], loads[half:])):
        tokens = part.sum(axis=1) / 2
        scan.add(GateLogFile(None, 1, i), GateLog(tokens, part))  # type: ignore[arg-type]
    scan.finish()
    positive = loads[loads.sum(axis=1) > 0]
    ratios = positive.max(axis=1) / (positive.sum(axis=1) / experts)
    assert scan.rows == len(ratios)
    for q in (0.0, 0.25, 0.5, 0.9, 0.95, 1.0):
        got = scan.quantile(q)
        want = float(np.percentile(ratios, q * 100))
        assert 1.0 <= got <= experts
        assert want - RESOLUTION - 1e-9 <= got <= want + 1e-9, (q, got, want)
