"""The missing-value contract and the data-model checks, in one module.

Masking (:func:`mask_catalog`, used by every importer) turns catalogue sentinels, ±inf and values
outside a column's physical range into missing values (NaN) and counts them per column and reason.
Checks raise a one-line :class:`~galinfo.errors.DataValidationError` naming the column, objid or
value and the count; numbers in messages go through :func:`plain`. Analyses select their defined
rows with :func:`defined_rows` / :func:`in_range` and count the rest. See ``docs/data-model.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from galinfo.data.schema import CLASSES, COLUMN_BY_NAME, REQUIRED_COLUMNS, SPLITS
from galinfo.errors import DataValidationError

log = logging.getLogger(__name__)


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
                f"(first: {str(values[bad][0])!r})"
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


# -- one missing-value contract ------------------------------------------------------------------
def plain(value) -> str:
    """A number as a user reads it: ``5.5``, not ``np.float64(5.5)``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def require_finite(values, name: str) -> np.ndarray:
    """``values`` as a float64 array; any NaN/inf raises one line naming ``name``, the count and row."""
    arr = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(arr) if arr.ndim <= 1 else np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        raise DataValidationError(f"{name} has {bad.size} non-finite (NaN/inf) value(s) (first row {int(bad[0])})")
    return arr


def defined_rows(*arrays) -> np.ndarray:
    """Boolean mask of the rows where every array (1-D or (n, d)) is finite: the defined rows."""
    ok = None
    for a in arrays:
        if a is None:
            continue
        a = np.asarray(a, dtype=np.float64)
        row_ok = np.isfinite(a) if a.ndim == 1 else np.isfinite(a.reshape(len(a), -1)).all(axis=1)
        ok = row_ok if ok is None else ok & row_ok
    if ok is None:
        raise DataValidationError("defined_rows needs at least one array")
    return ok


def in_range(values, low: float, high: float) -> np.ndarray:
    """Boolean mask of finite values inside [low, high]."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & (v >= low) & (v <= high)


@dataclass(frozen=True)
class MaskRule:
    """How a catalogue column marks a value that is not a measurement.

    ``sentinels``: exact codes meaning "no value" (SDSS −9999, MPA-JHU −1/−99); ``zero_missing``: 0
    means "no match" (WISE cross-matches); ``low``/``high``: the physical range, in the column's
    units (inclusive); anything outside it is masked. ±inf is always masked.
    """

    low: float = -np.inf
    high: float = np.inf
    sentinels: tuple[float, ...] = (-9999.0, -999.0, -99.0)
    zero_missing: bool = False


def _rules() -> dict[str, MaskRule]:
    from galinfo.data.schema import BANDS, WISE_BANDS

    rules = {"z": MaskRule(0.0, 10.0), "logmstar": MaskRule(5.0, 13.5, (-9999.0, -999.0, -99.0, -1.0)),
             "ebv": MaskRule(0.0, 10.0)}
    for b in BANDS:
        rules[f"mag_{b}"] = MaskRule(5.0, 30.0)
        rules[f"magerr_{b}"] = MaskRule(0.0)
        rules[f"sersic_n_{b}"] = MaskRule(1e-6, 20.0)
        rules[f"ab_{b}"] = MaskRule(1e-6, 1.0 + 1e-6)
        rules[f"r50_{b}"] = MaskRule(1e-6, 1000.0)
        rules[f"r90_{b}"] = MaskRule(1e-6, 1000.0)
    for w in WISE_BANDS:
        rules[w] = MaskRule(1.0, 30.0, zero_missing=True)
        rules[f"{w}err"] = MaskRule(0.0)
    return rules


#: Per data-model column: its sentinels and physical range (units as in :mod:`galinfo.data.schema`).
MASK_RULES: dict[str, MaskRule] = _rules()


def mask_values(values, rule: MaskRule) -> tuple[np.ndarray, dict[str, int]]:
    """Float64 copy of ``values`` with non-measurements set to NaN, and the count per reason.

    Reasons, first that applies wins: ``sentinel <code>``, ``0 = no match``, ``infinite``,
    ``below <low>``, ``above <high>``. Values already missing (NaN, masked) are not counted.
    """
    arr = np.ma.filled(np.ma.asarray(values, dtype=np.float64), np.nan).astype(np.float64)
    todo = ~np.isnan(arr)
    counts: dict[str, int] = {}

    def take(flag: np.ndarray, reason: str) -> None:
        nonlocal todo
        flag = flag & todo
        if flag.any():
            counts[reason] = counts.get(reason, 0) + int(flag.sum())
            arr[flag] = np.nan
            todo = todo & ~flag

    for s in rule.sentinels:
        take(arr == s, f"sentinel {plain(float(s))}")
    if rule.zero_missing:
        take(arr == 0.0, "0 = no match")
    take(np.isinf(arr), "infinite")
    with np.errstate(invalid="ignore"):
        take(arr < rule.low, f"below {plain(float(rule.low))}")
        take(arr > rule.high, f"above {plain(float(rule.high))}")
    return arr, counts


def mask_catalog(table: Table, rules: dict[str, MaskRule] | None = None) -> dict[str, dict[str, int]]:
    """Mask the non-measurements of every data-model float column of ``table`` in place.

    The one masking function of every importer. Returns ``{column: {reason: count}}`` for the
    columns where something was masked.
    """
    rules = MASK_RULES if rules is None else rules
    report: dict[str, dict[str, int]] = {}
    for name, rule in rules.items():
        if name not in table.colnames:
            continue
        unit = table[name].unit
        values, counts = mask_values(table[name], rule)
        table[name] = values
        if unit is not None:
            table[name].unit = unit
        if counts:
            report[name] = counts
    for name, counts in report.items():
        log.info("masked %s in column %s", ", ".join(f"{n} ({r})" for r, n in counts.items()), name)
    return report


def count_sentinels(table: Table, rules: dict[str, MaskRule] | None = None) -> dict[str, int]:
    """Values of ``table`` that :func:`mask_catalog` would mask, per column (0 columns omitted)."""
    rules = MASK_RULES if rules is None else rules
    out = {}
    for name, rule in rules.items():
        if name in table.colnames:
            n = sum(mask_values(table[name], rule)[1].values())
            if n:
                out[name] = n
    return out
