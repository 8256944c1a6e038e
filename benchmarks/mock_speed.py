"""Mock generation speed: kept galaxies per second for full 5-band rendering plus measurement.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mock_speed.py [--n 400] [--workers 1 2]
Prints one row per worker count: wall time of ``galinfo.mock.generate`` (including process start-up
and table building) and the steady-state rate of the render+measure loop alone, against the
100 galaxies/s target on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from galinfo.mock import MockConfig, generate
from galinfo.mock.generate import CandidateStream, process_chunk
from galinfo.mock.measure import concentration_calibration
from galinfo.mock.sed import photometry_tables

TARGET = 100.0


def loop_rate(n: int, seed: int = 7) -> tuple[float, float, float]:
    """Single-process render+measure rate after warm-up: (rendered/s wall, kept/s wall, kept per CPU-s)."""
    cfg = MockConfig()
    photometry_tables()
    concentration_calibration(cfg.moffat_beta, cfg.pixel_scale)
    pop = CandidateStream(seed, cfg).get(0, n)
    process_chunk(seed, cfg, {k: v[:5] for k, v in pop.items()})  # warm GalSim caches
    t0, c0 = time.perf_counter(), time.process_time()
    res = process_chunk(seed, cfg, pop)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return n / dt, len(res["objid"]) / dt, len(res["objid"]) / dc


def renderer_comparison(n: int = 30, seed: int = 7) -> tuple[float, float, float, float]:
    """Fourier vs GalSim drawImage on ``n`` mock galaxies (64x64): (CPU ms/galaxy fourier, galsim,
    worst per-pixel |difference| / total flux, worst |total ratio - 1|)."""
    from galinfo.mock.render import model_fourier, model_galsim

    cfg = MockConfig()
    pop = CandidateStream(seed, cfg).get(0, n)
    rows = [{k: v[i] for k, v in pop.items()} for i in range(n)]
    model_fourier(rows[0], cfg, 64), model_galsim(rows[0], cfg, 64)  # warm caches
    c0 = time.process_time()
    fo = [model_fourier(g, cfg, 64) for g in rows]
    c1 = time.process_time()
    ga = [model_galsim(g, cfg, 64) for g in rows]
    c2 = time.process_time()
    pix = max(float(np.abs(a - b).max() / b.sum(axis=(1, 2)).max()) for a, b in zip(fo, ga, strict=True))
    tot = max(float(np.abs(a.sum() / b.sum() - 1)) for a, b in zip(fo, ga, strict=True))
    return (c1 - c0) / n * 1e3, (c2 - c1) / n * 1e3, pix, tot


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    import os

    load0 = os.getloadavg()[0]
    cand_rate, kept_rate, kept_cpu = loop_rate(min(args.n, 300))
    print(f"{'figure':52s} {'value':>8s}  compared with")
    print(f"{'render+measure loop, 1 process (rendered/s, wall)':52s} {cand_rate:8.1f}  target {TARGET:.0f}/s on 2 cores")
    print(f"{'render+measure loop, 1 process (kept/s, wall)':52s} {kept_rate:8.1f}  target {TARGET:.0f}/s on 2 cores")
    print(f"{'render+measure loop (kept per CPU-second)':52s} {kept_cpu:8.1f}  x2 cores = {2 * kept_cpu:.0f}/s vs target {TARGET:.0f}/s")
    f_ms, g_ms, pix, tot = renderer_comparison()
    print(f"{'5-band model, Fourier renderer (CPU ms/galaxy)':52s} {f_ms:8.2f}  GalSim drawImage: {g_ms:.2f} ms")
    print(f"{'Fourier vs GalSim: worst |pixel diff| / flux':52s} {pix:8.1e}  30 galaxies; worst total ratio - 1: {tot:.1e}")
    tmp = Path(tempfile.mkdtemp(prefix="mock_speed_"))
    try:
        for w in args.workers:
            out = tmp / f"w{w}"
            t0 = time.perf_counter()
            generate(args.n, 11, out, workers=w, config=MockConfig(chunk_size=max(50, args.n // (2 * w))))
            dt = time.perf_counter() - t0
            label = f"generate n={args.n}, workers={w} (kept/s, wall, all-in)"
            print(f"{label:52s} {args.n / dt:8.1f}  target {TARGET:.0f}/s on 2 cores")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"(1-min load average before/after: {load0:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"numpy {np.__version__}; kept rates include the flux-limit rejection of rendered candidates)")


if __name__ == "__main__":
    main()
