"""Where a trace's gate logs are: `gates_logs/gates_logs_<run>/gate_logs_<layer>.json`.

Kept apart from the reader (gates.py) so that discovery and traces without gate logs
never import numpy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import NotApplicable, TraceError

GATES_DIR = "gates_logs"
_RUN_DIR = re.compile(r"gates_logs_(\d+)")
_LAYER_FILE = re.compile(r"gate_logs_(\d+)\.json")


@dataclass(frozen=True)
class GateLogFile:
    path: Path
    run: int
    layer: int


def _listdir(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as exc:
        raise TraceError(folder, f"cannot list directory: {exc.strerror}") from None


def _gates_root(trace_dir: Path) -> Path:
    """The gate-log directory; only its absence means no logs were recorded."""
    root = trace_dir / GATES_DIR
    if root.is_dir():
        return root
    if root.is_symlink():  # to nothing, or a loop: the logs are somewhere unreachable
        raise TraceError(root, "is a broken symbolic link, expected the gate-log directory")
    if root.exists():
        raise TraceError(root, "is a file, expected the gate-log directory")
    raise NotApplicable(root, "no gate logs recorded (directory missing)")


def gate_log_files(trace_dir: Path) -> list[GateLogFile]:
    """All gate logs of a trace, ordered by run then layer (numerically)."""
    root = _gates_root(trace_dir)
    found = []
    for run_entry in _listdir(root):
        run_match = _RUN_DIR.fullmatch(run_entry.name)
        if not run_match or not run_entry.is_dir():
            continue
        for entry in _listdir(Path(run_entry.path)):
            layer_match = _LAYER_FILE.fullmatch(entry.name)
            if layer_match:
                found.append(GateLogFile(Path(entry.path), int(run_match[1]), int(layer_match[1])))
    if not found:
        raise NotApplicable(root, "no gate logs recorded (no gates_logs_*/gate_logs_*.json)")
    found.sort(key=lambda g: (g.run, g.layer))
    return found
