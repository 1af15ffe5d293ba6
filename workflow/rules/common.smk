# Configuration checks, trace discovery and input functions; no rules here.
import json
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO))  # the library, whether or not it is pip-installed

from tracemetrics.discover import discover, input_files  # noqa: E402
from tracemetrics.errors import TraceError  # noqa: E402
from tracemetrics.registry import configured_metrics, plotted_quantities  # noqa: E402

# `--config strict=true` arrives as the string "true" (Snakemake only maps True/False).
for _key in ("strict",):
    if isinstance(config.get(_key), str) and config[_key].lower() in ("true", "false"):
        config[_key] = config[_key].lower() == "true"

validate(config, "../schemas/config.schema.yaml")

# The metrics to build: `metrics`, then every `custom_metrics` entry, with their
# definitions (CATALOG); every rule and script uses these two.
try:
    METRIC_NAMES, CATALOG = configured_metrics(config)
except ValueError as exc:
    raise WorkflowError(f"config {exc}")
for _key in ("name_pattern",):
    try:
        re.compile(config[_key])
    except re.error as exc:
        raise WorkflowError(f"config {_key}: not a valid regex: {exc}")

# What the sweep and EPLB plots show, and the tables they read.
QUANTITIES = plotted_quantities(METRIC_NAMES, CATALOG)
# Trade-off plots: output throughput against each latency metric that is built.
TRADEOFFS = [
    latency
    for latency in ("TPOT", "TTFT")
    if {latency, "output_throughput"} <= set(METRIC_NAMES)
]
PLOT_TABLES = sorted({q.metric for q in QUANTITIES})
SWEEPS = [s.get("name") or s["x"] for s in config["sweeps"]]
if len(set(SWEEPS)) != len(SWEEPS):
    raise WorkflowError(
        "config sweeps: two sweeps share an x; give each a distinct `name`"
    )


def _traces_root() -> Path:
    """`traces` relative to the working directory, else to the repository."""
    root = Path(config["traces"]).expanduser()
    if not root.is_absolute() and not root.exists() and (REPO / root).exists():
        root = REPO / root
    return root


try:
    COLLECTION = discover(_traces_root())
except TraceError as exc:
    raise WorkflowError(f"config traces: {exc.message}")
TRACES = COLLECTION.traces
# Snakemake reads { and } in a path as a wildcard, so such a trace cannot be built:
# leave it out and say so, rather than stop the whole run.
_BRACED = sorted(name for name in TRACES if "{" in name or "}" in name)
for _name in _BRACED:
    del TRACES[_name]
if _BRACED:
    print(
        f"tracemetrics: leaving out {len(_BRACED)} trace{'s' * (len(_BRACED) > 1)} whose "
        f"name holds {{ or }} (Snakemake reads braces as wildcards; rename to include "
        f"{'them' if len(_BRACED) > 1 else 'it'}): {', '.join(_BRACED)}",
        file=sys.stderr,
    )
if COLLECTION.ignored:
    print(
        f"tracemetrics: ignoring {len(COLLECTION.ignored)} director"
        f"{'y' if len(COLLECTION.ignored) == 1 else 'ies'} without a YAML card in "
        f"{COLLECTION.root}: {', '.join(COLLECTION.ignored)}",
        file=sys.stderr,
    )
if not TRACES:
    print(f"tracemetrics: no traces found in {COLLECTION.root}", file=sys.stderr)


wildcard_constraints:
    trace="[^/]+",
    metric="|".join(re.escape(m) for m in METRIC_NAMES),


def trace_dir(wildcards) -> str:
    return str(TRACES[wildcards.trace])


def gate_options() -> str:
    """Extraction flags for the gate-log options that are set."""
    flags = {"ep_size": "--ep-size", "max_step_tokens": "--max-step-tokens"}
    return " ".join(
        f"{flag} {config[key]}"
        for key, flag in flags.items()
        if config.get(key) is not None
    )


def custom_metrics_option() -> str:
    """The custom metric definitions for the extraction script, as one JSON argument."""
    if not config["custom_metrics"]:
        return ""
    definitions = shlex.quote(json.dumps(config["custom_metrics"]))
    return f"--custom-metrics {definitions}"


def trace_inputs(wildcards) -> list[str]:
    """The card and every result file or gate log the configured metrics read."""
    sources = {CATALOG[m].source for m in METRIC_NAMES}
    return [str(p) for p in input_files(TRACES[wildcards.trace], sources)]


def metric_files(wildcards) -> list[str]:
    return [f"results/metrics/{t}/{wildcards.metric}.json" for t in TRACES]


def heatmap_inputs(wildcards) -> list[str]:
    if "expert_load_by_layer" not in METRIC_NAMES:
        return []
    return [f"results/metrics/{t}/expert_load_by_layer.json" for t in TRACES]


def all_outputs() -> list[str]:
    out = [f"results/tables/{m}.csv" for m in METRIC_NAMES]
    out.append("results/tables/comparison.csv")
    out.append("results/invalid_traces.txt")
    return out


def report_invalid() -> None:
    """The end-of-run summary: one line per invalid trace."""
    path = Path("results/invalid_traces.txt")
    lines = path.read_text().splitlines() if path.exists() else []
    if lines:
        print(
            f"tracemetrics: {len(lines)} invalid trace(s), see {path}:", file=sys.stderr
        )
        for line in lines:
            print(f"  {line}", file=sys.stderr)
