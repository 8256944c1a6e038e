"""A galinfo dataset on disk: ``catalog.fits`` + optional ``images.h5`` + ``manifest.json``.

:func:`write_dataset` writes one atomically (a temporary folder, validated, then renamed), and
:class:`Dataset` reads it back, lazily for the image cube, which may be far larger than memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np
from astropy.table import MaskedColumn, Table

from galinfo import __version__
from galinfo.data.inputs import STANDARD_INPUT_SETS, InputSet, parse_inputs
from galinfo.data.schema import (
    BANDS,
    COLUMN_BY_NAME,
    COLUMNS,
    IMAGE_PIXEL_SCALE_ARCSEC,
    IMAGE_UNIT,
    SCHEMA_VERSION,
    SPLITS,
    mag_to_nanomaggies,
)
from galinfo.data.validate import (
    validate_catalog,
    validate_finite,
    validate_image_block,
    validate_objid,
)
from galinfo.errors import DataValidationError, GalinfoError

CATALOG_FILE = "catalog.fits"
IMAGES_FILE = "images.h5"
MANIFEST_FILE = "manifest.json"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _canonical_table(catalog: Table) -> Table:
    """A copy with data-model dtypes and units, string columns stripped, masked floats as NaN."""
    out = Table(catalog, copy=True, masked=False)
    out.meta = {k: v for k, v in catalog.meta.items() if k.upper() not in {"DATE", "CHECKSUM", "COMMENT"}}
    out.meta["comments"] = [
        f"{c.name}: {c.description}" + (f" [{c.unit}]" if c.unit not in (None, "") else "")
        for c in COLUMNS if c.name in catalog.colnames
    ]
    for name in out.colnames:
        col = out[name]
        spec = COLUMN_BY_NAME.get(name)
        data = np.asarray(np.ma.getdata(col))
        if name == "objid":
            out[name] = validate_objid(col)
        elif data.dtype.kind in "SU":
            values = np.char.decode(data, "ascii") if data.dtype.kind == "S" else data
            out[name] = np.char.strip(values.astype(str))
        elif data.dtype.kind == "f" or (spec is not None and spec.dtype == "float64"):
            out[name] = np.ma.filled(np.ma.asarray(col, dtype=np.float64), np.nan)
        elif isinstance(col, MaskedColumn) and np.ma.is_masked(col):
            raise DataValidationError(f"column {name} is an integer column with missing values")
        if spec is not None and spec.unit is not None:
            out[name].unit = spec.unit
        elif col.unit is not None:
            out[name].unit = col.unit
    return out


def _iter_blocks(images) -> Iterable[np.ndarray]:
    if isinstance(images, np.ndarray):
        step = 4096
        for start in range(0, len(images), step):
            yield images[start : start + step]
    else:
        yield from images


def _write_images(path: Path, images, objid: np.ndarray) -> tuple[int, int, int]:
    n = len(objid)
    written = 0
    with h5py.File(path, "w") as f:
        cube = None
        for block in _iter_blocks(images):
            block = np.asarray(block)
            validate_image_block(block, objid, start=min(written, n - 1) if n else 0)
            if cube is None:
                _, c, h, w = block.shape
                cube = f.create_dataset(
                    "images", shape=(n, c, h, w), dtype="float32", chunks=(1, c, h, w)
                )
                cube.attrs["bands"] = "".join(BANDS)
                cube.attrs["pixel_scale_arcsec"] = IMAGE_PIXEL_SCALE_ARCSEC
                cube.attrs["unit"] = IMAGE_UNIT
            elif block.shape[1:] != cube.shape[1:]:
                raise DataValidationError(
                    f"image block shape {block.shape[1:]} differs from the first block's {cube.shape[1:]}"
                )
            if written + len(block) > n:
                raise DataValidationError(
                    f"image cube has more than {n} galaxies, the catalogue has {n} rows"
                )
            cube[written : written + len(block)] = block.astype(np.float32, copy=False)
            written += len(block)
        if written != n:
            raise DataValidationError(
                f"image cube has {written} galaxies but the catalogue has {n} rows"
            )
        f.create_dataset("objid", data=objid.astype(np.int64))
        return tuple(cube.shape[1:]) if cube is not None else (0, 0, 0)


def write_dataset(
    out_dir: str | os.PathLike,
    catalog: Table,
    images=None,
    *,
    provenance: dict | None = None,
    overwrite: bool = False,
    extra_files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a dataset folder atomically.

    ``images``: None, an (N, 5, H, W) array aligned with the catalogue rows, or an iterable of such
    blocks in row order (so a cube larger than memory never needs to be held whole). Everything goes
    to a temporary folder beside ``out_dir``, is validated, and is then renamed into place.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise GalinfoError(f"output folder {out_dir} already exists (use overwrite)")
    table = _canonical_table(catalog)
    validate_catalog(table)
    objid = np.asarray(table["objid"], dtype=np.int64)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        table.write(tmp / CATALOG_FILE, format="fits")
        image_shape = None
        if images is not None:
            image_shape = _write_images(tmp / IMAGES_FILE, images, objid)
        for name, content in (extra_files or {}).items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(tmp / name, mode) as f:
                f.write(content)
        splits = np.asarray(table["split"]).astype(str)
        checksums = {CATALOG_FILE: sha256_file(tmp / CATALOG_FILE)}
        if images is not None:
            checksums[IMAGES_FILE] = sha256_file(tmp / IMAGES_FILE)
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "galinfo_version": __version__,
            "n_rows": len(table),
            "n_per_split": {s: int((splits == s).sum()) for s in SPLITS},
            "has_images": images is not None,
            "image_shape": list(image_shape) if image_shape else None,
            "provenance": provenance or {},
            "checksums": checksums,
        }
        with open(tmp / MANIFEST_FILE, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename folder ``tmp`` to ``out_dir``; an existing ``out_dir`` stays whole until the new one
    is in place (it is first renamed aside, and renamed back if the swap fails)."""
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.rmdir(old)
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def dataset_checksum(checksums: dict[str, str]) -> str:
    """One hex digest of a manifest's per-file checksums (catalog.fits alone: its own digest)."""
    files = {k: v for k, v in checksums.items() if k in (CATALOG_FILE, IMAGES_FILE)}
    if set(files) == {CATALOG_FILE}:
        return files[CATALOG_FILE]
    blob = "\n".join(f"{k}:{v}" for k, v in sorted(files.items()))
    return hashlib.sha256(blob.encode()).hexdigest()


