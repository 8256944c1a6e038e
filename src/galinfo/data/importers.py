"""Importers into the data model: any table with a column mapping, NA10, LCS, and the paper's npz."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import yaml
from astropy.table import Table

from galinfo.atomic import atomic_path
from galinfo.data.catalog import as_float, assign_splits, drop_rows, empty_catalog
from galinfo.data.dataset import Dataset, utc_now, write_dataset
from galinfo.data.schema import (
    BANDS,
    COLUMN_BY_NAME,
    PAPER_NPZ_NAMES,
    SPLITS,
    nanomaggies_to_mag,
)
from galinfo.data.validate import mask_catalog
from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

_PAPER_SPLIT_KEYS = {"train": "id_train", "val": "id_validation", "test": "id_test"}
_REQUIRED_TARGET = ("z", "logmstar")


def _read_table(path: Path) -> Table:
    if not path.exists():
        raise DataValidationError(f"input file {path} does not exist")
    formats = {".fits": "fits", ".fit": "fits", ".fz": "fits", ".ecsv": "ascii.ecsv",
               ".csv": "ascii.csv", ".parquet": "parquet"}
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise DataValidationError(
            f"cannot read {path}: unknown extension {path.suffix!r} (use .fits, .ecsv, .csv, .parquet)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Table.read(path, format=fmt)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise DataValidationError(f"cannot read {path} as {fmt}: {exc}") from None


def _finish(table: Table, report: dict[str, int], *, seed: int, keep_split: bool) -> Table:
    """Drop rows without target or redshift, assign splits, return the table."""
    reasons = {f"missing {c}": ~np.isfinite(np.asarray(table[c], dtype=float)) for c in _REQUIRED_TARGET}
    table, counts = drop_rows(table, reasons)
    report.update(counts)
    if len(table) == 0:
        raise DataValidationError("no galaxy left after dropping rows without z or logmstar")
    if not keep_split:
        table["split"] = assign_splits(np.asarray(table["logmstar"], dtype=float), seed=seed)
    return table


def _report(kind: str, path: Path, n_in: int, report: dict, n_out: int) -> dict:
    """Provenance of an import: rows in/out, values masked per column and why, rows dropped and why."""
    dropped = {k: v for k, v in report.items() if k != "masked" and v}
    return {"importer": kind, "source": str(path), "rows_in": n_in, "rows_out": n_out,
            "masked": report.get("masked", {}), "dropped": dropped, "created_utc": utc_now()}


# -- generic tables ------------------------------------------------------------------------------
def load_mapping(path: str | os.PathLike | None) -> dict[str, str]:
    """Read a YAML mapping ``{data-model column: source column}``."""
    if path is None:
        return {}
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"mapping file {path} does not exist")
    try:
        mapping = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"mapping file {path} is not valid YAML: {exc}") from None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ConfigError(f"mapping file {path} must map data-model column names to source column names")
    unknown = [k for k in mapping if k not in COLUMN_BY_NAME]
    if unknown:
        raise ConfigError(f"mapping file {path} names unknown data-model column(s): {', '.join(unknown)}")
    return mapping


def table_to_catalog(source: Table, mapping: dict[str, str] | None = None, *,
                     seed: int = 0) -> tuple[Table, dict]:
    """Map any table onto the data model. Unmapped data-model columns stay missing (NaN).

    Sentinels and out-of-range values are masked by :func:`galinfo.data.validate.mask_catalog`;
    the report holds ``masked`` ({column: {reason: count}}) and the rows dropped per reason.
    """
    mapping = dict(mapping or {})
    for name in COLUMN_BY_NAME:
        if name not in mapping and name in source.colnames:
            mapping[name] = name
    missing_src = [f"{k}<-{v}" for k, v in mapping.items() if v not in source.colnames]
    if missing_src:
        raise DataValidationError(f"source table lacks mapped column(s): {', '.join(missing_src)}")
    for need in ("objid", *_REQUIRED_TARGET):
        if need not in mapping:
            raise DataValidationError(f"source table has no column for {need} (add it to the mapping)")
    n = len(source)
    table = empty_catalog(n)
    for name, src in mapping.items():
        spec = COLUMN_BY_NAME[name]
        if spec.dtype == "float64":
            table[name] = as_float(source[src])
        elif name == "objid":
            table[name] = source[src]
        else:
            table[name] = np.char.strip(np.asarray(source[src]).astype(str))
    for name in source.colnames:  # keep extra columns unchanged
        if name not in table.colnames and name not in mapping.values():
            table[name] = source[name]
    report: dict = {"masked": mask_catalog(table)}
    table = _finish(table, report, seed=seed, keep_split="split" in mapping)
    return table, report


def import_table(path, out, *, mapping_path=None, seed: int = 0, overwrite: bool = False) -> Path:
    """``galinfo import table``: any FITS/ECSV/CSV/Parquet table into a dataset folder."""
    path = Path(path)
    source = _read_table(path)
    table, report = table_to_catalog(source, load_mapping(mapping_path), seed=seed)
    prov = _report("table", path, len(source), report, len(table))
    return write_dataset(out, table, provenance=prov, overwrite=overwrite)


# -- NA10 ----------------------------------------------------------------------------------------
def na10_catalog(source: Table, *, seed: int = 0) -> tuple[Table, dict]:
    """Nair & Abraham (2010) -> data model.

    ugriz from ``RMAG`` and the observed colours (g = r + GR, u = g + UG, i = r - RI, z = i - IZ);
    ``LGM`` -> logmstar (rows with LGM <= 5 dropped as missing); ``Z`` -> z; magnitudes outside
    [5, 30] are missing (the catalogue's colours were built from -9999 sentinels in a few rows); r-band ``RP50 RP90 B_A NR``
    and g-band ``NG`` morphology (NG/NR = 0 are missing). ``objid`` = (plate * 100000 + mjd) * 10000
    + fiber. ``cls`` from the MPA-JHU specific SFR ``SFRM``: sf above -11 (log yr^-1), passive at or
    below, other where missing. NA10 has no magnitude errors, WISE, E(B-V) or other bands' morphology:
    those stay missing.
    """
    for col in ("Z", "LGM", "RMAG", "UG", "GR", "RI", "IZ", "PLATEID", "MJD", "FIBERID"):
        if col not in source.colnames:
            raise DataValidationError(f"NA10 table lacks column {col}")
    n = len(source)
    t = empty_catalog(n)
    plate, mjd, fiber = (np.asarray(source[c], dtype=np.int64) for c in ("PLATEID", "MJD", "FIBERID"))
    t["objid"] = (plate * 100000 + mjd) * 10000 + fiber
    t["z"] = as_float(source["Z"])
    t["logmstar"] = as_float(source["LGM"])
    r = as_float(source["RMAG"])
    ug, gr, ri, iz = (as_float(source[c]) for c in ("UG", "GR", "RI", "IZ"))
    g = r + gr
    i = r - ri
    # a colour built from a -9999 magnitude gives e.g. UG = -10015: the magnitude range masks it
    for band, mag in {"r": r, "g": g, "u": g + ug, "i": i, "z": i - iz}.items():
        t[f"mag_{band}"] = mag
    if "RP50" in source.colnames:
        t["r50_r"] = as_float(source["RP50"])
        t["r90_r"] = as_float(source["RP90"])
    if "B_A" in source.colnames:
        t["ab_r"] = as_float(source["B_A"])
    for band, col in (("r", "NR"), ("g", "NG")):
        if col in source.colnames:
            t[f"sersic_n_{band}"] = as_float(source[col])
    if "SFRM" in source.colnames:
        ssfr = as_float(source["SFRM"], sentinels=(-9999.0, -30.0), below=-29.0)
        t["cls"] = np.where(np.isfinite(ssfr), np.where(ssfr > -11.0, "sf", "passive"), "other")
        t["ssfr"] = ssfr
    for src, name in (("RA", "ra"), ("DEC", "dec"), ("T_TYPE", "t_type")):
        if src in source.colnames:
            t[name] = as_float(source[src])
    masked = mask_catalog(t)
    reasons = {"duplicate plate-mjd-fiber": _duplicated(np.asarray(t["objid"]))}
    reasons["missing ugriz magnitude"] = ~np.all(
        [np.isfinite(np.asarray(t[f"mag_{b}"])) for b in BANDS], axis=0
    )
    t, report = drop_rows(t, reasons)
    report["masked"] = masked
    t = _finish(t, report, seed=seed, keep_split=False)
    return t, report


def _duplicated(values: np.ndarray) -> np.ndarray:
    _, first = np.unique(values, return_index=True)
    dup = np.ones(len(values), dtype=bool)
    dup[first] = False
    return dup


def import_na10(path, out, *, seed: int = 0, overwrite: bool = False) -> Path:
    """``galinfo import na10``: the Nair & Abraham (2010) catalogue into a dataset folder."""
    path = Path(path)
    source = _read_table(path)
    table, report = na10_catalog(source, seed=seed)
    prov = _report("na10", path, len(source), report, len(table))
    prov["citation"] = "Nair & Abraham 2010, ApJS 186, 427 (SDSS DR4; MPA-JHU stellar masses)"
    return write_dataset(out, table, provenance=prov, overwrite=overwrite)


# -- LCS -----------------------------------------------------------------------------------------
def lcs_catalog(source: Table, *, seed: int = 0) -> tuple[Table, dict]:
    """Local Cluster Survey ``LCS_all_size.fits`` -> data model.

    ugriz from NSA ``NMGY`` (index 2..6, nanomaggies; mag = 22.5 - 2.5 log10 f) with errors from
    ``NMGY_IVAR``; WISE ``W1MAG_3..W3MAG_3`` (0 = no match -> missing; no errors given); ``ZDIST`` -> z;
    ``MSTAR_50`` (iSEDfit) -> logmstar; r-band ``SERSIC_N SERSIC_BA PETROTH50 PETROTH90``;
    ``objid`` = ``NSAID`` (repeated NSAIDs dropped). ``cls``: other for Kauffmann AGN (``AGNKAUFF``),
    else passive where D4000 > 1.6, else sf.
    """
    for col in ("NSAID", "NMGY", "ZDIST", "MSTAR_50"):
        if col not in source.colnames:
            raise DataValidationError(f"LCS table lacks column {col}")
    n = len(source)
    t = empty_catalog(n)
    t["objid"] = np.asarray(source["NSAID"], dtype=np.int64)
    t["z"] = as_float(source["ZDIST"])
    t["logmstar"] = as_float(source["MSTAR_50"])
    flux = np.ma.filled(np.ma.asarray(source["NMGY"], dtype=float), np.nan)
    ivar = (np.ma.filled(np.ma.asarray(source["NMGY_IVAR"], dtype=float), np.nan)
            if "NMGY_IVAR" in source.colnames else np.full_like(flux, np.nan))
    for k, band in enumerate(BANDS):
        f, iv = flux[:, k + 2], ivar[:, k + 2]
        t[f"mag_{band}"] = nanomaggies_to_mag(f)
        with np.errstate(divide="ignore", invalid="ignore"):
            err = 2.5 / np.log(10) / (f * np.sqrt(iv))
        t[f"magerr_{band}"] = np.where((f > 0) & (iv > 0), err, np.nan)
    for w in ("w1", "w2", "w3"):
        col = f"{w.upper()}MAG_3"
        if col in source.colnames:
            t[w] = as_float(source[col])
    for name, col in (("sersic_n_r", "SERSIC_N"), ("ab_r", "SERSIC_BA"), ("r50_r", "PETROTH50"),
                      ("r90_r", "PETROTH90")):
        if col in source.colnames:
            t[name] = as_float(source[col])
    agn = np.asarray(source["AGNKAUFF"], dtype=bool) if "AGNKAUFF" in source.colnames else np.zeros(n, bool)
    d4000 = as_float(source["D4000"], sentinels=(-9999.0,)) if "D4000" in source.colnames else np.full(n, np.nan)
    t["cls"] = np.where(agn | ~np.isfinite(d4000), "other", np.where(d4000 > 1.6, "passive", "sf"))
    for src, name in (("RA", "ra"), ("DEC", "dec")):
        if src in source.colnames:
            t[name] = as_float(source[src])
    if "CLUSTER" in source.colnames:
        t["cluster"] = np.char.strip(np.asarray(source["CLUSTER"]).astype(str))
    masked = mask_catalog(t)
    reasons = {"repeated NSAID": _duplicated(np.asarray(t["objid"])),
               "missing ugriz magnitude": ~np.all([np.isfinite(np.asarray(t[f"mag_{b}"])) for b in BANDS], axis=0)}
    t, report = drop_rows(t, reasons)
    report["masked"] = masked
    t = _finish(t, report, seed=seed, keep_split=False)
    return t, report


def import_lcs(path, out, *, seed: int = 0, overwrite: bool = False) -> Path:
    """``galinfo import lcs``: the Local Cluster Survey table into a dataset folder."""
    path = Path(path)
    source = _read_table(path)
    table, report = lcs_catalog(source, seed=seed)
    prov = _report("lcs", path, len(source), report, len(table))
    prov["citation"] = ("Finn et al. 2018 (ApJ 862, 149); NASA-Sloan Atlas (Blanton et al. 2011); "
                        "WISE (Wright et al. 2010); iSEDfit masses (Moustakas)")
    return write_dataset(out, table, provenance=prov, overwrite=overwrite)


# -- the paper code's npz pair -------------------------------------------------------------------
def read_paper_npz(catalog_npz, images_npz=None, *,
                   objid_key: str = "objid") -> tuple[Table, np.ndarray | None, dict[str, dict[str, int]]]:
    """Read the paper code's ``catalog.npz`` (+ ``images.npz``) into a data-model table and cube.

    Rows are ordered as in the npz; ``id_train/id_validation/id_test`` are row indices. Without an
    ``objid`` key, objid is the row index. Sentinels (−9999, −1 for masses, WISE 0) and values
    outside the physical ranges become missing (:func:`~galinfo.data.validate.mask_catalog`); the
    third value returned counts them per column and reason. No row is dropped: a galaxy without a
    mass stays, and the analyses leave it out and count it.
    """
    catalog_npz = Path(catalog_npz)
    if not catalog_npz.exists():
        raise DataValidationError(f"catalogue file {catalog_npz} does not exist")
    with np.load(catalog_npz, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    for key in ("lgm_tot_p50", "z", *_PAPER_SPLIT_KEYS.values()):
        if key not in data:
            raise DataValidationError(f"{catalog_npz} lacks key {key}")
    n = len(data["lgm_tot_p50"])
    t = empty_catalog(n)
    if objid_key in data:
        t["objid"] = data[objid_key]
    else:
        t["objid"] = np.arange(n, dtype=np.int64)
    for name, key in PAPER_NPZ_NAMES.items():
        if key in data:
            if len(data[key]) != n:
                raise DataValidationError(f"{catalog_npz} key {key} has {len(data[key])} rows, lgm_tot_p50 has {n}")
            t[name] = np.asarray(data[key], dtype=float)
    split = np.full(n, "", dtype="U5")
    for name, key in _PAPER_SPLIT_KEYS.items():
        idx = np.asarray(data[key])
        if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= n)):
            raise DataValidationError(f"{catalog_npz} key {key} must hold row indices in [0, {n})")
        if np.any(split[idx] != ""):
            raise DataValidationError(f"{catalog_npz} key {key} repeats rows of another split")
        split[idx] = name
    if np.any(split == ""):
        raise DataValidationError(f"{int((split == '').sum())} rows of {catalog_npz} are in no split")
    t["split"] = split
    known = {objid_key, *PAPER_NPZ_NAMES.values(), *_PAPER_SPLIT_KEYS.values()}
    for key, value in data.items():
        if key not in known and value.ndim == 1 and len(value) == n:
            t[key] = value if value.dtype.kind not in "SU" else value.astype(str)
    masked = mask_catalog(t)
    cube = None
    if images_npz is not None:
        images_npz = Path(images_npz)
        if not images_npz.exists():
            raise DataValidationError(f"image file {images_npz} does not exist")
        with np.load(images_npz, allow_pickle=False) as npz:
            missing = [f"img_{b}" for b in BANDS if f"img_{b}" not in npz.files]
            if missing:
                raise DataValidationError(f"{images_npz} lacks key(s) {', '.join(missing)}")
            cube = np.stack([npz[f"img_{b}"].astype(np.float32) for b in BANDS], axis=1)
        if len(cube) != n:
            raise DataValidationError(f"{images_npz} has {len(cube)} galaxies, {catalog_npz} has {n}")
    return t, cube, masked


def import_paper_npz(catalog_npz, out, *, images_npz=None, overwrite: bool = False) -> Path:
    """``galinfo import npz``: the paper code's npz pair into a dataset folder."""
    table, cube, masked = read_paper_npz(catalog_npz, images_npz)
    prov = _report("paper-npz", Path(catalog_npz), len(table), {"masked": masked}, len(table))
    prov["images"] = str(images_npz) if images_npz else None
    return write_dataset(out, table, cube, provenance=prov, overwrite=overwrite)


def export_sentinel(column: str) -> float:
    """The value the surveys write for a missing ``column``: SDSS −9999, MPA-JHU −1 for the mass,
    WISE 0 (no match) for its magnitudes, NaN for morphology (failed fits)."""
    if column == "logmstar":
        return -1.0
    if column in ("w1", "w2", "w3"):
        return 0.0
    if column.startswith(("sersic_n_", "ab_", "r50_", "r90_")):
        return np.nan
    return -9999.0


def export_paper_npz(dataset, out_dir) -> tuple[Path, Path | None]:
    """Write a dataset as the paper code's ``catalog.npz`` (+ ``images.npz``), atomically.

    Data-model columns go under the paper's names, ``objid`` and ``cls`` and extra columns under
    their own. Missing values are written as the surveys write them (:func:`export_sentinel`), so
    that importing the files again has to undo them.
    """
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cat = ds.catalog
    arrays: dict[str, np.ndarray] = {"objid": ds.objid}
    for name, key in PAPER_NPZ_NAMES.items():
        values = ds.column(name)
        arrays[key] = np.where(np.isnan(values), export_sentinel(name), values)
    for name, key in _PAPER_SPLIT_KEYS.items():
        arrays[key] = ds.rows(name)
    arrays["cls"] = np.asarray(cat["cls"]).astype(str)
    for name in cat.colnames:
        if name not in COLUMN_BY_NAME and name not in arrays and cat[name].ndim == 1:
            col = np.asarray(np.ma.filled(cat[name], np.nan) if cat[name].dtype.kind == "f" else cat[name])
            arrays[name] = col.astype(str) if col.dtype.kind in "SU" else col
    cat_path = _atomic_npz(out_dir / "catalog.npz", arrays)
    img_path = None
    if ds.has_images:
        cube = ds.images()
        img_path = _atomic_npz(out_dir / "images.npz", {f"img_{b}": cube[:, k] for k, b in enumerate(BANDS)})
    return cat_path, img_path


def _atomic_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


__all__ = [
    "SPLITS",
    "export_paper_npz",
    "export_sentinel",
    "import_lcs",
    "import_na10",
    "import_paper_npz",
    "import_table",
    "lcs_catalog",
    "load_mapping",
    "na10_catalog",
    "read_paper_npz",
    "table_to_catalog",
]
