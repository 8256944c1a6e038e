"""Building data-model catalogues from other tables: empty columns, sentinels, splits."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
from astropy.table import Table

from galinfo.data.schema import COLUMNS, SPLITS
from galinfo.errors import DataValidationError

log = logging.getLogger(__name__)

DEFAULT_SPLIT_FRACTIONS = (0.7, 0.1, 0.2)


def as_float(values, *, sentinels=(), below: float | None = None) -> np.ndarray:
    """Float64 copy with masked values (and ``sentinels``, values < ``below``) set to NaN.

    Data-model columns are masked by :func:`galinfo.data.validate.mask_catalog` instead, which
    counts what it masks; ``sentinels``/``below`` serve non-model columns (e.g. NA10's sSFR).
    """
    arr = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan).astype(float)
    for s in sentinels:
        arr[arr == s] = np.nan
    if below is not None:
        arr[arr < below] = np.nan
    if sentinels or below is not None:
        arr[np.isinf(arr)] = np.nan
    return arr


def empty_catalog(n: int) -> Table:
    """A data-model table of ``n`` rows: numeric columns NaN, objid 0, split 'train', cls 'other'."""
    t = Table()
    for spec in COLUMNS:
        if spec.name == "objid":
            t[spec.name] = np.zeros(n, dtype=np.int64)
        elif spec.name == "split":
            t[spec.name] = np.full(n, "train", dtype="U5")
        elif spec.name == "cls":
            t[spec.name] = np.full(n, "other", dtype="U7")
        else:
            t[spec.name] = np.full(n, np.nan)
        if spec.unit is not None:
            t[spec.name].unit = spec.unit
    return t


def assign_splits(
    y: np.ndarray,
    fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS,
    *,
    seed: int = 0,
    n_strata: int = 10,
) -> np.ndarray:
    """Train/val/test labels, stratified on quantile bins of ``y`` (e.g. log M*), seeded.

    Each stratum is shuffled and cut by ``fractions``; strata hold at least 20 galaxies, so small
    samples fall back to fewer strata.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise DataValidationError(f"split fractions {fractions} must be three positive numbers summing to 1")
    y = np.asarray(y, dtype=float)
    n = len(y)
    rng = np.random.default_rng(seed)
    n_strata = max(1, min(n_strata, n // 20))
    order = np.lexsort((rng.random(n), np.nan_to_num(y, nan=np.inf)))  # by y, random tie-breaks
    labels = np.empty(n, dtype="U5")
    cuts = np.cumsum(fractions)[:2]
    for members in np.array_split(order, n_strata):
        members = rng.permutation(members)
        bounds = np.rint(cuts * len(members)).astype(int)
        for name, part in zip(SPLITS, np.split(members, bounds), strict=True):
            labels[part] = name
    return labels


def drop_rows(table: Table, reasons: Mapping[str, np.ndarray]) -> tuple[Table, dict[str, int]]:
    """Drop rows flagged by any reason; return the kept table and counts per reason (first wins)."""
    drop = np.zeros(len(table), dtype=bool)
    counts: dict[str, int] = {}
    for reason, flag in reasons.items():
        new = np.asarray(flag, dtype=bool) & ~drop
        counts[reason] = int(new.sum())
        drop |= new
    for reason, count in counts.items():
        if count:
            log.info("dropped %d rows: %s", count, reason)
    return table[~drop], counts
