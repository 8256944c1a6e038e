"""Averages of per-galaxy information values: overall, per class, and binned in a column.

Inputs are per-galaxy tables as made by :func:`galinfo.info.table.pid_table` (columns ``i1``, ``i2``,
``i12`` and the atoms, nats). Outputs are astropy Tables with ``<q>``, ``<q>_lo``, ``<q>_hi`` per
quantity (bootstrap percentile interval, see :func:`galinfo.info.uncertainty.bootstrap_means`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from galinfo.data.schema import CLASSES
from galinfo.errors import DataValidationError
from galinfo.info.pid import ATOMS
from galinfo.info.uncertainty import bootstrap_means, realisation_spread

QUANTITIES: tuple[str, ...] = ("i1", "i2", "i12", *ATOMS)


def _values(table: Table, quantities: Sequence[str]) -> dict[str, np.ndarray]:
    missing = [q for q in quantities if q not in table.colnames]
    if missing:
        raise DataValidationError(f"per-galaxy table lacks column(s) {', '.join(missing)}")
    return {q: np.asarray(table[q], dtype=np.float64) for q in quantities}


def _class_groups(table: Table, by: str | None, classes: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Group index per row (-1: in no listed class) and the group names, 'all' first."""
    if by is None or by not in table.colnames:
        return np.zeros(len(table), dtype=np.int64), ["all"]
    labels = np.asarray(table[by]).astype(str)
    present = [c for c in classes if np.any(labels == c)]
    g = np.full(len(table), -1, dtype=np.int64)
    for k, c in enumerate(present):
        g[labels == c] = k
    return g, present


def _to_columns(out: Table, res, quantities: Sequence[str], keep: np.ndarray) -> None:
    for q in quantities:
        out[q] = res.mean[q][keep]
        out[f"{q}_lo"] = res.lo[q][keep]
        out[f"{q}_hi"] = res.hi[q][keep]


