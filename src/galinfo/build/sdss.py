"""``galinfo build sdss``: a dataset from SDSS DR17 (SkyServer), MPA-JHU, ALLWISE and corrected frames.

The build runs in chunks of galaxies. Each finished chunk (catalogue rows, WISE match, cutouts,
what it asked and what it masked) is saved under the work folder ``OUT.work/`` beside the output,
so an interrupted build resumes where it stopped. At the end the chunks are joined, passed
through the missing-value contract (:func:`galinfo.data.validate.mask_catalog`), split and written
with :func:`galinfo.data.dataset.write_dataset` (atomic: no half-written OUT). See
``docs/sdss.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack

from galinfo.atomic import atomic_path, write_bytes
from galinfo.build import queries as q
from galinfo.build.join import match_wise, merge_counts, sdss_catalog
from galinfo.build.service import (
    SDSS_EXTRA_MESSAGE,
    SdssService,
    ServiceError,
    frame_name,
    one_line,
)
from galinfo.data.catalog import as_float, assign_splits
from galinfo.data.dataset import sha256_file, utc_now, write_dataset
from galinfo.data.schema import BANDS
from galinfo.data.validate import mask_catalog
from galinfo.errors import ConfigError, DataValidationError, GalinfoError

log = logging.getLogger(__name__)

WORK_SUFFIX = ".work"
#: Typical size of one compressed corrected frame (frame-*.fits.bz2, one band), MB.
FRAME_MB = 3.5
#: Main-sample galaxies per SDSS field on average (~100 spectra/deg^2 x 0.037 deg^2 per field).
GALAXIES_PER_FIELD = 3.0
#: objids (or positions) per catalogue query: ~2 kB of SQL on top of the ~2 kB select list.
KEYS_PER_QUERY = 100
CITATION = ("SDSS DR17 (Abdurro'uf et al. 2022, ApJS 259, 35); MPA-JHU stellar masses (Kauffmann et al. "
            "2003, MNRAS 341, 33; Salim et al. 2007, ApJS 173, 267); ALLWISE (Wright et al. 2010, AJ 140, "
            "1868; Mainzer et al. 2011, ApJ 731, 53)")


@dataclass(frozen=True)
class Selection:
    """Which galaxies: a ``where`` expression (on SkyServer columns), or objids, or ra/dec [deg]."""

    where: str | None = None
    objids: tuple[int, ...] | None = None
    ra: tuple[float, ...] | None = None
    dec: tuple[float, ...] | None = None
    limit: int | None = None

    @property
    def kind(self) -> str:
        return "objids" if self.objids is not None else "coords" if self.ra is not None else "where"


@dataclass(frozen=True)
class BuildOptions:
    """How to build. ``wise_radius_arcsec``: ALLWISE match radius; ``coord_radius_arcsec``: radius
    of the nearest-object search of a coordinate selection; ``cutout_size`` in 0.396" pixels."""

    data_release: int = 17
    chunk_size: int = 1000
    workers: int = 4
    wise_radius_arcsec: float = 3.0
    coord_radius_arcsec: float = 2.0
    images: bool = True
    cutout_size: int = 64
    seed: int = 0
    frames_dir: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("chunk_size", "workers", "cutout_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.wise_radius_arcsec <= 30:
            raise ConfigError(f"--wise-radius must lie in (0, 30] arcsec, got {self.wise_radius_arcsec}")


def work_folder(out: Path) -> Path:
    """The resumable work folder of a build of ``out``: ``OUT.work`` beside it."""
    out = Path(out)
    return out.parent / f"{out.name}{WORK_SUFFIX}"


def read_selection_file(path: Path, kind: str, limit: int | None = None) -> Selection:
    """A table (FITS/ECSV/CSV) of objids (column ``objid``) or coordinates (``ra``, ``dec``, deg)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"--{kind} file {path} does not exist")
    fmt = {".fits": "fits", ".fit": "fits", ".ecsv": "ascii.ecsv"}.get(path.suffix.lower(), "ascii.csv")
    try:
        table = Table.read(path, format=fmt)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise ConfigError(f"cannot read --{kind} file {path}: {one_line(exc)}") from None
    cols = {c.lower(): c for c in table.colnames}
    need = ("objid",) if kind == "objids" else ("ra", "dec")
    missing = [c for c in need if c not in cols]
    if missing:
        raise ConfigError(f"--{kind} file {path} lacks column(s) {', '.join(missing)}")
    if kind == "objids":
        return Selection(objids=tuple(int(v) for v in q.as_objids(table[cols["objid"]])), limit=limit)
    return Selection(ra=tuple(float(v) for v in table[cols["ra"]]),
                     dec=tuple(float(v) for v in table[cols["dec"]]), limit=limit)


# -- the plan: what will be asked ----------------------------------------------------------------
def _input_keys(sel: Selection) -> tuple[np.ndarray | None, dict[str, int]]:
    """Input objids (deduplicated, limited) or coordinate indices; counts of what was dropped."""
    dropped: dict[str, int] = {}
    if sel.kind == "objids":
        ids = np.asarray(sel.objids, dtype=np.int64)
        _, first = np.unique(ids, return_index=True)
        keep = np.sort(first)
        dropped["duplicate objid in the input"] = len(ids) - len(keep)
        ids = ids[keep][: sel.limit]
        return ids, dropped
    if sel.kind == "coords":
        n = len(sel.ra) if sel.limit is None else min(len(sel.ra), sel.limit)
        return np.arange(n, dtype=np.int64), dropped
    return None, dropped


def catalogue_sqls(sel: Selection, keys: np.ndarray, opts: BuildOptions) -> list[str]:
    """The catalogue queries of one chunk: at most :data:`KEYS_PER_QUERY` objids or positions each
    (astroquery sends SQL in the URL of a GET request, which servers cap at a few kB)."""
    parts = [keys[i : i + KEYS_PER_QUERY] for i in range(0, len(keys), KEYS_PER_QUERY)]
    if sel.kind == "coords":
        ra, dec = np.asarray(sel.ra), np.asarray(sel.dec)
        return [q.catalogue_sql_coords(ra[p], dec[p], opts.coord_radius_arcsec, idx=p) for p in parts]
    return [q.catalogue_sql_objids(p) for p in parts]


def dry_run(sel: Selection, opts: BuildOptions) -> str:
    """The queries a build would send and its estimated download, without any network access."""
    keys, _ = _input_keys(sel)
    lines = [f"SDSS DR{opts.data_release} build, {opts.chunk_size} galaxies per chunk"]
    if sel.kind == "where":
        lines += ["-- selection (SkyServer SQL):", q.selection_sql(sel.where, sel.limit)]
        n = sel.limit
        lines += [f"-- catalogue of each chunk (SkyServer SQL; IN holds up to {KEYS_PER_QUERY} of its objids):",
                  q.catalogue_sql_objids([0]).replace("IN (0)", "IN (<objids of the chunk>)")]
    else:
        n = len(keys)
        lines += [f"-- catalogue of chunk 1 (SkyServer SQL, first of {-(-min(n, opts.chunk_size) // KEYS_PER_QUERY)}):",
                  catalogue_sqls(sel, keys[: opts.chunk_size], opts)[0]]
    lines += [f"-- ALLWISE match of each chunk (IRSA TAP, positions uploaded, radius {opts.wise_radius_arcsec:g}\"):",
              q.allwise_adql(opts.wise_radius_arcsec)]
    if n is None:
        lines.append("estimated download: unknown until the selection runs (give --limit N for an estimate)")
        return "\n".join(lines)
    n_chunks = -(-n // opts.chunk_size)
    per_chunk = -(-min(n, opts.chunk_size) // KEYS_PER_QUERY)
    n_queries = n_chunks * (per_chunk + 1) + (sel.kind == "where")
    if opts.images:
        most = n * len(BANDS) * FRAME_MB / 1024
        typical = most / GALAXIES_PER_FIELD
        cube = n * len(BANDS) * opts.cutout_size**2 * 4 / 1024**3
        lines.append(
            f"estimated download for {n} galaxies: {n_queries} queries and "
            f"{typical:.2f} GB of corrected frames typically (at most {most:.2f} GB: {len(BANDS)} frames "
            f"per galaxy x {FRAME_MB:g} MB per compressed frame, about {GALAXIES_PER_FIELD:g} galaxies "
            f"sharing a field); images.h5 {cube:.2f} GB")
    else:
        lines.append(f"estimated download for {n} galaxies: {n_queries} queries, no frames (--no-images)")
    return "\n".join(lines)


def _plan_digest(sel: Selection, opts: BuildOptions) -> str:
    blob = json.dumps({"selection": asdict(sel), "options": {k: v for k, v in asdict(opts).items()
                                                            if k not in ("workers", "seed", "frames_dir")}},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _prepare_work(work: Path, sel: Selection, opts: BuildOptions) -> None:
    digest = _plan_digest(sel, opts)
    plan = work / "plan.json"
    if plan.exists():
        old = json.loads(plan.read_text()).get("digest")
        if old != digest:
            raise ConfigError(f"work folder {work} holds another build (other selection or options); "
                              "rerun with the same ones to resume, or delete it")
        return
    write_bytes(plan, json.dumps({"digest": digest, "selection": asdict(sel), "options": asdict(opts),
                                  "created_utc": utc_now()}, indent=1, default=str).encode())


def _ask(what: str, fn: Callable):
    """A service call; any failure becomes one :class:`ServiceError` line naming what failed."""
    try:
        return fn()
    except GalinfoError:
        raise
    except Exception as exc:  # noqa: BLE001 - a fake, recorded or real client: report, do not crash
        raise ServiceError(f"{what} failed: {one_line(exc)}") from None


def _chunks(sel: Selection, opts: BuildOptions, service: SdssService, work: Path) -> tuple[list[np.ndarray], dict, list[str]]:
    """The chunks' keys (objids or coordinate indices), input drops, and the selection query."""
    keys, dropped = _input_keys(sel)
    asked: list[str] = []
    if keys is None:
        sql = q.selection_sql(sel.where, sel.limit)
        asked.append(sql)
        path = work / "selection.fits"
        if not path.exists():
            result = _ask("SkyServer selection query", lambda: service.query_sql(sql))
            ids = q.as_objids(result["objid"]) if len(result) else np.zeros(0, np.int64)
            with atomic_path(path) as tmp:
                Table({"objid": ids}).write(tmp, format="fits", overwrite=True)
        keys = np.asarray(Table.read(path, format="fits")["objid"], dtype=np.int64)
    if len(keys) == 0:
        raise DataValidationError("the selection matched no galaxy")
    return [keys[i : i + opts.chunk_size] for i in range(0, len(keys), opts.chunk_size)], dropped, asked


# -- one chunk ------------------------------------------------------------------------------------
def _frames(service: SdssService, fields: list[tuple[int, int, int]], workers: int) -> dict:
    """Download (or find) the five frames of each field in parallel: {(field, band): path or None}."""
    jobs = [(f, b) for f in fields for b in BANDS]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        paths = list(pool.map(lambda job: _ask(f"frame {frame_name(job[1], *job[0])}",
                                                lambda: service.get_frame(*job[0], job[1])), jobs))
    return dict(zip(jobs, paths, strict=True))


def _cutouts(cat: Table, service: SdssService, opts: BuildOptions) -> tuple[np.ndarray, dict]:
    """Cutouts of a chunk's galaxies, one field at a time (its five frames in memory, no more)."""
    from galinfo.build.cutouts import cut_ugriz, read_frame

    n, size = len(cat), opts.cutout_size
    cube = np.full((n, len(BANDS), size, size), np.nan, dtype=np.float32)
    reason = np.full(n, "", dtype="U40")
    offset = np.full((n, 2), np.nan)
    keys = list(zip(*(np.asarray(cat[c], dtype=np.int64) for c in ("run", "camcol", "field")), strict=True))
    fields = sorted(set(keys))
    paths = _frames(service, fields, opts.workers)
    checksums = {p.name: sha256_file(p) for p in paths.values() if p is not None}
    for fld in fields:
        rows = [i for i, k in enumerate(keys) if k == fld]
        if any(paths[(fld, b)] is None for b in BANDS):
            reason[rows] = "frame not available"
            continue
        frames = {b: read_frame(paths[(fld, b)]) for b in BANDS}
        for i in rows:
            cut = cut_ugriz(frames, float(cat["ra"][i]), float(cat["dec"][i]), size)
            reason[i], offset[i] = cut.reason, cut.offset
            if cut.image is not None:
                cube[i] = cut.image
    cat["cutout_reason"] = reason
    cat["cutout_dx"], cat["cutout_dy"] = offset[:, 0], offset[:, 1]
    return cube, checksums


def _chunk_paths(work: Path, k: int) -> tuple[Path, Path]:
    return work / "chunks" / f"chunk-{k:05d}.json", work / "chunks" / f"chunk-{k:05d}.fits"


def _run_chunk(k: int, keys: np.ndarray, sel: Selection, opts: BuildOptions, service: SdssService,
               work: Path) -> None:
    sqls = catalogue_sqls(sel, keys, opts)
    parts = [Table(_ask(f"SkyServer catalogue query of chunk {k}", lambda sql=sql: service.query_sql(sql)))
             for sql in sqls]
    parts = [p for p in parts if len(p)]
    cat = vstack(parts, metadata_conflicts="silent") if parts else Table()
    if len(cat):
        cat["objid"] = q.as_objids(cat["objid"])
        cat["specobjid"] = q.as_objids(cat["specobjid"])
    n_found = len(np.unique(cat["idx" if "idx" in cat.colnames else "objid"])) if len(cat) else 0
    record: dict = {"chunk": k, "n_in": len(keys), "n_found": n_found, "queries": sqls, "frames": {}, "masked": {}}
    cube = np.zeros((0, len(BANDS), opts.cutout_size, opts.cutout_size), np.float32)
    if len(cat):
        positions = Table({"idx": np.arange(len(cat)), "ra": as_float(cat["ra"]), "dec": as_float(cat["dec"])})
        record["queries"].append(q.allwise_adql(opts.wise_radius_arcsec))
        cand = _ask(f"IRSA ALLWISE query of chunk {k}", lambda: service.allwise(positions, opts.wise_radius_arcsec))
        wise, record["masked"] = match_wise(positions["ra"], positions["dec"], Table(cand), opts.wise_radius_arcsec)
        for c in wise.colnames:
            cat[c] = wise[c]
        if opts.images:
            cube, record["frames"] = _cutouts(cat, service, opts)
    json_path, fits_path = _chunk_paths(work, k)
    write_bytes(json_path, json.dumps(record, indent=1).encode())
    with atomic_path(fits_path) as tmp:  # written last: its presence marks the chunk as done
        fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(cat) if len(cat) else fits.BinTableHDU(),
                      fits.ImageHDU(cube, name="CUTOUTS")]).writeto(tmp, overwrite=True)


