"""Orchestration of the mock: candidate stream -> chunks rendered in parallel -> dataset on disk.

Determinism: candidate ``k`` is drawn from population block ``k // BLOCK`` (``default_rng([seed, 0,
block])``) and rendered with ``default_rng([seed, 1, k])``, so every galaxy is a pure function of
(seed, config, k). Chunks are fixed ranges of the candidates that pass the cheap render cut; the
catalogue is the first ``n`` candidates, in index order, that pass the measured flux limit. Neither
the number of workers nor the chunk size changes the result.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from galinfo.atomic import atomic_path, write_text
from galinfo.data.schema import BANDS, REQUIRED_COLUMNS, WISE_BANDS
from galinfo.errors import ConfigError, GalinfoError
from galinfo.mock.config import MockConfig
from galinfo.mock.population import BLOCK, concat, draw_block, render_cut, take

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
STATE_FILE = "state.json"
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)

# Population quantities copied to the catalogue as truth columns: catalogue name -> population key.
TRUTH_COLUMNS: dict[str, str] = {
    "true_logmstar": "logmstar",
    "true_logsfr": "logsfr",
    "true_dms": "dms",
    "true_passive": "passive",
    "true_bt": "bt",
    "true_cosi": "cos_i",
    "true_pa": "pa",
    "true_q_disc": "q_disc",
    "true_q_bulge": "q_bulge",
    "true_av_face": "av_face",
    "true_av": "av_disc",
    "true_av_bulge": "av_bulge",
    "true_a_grey": "a_grey",
    "true_r50_disc": "r_disc",
    "true_r50_bulge": "r_bulge",
    "true_r50_disc_kpc": "r_disc_kpc",
    "true_r50_bulge_kpc": "r_bulge_kpc",
    "true_log_lw3": "log_lw3",
    **{f"true_psf_fwhm_{b}": f"psf_fwhm_{b}" for b in BANDS},
    **{f"true_sky_{b}": f"sky_{b}" for b in BANDS},
    **{f"true_mag_{b}": f"true_mag_{b}" for b in BANDS},
    **{f"true_{w}": f"true_{w}" for w in WISE_BANDS},
}


class CandidateStream:
    """The deterministic sequence of candidates that pass the cheap render cut, built lazily."""

    def __init__(self, seed: int, cfg: MockConfig):
        self.seed = seed
        self.cfg = cfg
        self._parts: list[dict[str, np.ndarray]] = []
        self._count = 0
        self._next_block = 0

    def get(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Render-cut survivors ``start .. stop-1`` (population dict)."""
        while self._count < stop:
            p = draw_block(self.seed, self._next_block, self.cfg)
            self._next_block += 1
            keep = take(p, render_cut(p, self.cfg))
            self._parts.append(keep)
            self._count += len(keep["cand"])
        allp = concat(self._parts) if len(self._parts) > 1 else self._parts[0]
        self._parts = [allp]
        return take(allp, slice(start, stop))


def _split_labels(u: np.ndarray) -> np.ndarray:
    train, val, _ = SPLIT_FRACTIONS
    return np.where(u < train, "train", np.where(u < train + val, "val", "test")).astype("U5")


