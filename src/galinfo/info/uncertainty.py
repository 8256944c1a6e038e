"""Bootstrap over galaxies: confidence intervals on averaged and binned information values.

All atoms share the same resamples, so the PID identity holds replicate by replicate. The work is
vectorised: each chunk of replicates is one ``np.bincount`` over (replicate, group) cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from galinfo.errors import ConfigError, DataValidationError


@dataclass(frozen=True)
class BootstrapResult:
    """Means and percentile intervals per quantity and group (nats where the inputs are)."""

    mean: dict[str, np.ndarray]
    """Sample mean per group, shape (n_groups,)."""
    lo: dict[str, np.ndarray]
    hi: dict[str, np.ndarray]
    count: np.ndarray
    """Galaxies per group (int64)."""
    ci: float
    n_boot: int


def bootstrap_means(
    values: Mapping[str, np.ndarray] | np.ndarray,
    groups: np.ndarray | None = None,
    n_groups: int | None = None,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    max_cells: int = 4_000_000,
) -> BootstrapResult:
    """Bootstrap the mean of every array in ``values`` within each group.

    ``values``: name -> (n,) array, or one array (named ``"value"``). ``groups``: int group of each
    row (n,), -1 to leave a row out; None means one group of all rows. Galaxies are resampled with
    replacement from all rows together (so group sizes vary between replicates, as they would in a
    new sample); intervals are percentile intervals of the replicate means, ignoring replicates
    where a group is empty. ``max_cells`` bounds the memory of one chunk of replicates.
    """
    if isinstance(values, np.ndarray):
        values = {"value": values}
    names = list(values)
    if not names:
        raise DataValidationError("nothing to bootstrap")
    mat = np.column_stack([np.asarray(values[k], dtype=np.float64) for k in names])
    n = mat.shape[0]
    if n == 0 or not np.all(np.isfinite(mat)):
        raise DataValidationError(f"bootstrap needs finite values for at least one galaxy ({n} rows)")
    if not 0 < ci < 1:
        raise ConfigError(f"ci={ci} must be in (0, 1)")
    if int(n_boot) < 1:
        raise ConfigError(f"n_boot={n_boot} must be at least 1")
    g = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    if g.shape != (n,):
        raise DataValidationError(f"groups has shape {g.shape}, values have {n} rows")
    n_groups = int(g.max(initial=-1) + 1) if n_groups is None else int(n_groups)
    n_groups = max(n_groups, 1)
    if np.any(g >= n_groups):
        raise DataValidationError(f"group index {int(g.max())} >= n_groups={n_groups}")
    inside = g >= 0
    count = np.bincount(g[inside], minlength=n_groups).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = {
            k: np.bincount(g[inside], weights=mat[inside, j], minlength=n_groups) / count
            for j, k in enumerate(names)
        }

    rng = np.random.default_rng(seed)
    reps = np.empty((len(names), n_boot, n_groups))
    chunk = max(1, int(max_cells // max(n, 1)))
    # A group index of -1 must stay out of every cell: send it to a trash cell past the end.
    g_cell = np.where(inside, g, n_groups)
    width = n_groups + 1
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))
        cell = (g_cell[idx] + width * np.arange(m)[:, None]).ravel()
        cnt = np.bincount(cell, minlength=m * width).reshape(m, width)[:, :n_groups]
        for j in range(len(names)):
            s = np.bincount(cell, weights=mat[idx, j].ravel(), minlength=m * width)
            with np.errstate(invalid="ignore", divide="ignore"):
                reps[j, start : start + m] = s.reshape(m, width)[:, :n_groups] / cnt
    alpha = (1 - ci) / 2
    lo, hi = {}, {}
    for j, k in enumerate(names):
        r = reps[j]
        ok = np.isfinite(r).any(axis=0)
        q = np.full((2, n_groups), np.nan)
        if ok.any():
            q[:, ok] = np.nanquantile(r[:, ok], [alpha, 1 - alpha], axis=0)
        lo[k], hi[k] = q[0], q[1]
    return BootstrapResult(mean=mean, lo=lo, hi=hi, count=count, ci=ci, n_boot=int(n_boot))


def realisation_spread(
    per_realisation: Sequence[Mapping[str, float]],
) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation (ddof=1) of averaged atoms across model realisations."""
    if len(per_realisation) < 2:
        raise DataValidationError("the spread across realisations needs at least two realisations")
    keys = list(per_realisation[0])
    out = {}
    for k in keys:
        v = np.array([r[k] for r in per_realisation], dtype=float)
        out[k] = (float(v.mean()), float(v.std(ddof=1)))
    return out
