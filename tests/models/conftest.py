"""Tiny synthetic datasets (written with write_dataset) for the models tests."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from galinfo.data.dataset import write_dataset
from galinfo.data.schema import BANDS, COLUMNS


def synthetic_catalog(n: int, seed: int = 0) -> Table:
    """A catalogue where the stellar mass is a noisy function of the r magnitude and z."""
    rng = np.random.default_rng(seed)
    logm = rng.uniform(8.5, 11.5, n)
    z = rng.uniform(0.02, 0.2, n)
    t = Table()
    for c in COLUMNS:
        if c.dtype == "float64":
            t[c.name] = rng.normal(1.0, 0.1, n)
    t["objid"] = np.arange(n, dtype=np.int64) * 1_000_000_007 + 2**40
    t["split"] = np.array(["train"] * n, dtype="U5")
    t["split"][n * 6 // 10 : n * 8 // 10] = "val"
    t["split"][n * 8 // 10 :] = "test"
    t["cls"] = rng.choice(["sf", "passive", "other"], n)
    t["z"] = z
    t["logmstar"] = logm
    t["ebv"] = rng.uniform(0.01, 0.1, n)
    for j, b in enumerate(BANDS):
        t[f"mag_{b}"] = 30.0 - 1.5 * logm + 5 * np.log10(z / 0.1) + 0.3 * j + rng.normal(0, 0.05, n)
        t[f"magerr_{b}"] = rng.uniform(0.01, 0.05, n)
    return t


def synthetic_images(cat: Table, size: int = 16, seed: int = 0) -> np.ndarray:
    """Gaussian blobs whose flux follows the catalogue magnitudes (nanomaggies/pixel)."""
    rng = np.random.default_rng(seed)
    n = len(cat)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    out = np.empty((n, 5, size, size), np.float32)
    for j, b in enumerate(BANDS):
        flux = 10 ** (-0.4 * (np.asarray(cat[f"mag_{b}"]) - 22.5))
        width = rng.uniform(1.5, 3.0, n)
        blob = np.exp(-(xx**2 + yy**2)[None] / (2 * width[:, None, None] ** 2))
        blob /= blob.sum(axis=(1, 2), keepdims=True)
        out[:, j] = flux[:, None, None] * blob + rng.normal(0, 0.01, (n, size, size))
    return out


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """200 galaxies with 16x16 images."""
    cat = synthetic_catalog(200)
    return write_dataset(tmp_path_factory.mktemp("ds") / "tiny", cat, synthetic_images(cat))