def process_chunk(seed: int, cfg: MockConfig, pop: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Render and measure every candidate of ``pop``; return catalogue arrays and stored images of
    the candidates passing the measured flux limit (``n_rendered`` counts all)."""
    from galinfo.mock.measure import measure_galaxy
    from galinfo.mock.render import crop_center, render_galaxy
    from galinfo.mock.sed import distance_modulus

    n = len(pop["cand"])
    rows: list[dict[str, float]] = []
    images: list[np.ndarray] = []
    kept: list[int] = []
    for i in range(n):
        g = {k: v[i] for k, v in pop.items()}
        rng = np.random.default_rng([seed, 1, int(g["cand"])])
        image, var, _ = render_galaxy(g, cfg, rng)
        fwhm = np.array([g[f"psf_fwhm_{b}"] for b in BANDS])
        m = measure_galaxy(image, var, fwhm, cfg.pixel_scale, cfg.moffat_beta)
        if not m["mag_r"] < cfg.r_limit:
            continue
        kept.append(i)
        rows.append(m)
        images.append(crop_center(image, cfg.stamp_size).astype(np.float32))
    sub = take(pop, np.asarray(kept, dtype=np.int64))
    out: dict[str, np.ndarray] = {
        "objid": sub["cand"].astype(np.int64) + 1,
        "split": _split_labels(sub["split_u"]),
        "z": sub["z"],
        "logmstar": sub["logmstar"],
        "ebv": sub["ebv"],
        "cls": sub["cls"],
    }
    meas_keys = [k for k in (rows[0] if rows else {}) if k != "n_fallback"]
    for k in meas_keys:
        out[k] = np.array([r[k] for r in rows], dtype=float)
    for w in WISE_BANDS:
        out[w] = sub[w]
        out[f"{w}err"] = sub[f"{w}err"]
    for name, key in TRUTH_COLUMNS.items():
        out[name] = sub[key].astype(float) if sub[key].dtype == bool else sub[key]
    out["null_noise"] = sub["null_noise"]
    if rows:
        out["null_lum"] = out["mag_r"] - distance_modulus(sub["z"]) + sub["null_lum_noise"]
        out["n_fallback"] = np.array([r["n_fallback"] for r in rows])
    out["images"] = (
        np.stack(images) if images else np.zeros((0, len(BANDS), cfg.stamp_size, cfg.stamp_size), np.float32)
    )
    out["n_rendered"] = np.array(n)
    return out


def _save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def _chunk_path(partial: Path, k: int) -> Path:
    return partial / f"chunk_{k:05d}.npz"


def _load_chunk_meta(path: Path) -> int:
    with np.load(path) as z:
        return len(z["objid"])


def _prepare_partial(partial: Path, seed: int, cfg: MockConfig, chunk_size: int, resume: bool) -> int:
    """Create or check ``DIR.partial``; return the chunk size to use."""
    state = {"seed": seed, "config_digest": cfg.digest(), "chunk_size": chunk_size, "block": BLOCK}
    state_path = partial / STATE_FILE
    if partial.exists() and resume and state_path.exists():
        old = json.loads(state_path.read_text())
        if old.get("seed") != seed or old.get("config_digest") != cfg.digest() or old.get("block") != BLOCK:
            raise ConfigError(
                f"{partial} was written with seed {old.get('seed')} / config {old.get('config_digest')}; "
                f"this run has seed {seed} / config {cfg.digest()} (remove it or drop --resume)"
            )
        return int(old["chunk_size"])
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    write_text(state_path, json.dumps(state, sort_keys=True))
    return chunk_size


def _executor(workers: int, dask_address: str | None):
    """(submit, as_completed, shutdown) for processes or a dask.distributed cluster."""
    if dask_address:
        try:
            from dask.distributed import Client
            from dask.distributed import as_completed as dask_as_completed
        except ImportError:
            raise ConfigError(
                "--dask needs dask.distributed, which is not installed (pip install dask distributed)"
            ) from None
        client = Client(dask_address)
        return client.submit, dask_as_completed, client.close
    if workers <= 1:

        class _Done:
            def __init__(self, value):
                self._value = value

            def result(self):
                return self._value

        return (lambda fn, *a: _Done(fn(*a))), (lambda fs: list(fs)), (lambda: None)
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers)
    return pool.submit, as_completed, (lambda: pool.shutdown(cancel_futures=True))


def _catalog_table(parts: list[dict[str, np.ndarray]], n: int, seed: int, cfg: MockConfig):
    from astropy.table import Table

    cols = [k for k in parts[0] if k not in {"images", "n_rendered", "n_fallback"}]
    data = {k: np.concatenate([p[k] for p in parts])[:n] for k in cols}
    ordered = [c for c in REQUIRED_COLUMNS if c in data] + sorted(c for c in data if c not in REQUIRED_COLUMNS)
    table = Table([data[c] for c in ordered], names=ordered)
    table.meta["MOCKSEED"] = seed
    table.meta["MOCKCFG"] = cfg.digest()
    return table


def _add_defects(table, cfg: MockConfig, seed: int) -> dict[str, int]:
    """Inject ``cfg.defects`` into the measured columns of ``table`` (in place); counts per defect."""
    from galinfo.mock.defects import inject_defects

    if cfg.defects == "none":
        return {}
    cols = {c: np.asarray(table[c]) for c in table.colnames if table[c].ndim == 1}
    counts = inject_defects(cols, cfg.defects, seed)
    for c, values in cols.items():
        if values.dtype.kind == "f" and not np.array_equal(values, np.asarray(table[c]), equal_nan=True):
            unit = table[c].unit
            table[c] = values
            table[c].unit = unit
    return counts


def generate(
    n: int,
    seed: int,
    out: str | os.PathLike,
    workers: int = 1,
    *,
    resume: bool = False,
    dask_address: str | None = None,
    config: MockConfig | None = None,
    overwrite: bool = False,
    progress: bool = False,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate a mock survey of ``n`` galaxies into the dataset folder ``out``.

    ``workers`` processes (or a dask cluster at ``dask_address``) render chunks of
    ``config.chunk_size`` candidates, each saved atomically to ``out.partial/chunk_XXXXX.npz``;
    ``resume`` reuses finished chunks. Returns the dataset path. The result depends only on
    (n, seed, config).
    """
    from galinfo.data.dataset import write_dataset
    from galinfo.mock.dag import truth_dag_json

    cfg = config or MockConfig()
    if n < 1:
        raise ConfigError(f"--n must be positive, got {n}")
    if workers < 1:
        raise ConfigError(f"--workers must be positive, got {workers}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise GalinfoError(f"output folder {out} already exists (pass overwrite / --overwrite)")
    partial = Path(str(out) + PARTIAL_SUFFIX)
    submit, as_completed, shutdown = _executor(workers, dask_address)  # fails early without dask
    try:
        chunk_size = _prepare_partial(partial, seed, cfg, cfg.chunk_size, resume)
    except BaseException:
        shutdown()
        raise
    stream = CandidateStream(seed, cfg)
    kept_per_chunk: dict[int, int] = {}
    rendered_per_chunk: dict[int, int] = {}
    for path in sorted(partial.glob("chunk_*.npz")):
        k = int(path.stem.split("_")[1])
        kept_per_chunk[k] = _load_chunk_meta(path)
        with np.load(path) as zf:
            rendered_per_chunk[k] = int(zf["n_rendered"])
    if kept_per_chunk:
        log.info("resuming: %d finished chunk(s) in %s", len(kept_per_chunk), partial)

    def contiguous_kept() -> tuple[int, int]:
        total, k = 0, 0
        while k in kept_per_chunk and total < n:
            total += kept_per_chunk[k]
            k += 1
        return total, k

    if workers > 1 and not dask_address:
        # Build the per-process caches once here: forked workers inherit them.
        from galinfo.mock.measure import concentration_calibration, psf_moment_sigma_per_fwhm

        concentration_calibration(cfg.moffat_beta, cfg.pixel_scale)
        psf_moment_sigma_per_fwhm(cfg.moffat_beta)
        stream.get(0, 1)
    bar = None
    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(TextColumn("mock"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]} gal/s"),
                       TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
        bar.start()
        task = bar.add_task("mock", total=n, rate="-")
    t0 = time.perf_counter()
    n_new = 0
    try:
        while True:
            have, next_k = contiguous_kept()
            if bar is not None:
                bar.update(task, completed=min(have, n))
            if have >= n:
                break
            done_rendered = sum(rendered_per_chunk.values())
            accept = sum(kept_per_chunk.values()) / done_rendered if done_rendered else 0.8
            n_chunks = max(1, math.ceil((n - have) / max(accept, 0.05) / chunk_size))
            if workers > 1 and n_chunks % workers:
                n_chunks += workers - n_chunks % workers
            todo = []
            k = next_k
            while len(todo) < n_chunks:
                if k not in kept_per_chunk:
                    todo.append(k)
                k += 1
            futures = {submit(process_chunk, seed, cfg, stream.get(k * chunk_size, (k + 1) * chunk_size)): k for k in todo}
            for fut in as_completed(futures):
                k = futures[fut]
                res = fut.result()
                _save_npz_atomic(_chunk_path(partial, k), res)
                kept_per_chunk[k] = len(res["objid"])
                rendered_per_chunk[k] = int(res["n_rendered"])
                n_new += int(res["n_rendered"])
                if on_chunk is not None:
                    on_chunk(k, kept_per_chunk[k])
                if bar is not None:
                    rate = n_new / max(time.perf_counter() - t0, 1e-9)
                    bar.update(task, completed=min(contiguous_kept()[0], n), rate=f"{rate:.0f}")
    finally:
        shutdown()
        if bar is not None:
            bar.stop()

    _, n_chunks_used = contiguous_kept()
    parts = []
    for k in range(n_chunks_used):
        with np.load(_chunk_path(partial, k)) as zf:
            parts.append({key: zf[key] for key in zf.files if key != "images"})
    table = _catalog_table(parts, n, seed, cfg)
    defects = _add_defects(table, cfg, seed)

    def image_blocks() -> Iterator[np.ndarray]:
        remaining = n
        for k in range(n_chunks_used):
            with np.load(_chunk_path(partial, k)) as zf:
                block = zf["images"][:remaining]
            remaining -= len(block)
            if len(block):
                yield block

    n_rendered = int(sum(rendered_per_chunk[k] for k in range(n_chunks_used)))
    n_fallback = int(np.concatenate([p.get("n_fallback", np.zeros(0)) for p in parts])[:n].sum())
    provenance = {
        "generator": "galinfo.mock",
        "seed": seed,
        "n": n,
        "config": cfg.realisation_dict(),
        "config_digest": cfg.digest(),
        "n_rendered_in_used_chunks": n_rendered,
        "measurement_fallbacks": n_fallback,
        "measurement_fallback_fraction": round(n_fallback / (15 * n), 5),
        "measured_cut_acceptance": round(sum(kept_per_chunk[k] for k in range(n_chunks_used)) / max(n_rendered, 1), 4),
        "defects": {"set": cfg.defects, "injected": defects},
    }
    write_dataset(out, table, images=image_blocks(), provenance=provenance, overwrite=overwrite,
                  extra_files={"truth_dag.json": truth_dag_json(cfg.realisation_dict())})  # fmt: skip
    shutil.rmtree(partial, ignore_errors=True)
    return out
