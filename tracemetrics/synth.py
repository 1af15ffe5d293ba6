"""Deterministic generator of realistic trace collections (examples, tests, benchmarks).

Everything is drawn from seeded numpy generators, so the same arguments always
write byte-identical files.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

MODEL = "Mixtral8x7B"
PLATFORM = "Perlmutter"
GROUP = "group12"
VARIANTS = {
    "Baseline": ("vllmTP4", "baseline"),
    "DefaultAll2All": ("vllmEP4", "defaultall2all"),
    "SGLang": ("sglangTP4", "sglang"),  # results in SGLang bench_serving's JSON lines
}


@dataclass(frozen=True)
class TraceSpec:
    variant: str  # Baseline | DefaultAll2All | SGLang
    max_num_seqs: int
    max_num_batched_tokens: int
    eplb: str | None = None  # "on" | "off" | None
    result_files: int = 1
    append_runs: int = 1  # runs per result file (>1: --append-result JSON lines)
    gate_runs: int = 0
    layers: int = 32
    steps: int = 40
    experts: int = 8
    top_k: int = 2
    phase: str = "serving"
    num_prompts: int = 16
    profiler_dump: bool = False  # a *.pytorch.json beside the results, as --save-result may leave
    group: str = GROUP  # the name's last part: a repeat of a configuration has another
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        framework, kernel = VARIANTS[self.variant]
        tag = f"{kernel}_{self.max_num_seqs}_{self.max_num_batched_tokens}"
        if self.eplb:
            tag += f"_eplb{self.eplb}"
        return f"{MODEL}-{framework}-{PLATFORM}[{tag}]-{self.group}"

    @property
    def seed(self) -> int:
        return zlib.crc32(self.name.encode())


def card(spec: TraceSpec) -> dict[str, Any]:
    ep = spec.variant == "DefaultAll2All"
    tool = "sglang" if spec.variant == "SGLang" else "vllm"
    return {
        "version": 1,
        "description": (
            f"Online serving of Mixtral-8x7B-v0.1 with {tool} on 4 A100 GPUs with "
            + ("Expert Parallel (EP)=4 using DefaultAll2All" if ep else "Tensor Parallel (TP)=4")
            + f" with MAX_SEQS={spec.max_num_seqs}"
            + f" and BATCH_TOKENS={spec.max_num_batched_tokens}."
        ),
        "workload": {
            "model": {
                "phase": spec.phase,
                "moe": True,
                "granularity": "model_fwd",
                "model_family": "mixtral",
                "precision": "bf16",
            },
            "data": {
                "max-model-len": 4096,
                "max-num-seqs": spec.max_num_seqs,
                "max-num-batched-tokens": spec.max_num_batched_tokens,
                "dataset": "ShareGPT_V3_unfiltered_cleaned_split",
            },
            "hardware": {
                "xpu_spec": {
                    "type": "GPU",
                    "model": "nvidia_a100",
                    "total_count": 4,
                    "count_per_node": 4,
                },
            },
        },
        "Model-executor": {
            "framework": {"name": tool},
            "model_plan_parallelization": {
                "dp_replicate": 1,
                "dp_shard": 1,
                "tp": 1 if ep else 4,
                "pp": 1,
                "cp": 1,
                "ep": 4 if ep else 1,
            },
            "expert_parallel": {
                "mode": "default_all_to_all" if ep else "none",
                "eplb": spec.eplb == "on",
                "top_k": spec.top_k,
            },
        },
    }


def _performance(spec: TraceSpec) -> tuple[float, float, float]:
    """Plausible (ttft_ms, tpot_ms, output tok/s) for a configuration."""
    seqs, tokens = spec.max_num_seqs, spec.max_num_batched_tokens
    ep = spec.variant == "DefaultAll2All"
    tpot = (14.0 + 0.32 * seqs) * (0.9 if ep else 1.0) * (0.97 if spec.eplb == "on" else 1.0)
    ttft = (45.0 + 3.1 * seqs + tokens / 180.0) * (1.12 if ep else 1.0)
    if spec.variant == "SGLang":
        tpot, ttft = tpot * 0.94, ttft * 0.88
    throughput = seqs * 1000.0 / tpot * 0.62
    return ttft, tpot, throughput


def result(spec: TraceSpec, rng: np.random.Generator, run: int) -> dict[str, Any]:
    """One vLLM `--save-result` object, per-request arrays included."""
    ttft, tpot, out_thr = (v * rng.normal(1.0, 0.03) for v in _performance(spec))
    n = spec.num_prompts
    input_lens = rng.integers(16, 1024, n).tolist()
    output_lens = rng.integers(8, 256, n).tolist()
    total_out = int(sum(output_lens))
    duration = total_out / out_thr
    ttfts = (rng.gamma(4.0, ttft / 4.0, n) / 1000.0).tolist()
    e2el = ttft + tpot * total_out / n
    if spec.variant == "SGLang":
        return _sglang_result(spec, run, duration, input_lens, output_lens, ttft, tpot)
    return {
        "date": f"20250{3 + run % 6}15-1{run % 10}3012",
        "backend": "vllm",
        "model_id": "mistralai/Mixtral-8x7B-v0.1",
        "tokenizer_id": "mistralai/Mixtral-8x7B-v0.1",
        "best_of": 1,
        "use_beam_search": False,
        "num_prompts": n,
        "dataset_name": "sharegpt",
        "dataset_path": "ShareGPT_V3_unfiltered_cleaned_split.json",
        "request_rate": "inf",
        "duration": duration,
        "completed": n,
        "total_input_tokens": int(sum(input_lens)),
        "total_output_tokens": total_out,
        "request_throughput": n / duration,
        "input_throughput": sum(input_lens) / duration,
        "output_throughput": total_out / duration,
        "mean_ttft_ms": ttft,
        "median_ttft_ms": ttft * 0.93,
        "p99_ttft_ms": ttft * 2.4,
        "mean_tpot_ms": tpot,
        "median_tpot_ms": tpot * 0.98,
        "p99_tpot_ms": tpot * 1.6,
        "mean_itl_ms": tpot * 1.01,
        "median_itl_ms": tpot * 0.95,
        "p99_itl_ms": tpot * 3.1,
        # newer vLLM: end-to-end latency and the user's --metric-percentiles 90,99.9
        "mean_e2el_ms": e2el,
        "median_e2el_ms": e2el * 0.96,
        "p90_e2el_ms": e2el * 1.5,
        "p99.9_e2el_ms": e2el * 2.2,
        "p90_ttft_ms": ttft * 1.8,
        "p99.9_ttft_ms": ttft * 2.9,
        "input_lens": input_lens,
        "output_lens": output_lens,
        "ttfts": ttfts,
        "itls": [(rng.gamma(6.0, tpot / 6000.0, 3)).tolist() for _ in range(n)],
        "generated_texts": [f"generated text {i}" for i in range(n)],
        "errors": [""] * n,
    }


def _sglang_result(
    spec: TraceSpec,
    run: int,
    duration: float,
    input_lens: list[int],
    output_lens: list[int],
    ttft: float,
    tpot: float,
) -> dict[str, Any]:
    """One SGLang `bench_serving --output-file` line: its own names, no per-request
    arrays, and `request_rate` written by json.dumps as the bare literal Infinity."""
    n, total_in, total_out = spec.num_prompts, int(sum(input_lens)), int(sum(output_lens))
    e2e = ttft + tpot * total_out / n
    return {
        "backend": "sglang",
        "dataset_name": "sharegpt",
        "request_rate": float("inf"),
        "max_concurrency": spec.max_num_seqs,
        "sharegpt_output_len": None,
        "random_input_len": 1024,
        "random_output_len": 1024,
        "random_range_ratio": 0.0,
        "duration": duration,
        "completed": n,
        "total_input_tokens": total_in,
        "total_output_tokens": total_out,
        "total_output_tokens_retokenized": total_out - run % 3,
        "request_throughput": n / duration,
        "input_throughput": total_in / duration,
        "output_throughput": total_out / duration,
        "total_throughput": (total_in + total_out) / duration,
        "mean_e2e_latency_ms": e2e,
        "median_e2e_latency_ms": e2e * 0.97,
        "std_e2e_latency_ms": e2e * 0.3,
        "p99_e2e_latency_ms": e2e * 2.1,
        "mean_ttft_ms": ttft,
        "median_ttft_ms": ttft * 0.92,
        "std_ttft_ms": ttft * 0.4,
        "p99_ttft_ms": ttft * 2.5,
        "mean_tpot_ms": tpot,
        "median_tpot_ms": tpot * 0.99,
        "std_tpot_ms": tpot * 0.1,
        "p99_tpot_ms": tpot * 1.5,
        "mean_itl_ms": tpot * 1.02,
        "median_itl_ms": tpot * 0.96,
        "std_itl_ms": tpot * 0.5,
        "p95_itl_ms": tpot * 2.0,
        "p99_itl_ms": tpot * 3.0,
        "concurrency": min(spec.max_num_seqs, n) * 0.9,
        "accept_length": None,
    }


def gate_log(spec: TraceSpec, rng: np.random.Generator, probs: np.ndarray) -> dict[str, Any]:
    """One layer's gate log: a profiling step, then decode steps and prefill chunks."""
    tokens = [spec.max_num_batched_tokens]
    for _ in range(spec.steps - 1):
        if rng.random() < 0.12:
            tokens.append(int(rng.integers(64, min(spec.max_num_batched_tokens, 2048))))
        else:
            tokens.append(int(rng.integers(1, spec.max_num_seqs + 1)))
    tokens = tokens[: spec.steps]
    loads = [rng.multinomial(spec.top_k * t, probs).astype(float).tolist() for t in tokens]
    return {"step": list(range(len(tokens))), "num_tokens": tokens, "expert_loads": loads}


