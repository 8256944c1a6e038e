"""Applying a trained run: ``predict`` writes ``RUN/predictions.h5``; ``evaluate`` writes ``RUN/metrics.json``."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from galinfo.atomic import slug
from galinfo.data.binning import TargetBins
from galinfo.data.inputs import parse_inputs
from galinfo.data.schema import SPLITS
from galinfo.errors import ConfigError, DataValidationError, GalinfoError, GalinfoWarning
from galinfo.models.amortised import AmortisedSpec, is_amortised_spec
from galinfo.models.checkpoint import BEST, LAST, load_checkpoint, write_json
from galinfo.models.data import InputSpec, model_data, usable_rows
from galinfo.models.networks import ModelConfig, create_model
from galinfo.models.outputs import Predictions, read_predictions, write_predictions
from galinfo.models.smoothing import choose_width, log_q_at, parse_smooth, smooth_log_pdf

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def load_run(run_dir: str | os.PathLike, *, which: str = "best") -> tuple[torch.nn.Module, dict]:
    """The model of a run (best validation weights by default, else the last) and its checkpoint."""
    run_dir = Path(run_dir)
    path = run_dir / (BEST if which == "best" else LAST)
    if which == "best" and not path.exists():
        path = run_dir / LAST
    if not path.exists():
        raise GalinfoError(f"{run_dir} holds no checkpoint ({BEST} or {LAST}); train first")
    ckpt = load_checkpoint(path)
    model = create_model(ModelConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


def pdf_summaries(log_pdf: np.ndarray, bins: TargetBins) -> dict[str, np.ndarray]:
    """Mean, median (piecewise-linear CDF) and mode (most probable bin centre) of binned pdfs.

    ``log_pdf``: (n, B) natural-log bin probabilities. Target units.
    """
    from galinfo.metrics import binned_median

    p = np.exp(log_pdf - log_pdf.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    centers = bins.centers
    return {
        "pdf_mean": p @ centers,
        "pdf_median": binned_median(p, bins),
        "pdf_mode": centers[np.argmax(p, axis=1)],
    }


@torch.no_grad()
def run_model(model, data, device: torch.device, *, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(S latents float32 (n, d), log-softmax float64 (n, B)) for every row of ``data``."""
    lat, logp = [], []
    for start in range(0, len(data), batch):
        idx = torch.arange(start, min(start + batch, len(data)))
        image = data.images.get(idx).to(device) if data.images is not None else None
        image, tab = data.inputs(idx, image, device)
        out = model(image, tab if tab.shape[1] else None)
        lat.append(out.s.float().cpu().numpy())
        logp.append(torch.log_softmax(out.logits.double(), dim=1).cpu().numpy())
    d = model.cfg.latent_dim
    return (np.concatenate(lat) if lat else np.zeros((0, d), np.float32),
            np.concatenate(logp) if logp else np.zeros((0, model.cfg.n_bins)))


def resolve_smoothing(smooth: str | float | None, log_pdf: np.ndarray, y_bin: np.ndarray,
                      split: np.ndarray, bins: TargetBins) -> tuple[float, dict]:
    """Gaussian smoothing width in bins for ``smooth`` (None/'none', 'auto' or a width in target units).

    'auto' chooses the width on the rows of the ``val`` split (see :mod:`galinfo.models.smoothing`).
    Returns the width and a record of the choice for the predictions' config.
    """
    smooth = parse_smooth(smooth)
    if smooth is None:
        return 0.0, {"width": 0.0}
    if smooth == "auto":
        val = np.flatnonzero((np.asarray(split) == "val") & (y_bin >= 0))
        if val.size == 0:
            raise ConfigError("smooth='auto' needs galaxies of the val split with a target; give a width instead")
        width, scores = choose_width(log_pdf[val], y_bin[val])
        log.info("pdf smoothing: %g bins (validation mean ln q by width: %s)", width, scores)
        return width, {"width": width * bins.width, "chosen_on": "val", "n_val": int(val.size),
                       "val_mean_log_q_by_width": {f"{w * bins.width:.6g}": v for w, v in scores.items()}}
    return smooth / bins.width, {"width": smooth}


