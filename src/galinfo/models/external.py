"""Bring your own model: per-galaxy arrays of an estimator trained outside galinfo as a run folder.

A run folder written here holds ``predictions.h5`` with the same contract as a galinfo-trained run
(:mod:`galinfo.models.outputs`), so ``galinfo knn``, ``galinfo causal local``, ``galinfo pid --runs``,
``galinfo evaluate`` and a study read it unchanged, plus ``external.json`` (where the arrays came
from, what was checked, how many galaxies were missing).

Two ways in, one writer (:func:`write_external_run`):

- :func:`import_predictions`: a FITS, ECSV, Parquet (needs ``pyarrow``) or HDF5 table with an
  ``objid`` (int64) column and any of ``latent`` (array column) or ``latent_0..latent_{d-1}``,
  ``log_q_true`` (ln q(true bin | x), nats, on the stated bins), ``pdf`` (array column of bin
  probabilities on the stated bins) and ``point`` (point estimates, target units);
- :func:`from_arrays`: the same arrays in memory.

Checks, each a one-line :class:`~galinfo.errors.DataValidationError` naming the file, column and
value: objid present, integer and unique; every objid known to the dataset (unknown ones counted);
latent dimensions consistent and finite; pdfs finite, non-negative and summing to 1 (within 1e-3)
on exactly the stated bins; ``log_q_true`` a log-probability (<= 0) and, when a pdf is given too,
equal to ln pdf at the true bin. Dataset galaxies absent from the table are counted (logged and
stored in ``external.json``). The target and split of every galaxy come from the dataset. Nothing
is written until every check has passed, and the run folder appears in one rename.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galinfo.data.binning import TargetBins
from galinfo.data.inputs import parse_inputs
from galinfo.errors import ConfigError, DataValidationError, InputSetError
from galinfo.models.outputs import PREDICTIONS_FILE, Predictions, write_predictions

log = logging.getLogger(__name__)

EXTERNAL_FILE = "external.json"
OBJECTIVE = "external"
PDF_SUM_TOL = 1e-3
"""Largest allowed |sum of a pdf row - 1| before it is renormalised."""
LOG_Q_TOL = 1e-3
"""Largest allowed |log_q_true - ln pdf[true bin]| (nats) when both are given."""
TABLE_SUFFIXES = {
    ".fits": "fits", ".fit": "fits", ".fits.gz": "fits", ".ecsv": "ascii.ecsv",
    ".parquet": "parquet", ".pq": "parquet", ".h5": "hdf5", ".hdf5": "hdf5",
}
COLUMNS = ("objid", "latent", "log_q_true", "pdf", "point")

DEFAULT_BINS = {"logmstar": TargetBins()}
"""The bins a target's pdfs and log_q_true are taken on when none are stated."""


@dataclass(frozen=True)
class ModelArrays:
    """Per-galaxy outputs of an external model, one row per objid (validated by :func:`check_arrays`).

    ``latent``: (n, d) float32; ``log_q_true``: (n,) nats; ``pdf``: (n, B) bin probabilities;
    ``point``: (n,) target units. Any may be None, not all.
    """

    objid: np.ndarray
    latent: np.ndarray | None = None
    log_q_true: np.ndarray | None = None
    pdf: np.ndarray | None = None
    point: np.ndarray | None = None


def parse_bins(text: str) -> TargetBins:
    """``"low,high,n_bins"`` (e.g. ``"6,12.5,520"``) as :class:`TargetBins`."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise ConfigError(f"--bins {text!r} must be LOW,HIGH,N_BINS, e.g. 6,12.5,520") from None
    try:
        return TargetBins(low, high, n)
    except DataValidationError as exc:
        raise ConfigError(f"--bins {text!r}: {exc}") from None


def default_bins(target: str) -> TargetBins:
    """The default bins of ``target`` (log M*: 520 bins on [6, 12.5]); other targets need bins."""
    if target not in DEFAULT_BINS:
        raise ConfigError(f"target {target} has no default bins: state them (--bins LOW,HIGH,N_BINS)")
    return DEFAULT_BINS[target]


# -- reading ---------------------------------------------------------------------------------------
def _table_format(path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in TABLE_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    raise DataValidationError(
        f"{path}: unknown table format; use one of {', '.join(sorted(TABLE_SUFFIXES))}"
    )


def _hdf5_table(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Columns and attributes of an HDF5 file: plain top-level datasets (h5py), else the first
    table dataset (astropy)."""
    import h5py

    with h5py.File(path, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        plain = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset) and f[k].dtype.names is None}
    if "objid" in plain:
        return plain, attrs
    return _astropy_table(path, "hdf5")