def write_trace(root: Path, spec: TraceSpec) -> Path:
    trace = root / spec.name
    (trace / "results_json").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    (trace / f"{spec.name}.yaml").write_text(yaml.safe_dump(card(spec), sort_keys=False, width=88))
    run = 0
    for index in range(spec.result_files):
        objs = []
        for _ in range(spec.append_runs):
            objs.append(result(spec, rng, run))
            run += 1
        if spec.variant == "SGLang":  # appends a line per run to its --output-file
            path = trace / "results_json" / f"sglang_0415_{spec.num_prompts}_{index + 1}.jsonl"
        else:
            path = trace / "results_json" / f"vllm-{spec.max_num_seqs}qps-run{index + 1:02d}.json"
        if spec.append_runs == 1 and spec.variant != "SGLang":
            path.write_text(json.dumps(objs[0], indent=2))
        else:
            path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    if spec.profiler_dump:
        (trace / "results_json" / "vllm-run01.pytorch.json").write_text(
            json.dumps({"traceEvents": [], "schemaVersion": 1})
        )
    # Skew per layer is fixed for the trace, as a model's routing preferences are.
    layer_probs = rng.dirichlet(np.full(spec.experts, 12.0), spec.layers)
    for r in range(1, spec.gate_runs + 1):
        folder = trace / "gates_logs" / f"gates_logs_{r:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for layer in range(spec.layers):
            log = gate_log(spec, rng, layer_probs[layer])
            (folder / f"gate_logs_{layer}.json").write_text(json.dumps(log, indent=2))
    return trace


