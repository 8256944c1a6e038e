"""Checks that a catalogue or image cube follows the data model. Each raises a one-line
:class:`~galinfo.errors.DataValidationError` naming the column, objid or value and the count."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from galinfo.data.schema import CLASSES, COLUMN_BY_NAME, REQUIRED_COLUMNS, SPLITS
from galinfo.errors import DataValidationError


def _first(values, n: int = 3) -> str:
    return ", ".join(str(v) for v in list(values)[:n])


def validate_objid(objid) -> np.ndarray:
    """Return ``objid`` as int64, refusing floats, missing values and duplicates."""
    raw = np.ma.getdata(objid)
    if np.ma.is_masked(objid):
        raise DataValidationError(f"column objid has {int(np.ma.count_masked(objid))} missing value(s)")
    arr = np.asarray(raw)
    if arr.dtype.kind not in "iu":
        raise DataValidationError(
            f"column objid must be an integer column (got {arr.dtype}); objids must never pass through float"
        )
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise DataValidationError("column objid has values above the int64 range")
    arr = arr.astype(np.int64)
    uniq, counts = np.unique(arr, return_counts=True)
    dup = uniq[counts > 1]
    if dup.size:
        raise DataValidationError(
            f"column objid has {dup.size} duplicated value(s) (first: {_first(dup)})"
        )
    return arr


def _string_values(col) -> np.ndarray:
    arr = np.asarray(np.ma.getdata(col))
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "ascii")
    return np.char.strip(arr.astype(str))


def validate_catalog(table: Table) -> None:
    """Check required columns, their types, objids, split and class labels, and infinities."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise DataValidationError(
            f"catalogue lacks {len(missing)} required column(s): {_first(missing, 8)}"
            + (" ..." if len(missing) > 8 else "")
        )
    if len(table) == 0:
        raise DataValidationError("catalogue has no rows")
    validate_objid(table["objid"])
    for name, allowed in (("split", SPLITS), ("cls", CLASSES)):
        values = _string_values(table[name])
        bad = ~np.isin(values, allowed)
        if bad.any():
            raise DataValidationError(
                f"column {name} has {int(bad.sum())} value(s) outside {'/'.join(allowed)} "
                f"(first: {values[bad][0]!r})"
            )
    for name in table.colnames:
        spec = COLUMN_BY_NAME.get(name)
        col = table[name]
        if spec is not None and spec.dtype == "float64" and np.asarray(col).dtype.kind not in "fiu":
            raise DataValidationError(f"column {name} must be numeric (got {np.asarray(col).dtype})")
        data = np.ma.getdata(col)
        if np.asarray(data).dtype.kind == "f":
            inf = np.isinf(data)
            if np.ma.isMaskedArray(col):
                inf &= ~np.ma.getmaskarray(col)
            if inf.any():
                raise DataValidationError(
                    f"column {name} has {int(inf.sum())} infinite value(s) "
                    f"(first objid: {int(np.asarray(table['objid'])[inf][0])})"
                )


def validate_finite(table: Table, columns, rows=None) -> None:
    """Every value of ``columns`` (in ``rows``) must be present and finite."""
    objid = np.asarray(table["objid"])
    for name in columns:
        if name not in table.colnames:
            raise DataValidationError(f"catalogue lacks column {name}")
        col = table[name]
        values = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
        ids = objid
        if rows is not None:
            values, ids = values[rows], objid[rows]
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataValidationError(
                f"column {name} has {int(bad.sum())} missing or non-finite value(s) among the galaxies "
                f"used (first objid: {int(ids[bad][0])})"
            )


def validate_image_block(block: np.ndarray, objid: np.ndarray, *, start: int = 0) -> None:
    """An image block must be float (n, 5, H, W) with H == W and no NaN/inf."""
    if block.ndim != 4 or block.shape[1] != 5:
        raise DataValidationError(
            f"image cube must have shape (N, 5, H, W) for ugriz, got {tuple(block.shape)}"
        )
    if block.shape[2] != block.shape[3] or block.shape[2] < 8:
        raise DataValidationError(f"images must be square and at least 8x8, got {block.shape[2:]}")
    if block.dtype.kind != "f":
        raise DataValidationError(f"images must be floating point, got {block.dtype}")
    bad = ~np.isfinite(block).reshape(len(block), -1).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"images of {int(bad.sum())} galaxies contain NaN or inf "
            f"(first objid: {int(objid[start + first])})"
        )
