"""Shared fixtures: small synthetic datasets and the real-catalogue folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
NA10_FITS = REAL_DATA / "na10" / "Nair-Abraham-2010-edited-for-class-all.fits"
LCS_FITS = REAL_DATA / "lcs" / "LCS_all_size.fits"


def require_real(path: Path) -> Path:
    """Skip the calling test, with a message, when the shared real catalogues are absent."""
    if not path.exists():
        pytest.skip(f"real catalogue not found at {path} (../shared/data/real is absent)")
    return path


def make_catalog(n: int = 60, seed: int = 0):
    """A complete, valid data-model catalogue of ``n`` synthetic galaxies."""
    from galinfo.data.catalog import assign_splits, empty_catalog
    from galinfo.data.schema import BANDS, MORPH_QUANTITIES

    rng = np.random.default_rng(seed)
    t = empty_catalog(n)
    t["objid"] = 1237650000000000000 + rng.choice(10**9, size=n, replace=False).astype(np.int64)
    t["z"] = rng.uniform(0.02, 0.2, n)
    t["logmstar"] = rng.uniform(9.0, 11.5, n)
    t["ebv"] = rng.uniform(0.01, 0.1, n)
    for k, b in enumerate(BANDS):
        t[f"mag_{b}"] = 20.0 - (t["logmstar"] - 10.0) - 0.3 * k + rng.normal(0, 0.1, n)
        t[f"magerr_{b}"] = rng.uniform(0.01, 0.1, n)
        for q in MORPH_QUANTITIES:
            t[f"{q}_{b}"] = rng.uniform(0.3, 5.0, n)
        t[f"ab_{b}"] = rng.uniform(0.1, 1.0, n)  # an axis ratio b/a is at most 1
    for w in ("w1", "w2", "w3"):
        t[w] = rng.uniform(12, 16, n)
        t[f"{w}err"] = rng.uniform(0.01, 0.1, n)
    t["cls"] = rng.choice(["sf", "passive", "other"], n)
    t["split"] = assign_splits(np.asarray(t["logmstar"]), seed=seed)
    return t


@pytest.fixture
def catalog():
    return make_catalog()


@pytest.fixture
def cube(catalog):
    rng = np.random.default_rng(1)
    return rng.normal(0, 1, (len(catalog), 5, 16, 16)).astype(np.float32)
