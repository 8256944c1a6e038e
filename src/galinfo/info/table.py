"""Per-galaxy decomposition tables: from three models' predictions, aligned by objid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from galinfo.atomic import atomic_path
from galinfo.data.binning import TargetBins
from galinfo.data.validate import defined_rows, in_range, plain
from galinfo.errors import ConfigError, DataValidationError
from galinfo.info.pid import ATOMS, pid
from galinfo.info.pointwise import PriorSource, binned_prior, pointwise_mi
from galinfo.models.outputs import Predictions

SPLIT_CHOICES = ("test", "val", "train", "heldout", "all")


def _rows_of(split: np.ndarray, which: str) -> np.ndarray:
    if which == "all":
        return np.ones(len(split), dtype=bool)
    if which == "heldout":
        return split != "train"
    if which in ("train", "val", "test"):
        return split == which
    raise ConfigError(f"unknown split {which!r}: use one of {', '.join(SPLIT_CHOICES)}")


def pid_table(
    p1: Predictions,
    p2: Predictions,
    p12: Predictions,
    *,
    prior: PriorSource | np.ndarray = "full",
    split: str = "test",
    measure: str = "mmi_pointwise",
) -> Table:
    """Per-galaxy table ``objid, split, target, i1, i2, i12, red, unq1, unq2, syn`` (nats).

    ``p1``, ``p2``: predictions of the two single-source models, ``p12`` of their union (e.g. from
    :func:`galinfo.models.outputs.read_predictions`). Rows are the galaxies of ``p12`` in ``split``
    (``"test"`` by default, i.e. held out; ``"heldout"`` = val + test; ``"all"`` for cross-fitted
    runs), matched by objid in ``p1`` and ``p2``. One prior is used for all three models: ``"full"`` =
    histogram of the target over every galaxy of ``p12`` with a defined target (the paper),
    ``"train"`` = its training split only.

    Galaxies with a missing or out-of-bin target, without outputs (or absent) in a model (an input
    missing), or with an undefined ``log_q_true`` are left out; ``meta["left_out"]`` counts them per reason.
    The three runs must share the dataset checksum and have unique objids.
    """
    bins: TargetBins = p12.bins
    for p in (p1, p2):
        if p.bins != bins:
            raise DataValidationError(
                f"target bins differ between {p.input_set} ({p.bins}) and {p12.input_set} ({bins})"
            )
        if p.target_column != p12.target_column:
            raise DataValidationError(
                f"target column differs: {p.input_set} has {p.target_column}, {p12.input_set} has {p12.target_column}"
            )
    for p in (p1, p2, p12):
        dup = p.duplicated_objids()
        if dup.size:
            raise DataValidationError(
                f"{dup.size} objid(s) appear more than once in the predictions of {p.input_set} "
                f"(first: {int(dup[0])})"
            )
    sums = {p.input_set: p.data_checksum for p in (p1, p2, p12)}
    if len(set(sums.values())) > 1:
        raise DataValidationError(
            "the three runs were not made on one dataset (data checksums "
            + ", ".join(f"{k}: {(v or 'none')[:12]}" for k, v in sums.items()) + ")"
        )
    column = p12.target_column
    defined = in_range(p12.target, bins.low, bins.high)
    p = binned_prior(p12.target[defined], bins, prior=prior, split=p12.split[defined])
    sel = np.flatnonzero(_rows_of(p12.split, split))
    if sel.size == 0:
        raise DataValidationError(f"no galaxy of {p12.input_set} is in split {split!r}")
    left_out = {f"{column} missing or outside [{plain(bins.low)}, {plain(bins.high)}]": int((~defined[sel]).sum())}
    sel = sel[defined[sel]]
    rows: dict[str, np.ndarray] = {}
    for key, pred in (("i12", p12), ("i1", p1), ("i2", p2)):
        r = pred.find(p12.objid[sel])
        found = r >= 0
        found[found] = pred.predicted()[r[found]]
        left_out[f"an input of {pred.input_set} missing"] = int((~found).sum())
        sel, rows = sel[found], {k: v[found] for k, v in rows.items()}
        rows[key] = r[found]
    ok = defined_rows(*(pred.log_q_true[rows[key]] for key, pred in (("i1", p1), ("i2", p2), ("i12", p12))))
    left_out["log q undefined in a model"] = int((~ok).sum())
    sel, rows = sel[ok], {k: v[ok] for k, v in rows.items()}
    if sel.size == 0:
        raise DataValidationError(
            f"no galaxy of {p12.input_set} in split {split!r} has a defined decomposition "
            f"(left out: {', '.join(f'{n} {why}' for why, n in left_out.items() if n)})"
        )
    objid = p12.objid[sel]
    target = p12.target[sel]
    values = {}
    for key, pred in (("i1", p1), ("i2", p2), ("i12", p12)):
        r = rows[key]
        if not np.allclose(pred.target[r], target, rtol=0, atol=1e-9, equal_nan=False):
            raise DataValidationError(
                f"true {column} differs between {pred.input_set} and {p12.input_set} for the same objid"
            )
        values[key] = pointwise_mi(pred.log_q_true[r], target, bins, p, column=column)
    atoms = pid(values["i1"], values["i2"], values["i12"], measure=measure)
    t = Table()
    t["objid"] = objid.astype(np.int64)
    t["split"] = p12.split[sel].astype(str)
    t[p12.target_column] = target
    for key in ("i1", "i2", "i12", *ATOMS):
        t[key] = values[key] if key in values else atoms[key]
    t.meta.update(
        source1=p1.input_set, source2=p2.input_set, union=p12.input_set, measure=measure,
        prior=prior if isinstance(prior, str) else "explicit", split=split, units="nat",
        target=p12.target_column, nleftout=int(sum(left_out.values())),
    )
    t.meta["left_out"] = {why: n for why, n in left_out.items() if n}
    return t


def per_galaxy_table(
    objid: np.ndarray,
    i1: np.ndarray,
    i2: np.ndarray,
    i12: np.ndarray,
    *,
    measure: str = "mmi_pointwise",
    extra: dict[str, np.ndarray] | None = None,
) -> Table:
    """Assemble the per-galaxy table from pointwise informations already aligned by row."""
    atoms = pid(i1, i2, i12, measure=measure)
    t = Table()
    t["objid"] = np.asarray(objid, dtype=np.int64)
    for key, v in (extra or {}).items():
        t[key] = v
    t["i1"], t["i2"], t["i12"] = (np.asarray(a, dtype=np.float64) for a in (i1, i2, i12))
    for a in ATOMS:
        t[a] = atoms[a]
    t.meta.update(measure=measure, units="nat")
    return t


def write_table(table: Table, path: str | os.PathLike) -> Path:
    """Write a table atomically (format from the suffix, e.g. .fits or .ecsv)."""
    table = table.copy(copy_data=False)
    table.meta = {k: v for k, v in table.meta.items() if not isinstance(v, dict | list)}
    with atomic_path(path) as tmp:
        table.write(tmp, overwrite=True)
    return Path(path)


def latent_copula_pid(
    p1: Predictions,
    p2: Predictions,
    p12: Predictions | None = None,
    *,
    split: str = "test",
):
    """Gaussian-copula PID (cross-check) of two models' latent vectors about the true target.

    Galaxies of ``p1`` in ``split``, matched by objid in ``p2`` (and ``p12``). Without ``p12`` the
    union source is the concatenation of the two latents, so no union model is needed. Returns a
    :class:`galinfo.info.gaussian.GaussianCopulaPID` (nats).
    """
    from galinfo.info.gaussian import gaussian_copula_pid

    for p in (p1, p2, p12):
        if p is not None and p.latent is None:
            raise DataValidationError(f"the predictions of {p.input_set} have no latent vectors")
    sel = np.flatnonzero(_rows_of(p1.split, split))
    if sel.size == 0:
        raise DataValidationError(f"no galaxy of {p1.input_set} is in split {split!r}")
    objid = p1.objid[sel]
    r2 = p2.align(objid)
    r12 = None if p12 is None else p12.align(objid)
    ok = defined_rows(p1.latent[sel], p2.latent[r2], p1.target[sel], None if p12 is None else p12.latent[r12])
    if not ok.all():  # galaxies without a latent in a model (an input missing) or without a target
        sel, r2, r12 = sel[ok], r2[ok], None if r12 is None else r12[ok]
    s12 = None if p12 is None else p12.latent[r12]
    return gaussian_copula_pid(p1.latent[sel], p2.latent[r2], p1.target[sel], s12)