def predict(run_dir: str | os.PathLike, dataset=None, *, device: str = "cpu", store_pdf: bool = True,
            batch: int = 1024, smooth: str | float | None = None, subset: str | None = None,
            out: str | os.PathLike | None = None) -> Path:
    """Write ``RUN/predictions.h5``: one row for every galaxy of every split of ``dataset``.

    ``dataset`` defaults to the dataset the run was trained on. A galaxy lacking a feature of the
    input set has NaN outputs (latent, pdf, summaries, ``log_q_true``; counted in the log); a
    galaxy whose target is missing or outside the bin range has ``log_q_true = NaN``.
    ``smooth``: None (the raw softmax), ``"auto"`` (a Gaussian whose
    width maximises the validation mean ln q, see :mod:`galinfo.models.smoothing`) or a Gaussian
    width in target units (dex for log M*); every output (pdf, ln q, mean/median/mode) is then taken
    from the smoothed pdf.

    An amortised run (``train(..., amortised=True)``) predicts one input set at a time: ``subset``
    names it (a union of the run's input groups) and the predictions go to ``out`` (default
    ``RUN/subsets/<subset>/``), with the same contract as a dedicated run's: one row per galaxy, NaN
    outputs for a galaxy lacking a group of the subset (its other groups do not matter). Returns
    the path written.
    """
    from galinfo.data.dataset import Dataset
    from galinfo.models.training import select_device

    run_dir = Path(run_dir)
    model, ckpt = load_run(run_dir)
    if dataset is None:
        dataset = ckpt["dataset_path"]
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    if ds.checksum != ckpt["data_checksum"]:
        warnings.warn(f"predicting {run_dir} on {ds.path}, not the dataset it was trained on",
                      GalinfoWarning, stacklevel=2)
    tgt = ckpt["target"]
    bins = TargetBins(tgt["low"], tgt["high"], tgt["n_bins"])
    if is_amortised_spec(ckpt["input_spec"]):
        if subset is None:
            raise ConfigError(f"{run_dir} is an amortised run: name the input set to predict (subset=..., --subset)")
        spec = AmortisedSpec.from_dict(ckpt["input_spec"])
        input_set = parse_inputs(subset).name
        rows = AmortisedSpec.usable_rows_of(ds, spec.input_set)
        data = spec.model_data(ds, rows, tgt["column"], bins, subset=input_set)
        keep = (data.avail | ~data.fixed_mask).all(dim=1).numpy()  # galaxies with every group of the subset
        data, rows = data.subset(keep), rows[keep]
        n_out = ds.n - len(rows)  # counted as a dedicated run of the subset counts them (usable_rows)
        if n_out:
            log.warning("input set %s: %d of %d galaxies lack a feature and are left out", input_set, n_out, ds.n)
        out_dir = Path(out) if out is not None else run_dir / "subsets" / slug(input_set)
    else:
        if subset is not None:
            raise ConfigError(f"{run_dir} is a dedicated run of one input set; subset= is for amortised runs")
        spec = InputSpec.from_dict(ckpt["input_spec"])
        input_set = spec.input_set
        rows, _ = usable_rows(ds, spec.input_set)
        data = model_data(ds, spec, rows, tgt["column"], bins)
        out_dir = Path(out) if out is not None else run_dir
    dev = select_device(device)
    model.to(dev)
    latent, log_pdf = run_model(model, data, dev, batch=batch)
    y_bin = data.y_bin.numpy()
    width_bins, smoothing = resolve_smoothing(smooth, log_pdf, y_bin, ds.split[rows], bins)
    log_pdf = smooth_log_pdf(log_pdf, width_bins)
    n_out = int((y_bin < 0).sum())
    if n_out:
        log.warning("%d galaxies have %s missing or outside [%g, %g]: log_q_true is NaN",
                    n_out, tgt["column"], bins.low, bins.high)

    def every_row(values: np.ndarray | None) -> np.ndarray | None:
        """``values`` of the usable rows spread over every galaxy, NaN for the others."""
        if values is None:
            return None
        full = np.full((ds.n, *values.shape[1:]), np.nan, dtype=np.result_type(values.dtype, np.float32))
        full[rows] = values
        return full

    pred = Predictions(
        objid=ds.objid, split=ds.split, target=ds.column(tgt["column"]),
        log_q_true=every_row(log_q_at(log_pdf, y_bin)), bins=bins, input_set=input_set,
        target_column=tgt["column"], objective=ckpt["train_config"]["objective"], latent=every_row(latent),
        pdf=every_row(np.exp(log_pdf).astype(np.float32)) if store_pdf else None,
        config={"train_config": ckpt["train_config"], "model_config": ckpt["model_config"],
                "best_step": ckpt["run_state"]["best_step"], "best_val_ce": ckpt["run_state"]["best_metric"],
                "pdf_smoothing": smoothing,
                **({"amortised_run": str(run_dir.resolve()), "family": spec.input_set} if subset else {})},
        data_checksum=ds.checksum, pdf_smoothing=smoothing["width"],
        **{k: every_row(v) for k, v in pdf_summaries(log_pdf, bins).items()},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_predictions(out_dir, pred)


def evaluate(run_dir: str | os.PathLike, dataset=None) -> dict[str, dict]:
    """Metrics of the pdf mean per split, ``{split: {bias, sigma_mad, eta, crps, n}}`` (dex), also
    written to ``RUN/metrics.json``. Needs ``RUN/predictions.h5`` (run :func:`predict` first).

    With the dataset (``dataset``, else the one in ``RUN/config.json`` when it is still there) the
    test split is also broken down: ``by_group`` holds :func:`galinfo.metrics.accuracy_breakdown` per
    class and in bins of the true target (0.5 dex) and of ``mag_r`` (1 mag)."""
    from galinfo.metrics import summarize

    run_dir = Path(run_dir)
    pred = read_predictions(run_dir)
    if pred.pdf_mean is None:
        raise GalinfoError(f"{run_dir}/predictions.h5 has no pdf_mean")
    ok = np.isfinite(pred.target) & pred.predicted()
    out: dict[str, dict] = {}
    for split in SPLITS:
        m = pred.mask(split) & ok
        if m.sum() == 0:
            continue
        out[split] = summarize(pred.pdf_mean[m], pred.target[m],
                               None if pred.pdf is None else pred.pdf[m], pred.bins)
        out[split]["mean_log_q_true"] = float(np.nanmean(pred.log_q_true[m]))
    ds = _evaluation_dataset(run_dir, dataset)
    if ds is not None and "test" in out:
        out["by_group"] = breakdown_on_test(pred, ds)
    write_json(run_dir / METRICS_FILE, out)
    return out


def _evaluation_dataset(run_dir: Path, dataset):
    from galinfo.data.dataset import Dataset

    if dataset is None:
        config = run_dir / "config.json"
        path = json.loads(config.read_text()).get("dataset_path") if config.exists() else None
        if path is None or not Path(path).exists():
            log.info("%s: its dataset is not known or gone; no per-class rows", run_dir)
            return None
        dataset = path
    return dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)


