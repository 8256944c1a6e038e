"""Atomic, versioned checkpoints of a training run (``RUN/last.pt``, ``RUN/best.pt``).

A checkpoint holds everything to rebuild the model and resume exactly: model config, train config,
input spec (feature columns, standardiser, flux floor), target bins, weights, optimizer and scheduler
state, RNG states, step, best metric, history, dataset checksum and format version.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from galinfo import __version__
from galinfo.atomic import atomic_path
from galinfo.errors import GalinfoError

CHECKPOINT_VERSION = 1
LAST = "last.pt"
BEST = "best.pt"


def _atomic(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus version fields) to ``path`` atomically: temporary file, then rename."""
    path = Path(path)
    full = {"version": CHECKPOINT_VERSION, "galinfo_version": __version__, **state}
    _atomic(path, lambda tmp: torch.save(full, tmp))
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, checking its version."""
    path = Path(path)
    if not path.exists():
        raise GalinfoError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise GalinfoError(f"cannot read checkpoint {path}: {exc}") from None
    if state.get("version") != CHECKPOINT_VERSION:
        raise GalinfoError(f"checkpoint {path} has version {state.get('version')!r}, expected {CHECKPOINT_VERSION}")
    return state


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically."""
    path = Path(path)

    def _write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=str)
            f.write("\n")

    _atomic(path, _write)
    return path