def example_specs() -> list[TraceSpec]:
    """The built-in collection: both vLLM variants over both sweeps, EPLB on/off, and
    an SGLang max-num-seqs sweep. Repeated runs: the shared point 32/8192 was run three
    times (three files), Baseline 16/8192 twice with --append-result, and every SGLang
    configuration three times (three lines of one file)."""
    seq_sweep = {(s, 8192) for s in (8, 16, 32, 64)}
    token_sweep = {(32, t) for t in (2048, 4096, 8192, 16384)}
    configs = sorted(seq_sweep | token_sweep)
    specs = []
    for variant in ("Baseline", "DefaultAll2All"):
        moe_logs = 1 if variant == "DefaultAll2All" else 0
        for i, (seqs, tokens) in enumerate(configs):
            files = 3 if (seqs, tokens) == (32, 8192) else 2 if i % 3 == 0 else 1
            specs.append(
                TraceSpec(
                    variant,
                    seqs,
                    tokens,
                    result_files=files,
                    append_runs=2 if (variant, seqs, tokens) == ("Baseline", 16, 8192) else 1,
                    gate_runs=moe_logs,
                    phase="inference" if i % 2 else "serving",
                    profiler_dump=(seqs, tokens) == (32, 8192),
                )
            )
    specs += [TraceSpec("SGLang", seqs, 8192, append_runs=3) for seqs, _ in sorted(seq_sweep)]
    for eplb in ("on", "off"):
        specs.append(
            TraceSpec("DefaultAll2All", 32, 8192, eplb=eplb, gate_runs=2 if eplb == "on" else 1)
        )
    return specs


def many_specs(count: int, **sizes: Any) -> list[TraceSpec]:
    """`count` small traces with unique names (group0, group1, ...), alternating the
    variants (gate logs on the EP ones) over the configuration grid: for tests and
    benchmarks that need a collection of some size. `sizes`: TraceSpec fields."""
    sizes = {"layers": 2, "steps": 6, "num_prompts": 3, **sizes}
    return [
        TraceSpec(
            "Baseline" if i % 2 else "DefaultAll2All",
            (8, 16, 32, 64)[i % 4],
            (2048, 4096, 8192, 16384)[i // 4 % 4],
            gate_runs=0 if i % 2 else 1,
            group=f"group{i}",
            **sizes,
        )
        for i in range(count)
    ]


def write_collection(root: Path, specs: list[TraceSpec]) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    return [write_trace(root, spec) for spec in specs]
