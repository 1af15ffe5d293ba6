"""Shared fixtures for the library and CLI tests.

Trace collections are built in `tmp_path`: realistic ones with `tracemetrics.synth`
(small sizes) and hand-made ones with `make_trace` for edge cases.  The reference
computations (`results_reference`, `expert_reference`) read the files with the
standard library only and never call into `tracemetrics`, so tests compare the
package against values computed independently.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the tests run from a clean clone without `pip install -e .`
    sys.path.insert(0, str(REPO))

from tracemetrics import synth  # noqa: E402

TM_TRACE_NAME = "Mixtral8x7B-vllmEP4-Perlmutter[defaultall2all_32_8192]-group12"
# A real malformed card from a public trace collection (line 18 is not valid YAML).
TM_REAL_CARDS = REPO / "tests" / "data"
TM_BROKEN_CARD = TM_REAL_CARDS / f"{TM_TRACE_NAME}.yaml"  # line 18 is not valid YAML


# --------------------------------------------------------------------------- inputs


def tm_card(phase: str | None = "serving", moe: bool | None = True) -> dict[str, Any]:
    """A workload card shaped like the real ones (see FORMATS.md)."""
    model: dict[str, Any] = {"granularity": "model_fwd", "model_family": "mixtral"}
    if phase is not None:
        model["phase"] = phase
    if moe is not None:
        model["moe"] = moe
    return {
        "version": 1,
        "workload": {
            "model": model,
            "data": {"max-num-seqs": 32, "max-num-batched-tokens": 8192, "max-model-len": 4096},
        },
        "Model-executor": {
            "framework": {"name": "vllm"},
            "model_plan_parallelization": {"tp": 1, "pp": 1, "ep": 4},
            "expert_parallel": {"mode": "default_all_to_all", "eplb": False, "top_k": 2},
        },
    }


def tm_result(n: int = 4, **fields: Any) -> dict[str, Any]:
    """A vLLM `--save-result` object with per-request arrays; `fields` override."""
    obj: dict[str, Any] = {
        "date": "20250315-103012",
        "backend": "vllm",
        "model_id": "mistralai/Mixtral-8x7B-v0.1",
        "best_of": 1,
        "use_beam_search": False,
        "num_prompts": n,
        "request_rate": "inf",
        "duration": 12.5,
        "completed": n,
        "total_input_tokens": 100 * n,
        "total_output_tokens": 50 * n,
        "request_throughput": 3.2,
        "input_throughput": 32.0,
        "output_throughput": 160.0,
        "mean_ttft_ms": 120.0,
        "median_ttft_ms": 110.0,
        "p99_ttft_ms": 300.0,
        "mean_tpot_ms": 24.0,
        "median_tpot_ms": 23.0,
        "p99_tpot_ms": 40.0,
        "mean_itl_ms": 24.5,
        "mean_e2el_ms": 1300.0,
        "input_lens": [100] * n,
        "output_lens": [50] * n,
        "ttfts": [0.12] * n,
        "itls": [[0.02, 0.03]] * n,
        "generated_texts": ["text"] * n,
        "errors": [""] * n,
    }
    obj.update(fields)
    return obj


def tm_gate_log(loads: Sequence[Sequence[float]], num_tokens: Sequence[int] | None = None):
    """A gate log object; num_tokens defaults to half of each row's sum (top-2)."""
    if num_tokens is None:
        num_tokens = [round(sum(row) / 2) for row in loads]
    return {
        "step": list(range(len(loads))),
        "num_tokens": list(num_tokens),
        "expert_loads": [list(row) for row in loads],
    }


def _dump(value: Any) -> str | bytes:
    """str/bytes are written verbatim; a list of objects becomes JSON lines."""
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, list):
        return "".join(json.dumps(obj) + "\n" for obj in value)
    return json.dumps(value, indent=2)


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


_DEFAULT = object()


@pytest.fixture(scope="session")
def tm_inputs() -> SimpleNamespace:
    """The input builders for test modules: name, card(), result(), gate_log()."""
    return SimpleNamespace(name=TM_TRACE_NAME, card=tm_card, result=tm_result, gate_log=tm_gate_log)


