"""Orchestration of one decomposition: per-galaxy table, summaries, binned values and figures.

Used by ``galinfo pid``; the maths lives in the other modules of :mod:`galinfo.info`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from galinfo.atomic import write_text
from galinfo.data.binning import Bins, EdgeBins
from galinfo.data.inputs import parse_inputs
from galinfo.data.validate import in_range, plain
from galinfo.errors import ConfigError, DataValidationError
from galinfo.info.aggregate import binned, spread_table, summarize
from galinfo.info.pid import ATOMS
from galinfo.info.table import _rows_of, per_galaxy_table, pid_table, write_table
from galinfo.info.tuples import TupleSpec

log = logging.getLogger(__name__)

BIN_COLUMNS: dict[str, float] = {"logmstar": 0.25, "mag_r": 0.5}
"""Columns the binned figures use, with their default bin widths (dex, mag)."""


def add_catalog_columns(table: Table, dataset, columns: Sequence[str] = ("cls", "mag_r", "logmstar")) -> Table:
    """Copy catalogue columns (class, r magnitude, stellar mass) onto a per-galaxy table by objid."""
    objid = np.asarray(table["objid"], dtype=np.int64)
    ds_objid = dataset.objid
    order = np.argsort(ds_objid, kind="stable")
    pos = np.clip(np.searchsorted(ds_objid, objid, sorter=order), 0, len(order) - 1)
    rows = order[pos]
    missing = ds_objid[rows] != objid
    if missing.any():
        raise DataValidationError(
            f"{int(missing.sum())} objid(s) of the predictions are not in dataset {dataset.path} "
            f"(first: {int(objid[missing][0])})"
        )
    for c in columns:
        if c in table.colnames or c not in dataset.catalog.colnames:
            continue
        col = dataset.catalog[c]
        if np.asarray(col).dtype.kind in "SU":
            table[c] = np.asarray(col).astype(str)[rows]
        else:
            table[c] = dataset.column(c, rows)
    return table


def estimate_table(
    dataset,
    spec: TupleSpec,
    *,
    target: str = "logmstar",
    bins: Bins | None = None,
    n_bins: int = 100,
    measure: str = "mmi_pointwise",
    seed: int = 0,
    **estimate_kwargs,
) -> Table:
    """Per-galaxy table from :func:`estimate_pointwise_mi` fitted on the dataset's catalogue features.

    Uses every galaxy with all features of the three input sets and a finite target inside
    ``bins`` (the count left out is logged and stored in ``meta["ndropped"]``). Default bins:
    ``n_bins`` equal-count bins at quantiles of the target of those galaxies, so that a heavy tail
    cannot put almost every galaxy into one bin; their edges are in ``meta["target_bin_edges"]``.
    The three estimates share the bins, the prior rule and the folds (same seed), so every value
    is out-of-sample and the rows are paired.
    """
    from galinfo.info.estimate import estimate_pointwise_mi, make_target_bins

    for name in spec.models:
        if parse_inputs(name).has_images:
            raise ConfigError(
                f"--estimate works on catalogue inputs only, but {name} needs images; pass --runs"
            )
    rows = np.arange(dataset.n)
    for name in spec.models:
        rows = dataset.complete_rows(name, rows)
    left_out = {"an input missing": dataset.n - len(rows)}
    y_all = dataset.column(target, rows)
    if bins is None:
        finite = np.isfinite(y_all)
        if finite.sum() < 100:
            raise DataValidationError(f"only {int(finite.sum())} galaxies have every input of {spec.label}")
        bins = make_target_bins(y_all[finite], min(n_bins, max(2, int(finite.sum()) // 10)), "quantile")
    ok = in_range(y_all, bins.low, bins.high)
    left_out[f"{target} missing or outside [{plain(bins.low)}, {plain(bins.high)}]"] = int((~ok).sum())
    rows, y = rows[ok], y_all[ok]
    n_dropped = dataset.n - len(rows)
    if n_dropped:
        log.warning("left out %d of %d galaxies with missing features or %s outside [%g, %g]",
                    n_dropped, dataset.n, target, bins.low, bins.high)
    if len(rows) < 100:
        raise DataValidationError(f"only {len(rows)} galaxies have every input of {spec.label}")
    values = {}
    for key, name in zip(("i1", "i2", "i12"), spec.models, strict=True):
        log.info("estimating pointwise MI of %s on %d galaxies", name, len(rows))
        values[key] = estimate_pointwise_mi(dataset.features(name, rows), y, bins=bins, seed=seed,
                                            **estimate_kwargs)
    t = per_galaxy_table(
        dataset.objid[rows], values["i1"], values["i2"], values["i12"], measure=measure,
        extra={"split": dataset.split[rows], target: y},
    )
    t.meta.update(source1=spec.source1, source2=spec.source2, union=spec.union, method="estimate",
                  ndropped=n_dropped, target=target, target_bin_edges=[float(e) for e in bins.edges],
                  binning="quantile" if isinstance(bins, EdgeBins) else "uniform")
    t.meta["left_out"] = {why: n for why, n in left_out.items() if n}
    return t


def run_pid(
    dataset_path: str | os.PathLike,
    spec: TupleSpec,
    out_dir: str | os.PathLike,
    *,
    runs: Sequence[str | os.PathLike] | None = None,
    estimate: bool = False,
    prior: str | None = None,
    split: str | None = None,
    measure: str = "mmi_pointwise",
    n_boot: int = 1000,
    ci: float = 0.95,
    min_count: int = 50,
    seed: int = 0,
    estimate_kwargs: dict | None = None,
) -> dict[str, Path]:
    """Decompose one tuple and write ``pid.fits``, ``summary.ecsv``, binned tables and figures.

    ``prior``: ``"full"`` or ``"train"``; default ``"full"`` with ``runs`` (the paper) and the
    estimator's own default (the training folds) with ``estimate``. ``pid_run.json`` records the
    prior used and the galaxies left out per reason.
    """
    from galinfo.data.dataset import Dataset
    from galinfo.info.plots import plot_atom_bars, plot_stack

    if bool(runs) == bool(estimate):
        raise ConfigError("give either --runs RUN1,RUN2,RUN12 or --estimate (exactly one)")
    ds = Dataset.open(dataset_path)
    if runs:
        from galinfo.models.outputs import read_predictions

        if len(runs) != 3:
            raise ConfigError(f"--runs needs three run folders (source 1, source 2, union), got {len(runs)}")
        preds = [read_predictions(r) for r in runs]
        for p, want in zip(preds, spec.models, strict=True):
            if parse_inputs(p.input_set).name != want:
                raise ConfigError(f"run of {p.input_set} given where tuple {spec.label} needs {want}")
        prior = prior or "full"
        table = pid_table(*preds, prior=prior, split=split or "test", measure=measure)
        table.meta["method"] = "runs"
        in_split = _rows_of(ds.split, split or "test")
        absent = int((preds[2].find(ds.objid[in_split]) < 0).sum())
        if absent:  # galaxies of the split without a row in the union's predictions
            counts = dict(table.meta.get("left_out", {}))
            key = f"an input of {preds[2].input_set} missing"
            table.meta["left_out"] = {key: counts.pop(key, 0) + absent, **counts}
    else:
        kwargs = dict(estimate_kwargs or {})
        if prior is not None:
            kwargs["prior"] = prior
        prior = kwargs.get("prior", "train")
        table = estimate_table(ds, spec, measure=measure, seed=seed, **kwargs)
        if split not in (None, "all"):
            table = table[_rows_of(np.asarray(table["split"]).astype(str), split)]
    left_out = table.meta.pop("left_out", {})
    table = add_catalog_columns(table, ds)
    bin_edges = table.meta.pop("target_bin_edges", None)  # recorded in pid_run.json, not the FITS header
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"table": write_table(table, out / "pid.fits")}
    summary = summarize(table, n_boot=n_boot, ci=ci, seed=seed)
    summary.meta.update(tuple=spec.label, **{k: v for k, v in table.meta.items() if isinstance(v, str | int)})
    files["summary"] = write_table(summary, out / "summary.ecsv")
    for column, width in BIN_COLUMNS.items():
        if column not in table.colnames:
            continue
        b = binned(table, column, width=width, min_count=min_count, n_boot=n_boot, ci=ci, seed=seed)
        files[f"binned_{column}"] = write_table(b, out / f"binned_{column}.ecsv")
        plot_stack(b, out / f"stack_{column}", source1=spec.source1, source2=spec.source2,
                   title=spec.label)
        files[f"stack_{column}"] = out / f"stack_{column}.png"
    plot_atom_bars({spec.label: summary}, out / "bars", title=f"{spec.label}: averaged atoms")
    files["bars"] = out / "bars.png"
    run_record = {"tuple": spec.label, "models": spec.models, "prior": prior, "split": split,
                  "measure": measure, "n_boot": n_boot, "ci": ci, "seed": seed,
                  "dataset": str(dataset_path), "dataset_checksum": ds.checksum,
                  "runs": [str(r) for r in runs or []], "estimate": bool(estimate),
                  "n": len(table), "left_out": left_out}
    if bin_edges is not None:
        run_record["target_bin_edges"] = bin_edges
    write_text(out / "pid_run.json", json.dumps(run_record, indent=2))
    files["config"] = out / "pid_run.json"
    log.info("mean atoms (all): %s", {a: float(summary[a][0]) for a in ATOMS})
    return files


def run_pid_realisations(
    dataset_path: str | os.PathLike,
    spec: TupleSpec,
    out_dir: str | os.PathLike,
    realisations: Sequence[Sequence[str | os.PathLike]],
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    **kwargs,
) -> dict[str, Path]:
    """Decompose one tuple once per model realisation (each ``RUN1,RUN2,RUN12``) into
    ``OUT/realisation_<k>/`` (:func:`run_pid`), then write the mean ± spread across realisations
    of every group's averaged atoms: ``OUT/spread.ecsv`` and ``OUT/bars_spread.png`` (nats)."""
    from galinfo.info.plots import plot_atom_bars

    if len(realisations) < 2:
        raise ConfigError(f"the spread across realisations needs at least two --runs, got {len(realisations)}")
    out = Path(out_dir)
    summaries = []
    for k, runs in enumerate(realisations):
        files = run_pid(dataset_path, spec, out / f"realisation_{k}", runs=runs, n_boot=n_boot, ci=ci,
                        seed=seed, **kwargs)
        summaries.append(Table.read(files["summary"]))
    spread = spread_table(summaries)
    spread.meta.update(tuple=spec.label, runs=[[str(r) for r in runs] for runs in realisations])
    files = {"spread": write_table(spread, out / "spread.ecsv")}
    plot_atom_bars({spec.label: spread}, out / "bars_spread",
                   title=f"{spec.label}: mean ± spread over {len(realisations)} realisations")
    files["bars_spread"] = out / "bars_spread.png"
    return files