def utc_now() -> str:
    """Current UTC time, ISO 8601, for provenance records."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Dataset:
    """A dataset folder opened for reading. Use :meth:`open`."""

    def __init__(self, path: Path, catalog: Table, manifest: dict):
        self.path = path
        self.catalog = catalog
        self.manifest = manifest
        self._h5: h5py.File | None = None

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, verify: bool = False) -> Dataset:
        """Open a dataset folder; ``verify`` recomputes the manifest checksums."""
        path = Path(path)
        if not path.is_dir():
            raise DataValidationError(f"dataset folder {path} does not exist")
        manifest_path = path / MANIFEST_FILE
        catalog_path = path / CATALOG_FILE
        for p in (manifest_path, catalog_path):
            if not p.exists():
                raise DataValidationError(f"dataset {path} has no {p.name}")
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise DataValidationError(f"{manifest_path} is not valid JSON: {exc}") from None
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise DataValidationError(
                f"{manifest_path} has schema_version {manifest.get('schema_version')!r}, "
                f"galinfo reads {SCHEMA_VERSION}"
            )
        if verify:
            for name, digest in manifest.get("checksums", {}).items():
                if sha256_file(path / name) != digest:
                    raise DataValidationError(f"checksum of {path / name} does not match the manifest")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                catalog = Table.read(catalog_path, format="fits")
        except Exception as exc:  # noqa: BLE001 - any reader failure is a corrupt catalogue
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataValidationError(f"{catalog_path} is not a readable FITS table: {first}") from None
        validate_catalog(catalog)
        if manifest.get("n_rows") != len(catalog):
            raise DataValidationError(
                f"{catalog_path} has {len(catalog)} rows, the manifest says {manifest.get('n_rows')}"
            )
        ds = cls(path, catalog, manifest)
        if ds.has_images:
            ds._check_image_alignment()
        return ds

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, n={self.n}, images={self.has_images})"

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- catalogue --------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.catalog)

    @cached_property
    def objid(self) -> np.ndarray:
        return np.asarray(self.catalog["objid"], dtype=np.int64)

    @cached_property
    def split(self) -> np.ndarray:
        return np.asarray(self.catalog["split"]).astype(str)

    @property
    def checksum(self) -> str:
        """The dataset's content checksum: of catalog.fits, and of images.h5 when there is one.

        Runs, predictions and study caches record it, so a replaced image cube counts as another
        dataset. Without images it is the catalogue's SHA-256 (as before images were covered).
        """
        return dataset_checksum(self.manifest["checksums"])

    def rows(self, split: str) -> np.ndarray:
        """Row indices (int64) of a split: ``train``, ``val`` or ``test``."""
        if split not in SPLITS:
            raise DataValidationError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        return np.flatnonzero(self.split == split).astype(np.int64)

    def column(self, name: str, rows=None) -> np.ndarray:
        """A numeric column as float64 with NaN where missing."""
        if name not in self.catalog.colnames:
            raise DataValidationError(f"dataset {self.path} has no column {name}")
        if np.asarray(self.catalog[name]).dtype.kind not in "fiub":
            raise DataValidationError(f"column {name} of {self.path} is not numeric")
        values = np.ma.filled(np.ma.asarray(self.catalog[name], dtype=float), np.nan)
        return values if rows is None else values[rows]

    def n_missing(self, name: str) -> int:
        """Missing (NaN/masked) values of a column; ``n`` when the column is absent."""
        if name not in self.catalog.colnames:
            return self.n
        col = self.catalog[name]
        if np.asarray(col).dtype.kind not in "fiub":
            return int(np.ma.count_masked(col)) if np.ma.isMaskedArray(col) else 0
        return int((~np.isfinite(self.column(name))).sum())

    def feature_columns(self, input_set: InputSet | str) -> tuple[str, ...]:
        """The tabular feature columns a model of ``input_set`` uses on this dataset."""
        iset = parse_inputs(input_set)
        needed = np.ones(self.n, dtype=bool)  # galaxies a model of iset can use at all
        for c in iset.required_columns:
            if c in self.catalog.colnames:
                needed &= np.isfinite(self.column(c))

        def complete(c: str) -> bool:  # a companion is used when every such galaxy has it
            return c in self.catalog.colnames and not np.any(needed & ~np.isfinite(self.column(c)))

        return iset.resolve_columns(lambda c: self.n_missing(c) < self.n, complete)

    def features(self, input_set: InputSet | str, rows=None) -> np.ndarray:
        """Tabular features (float32, (n, n_features)); missing values in used rows raise."""
        cols = self.feature_columns(input_set)
        if not cols:
            return np.zeros((self.n if rows is None else len(rows), 0), dtype=np.float32)
        validate_finite(self.catalog, cols, rows)
        return np.stack([self.column(c, rows) for c in cols], axis=1).astype(np.float32)

    def complete_rows(self, input_set: InputSet | str, rows=None) -> np.ndarray:
        """Of ``rows`` (default all), those with every feature of ``input_set`` present."""
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        ok = np.ones(len(rows), dtype=bool)
        for c in self.feature_columns(input_set):
            ok &= np.isfinite(self.column(c, rows))
        return rows[ok]

    def target(self, column: str = "logmstar", rows=None) -> np.ndarray:
        """Target values (float64); missing values in the selected rows raise."""
        validate_finite(self.catalog, [column], rows)
        return self.column(column, rows)

    def input_set_status(self, input_set: InputSet | str) -> tuple[bool, str]:
        """(available, one-line reason) for an input set on this dataset."""
        iset = parse_inputs(input_set)
        if iset.has_images and not self.has_images:
            return False, "no image cube"
        try:
            cols = self.feature_columns(iset)
        except DataValidationError as exc:
            return False, str(exc)
        partial = [c for c in iset.required_columns if self.n_missing(c)]
        if partial:
            counts = ", ".join(f"{c}: {self.n_missing(c)}" for c in partial)
            return True, f"partial (missing values in {counts})"
        detail = f"{len(cols)} column{'s' if len(cols) != 1 else ''}" + (f" + {iset.n_image_channels} image bands" if iset.has_images else "")
        if iset.morph_bands:
            bands = sorted({c.rsplit('_', 1)[1] for c in cols if c in iset.morph_columns}, key=BANDS.index)
            detail += f" (morphology bands: {''.join(bands)})"
        return True, detail

    def available_input_sets(self, names: Sequence[str] = STANDARD_INPUT_SETS) -> dict[str, tuple[bool, str]]:
        return {name: self.input_set_status(name) for name in names}

    # -- images -----------------------------------------------------------------------------
    @property
    def has_images(self) -> bool:
        return bool(self.manifest.get("has_images")) and (self.path / IMAGES_FILE).exists()

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return tuple(self.manifest["image_shape"]) if self.has_images else None

    def _file(self) -> h5py.File:
        if self._h5 is None:
            self._h5 = h5py.File(self.path / IMAGES_FILE, "r")
        return self._h5

    def _check_image_alignment(self) -> None:
        f = self._file()
        if "images" not in f or "objid" not in f:
            raise DataValidationError(f"{self.path / IMAGES_FILE} lacks the 'images' or 'objid' dataset")
        shape = f["images"].shape
        if len(shape) != 4 or shape[0] != self.n or shape[1] != 5:
            raise DataValidationError(
                f"{self.path / IMAGES_FILE} has shape {shape}, expected ({self.n}, 5, H, W)"
            )
        cube_ids = f["objid"][()]
        bad = cube_ids != self.objid
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"image cube is misaligned with the catalogue at {int(bad.sum())} rows "
                f"(first row {first}: cube objid {int(cube_ids[first])}, catalogue {int(self.objid[first])})"
            )

    def images(self, rows=None, bands: Sequence[str] | None = None) -> np.ndarray:
        """Images (float32, (n, n_bands, H, W), nanomaggies/pixel) of ``rows``, read lazily."""
        if not self.has_images:
            raise DataValidationError(f"dataset {self.path} has no image cube")
        cube = self._file()["images"]
        channels = [BANDS.index(b) for b in (bands or BANDS)]
        if rows is None:
            out = cube[()]
        else:
            rows = np.asarray(rows, dtype=np.int64)
            order = np.argsort(rows, kind="stable")
            uniq, inverse = np.unique(rows[order], return_inverse=True)
            if uniq.size and (uniq[0] < 0 or uniq[-1] >= self.n):
                raise DataValidationError(f"image rows must lie in [0, {self.n})")
            block = cube[uniq] if uniq.size else np.zeros((0, *cube.shape[1:]), np.float32)
            out = np.empty((len(rows), *cube.shape[1:]), dtype=np.float32)
            out[order] = block[inverse]
        return out[:, channels] if len(channels) != cube.shape[1] else out

    def petrosian_flux(self, rows=None, bands: Sequence[str] = BANDS) -> np.ndarray:
        """Petrosian fluxes (float64, (n, n_bands)) in nanomaggies, from ``mag_<band>``."""
        cols = [f"mag_{b}" for b in bands]
        validate_finite(self.catalog, cols, rows)
        return np.stack([mag_to_nanomaggies(self.column(c, rows)) for c in cols], axis=1)