@pytest.fixture
def make_trace(tmp_path: Path) -> Callable[..., Path]:
    """Factory for hand-made traces, each in its own collection folder under tmp_path.

    make_trace(name=TM_TRACE_NAME, card=<dict | raw str | None for no card>,
               card_name=None (default `<name>.yaml`),
               results={file name: dict | [dict, ...] (JSON lines) | raw str/bytes}
                       or None for no results_json/ folder,
               gates={run number: {layer: gate log dict | raw str}},
               extra={relative path: raw content})
    """
    counter = itertools.count(1)

    def make(
        name: str = TM_TRACE_NAME,
        *,
        card: Any = _DEFAULT,
        card_name: str | None = None,
        results: Any = _DEFAULT,
        gates: Mapping[int, Mapping[int, Any]] | None = None,
        extra: Mapping[str, str | bytes] | None = None,
    ) -> Path:
        trace = tmp_path / f"collection{next(counter)}" / name
        trace.mkdir(parents=True)
        if card is _DEFAULT:
            card = tm_card()
        if card is not None:
            text = card if isinstance(card, str | bytes) else yaml.safe_dump(card)
            _write(trace / (card_name or f"{name}.yaml"), text)
        if results is _DEFAULT:
            results = {"vllm-32qps-run01.json": tm_result()}
        if results is not None:
            (trace / "results_json").mkdir()
            for file_name, value in results.items():
                _write(trace / "results_json" / file_name, _dump(value))
        for run, layers in (gates or {}).items():
            folder = trace / "gates_logs" / f"gates_logs_{run:02d}"
            folder.mkdir(parents=True)
            for layer, log in layers.items():
                _write(folder / f"gate_logs_{layer}.json", _dump(log))
        for rel, content in (extra or {}).items():
            _write(trace / rel, content)
        return trace

    return make


@pytest.fixture
def synth_trace(tmp_path: Path) -> Callable[..., Path]:
    """Factory: one generated trace (small sizes by default) in tmp_path/synth."""

    def make(
        variant: str = "DefaultAll2All",
        max_num_seqs: int = 32,
        max_num_batched_tokens: int = 8192,
        **kwargs: Any,
    ) -> Path:
        kwargs.setdefault("layers", 3)
        kwargs.setdefault("steps", 12)
        kwargs.setdefault("num_prompts", 4)
        spec = synth.TraceSpec(variant, max_num_seqs, max_num_batched_tokens, **kwargs)
        return synth.write_trace(tmp_path / "synth", spec)

    return make


@pytest.fixture
def small_collection(tmp_path: Path) -> list[Path]:
    """Four small generated traces: several result files, append-result files,
    a profiler dump, and one or two gate-log runs on the MoE (EP) traces."""
    common = {"layers": 4, "steps": 15, "num_prompts": 5}
    specs = [
        synth.TraceSpec("Baseline", 16, 8192, result_files=2, phase="inference", **common),
        synth.TraceSpec("Baseline", 32, 4096, append_runs=3, profiler_dump=True, **common),
        synth.TraceSpec("DefaultAll2All", 32, 8192, result_files=3, gate_runs=2, **common),
        synth.TraceSpec(
            "DefaultAll2All",
            32,
            8192,
            eplb="on",
            result_files=2,
            append_runs=2,
            gate_runs=1,
            **common,
        ),
    ]
    return synth.write_collection(tmp_path / "small_collection", specs)


# ------------------------------------------------------------- reference computations


# What FORMATS.md says each result-file metric averages (E2EL: newer vLLM).
RESULT_FIELDS = {
    "TTFT": "mean_ttft_ms",
    "TPOT": "mean_tpot_ms",
    "request_throughput": "request_throughput",
    "output_throughput": "output_throughput",
    "E2EL": "mean_e2el_ms",
}

# SGLang's names for vLLM's fields, as its bench_serving writes them
SGLANG_NAMES = {"mean_e2el_ms": "mean_e2e_latency_ms", "p99_e2el_ms": "p99_e2e_latency_ms"}


class ResultsReference:
    """Mean of a result field, straight from the files with `json` and `statistics`."""

    @staticmethod
    def runs(trace: Path) -> list[tuple[str, dict[str, Any]]]:
        folder = trace / "results_json"
        out = []
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".json", ".jsonl")) or name.endswith(".pytorch.json"):
                continue
            text = (folder / name).read_text()
            try:
                objs = [json.loads(text)]
            except json.JSONDecodeError:
                objs = [json.loads(line) for line in text.splitlines() if line.strip()]
            out.extend((name, obj) for obj in objs)
        return out

    def values(self, trace: Path, field: str) -> list[float]:
        out = []
        for _, obj in self.runs(trace):
            key = field if field in obj else SGLANG_NAMES.get(field)
            if key in obj:
                out.append(obj[key])
        return out

    def mean(self, trace: Path, field: str) -> float:
        return statistics.fmean(self.values(trace, field))