def summarize(
    table: Table,
    *,
    by: str | None = "cls",
    classes: Sequence[str] = CLASSES,
    quantities: Sequence[str] = QUANTITIES,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> Table:
    """Mean of every quantity over all galaxies and per class, with bootstrap intervals.

    Rows: ``all``, then each class of ``classes`` present in column ``by``. Adds the classic
    MMI-on-averages atoms (cross-check) as ``mmi_red``, ``mmi_unq1``, ``mmi_unq2``, ``mmi_syn``.
    """
    vals = _values(table, quantities)
    res_all = bootstrap_means(vals, n_boot=n_boot, ci=ci, seed=seed)
    groups, names = _class_groups(table, by, classes)
    rows = Table()
    rows["group"] = ["all"]
    rows["n"] = res_all.count
    _to_columns(rows, res_all, quantities, np.ones(1, dtype=bool))
    if names != ["all"]:
        res = bootstrap_means(vals, groups, len(names), n_boot=n_boot, ci=ci, seed=seed + 1)
        per = Table()
        per["group"] = names
        per["n"] = res.count
        _to_columns(per, res, quantities, np.ones(len(names), dtype=bool))
        from astropy.table import vstack

        rows = vstack([rows, per])
    if {"i1", "i2", "i12"} <= set(quantities):
        m1, m2, m12 = (np.asarray(rows[q], dtype=float) for q in ("i1", "i2", "i12"))
        red = np.minimum(m1, m2)
        rows["mmi_red"], rows["mmi_unq1"], rows["mmi_unq2"] = red, m1 - red, m2 - red
        rows["mmi_syn"] = m12 - np.maximum(m1, m2)
    rows.meta["ci"] = ci
    rows.meta["n_boot"] = n_boot
    return rows


def default_edges(values: np.ndarray, width: float) -> np.ndarray:
    """Bin edges of the given width covering ``values``, on multiples of ``width``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise DataValidationError("no finite values to bin")
    lo = np.floor(v.min() / width) * width
    hi = np.ceil(v.max() / width) * width
    if hi <= lo:
        hi = lo + width
    return np.arange(lo, hi + 0.5 * width, width)


def binned(
    table: Table,
    column: str,
    edges: np.ndarray | None = None,
    *,
    width: float | None = None,
    by: str | None = "cls",
    classes: Sequence[str] = CLASSES,
    quantities: Sequence[str] = QUANTITIES,
    min_count: int = 50,
    include_all: bool = True,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> Table:
    """Means of every quantity in bins of ``column``, per class (and for all galaxies).

    Bins with fewer than ``min_count`` galaxies are cut (this removes the sparse tails). Rows with
    a non-finite ``column`` are left out (their count is in ``meta["n_dropped"]``). Columns:
    ``group``, ``lo``, ``hi``, ``center``, ``n`` and ``<q>``, ``<q>_lo``, ``<q>_hi``.
    """
    if column not in table.colnames:
        raise DataValidationError(f"per-galaxy table lacks column {column!r} to bin in")
    x = np.asarray(table[column], dtype=np.float64)
    ok = np.isfinite(x)
    if edges is None:
        edges = default_edges(x[ok], width or (0.25 if column == "logmstar" else 0.5))
    edges = np.asarray(edges, dtype=float)
    nb = len(edges) - 1
    b = np.full(len(x), -1, dtype=np.int64)
    b[ok] = np.searchsorted(edges, x[ok], side="right") - 1
    b[ok & (x == edges[-1])] = nb - 1
    b[(b < 0) | (b >= nb)] = -1
    vals = _values(table, quantities)
    cls, names = _class_groups(table, by, classes)
    blocks = []
    if include_all and names != ["all"]:
        blocks.append(("all", np.where(b >= 0, b, -1)))
    for k, c in enumerate(names):
        blocks.append((c, np.where((cls == k) & (b >= 0), b, -1)))
    out_rows = []
    for j, (name, gb) in enumerate(blocks):
        sel = gb >= 0
        groups_j = np.where(sel, gb, -1)
        res = bootstrap_means(vals, groups_j, nb, n_boot=n_boot, ci=ci, seed=seed + j)
        keep = res.count >= min_count
        t = Table()
        t["group"] = np.full(int(keep.sum()), name, dtype="U16")
        t["lo"] = edges[:-1][keep]
        t["hi"] = edges[1:][keep]
        t["center"] = 0.5 * (t["lo"] + t["hi"])
        t["n"] = res.count[keep]
        _to_columns(t, res, quantities, keep)
        out_rows.append(t)
    from astropy.table import vstack

    out = vstack(out_rows) if out_rows else Table()
    out.meta.update(column=column, min_count=min_count, ci=ci, n_boot=n_boot,
                    n_dropped=int((~ok).sum()))
    return out


def spread_table(summaries: Sequence[Table], quantities: Sequence[str] = QUANTITIES) -> Table:
    """Mean and spread (standard deviation, ddof=1) of each group's averaged quantities across
    model realisations, from one :func:`summarize` table per realisation (nats).

    Columns: ``group``, ``n`` (of the first realisation), ``n_realisations``, and per quantity
    ``q`` (mean), ``q_std``, and ``q_lo``/``q_hi`` = mean -/+ std (so that plots of intervals apply).
    """
    groups = [str(g) for g in summaries[0]["group"]]
    for s in summaries[1:]:
        if [str(g) for g in s["group"]] != groups:
            raise DataValidationError("realisations were summarised over different groups: "
                                      f"{groups} and {[str(g) for g in s['group']]}")
    out = Table()
    out["group"] = groups
    out["n"] = summaries[0]["n"]
    out["n_realisations"] = np.full(len(groups), len(summaries))
    for q in quantities:
        mean, std = np.empty(len(groups)), np.empty(len(groups))
        for j in range(len(groups)):
            mean[j], std[j] = realisation_spread([{q: float(s[q][j])} for s in summaries])[q]
        out[q], out[f"{q}_std"], out[f"{q}_lo"], out[f"{q}_hi"] = mean, std, mean - std, mean + std
    out.meta["spread"] = "standard deviation across model realisations (ddof=1)"
    return out