def breakdown_on_test(pred: Predictions, ds) -> dict:
    """Test-split accuracy of ``pred``'s pdf mean per class (``cls``) and in bins of the true
    target (0.5 dex) and of ``mag_r`` (1 mag), from the catalogue of ``ds`` matched by objid."""
    from galinfo.metrics import accuracy_breakdown, regular_edges

    if pred.data_checksum and pred.data_checksum != ds.checksum:
        raise DataValidationError(f"{ds.path} is not the dataset these predictions were made on (checksum differs)")
    sorter = np.argsort(ds.objid, kind="stable")
    pos = np.searchsorted(ds.objid, pred.objid, sorter=sorter).clip(0, ds.n - 1)
    rows = sorter[pos]
    missing = ds.objid[rows] != pred.objid
    if missing.any():
        raise DataValidationError(f"objid {int(pred.objid[missing][0])} of the predictions is not in {ds.path}")
    test = pred.mask("test") & np.isfinite(pred.target) & pred.predicted()
    est, truth, rows = pred.pdf_mean[test], pred.target[test], rows[test]
    binned = {pred.target_column: (truth, regular_edges(truth, 0.5))}
    if "mag_r" in ds.catalog.colnames:
        mag = ds.column("mag_r", rows)
        binned["mag_r"] = (mag, regular_edges(mag, 1.0))
    classes = np.asarray(ds.catalog["cls"])[rows].astype(str) if "cls" in ds.catalog.colnames else None
    return accuracy_breakdown(est, truth, classes, binned)
