"""Per-galaxy outputs of a trained model: ``RUN/predictions.h5``.

This file is the contract between models and the analyses (KNN, causal tests, information
decomposition). One row per galaxy of the dataset (every split), keyed by ``objid``; a galaxy that
lacks an input of the model has NaN outputs (``Predictions.predicted()`` is False there), one whose
target is missing or outside the bins has ``log_q_true = NaN``:

==============  ==============  ==========================================================
dataset         shape / dtype   meaning
==============  ==============  ==========================================================
objid           (N,) int64      galaxy identifier, as in the catalogue
split           (N,) bytes      train / val / test
target          (N,) float64    true target value (e.g. log10 M*/Msun)
latent          (N, d) float32  latent vector S (absent for models without a latent space)
log_q_true      (N,) float64    ln q(true bin | x), nats (minus the per-galaxy cross-entropy)
pdf             (N, B) float32  binned pdf over the target bins (optional)
pdf_mean        (N,) float64    mean of the pdf (target units)
pdf_median      (N,) float64    median of the pdf
pdf_mode        (N,) float64    centre of the most probable bin
point           (N,) float64    the model's own point estimate (optional; external models)
==============  ==============  ==========================================================

Attributes: ``target_column``, ``bin_low``, ``bin_high``, ``n_bins``, ``input_set``,
``objective``, ``config`` (JSON), ``data_checksum``, ``pdf_smoothing`` (σ of the Gaussian the pdf
was convolved with, target units; 0 = the raw softmax).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from galinfo.atomic import atomic_path
from galinfo.data.binning import TargetBins
from galinfo.errors import DataValidationError

PREDICTIONS_FILE = "predictions.h5"


@dataclass
class Predictions:
    """Per-galaxy outputs of one trained model (see module docstring for units)."""

    objid: np.ndarray
    split: np.ndarray
    target: np.ndarray
    log_q_true: np.ndarray
    bins: TargetBins
    input_set: str
    target_column: str = "logmstar"
    objective: str = "ce"
    latent: np.ndarray | None = None
    pdf: np.ndarray | None = None
    pdf_mean: np.ndarray | None = None
    pdf_median: np.ndarray | None = None
    pdf_mode: np.ndarray | None = None
    point: np.ndarray | None = None
    config: dict = field(default_factory=dict)
    data_checksum: str = ""
    pdf_smoothing: float = 0.0

    def __post_init__(self) -> None:
        self.objid = np.asarray(self.objid)
        if self.objid.dtype != np.int64:
            raise DataValidationError(f"predictions objid must be int64, got {self.objid.dtype}")
        n = len(self.objid)
        self.split = np.asarray(self.split).astype(str)
        for name in ("split", "target", "log_q_true", "latent", "pdf", "pdf_mean", "pdf_median",
                     "pdf_mode", "point"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise DataValidationError(
                    f"predictions column {name} has {len(value)} rows, objid has {n}"
                )

    def __len__(self) -> int:
        return len(self.objid)

    def predicted(self) -> np.ndarray:
        """Boolean mask of the rows with model outputs (a galaxy lacking an input has NaN outputs)."""
        for values in (self.pdf_mean, self.latent):
            if values is not None:
                v = np.asarray(values)
                return np.isfinite(v) if v.ndim == 1 else np.isfinite(v.reshape(len(v), -1)).all(axis=1)
        return np.ones(len(self.objid), dtype=bool)

    def mask(self, split: str) -> np.ndarray:
        """Boolean mask of the rows in ``split``."""
        return self.split == split

    def find(self, objid: np.ndarray) -> np.ndarray:
        """Row indices of these predictions for the given objids, -1 where an objid is absent."""
        objid = np.asarray(objid, dtype=np.int64)
        if len(self.objid) == 0:
            return np.full(len(objid), -1, dtype=np.int64)
        order = np.argsort(self.objid, kind="stable")
        pos = np.searchsorted(self.objid, objid, sorter=order)
        pos = np.clip(pos, 0, len(order) - 1)
        rows = order[pos].astype(np.int64)
        rows[self.objid[rows] != objid] = -1
        return rows

    def duplicated_objids(self) -> np.ndarray:
        """The objids that appear more than once (should be none)."""
        uniq, counts = np.unique(self.objid, return_counts=True)
        return uniq[counts > 1]

    def align(self, objid: np.ndarray) -> np.ndarray:
        """Row indices of these predictions for the given objids (all must be present)."""
        objid = np.asarray(objid, dtype=np.int64)
        rows = self.find(objid)
        missing = rows < 0
        if missing.any():
            raise DataValidationError(
                f"{int(missing.sum())} objid(s) are not in the predictions of {self.input_set} "
                f"(first: {int(objid[missing][0])})"
            )
        return rows


_ARRAYS = ("target", "log_q_true", "latent", "pdf", "pdf_mean", "pdf_median", "pdf_mode", "point")


def write_predictions(path: str | os.PathLike, pred: Predictions) -> Path:
    """Write predictions atomically (temporary file, then rename). ``path`` may be a run folder."""
    path = Path(path)
    if path.is_dir() or path.suffix == "":
        path = path / PREDICTIONS_FILE
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("objid", data=pred.objid.astype(np.int64))
        f.create_dataset("split", data=np.char.encode(pred.split.astype(str), "ascii"))
        for name in _ARRAYS:
            value = getattr(pred, name)
            if value is not None:
                f.create_dataset(name, data=np.asarray(value))
        f.attrs["target_column"] = pred.target_column
        f.attrs["bin_low"] = pred.bins.low
        f.attrs["bin_high"] = pred.bins.high
        f.attrs["n_bins"] = pred.bins.n_bins
        f.attrs["input_set"] = pred.input_set
        f.attrs["objective"] = pred.objective
        f.attrs["config"] = json.dumps(pred.config, sort_keys=True, default=str)
        f.attrs["data_checksum"] = pred.data_checksum
        f.attrs["pdf_smoothing"] = float(pred.pdf_smoothing)
    return path


def read_predictions(path: str | os.PathLike) -> Predictions:
    """Read ``predictions.h5`` (or a run folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / PREDICTIONS_FILE
    if not path.exists():
        raise DataValidationError(f"no predictions file at {path}")
    with h5py.File(path, "r") as f:
        arrays = {name: f[name][()] for name in _ARRAYS if name in f}
        return Predictions(
            objid=f["objid"][()].astype(np.int64),
            split=np.char.decode(f["split"][()], "ascii"),
            bins=TargetBins(float(f.attrs["bin_low"]), float(f.attrs["bin_high"]), int(f.attrs["n_bins"])),
            input_set=str(f.attrs["input_set"]),
            target_column=str(f.attrs["target_column"]),
            objective=str(f.attrs["objective"]),
            config=json.loads(f.attrs["config"]),
            data_checksum=str(f.attrs["data_checksum"]),
            pdf_smoothing=float(f.attrs.get("pdf_smoothing", 0.0)),
            **arrays,
        )