class ExpertReference:
    """token_to_expert_assignment the naive way: nested loops over parsed JSON."""

    @staticmethod
    def gate_files(trace: Path) -> list[Path]:
        root = trace / "gates_logs"
        files = []
        for run in sorted(os.listdir(root)):
            if not re.fullmatch(r"gates_logs_\d+", run) or not (root / run).is_dir():
                continue
            for name in sorted(os.listdir(root / run)):
                if re.fullmatch(r"gate_logs_\d+\.json", name):
                    files.append(root / run / name)
        return files

    @staticmethod
    def totals_of_logs(logs: Sequence[Mapping[str, Any]]) -> tuple[list[float], int]:
        totals: list[float] = []
        steps = 0
        for log in logs:
            for row in log["expert_loads"]:
                if not totals:
                    totals = [0.0] * len(row)
                for e in range(len(row)):
                    totals[e] += row[e]
                steps += 1
        return totals, steps

    def totals(self, trace: Path) -> tuple[list[float], int]:
        logs = [json.loads(p.read_text()) for p in self.gate_files(trace)]
        return self.totals_of_logs(logs)

    @staticmethod
    def summary(totals: Sequence[float], total_steps: int) -> dict[str, Any]:
        experts = len(totals)
        total = 0.0
        for t in totals:
            total += t
        normalized = [t / total for t in totals]
        entropy = 0.0
        for p in normalized:
            if p > 0:
                entropy -= p * math.log2(p)
        mean = total / experts
        var = 0.0
        for t in totals:
            var += (t - mean) ** 2
        std = math.sqrt(var / experts)
        smallest = min(t for t in totals if t > 0)
        return {
            "totals": [float(t) for t in totals],
            "normalized": normalized,
            "summary": {
                "entropy": entropy,
                "normalized_entropy": entropy / math.log2(experts),
                "coefficient_of_variation": std / mean,
                "max_min_ratio": max(totals) / smallest,
                "total_tokens": total,
                "num_experts": experts,
                "total_steps": total_steps,
            },
        }

    def expected(self, trace: Path) -> dict[str, Any]:
        return self.summary(*self.totals(trace))

    @staticmethod
    def assert_close(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
        """Same keys, same integers, floats within 1e-9 relative (1e-12 absolute for
        values that are zero up to rounding, such as the CV of equal totals)."""

        def close(a: float, b: float) -> bool:
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)

        assert set(actual) == {"totals", "normalized", "summary"}
        assert set(actual["summary"]) == set(expected["summary"])
        assert len(actual["totals"]) == len(expected["totals"])
        for key in ("totals", "normalized"):
            for a, b in zip(actual[key], expected[key], strict=True):
                assert close(a, b), (key, actual[key], expected[key])
        for key, b in expected["summary"].items():
            a = actual["summary"][key]
            if key in ("num_experts", "total_steps"):
                assert a == b and isinstance(a, int), (key, a, b)
            else:
                assert isinstance(a, float), (key, a)
                assert close(a, b), (key, a, b)


@pytest.fixture(scope="session")
def results_reference() -> ResultsReference:
    return ResultsReference()


@pytest.fixture(scope="session")
def expert_reference() -> ExpertReference:
    return ExpertReference()


# ------------------------------------------------------------------------ the CLI


@pytest.fixture(scope="session")
def run_tracemetrics() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python scripts/main.py ARGS...` as a real subprocess in the repository."""

    def run(*args: str | Path, module: bool = False) -> subprocess.CompletedProcess[str]:
        entry = ["-m", "tracemetrics"] if module else [str(REPO / "scripts" / "main.py")]
        return subprocess.run(
            [sys.executable, *entry, *map(str, args)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def broken_real_card() -> Path:
    """The real workload card from the public collection that is not valid YAML."""
    assert TM_BROKEN_CARD.is_file(), f"reference card missing: {TM_BROKEN_CARD}"
    return TM_BROKEN_CARD
