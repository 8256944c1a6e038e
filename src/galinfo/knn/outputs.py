"""Adaptive-KNN outputs of a run: ``RUN/knn.h5``, and the function that makes them.

One row per row of ``RUN/predictions.h5`` (same order), keyed by ``objid``:

===============  ==============  ==========================================================
dataset          shape / dtype   meaning
===============  ==============  ==========================================================
objid            (N,) int64      galaxy identifier
split            (N,) bytes      train / val / test
k                (N,) int64      adaptive k chosen for the galaxy
w1_local         (N,) float64    W1 to uniform of its neighbours' PIT histogram at that k
pdf_mean         (N,) float64    mean of the (recalibrated) KNN pdf, target units
pdf_median       (N,) float64    median of the KNN pdf
pdf_mode         (N,) float64    centre of the most probable bin
log_q_true       (N,) float64    ln q_knn(true bin), nats; q floored at ``q_floor`` (attribute)
pit              (N,) float64    PIT of the truth under the recalibrated KNN pdf
raw_pit          (N,) float64    PIT of the truth under the raw (histogram) KNN pdf
crps             (N,) float64    CRPS of the KNN pdf, target units
pdf              (N, B) float32  KNN pdf (only with ``save_pdf``)
neighbor_rows    (N, kmax) int64 rows (of this file) of the training neighbours (only with
                                 ``save_neighbors``)
===============  ==============  ==========================================================

Training galaxies are predicted from their neighbours with themselves left out.
Attributes: ``kmax``, ``k_grid`` (JSON list), ``n_pit_bins``, ``recalibrate``, ``q_floor``,
``bin_low``, ``bin_high``, ``n_bins``, ``input_set``, ``target_column``, ``data_checksum``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from galinfo.atomic import atomic_path
from galinfo.data.validate import defined_rows, in_range
from galinfo.errors import DataValidationError
from galinfo.knn.adaptive import AdaptiveKNN
from galinfo.models.outputs import Predictions

KNN_FILE = "knn.h5"
#: floor on q_knn(true bin) before the log: a KNN histogram can give the true bin zero neighbours.
Q_FLOOR = 1e-6


def run_adaptive_knn(
    pred: Predictions,
    *,
    kmax: int = 2000,
    k_grid: np.ndarray | None = None,
    n_pit_bins: int = 100,
    recalibrate: bool = True,
    batch_size: int = 1024,
    save_pdf: bool = False,
    save_neighbors: bool = False,
    use_gpu: bool | str = "auto",
    progress: Callable[[str, int, int], Callable[[int], None]] | None = None,
) -> tuple[AdaptiveKNN, dict[str, np.ndarray]]:
    """Fit adaptive KNN on the train split of ``pred`` and predict every galaxy.

    ``progress(description, total)`` may return a per-block callback (for a progress bar).
    Returns the fitted model and the arrays of ``knn.h5`` (see the module docstring).
    """
    if pred.latent is None:
        raise DataValidationError(
            f"predictions of {pred.input_set} have no latent (model without a latent space)"
        )
    n = len(pred)
    have = np.flatnonzero(defined_rows(pred.latent))  # galaxies lacking an input have no latent
    latent = np.asarray(pred.latent)[have]
    # training galaxies whose target lies in the bins (a log M* < 6 has no bin to vote for)
    b = pred.bins
    t = pred.target[have]
    train = np.flatnonzero((pred.split[have] == "train") & in_range(t, b.low, b.high))
    if train.size < 2:
        raise DataValidationError(f"predictions have {train.size} train rows; need at least 2")
    model = AdaptiveKNN(
        kmax=kmax, k_grid=k_grid, bins=pred.bins, n_pit_bins=n_pit_bins,
        recalibrate=recalibrate, batch_size=batch_size, use_gpu=use_gpu,
    )

    def cb(what: str, total: int):
        return progress(what, total) if progress is not None else None

    model.fit(latent[train], t[train], progress=cb("fit: train PITs", train.size))
    # training rows leave themselves out; others search all training galaxies
    self_rows = np.full(have.size, -1, dtype=np.int64)
    self_rows[train] = np.arange(train.size)
    res = model.predict(
        latent, t, self_rows=self_rows, return_pdf=save_pdf,
        return_neighbors=save_neighbors, progress=cb("predict: all galaxies", have.size),
    )
    computed = {
        "k": res.k,
        "w1_local": res.w1,
        "pdf_mean": res.mean,
        "pdf_median": res.median,
        "pdf_mode": res.mode,
        "log_q_true": np.log(np.maximum(res.q_true, Q_FLOOR)),
        "pit": res.pit,
        "raw_pit": res.raw_pit,
        "crps": res.crps,
    }
    if save_pdf:
        computed["pdf"] = res.pdf
    if save_neighbors:
        computed["neighbor_rows"] = have[train[res.neighbors]]
    out = {"objid": pred.objid, "split": pred.split}
    for name, values in computed.items():  # every galaxy gets a row: NaN (or -1) where there is no latent
        values = np.asarray(values)
        full = np.full((n, *values.shape[1:]), -1 if values.dtype.kind in "iu" else np.nan, dtype=values.dtype)
        full[have] = values
        out[name] = full
    return model, out


def write_knn(path: str | os.PathLike, arrays: dict[str, np.ndarray], attrs: dict) -> Path:
    """Write ``knn.h5`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    if path.is_dir() or path.suffix == "":
        path = path / KNN_FILE
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, value in arrays.items():
            value = np.asarray(value)
            if name == "split":
                value = np.char.encode(value.astype(str), "ascii")
            f.create_dataset(name, data=value)
        for key, value in attrs.items():
            f.attrs[key] = value
    return path


def read_knn(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read ``knn.h5`` (or a run folder holding it): (arrays, attributes)."""
    path = Path(path)
    if path.is_dir():
        path = path / KNN_FILE
    if not path.exists():
        raise DataValidationError(f"no KNN file at {path}")
    with h5py.File(path, "r") as f:
        arrays = {name: f[name][()] for name in f}
        attrs = dict(f.attrs)
    arrays["split"] = np.char.decode(arrays["split"], "ascii")
    arrays["objid"] = arrays["objid"].astype(np.int64)
    if "k_grid" in attrs:
        attrs["k_grid"] = json.loads(attrs["k_grid"])
    return arrays, attrs
