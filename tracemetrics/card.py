"""Workload cards: finding the one YAML file of a trace and reading it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import NotApplicable, TraceError
from .jsonio import type_name

# libyaml's loader is several times faster; fall back to the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CARD_SUFFIXES = (".yaml", ".yml")
DEFAULT_PHASES = ("inference", "serving")
MAX_TOP_K = 2**31  # a larger "top_k" is no routing fan-out: ignored like a non-integer


def trace_name(trace_dir: Path) -> str:
    """The directory's own name, also for `.` or `..` (links are not followed)."""
    return Path(os.path.abspath(trace_dir)).name


def find_card(trace_dir: Path) -> Path:
    """Return the trace's workload card: its only YAML file, or `<dirname>.yaml`."""
    try:
        with os.scandir(trace_dir) as entries:
            cards = sorted(
                e.name for e in entries if e.name.endswith(CARD_SUFFIXES) and e.is_file()
            )
    except OSError as exc:
        raise TraceError(trace_dir, f"cannot list directory: {exc.strerror}") from None
    if len(cards) == 1:
        return trace_dir / cards[0]
    if not cards:
        raise TraceError(trace_dir, "no workload card (*.yaml) in the trace directory")
    name = trace_name(trace_dir)
    for suffix in CARD_SUFFIXES:
        if name + suffix in cards:
            return trace_dir / (name + suffix)
    raise TraceError(
        trace_dir,
        f"several YAML files compete for the workload card ({', '.join(cards)}) "
        f"and none is named {name}.yaml",
    )


@dataclass(frozen=True)
class Card:
    """A parsed workload card; accessors say what is missing, naming the file."""

    path: Path
    data: dict[str, Any]

    @property
    def model(self) -> dict[str, Any]:
        return self.data["workload"]["model"]

    def _get(self, *keys: str) -> Any:
        node: Any = self.data
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    @property
    def phase(self) -> str | None:
        phase = self.model.get("phase")
        return None if phase is None else str(phase)

    @property
    def moe(self) -> bool:
        return self.model.get("moe") is True

    @property
    def ep_size(self) -> int | None:
        value = self._get("Model-executor", "model_plan_parallelization", "ep")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def top_k(self) -> int | None:
        value = self._get("Model-executor", "expert_parallel", "top_k")
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        return value if abs(value) <= MAX_TOP_K else None  # 10**400 x num_tokens overflows

    def config(self) -> dict[str, int]:
        """The serving configuration the card states (`workload.data`), where it does."""
        out = {}
        for column, key in (
            ("max_num_seqs", "max-num-seqs"),
            ("max_num_batched_tokens", "max-num-batched-tokens"),
        ):
            value = self.data_value(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                out[column] = value
        return out

    def data_value(self, key: str) -> Any:
        """A value from `workload.data` (e.g. `max-num-seqs`), or None."""
        return self._get("workload", "data", key)

    def require_inference(self, phases: tuple[str, ...] | frozenset[str]) -> None:
        accepted = {p.lower() for p in phases}
        phase = self.phase
        if phase is None:
            raise TraceError(self.path, "workload.model.phase is missing")
        if phase.lower() not in accepted:
            raise NotApplicable(
                self.path,
                f"phase is {phase!r}; inference metrics need one of {', '.join(sorted(accepted))}",
            )

    def require_moe(self) -> None:
        if not self.moe:
            moe = self.model.get("moe")
            raise NotApplicable(
                self.path, f"workload.model.moe is {moe!r}; expert metrics need true"
            )


def load_card(path: Path) -> Card:
    """Parse a workload card; a broken one raises TraceError with file:line:column."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise TraceError(path, f"cannot read workload card: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise TraceError(path, f"not valid YAML: {problem}", line, column) from None
    except yaml.reader.ReaderError as exc:  # e.g. bytes that are not UTF-8
        raise TraceError(path, f"not valid YAML: {exc.reason} at offset {exc.position}") from None
    except yaml.YAMLError as exc:  # keep the message on one line
        raise TraceError(path, f"not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type_name(data)
        raise TraceError(path, f"workload card is {kind}, expected a mapping")
    workload = data.get("workload")
    if not isinstance(workload, dict) or not isinstance(workload.get("model"), dict):
        raise TraceError(path, "workload card has no workload.model mapping")
    return Card(path, data)
