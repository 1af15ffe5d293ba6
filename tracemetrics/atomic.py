"""Atomic file writes: a reader never sees a half-written output."""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def _drop_stale(path: Path, suffix: str) -> None:
    """Remove temporary files a killed earlier write of `path` left behind."""
    pattern = f".{glob.escape(path.name)}.*{suffix}"  # names hold [ ]: escape them
    for stale in path.parent.glob(pattern):
        stale.unlink(missing_ok=True)


def write_atomic(path: Path, write: Callable[[IO[str]], object]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _drop_stale(path, ".tmp")


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text))


def savefig_atomic(fig: object, path: Path, **kwargs: object) -> None:
    """matplotlib's savefig through a temporary file (format from `path`'s suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, **kwargs)  # type: ignore[attr-defined]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _drop_stale(path, path.suffix)
