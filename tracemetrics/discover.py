"""Finding the traces of a collection and the input files of each (no metric work)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection as Collection_
from dataclasses import dataclass, field
from pathlib import Path

from .card import CARD_SUFFIXES, find_card
from .errors import TraceError
from .gate_files import gate_log_files
from .registry import Source
from .results import result_files


@dataclass
class Collection:
    root: Path
    traces: dict[str, Path] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # directories without a card


def discover(root: Path) -> Collection:
    """One listing of `root`: a subdirectory holding a YAML file is a trace."""
    if not root.is_dir():
        raise TraceError(root, "trace collection is not a directory")
    collection = Collection(root)
    with os.scandir(root) as entries:
        dirs = [e for e in entries if _maybe_trace(e) and not e.name.startswith(".")]
    for entry in sorted(dirs, key=lambda e: e.name):
        if _has_yaml(Path(entry.path)):
            collection.traces[entry.name] = Path(entry.path)
        else:
            collection.ignored.append(entry.name)
    return collection


def _maybe_trace(entry: os.DirEntry[str]) -> bool:
    """A directory, or a link that leads nowhere (a loop, a purged target): kept, so
    extraction says what is wrong rather than the trace silently vanishing."""
    try:
        return entry.is_dir() or (entry.is_symlink() and not os.path.exists(entry.path))
    except OSError:  # a symbolic link loop
        return True


def _has_yaml(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(e.name.endswith(CARD_SUFFIXES) for e in entries)
    except OSError:
        return True  # unreadable: keep it, so extraction reports why


def input_files(trace_dir: Path, sources: Collection_[Source]) -> list[Path]:
    """The files metrics of these sources read: the card, result files, gate logs.

    Problems are not raised here; extraction reports them. Only what exists is listed,
    so a later fix (a file added) changes the input set and triggers a rerun.
    """
    try:
        files = [find_card(trace_dir)]
    except TraceError:
        files = _yaml_files(trace_dir)
    if "results" in sources:
        with contextlib.suppress(TraceError):
            files += result_files(trace_dir)
    if "gates" in sources:
        with contextlib.suppress(TraceError):
            files += [g.path for g in gate_log_files(trace_dir)]
    # A link to nothing (or a loop) is listed but not there: Snakemake would stop the
    # whole run for one missing input, where extraction marks just this trace invalid.
    return [p for p in files if os.path.exists(p)]


def _yaml_files(trace_dir: Path) -> list[Path]:
    try:
        return sorted(
            p for p in trace_dir.iterdir() if p.name.endswith(CARD_SUFFIXES) and p.is_file()
        )
    except OSError:  # not a listable directory: extraction reports it
        return []