# -- joining the chunks into the data model -----------------------------------------------------
def _assemble(work: Path, n_chunks: int, sel: Selection, opts: BuildOptions, input_dropped: dict,
              selection_queries: list[str], service: SdssService) -> tuple[Table, Iterator | None, dict, dict]:
    tables, records = [], []
    for k in range(1, n_chunks + 1):
        json_path, fits_path = _chunk_paths(work, k)
        records.append(json.loads(json_path.read_text()))
        with fits.open(fits_path) as hdul:
            tables.append(Table(hdul[1].data) if hdul[1].data is not None else Table())
    raw = vstack([t for t in tables if len(t)], metadata_conflicts="silent") if any(map(len, tables)) else Table()
    if len(raw) == 0:
        raise DataValidationError("SkyServer returned no galaxy for the selection "
                                  "(GALAXY spectra with zWarning = 0 and an MPA-JHU entry)")
    n_queried = sum(r["n_in"] for r in records)
    n_in = n_queried + sum(input_dropped.values())
    dropped = dict(input_dropped)
    dropped["not found in SDSS (no GALAXY spectrum with zWarning = 0 and an MPA-JHU entry)"] = \
        n_queried - sum(r["n_found"] for r in records)
    objid = np.asarray(raw["objid"], dtype=np.int64)
    _, first = np.unique(objid, return_index=True)
    keep = np.zeros(len(raw), dtype=bool)
    keep[first] = True
    dropped["matched a galaxy already selected"] = int((~keep).sum())
    cutout_masked: dict[str, int] = {}
    if opts.images:
        reason = np.char.strip(np.asarray(raw["cutout_reason"]).astype(str))
        for r in np.unique(reason[keep & (reason != "")]):
            cutout_masked[f"cutout {r}"] = int((keep & (reason == r)).sum())
        sidecar = raw[keep & (reason != "")]["objid", "ra", "dec", "run", "camcol", "field"]
        sidecar["reason"] = reason[keep & (reason != "")]
        keep &= reason == ""
        dropped.update(cutout_masked)
    table = sdss_catalog(raw[keep])
    if len(table) == 0:
        raise DataValidationError("no galaxy left with a usable cutout (see the counts in the log)")
    masked: dict = {}
    for r in records:
        merge_counts(masked, r["masked"])
    merge_counts(masked, mask_catalog(table))
    table["split"] = assign_splits(np.asarray(table["logmstar"], dtype=float), seed=opts.seed)
    frames: dict[str, str] = {}
    for r in records:
        frames.update(r["frames"])
    prov = {
        "importer": "sdss", "data_release": opts.data_release, "service": _ask("service", service.describe),
        "selection": {"kind": sel.kind, "where": sel.where, "limit": sel.limit},
        "options": {k: v for k, v in asdict(opts).items() if k != "seed"}, "seed": opts.seed,
        "queries": [*selection_queries, *(s for r in records for s in r["queries"])],
        "rows_in": n_in, "rows_out": len(table), "masked": masked,
        "dropped": {k: v for k, v in dropped.items() if v}, "cutouts_masked": cutout_masked,
        "frames_sha256": frames, "columns_not_provided": [f"sersic_n_{b}" for b in BANDS],
        "ebv": "extinction_r / 2.751 (SFD 1998, PhotoObj)", "created_utc": utc_now(), "citation": CITATION,
    }
    extra = {}
    if opts.images and len(sidecar):
        buf = io.StringIO()
        sidecar.write(buf, format="ascii.ecsv")
        extra["masked_cutouts.ecsv"] = buf.getvalue()
    blocks = _cube_blocks(work, n_chunks, keep) if opts.images else None
    return table, blocks, prov, extra