def _astropy_table(path: Path, fmt: str) -> tuple[dict[str, np.ndarray], dict]:
    from astropy.table import Table

    try:
        table = Table.read(path, format=fmt)
    except Exception as exc:  # astropy raises many kinds for a corrupt or foreign file
        raise DataValidationError(f"{path}: cannot read as {fmt}: {exc}") from None
    columns = {}
    for c in table.colnames:
        col = table[c]
        n_masked = int(np.ma.getmaskarray(col).any(axis=tuple(range(1, col.ndim))).sum()) if col.ndim else 0
        if n_masked and c == "objid":
            raise DataValidationError(f"{path}: objid is missing in {n_masked} row(s)")
        if n_masked:
            columns[c] = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
        else:
            columns[c] = np.asarray(col)
    return columns, dict(table.meta)


def read_table(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """The columns of a predictions table as numpy arrays (array columns stay 2-d) and its metadata.

    Variable-length array cells (ragged latents or pdfs) come back as object arrays and are
    rejected by :func:`check_arrays`; masked numbers become NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"no predictions table at {path}")
    fmt = _table_format(path)
    if fmt == "hdf5":
        return _hdf5_table(path)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DataValidationError(
                f"{path}: reading Parquet needs pyarrow (pip install pyarrow); or write FITS, ECSV or HDF5"
            ) from None
    return _astropy_table(path, fmt)


def columns_to_arrays(columns: dict[str, np.ndarray], source: str = "table") -> ModelArrays:
    """Assemble :class:`ModelArrays` from table columns (``latent`` or ``latent_0..latent_{d-1}``)."""
    if "objid" not in columns:
        raise DataValidationError(f"{source} has no objid column")
    numbered = sorted((c for c in columns if c.startswith("latent_")), key=lambda c: c[7:])
    latent = columns.get("latent")
    if numbered:
        if latent is not None:
            raise DataValidationError(f"{source} has both a latent column and latent_0.. columns; keep one")
        idx = []
        for c in numbered:
            if not c[7:].isdigit():
                raise DataValidationError(f"{source}: column {c} is not latent_<integer>")
            idx.append(int(c[7:]))
        idx.sort()
        if idx != list(range(len(idx))):
            missing = sorted(set(range(max(idx) + 1)) - set(idx))
            raise DataValidationError(
                f"{source}: latent columns are ragged: latent_{missing[0]} is missing of latent_0..latent_{max(idx)}"
            )
        latent = np.column_stack([np.asarray(columns[f"latent_{i}"], dtype=float) for i in idx])
    return ModelArrays(objid=columns["objid"], latent=latent, log_q_true=columns.get("log_q_true"),
                       pdf=columns.get("pdf"), point=columns.get("point"))


# -- checks (pure) ---------------------------------------------------------------------------------
def _objid(objid: np.ndarray, source: str) -> np.ndarray:
    objid = np.asarray(objid)
    if objid.ndim != 1:
        raise DataValidationError(f"{source}: objid must be one value per row, got shape {objid.shape}")
    if objid.dtype.kind == "u" and objid.size and objid.max() > np.iinfo(np.int64).max:
        raise DataValidationError(f"{source}: objid values exceed int64")
    if objid.dtype.kind not in "iu":
        raise DataValidationError(
            f"{source}: objid is {objid.dtype.name}, not an integer column; write objids as int64 (never through float)"
        )
    objid = objid.astype(np.int64)
    uniq, counts = np.unique(objid, return_counts=True)
    if (counts > 1).any():
        raise DataValidationError(
            f"{source}: {int((counts > 1).sum())} duplicate objid(s) (first: {int(uniq[counts > 1][0])})"
        )
    return objid


def _stack(values, name: str, source: str) -> np.ndarray:
    """A 2-d float array from an array column; ragged (variable-length) rows raise."""
    arr = np.asarray(values)
    if arr.dtype == object:
        lengths = {len(np.atleast_1d(v)) for v in arr}
        if len(lengths) > 1:
            raise DataValidationError(
                f"{source}: {name} is ragged: rows have {len(lengths)} different lengths "
                f"({', '.join(str(n) for n in sorted(lengths)[:4])})"
            )
        arr = np.stack([np.asarray(v, dtype=float) for v in arr]) if len(arr) else np.zeros((0, 0))
    if arr.ndim != 2:
        raise DataValidationError(f"{source}: {name} must be an array column (n, d), got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise DataValidationError(f"{source}: {name} is {arr.dtype.name}, not numeric")
    return arr.astype(np.float64)


def _first_bad(mask: np.ndarray, objid: np.ndarray) -> str:
    return f"{int(mask.sum())} row(s) (first objid {int(objid[np.flatnonzero(mask)[0]])})"


def check_arrays(arrays: ModelArrays, bins: TargetBins, source: str = "arrays") -> ModelArrays:
    """Validate and normalise :class:`ModelArrays` on ``bins``; return float64/float32 arrays.

    pdfs are renormalised exactly after the check (|sum - 1| <= :data:`PDF_SUM_TOL`).
    """
    objid = _objid(arrays.objid, source)
    n = len(objid)
    if all(getattr(arrays, c) is None for c in COLUMNS[1:]):
        raise DataValidationError(f"{source} has none of the columns latent, log_q_true, pdf, point")
    latent = log_q = pdf = point = None
    if arrays.latent is not None:
        latent = _stack(arrays.latent, "latent", source)
        if latent.shape[1] < 1:
            raise DataValidationError(f"{source}: latent has no dimensions")
        bad = ~np.isfinite(latent).all(axis=1)
        if bad.any():
            raise DataValidationError(f"{source}: latent is NaN or infinite in {_first_bad(bad, objid)}")
        latent = latent.astype(np.float32)
    if arrays.pdf is not None:
        pdf = _stack(arrays.pdf, "pdf", source)
        if pdf.shape[1] != bins.n_bins:
            raise DataValidationError(
                f"{source}: pdf has {pdf.shape[1]} bins but the target bins are {bins.n_bins} "
                f"on [{bins.low}, {bins.high}]; state the model's bins with --bins LOW,HIGH,N_BINS"
            )
        finite = np.isfinite(pdf).all(axis=1)
        if not finite.all():
            raise DataValidationError(f"{source}: pdf is NaN or infinite in {_first_bad(~finite, objid)}")
        neg = (pdf < 0).any(axis=1)
        if neg.any():
            raise DataValidationError(f"{source}: pdf is negative in {_first_bad(neg, objid)}")
        sums = pdf.sum(axis=1)
        off = np.abs(sums - 1.0) > PDF_SUM_TOL
        if off.any():
            first = np.flatnonzero(off)[0]
            raise DataValidationError(
                f"{source}: pdf rows must sum to 1 on the bins; {_first_bad(off, objid)} sum to "
                f"e.g. {sums[first]:.6g}"
            )
        pdf = pdf / sums[:, None]
    for name in ("log_q_true", "point"):
        value = getattr(arrays, name)
        if value is None:
            continue
        value = np.asarray(value)
        if value.ndim != 1 or value.dtype.kind not in "fiu":
            raise DataValidationError(f"{source}: {name} must be one number per row, got {value.dtype.name} {value.shape}")
        if name == "log_q_true":
            log_q = value.astype(np.float64)
            pos = log_q > 1e-9
            if pos.any():
                raise DataValidationError(
                    f"{source}: log_q_true must be ln of a bin probability (<= 0), but is positive in "
                    f"{_first_bad(pos, objid)}"
                )
        else:
            point = value.astype(np.float64)
    for name, value in (("latent", latent), ("log_q_true", log_q), ("pdf", pdf), ("point", point)):
        if value is not None and len(value) != n:
            raise DataValidationError(f"{source}: {name} has {len(value)} rows, objid has {n}")
    return ModelArrays(objid=objid, latent=latent, log_q_true=log_q, pdf=pdf, point=point)


def build_predictions(dataset, arrays: ModelArrays, *, inputs: str, target: str = "logmstar",
                      bins: TargetBins | None = None, source: str = "arrays") -> tuple[Predictions, dict]:
    """Checked :class:`Predictions` of an external model on ``dataset``, and a record of the checks.

    Rows: the dataset galaxies that the arrays cover, in dataset order. Target and split come from
    the dataset; ``log_q_true`` is NaN where the target is missing or outside ``bins`` (as for a
    trained run) and taken from the pdf when only a pdf is given.
    """
    from galinfo.models.smoothing import log_q_at

    bins = bins or default_bins(target)
    try:
        input_set = parse_inputs(inputs).name
    except InputSetError as exc:
        raise ConfigError(f"--inputs {inputs!r}: {exc}") from None
    arrays = check_arrays(arrays, bins, source)
    ds_objid = dataset.objid
    known = np.isin(arrays.objid, ds_objid)
    if not known.all():
        raise DataValidationError(
            f"{source}: {int((~known).sum())} of {len(known)} objid(s) are not in dataset {dataset.path} "
            f"(first: {int(arrays.objid[~known][0])})"
        )
    in_table = np.isin(ds_objid, arrays.objid)
    rows = np.flatnonzero(in_table)  # dataset rows, dataset order
    order = np.argsort(arrays.objid, kind="stable")
    take = order[np.searchsorted(arrays.objid, ds_objid[rows], sorter=order)]
    n_missing = int((~in_table).sum())
    if n_missing:
        log.warning("%s covers %d of %d galaxies of %s: %d are missing", source, rows.size, dataset.n,
                    dataset.path, n_missing)
    y = dataset.column(target, rows)
    inside = np.isfinite(y) & (y >= bins.low) & (y <= bins.high)
    y_bin = np.full(rows.size, -1, dtype=np.int64)
    y_bin[inside] = bins.index(y[inside], column=target)
    pdf = None if arrays.pdf is None else arrays.pdf[take]
    log_q = None if arrays.log_q_true is None else arrays.log_q_true[take].copy()
    if log_q is not None:
        bad = inside & ~np.isfinite(log_q)
        if bad.any():
            raise DataValidationError(
                f"{source}: log_q_true is NaN or infinite in {_first_bad(bad, ds_objid[rows])} whose "
                f"{target} lies in the bins"
            )
        log_q[~inside] = np.nan
    if pdf is not None:
        with np.errstate(divide="ignore"):
            from_pdf = log_q_at(np.log(pdf), y_bin)
        zero = inside & ~np.isfinite(from_pdf)
        if zero.any():
            raise DataValidationError(
                f"{source}: pdf gives the true {target} bin zero probability in "
                f"{_first_bad(zero, ds_objid[rows])}; floor the pdf (e.g. at 1e-6) and renormalise"
            )
        if log_q is None:
            log_q = from_pdf
        else:
            both = inside & np.isfinite(from_pdf)
            off = both & (np.abs(log_q - from_pdf) > LOG_Q_TOL)
            if off.any():
                raise DataValidationError(
                    f"{source}: log_q_true differs from ln pdf at the true {target} bin in "
                    f"{_first_bad(off, ds_objid[rows])}; are the pdf bins the stated ones?"
                )
    if log_q is None:
        log_q = np.full(rows.size, np.nan)
    summaries: dict[str, np.ndarray | None] = {"pdf_mean": None, "pdf_median": None, "pdf_mode": None}
    if pdf is not None:
        from galinfo.models.inference import pdf_summaries

        with np.errstate(divide="ignore"):
            summaries = pdf_summaries(np.log(pdf), bins)
    point = None if arrays.point is None else arrays.point[take]
    if point is not None and pdf is None:
        summaries["pdf_mean"] = point  # the model's estimate is what evaluate and the causal tests use
    record = {
        "source": source, "inputs": input_set, "target": target, "n_rows": int(len(arrays.objid)),
        "n_dataset": int(dataset.n), "n_matched": int(rows.size), "n_missing": n_missing,
        "n_target_outside_bins": int((~inside).sum()),
        "columns": [c for c in COLUMNS[1:] if getattr(arrays, c) is not None],
        "latent_dim": None if arrays.latent is None else int(arrays.latent.shape[1]),
        "bins": {"low": bins.low, "high": bins.high, "n_bins": bins.n_bins},
    }
    pred = Predictions(
        objid=ds_objid[rows], split=dataset.split[rows], target=y, log_q_true=log_q, bins=bins,
        input_set=input_set, target_column=target, objective=OBJECTIVE,
        latent=None if arrays.latent is None else arrays.latent[take],
        pdf=None if pdf is None else pdf.astype(np.float32), point=point,
        config={"external": record}, data_checksum=dataset.checksum, **summaries,
    )
    return pred, record


# -- writing (the one writer) ------------------------------------------------------------------------
def _check_out(out: str | os.PathLike, overwrite: bool) -> Path:
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"run folder {out} exists; pass --overwrite to replace it")
    return out


def write_external_run(out: str | os.PathLike, pred: Predictions, record: dict, *,
                       overwrite: bool = False) -> Path:
    """Write the run folder ``out`` (``predictions.h5`` + ``external.json``) in one rename.

    An existing ``out`` is an error unless ``overwrite``; then it is replaced only after the new
    folder is complete.
    """
    out = _check_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_predictions(tmp / PREDICTIONS_FILE, pred)
        (tmp / EXTERNAL_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _open(dataset):
    from galinfo.data.dataset import Dataset

    return dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)


def from_arrays(dataset, objid: np.ndarray, *, out: str | os.PathLike, latent: np.ndarray | None = None,
                log_q_true: np.ndarray | None = None, pdf: np.ndarray | None = None,
                point: np.ndarray | None = None, inputs: str = "I_ugriz", target: str = "logmstar",
                bins: TargetBins | None = None, overwrite: bool = False) -> Path:
    """Write a run folder at ``out`` from in-memory per-galaxy arrays of a model trained elsewhere.

    ``dataset``: a :class:`~galinfo.data.dataset.Dataset` or its folder. ``objid``: (n,) int64.
    ``latent``: (n, d); ``log_q_true``: (n,) ln q(true bin | x) in nats on ``bins``; ``pdf``: (n, B)
    bin probabilities on ``bins`` (default: the target's default bins, 520 on [6, 12.5] for log M*);
    ``point``: (n,) point estimates in target units. ``inputs``: the input set the model saw.
    Returns ``out``. See the module docstring for the checks.
    """
    _check_out(out, overwrite)  # before any work
    ds = _open(dataset)
    arrays = ModelArrays(objid=np.asarray(objid), latent=latent, log_q_true=log_q_true, pdf=pdf, point=point)
    pred, record = build_predictions(ds, arrays, inputs=inputs, target=target, bins=bins, source="arrays")
    record["dataset"] = str(ds.path)
    return write_external_run(out, pred, record, overwrite=overwrite)


def import_predictions(path: str | os.PathLike, dataset, out: str | os.PathLike, *, inputs: str | None = None,
                       target: str = "logmstar", bins: TargetBins | None = None,
                       overwrite: bool = False) -> Path:
    """Write a run folder at ``out`` from a predictions table (see the module docstring).

    ``inputs``: the input set the model saw; without it the table's ``inputs`` metadata is used
    (a FITS/ECSV header keyword or an HDF5 attribute), else it is an error.
    """
    from galinfo.data.dataset import sha256_file

    path = Path(path)
    _check_out(out, overwrite)  # before reading a large table
    ds = _open(dataset)
    columns, meta = read_table(path)
    inputs = inputs or {str(k).lower(): v for k, v in meta.items()}.get("inputs")
    if not inputs:
        raise ConfigError(f"{path}: name the input set the model saw with --inputs (e.g. I_ugriz)")
    pred, record = build_predictions(ds, columns_to_arrays(columns, str(path)), inputs=inputs, target=target,
                                     bins=bins, source=str(path))
    record.update(dataset=str(ds.path), sha256=sha256_file(path))
    pred.config["external"] = record
    return write_external_run(out, pred, record, overwrite=overwrite)

