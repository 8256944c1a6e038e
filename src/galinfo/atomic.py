"""Atomic file writes: write to a temporary file beside the target, then rename it into place.

An interrupted write (error, Ctrl-C, a killed process) leaves the previous file, or none, never a
half-written one. :func:`slug` makes a file-system-safe name for the folders those files go in.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def slug(name: str) -> str:
    """A file-system-safe folder or file name for ``name`` (an input set, a step name)."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it to ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def save_figure(fig, stem: str | os.PathLike, *, dpi: int = 130, formats=("png", "pdf"), **savefig_kw) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` / ``stem.pdf``, each atomically; return the paths."""
    stem = Path(stem)
    out = []
    for ext in formats:
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=ext, **savefig_kw)
        out.append(path)
    return out