def _cube_blocks(work: Path, n_chunks: int, keep: np.ndarray) -> Iterator[np.ndarray]:
    """The kept galaxies' cutouts, one chunk at a time (the whole cube is never in memory)."""
    start = 0
    for k in range(1, n_chunks + 1):
        with fits.open(_chunk_paths(work, k)[1], memmap=False) as hdul:
            data = hdul["CUTOUTS"].data
        if data is None:  # a chunk in which no galaxy was found
            continue
        cube = np.asarray(data, dtype=np.float32)
        sel = keep[start : start + len(cube)]
        start += len(cube)
        if sel.any():
            yield cube[sel]


def build_sdss(out: str | Path, sel: Selection, opts: BuildOptions = BuildOptions(), *,
               service: SdssService | None = None, overwrite: bool = False, progress: bool = False) -> Path:
    """Build the dataset ``out`` (resuming from ``OUT.work``). ``service`` defaults to
    :class:`galinfo.build.service.AstroqueryService` with its cache in ``OUT.work/cache``."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise GalinfoError(f"output folder {out} already exists (use --overwrite)")
    if opts.images:
        try:
            import reproject  # noqa: F401
        except ImportError:
            raise GalinfoError(SDSS_EXTRA_MESSAGE) from None
    if sel.kind == "where":  # a refused selection fails before anything is written or asked
        q.selection_sql(sel.where, sel.limit)
    elif sel.kind == "coords":
        q.catalogue_sql_coords(sel.ra, sel.dec, opts.coord_radius_arcsec)
    work = work_folder(out)
    if service is None:
        from galinfo.build.service import AstroqueryService

        service = AstroqueryService(work / "cache", data_release=opts.data_release, frames_dir=opts.frames_dir)
    _prepare_work(work, sel, opts)
    chunks, input_dropped, selection_queries = _chunks(sel, opts, service, work)
    todo = [k for k in range(1, len(chunks) + 1) if not _chunk_paths(work, k)[1].exists()]
    log.info("%d chunks, %d to do (%d finished before)", len(chunks), len(todo), len(chunks) - len(todo))
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("SDSS chunks", total=len(chunks), completed=len(chunks) - len(todo))
        for k in todo:
            try:
                _run_chunk(k, chunks[k - 1], sel, opts, service, work)
            except ServiceError as exc:
                raise ServiceError(f"{exc} (chunks done so far are kept in {work}; rerun to resume)") from None
            bar.advance(task)
    table, blocks, prov, extra = _assemble(work, len(chunks), sel, opts, input_dropped, selection_queries, service)
    return write_dataset(out, table, blocks, provenance=prov, overwrite=overwrite, extra_files=extra)
