"""k-nearest-neighbour (conditional) mutual information and its permutation tests.

Estimators (all in nats, max-norm, integer ``k``, each point's own neighbour excluded):

- unconditional (Kraskov, Stögbauer & Grassberger 2004, algorithm 1)::

      I(X;Y) = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >

- conditional (Frenzel & Pompe 2007)::

      I(X;Y|Z) = psi(k) - < psi(n_xz + 1) + psi(n_yz + 1) - psi(n_z + 1) >

  where ``eps_i`` is the distance to the k-th neighbour of point i in the joint space and
  ``n_.`` counts the other points strictly closer than ``eps_i`` in the marginal subspace.

Significance: the unconditional test permutes x over all points; the conditional test uses the
local permutation scheme of Runge (2018, AISTATS): each x_i is replaced by the x of one of the
``k_perm`` nearest neighbours of i in z, drawn without replacement where possible, which keeps
the dependence of x on z and destroys only the one on y given z.

Speed: with a many-dimensional z (the latent-space case) the joint k-th neighbour and all the
counts lie among the first ``K`` neighbours of i in z (max-norm), because the joint distance is
never smaller than the z distance. We search those ``K`` z-neighbours once and evaluate the
estimator on every permutation with array operations on this (n, K) candidate list; the points
for which the list is provably too short (``eps_i`` above their K-th z distance) are recomputed
exactly with KD-trees. Both paths give identical counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

from galinfo.data.validate import require_finite
from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = ["CMIResult", "cmi_knn", "cmi_knn_test", "cmi_statistic", "restricted_permutation", "MAX_CMI_DIM"]


@dataclass(frozen=True)
class CMIResult:
    """Outcome of a (conditional) mutual-information permutation test.

    Attributes
    ----------
    cmi : estimated I(X;Y|Z) (or I(X;Y) when unconditional), nats
    pvalue : permutation p-value, ``(1 + #{null >= cmi}) / (1 + n_perm)``
    null : the ``n_perm`` estimates on permuted data, nats
    k, k_perm, n : neighbours of the estimator, of the local permutation, sample size
    conditional : whether a z block was given
    n_exact : points (summed over observed + permuted runs) that fell back to KD-tree counting
    dispatched : "" or the test that answered instead ("gcm" for a many-dimensional z: ``cmi`` is
        NaN, ``statistic`` its standardised statistic)
    """

    cmi: float
    pvalue: float
    null: np.ndarray = field(repr=False)
    k: int
    k_perm: int
    n: int
    conditional: bool
    n_exact: int = 0
    dispatched: str = ""
    statistic: float = float("nan")

    def reject(self, alpha: float = 0.05) -> bool:
        """True when independence is rejected at level ``alpha``."""
        return bool(self.pvalue <= alpha)


def _as_block(a: np.ndarray | None, name: str, n: int | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataValidationError(f"{name} must be 1-D or 2-D (n, d), got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise DataValidationError(f"{name} has {a.shape[0]} rows, x has {n}")
    return require_finite(a, name)


def _transform(a: np.ndarray, how: str, rng: np.random.Generator) -> np.ndarray:
    """Rank or standardise each column; a tiny jitter breaks ties first (seeded)."""
    scale = a.std(axis=0)
    scale[scale == 0] = 1.0
    a = a + 1e-9 * scale * rng.random(a.shape)
    if how == "ranks":
        return a.argsort(axis=0).argsort(axis=0).astype(np.float64)
    if how == "standardize":
        return (a - a.mean(axis=0)) / a.std(axis=0)
    if how == "none":
        return a
    raise ConfigError(f"transform must be 'ranks', 'standardize' or 'none', got {how!r}")


def _below(r: np.ndarray) -> np.ndarray:
    """Largest float below ``r``: ball queries with it count points strictly closer than r."""
    return np.nextafter(r, 0.0)


def _count_within(points: np.ndarray, tree: cKDTree, rows: np.ndarray, eps: np.ndarray,
                  workers: int) -> np.ndarray:
    """Number of points (self included) strictly closer than eps (max-norm) to ``points[rows]``."""
    return np.asarray(
        tree.query_ball_point(points[rows], _below(eps), p=np.inf, return_length=True,
                              workers=workers),
        dtype=np.int64,
    )


def _ksg_mi(x: np.ndarray, y: np.ndarray, k: int, workers: int) -> float:
    n = x.shape[0]
    xy = np.hstack([x, y])
    eps = cKDTree(xy).query(xy, k=k + 1, p=np.inf, workers=workers)[0][:, -1]
    rows = np.arange(n)
    nx = _count_within(x, cKDTree(x), rows, eps, workers)
    ny = _count_within(y, cKDTree(y), rows, eps, workers)
    return float(digamma(k) + digamma(n) - np.mean(digamma(nx) + digamma(ny)))


def _fp_exact(x: np.ndarray, y: np.ndarray, z: np.ndarray, rows: np.ndarray, k: int,
              workers: int, ztree: cKDTree, yztree: cKDTree | None = None) -> tuple[np.ndarray, ...]:
    """Exact counts (self included) n_xz, n_yz, n_z for ``rows``, with KD-trees."""
    xyz = np.hstack([x, y, z])
    eps = cKDTree(xyz).query(xyz[rows], k=k + 1, p=np.inf, workers=workers)[0][:, -1]
    xz = np.hstack([x, z])
    yz = np.hstack([y, z])
    n_xz = _count_within(xz, cKDTree(xz), rows, eps, workers)
    n_yz = _count_within(yz, yztree if yztree is not None else cKDTree(yz), rows, eps, workers)
    n_z = _count_within(z, ztree, rows, eps, workers)
    return n_xz, n_yz, n_z


class _CandidateFP:
    """Frenzel–Pompe estimator on a fixed list of z-neighbour candidates (see module docstring)."""

    def __init__(self, y: np.ndarray, z: np.ndarray, k: int, n_cand: int, workers: int):
        self.y, self.z, self.k, self.workers = y, z, k, workers
        n = z.shape[0]
        self.n_cand = min(n_cand, n - 1)
        self.ztree = cKDTree(z)
        dz, idx = self.ztree.query(z, k=self.n_cand + 1, p=np.inf, workers=workers)
        # drop each point itself (jittered data: no exact duplicates, self is at distance 0)
        self.dz, self.idx = dz[:, 1:], idx[:, 1:]
        self.dz_max = self.dz[:, -1]
        self.dy = np.abs(y[self.idx] - y[:, None, :]).max(axis=2)
        self.dyz = np.maximum(self.dz, self.dy)
        self.yztree = cKDTree(np.hstack([y, z]))
        self.psi = digamma(np.arange(1, self.n_cand + 2, dtype=np.float64))  # psi(1..K+1)

    def counts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        dx = np.abs(x[self.idx] - x[:, None, :]).max(axis=2)
        dxz = np.maximum(self.dz, dx)
        joint = np.maximum(dxz, self.dy)
        eps = np.partition(joint, self.k - 1, axis=1)[:, self.k - 1]
        lt = eps[:, None]
        n_xz = (dxz < lt).sum(axis=1) + 1
        n_yz = (self.dyz < lt).sum(axis=1) + 1
        n_z = (self.dz < lt).sum(axis=1) + 1
        bad = np.flatnonzero(eps > self.dz_max)
        if bad.size:
            e_xz, e_yz, e_z = _fp_exact(x, self.y, self.z, bad, self.k, self.workers, self.ztree,
                                        self.yztree)
            n_xz, n_yz, n_z = n_xz.astype(np.int64), n_yz.astype(np.int64), n_z.astype(np.int64)
            n_xz[bad], n_yz[bad], n_z[bad] = e_xz, e_yz, e_z
        return n_xz, n_yz, n_z, int(bad.size)

    def cmi(self, x: np.ndarray) -> tuple[float, int]:
        n_xz, n_yz, n_z, n_bad = self.counts(x)
        if n_bad:
            val = digamma(n_z) - digamma(n_xz) - digamma(n_yz)
        else:
            val = self.psi[n_z - 1] - self.psi[n_xz - 1] - self.psi[n_yz - 1]
        return float(digamma(self.k) + val.mean()), n_bad


def restricted_permutation(neighbours: np.ndarray, rng: np.random.Generator,
                           max_rounds: int = 20) -> np.ndarray:
    """Local permutation: an index array ``perm`` with ``perm[i]`` among ``neighbours[i]``.

    ``neighbours`` is (n, m) int (each row: candidate partners of i, e.g. its m nearest
    neighbours in z, excluding i). Partners are drawn without replacement where possible (as in
    Runge 2018): in random order each point claims a random still-unused candidate; points left
    without one after ``max_rounds`` take a random candidate (with replacement). Vectorised:
    each round resolves all claims at once, the winner of a contested partner is random.
    """
    n, m = neighbours.shape
    perm = np.full(n, -1, dtype=np.int64)
    used = np.zeros(n, dtype=bool)
    # random preference order of the candidates of each point
    order = np.argsort(rng.random((n, m)), axis=1)
    pref = np.take_along_axis(neighbours, order, axis=1)
    pending = np.arange(n)
    for _ in range(max_rounds):
        if pending.size == 0:
            break
        cand = pref[pending]
        free = ~used[cand]
        has = free.any(axis=1)
        if not has.any():
            break
        first = np.argmax(free, axis=1)
        claim = cand[np.arange(pending.size), first]
        p_idx, claim = pending[has], claim[has]
        # random winner per claimed partner: shuffle then keep first occurrence
        sh = rng.permutation(p_idx.size)
        _, first_occ = np.unique(claim[sh], return_index=True)
        win = sh[first_occ]
        perm[p_idx[win]] = claim[win]
        used[claim[win]] = True
        pending = pending[perm[pending] < 0]
    if pending.size:
        perm[pending] = pref[pending, rng.integers(0, m, size=pending.size)]
    return perm


def _check_k(k: int, n: int, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"{name} must be a positive integer, got {k!r}")
    if k >= n:
        raise ConfigError(f"{name}={k} must be smaller than the sample size {n}")
    return int(k)


def _prepare(x, y, z, transform: str, seed: int):
    x = _as_block(x, "x", None)
    n = x.shape[0]
    y = _as_block(y, "y", n)
    z = _as_block(z, "z", n)
    rng = np.random.default_rng(seed)
    x, y = _transform(x, transform, rng), _transform(y, transform, rng)
    if z is not None:
        z = _transform(z, transform, rng)
    return x, y, z, n, rng


def cmi_knn(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None, k: int = 10, *,
            transform: str = "ranks", seed: int = 0, workers: int = -1) -> float:
    """KSG / Frenzel–Pompe estimate of I(X;Y) or I(X;Y|Z) in nats (see module docstring).

    ``x``, ``y``, ``z``: (n,) or (n, d) arrays without NaN; ``transform`` ("ranks",
    "standardize", "none") is applied per column after a seeded 1e-9 jitter that breaks ties.
    """
    x, y, z, n, _ = _prepare(x, y, z, transform, seed)
    k = _check_k(k, n, "k")
    if z is None:
        return _ksg_mi(x, y, k, workers)
    n_xz, n_yz, n_z = _fp_exact(x, y, z, np.arange(n), k, workers, cKDTree(z))
    return float(digamma(k) + np.mean(digamma(n_z) - digamma(n_xz) - digamma(n_yz)))


#: conditioning blocks with more columns than this go to the residual (GCM) test
MAX_CMI_DIM = 3


def cmi_statistic(x: np.ndarray, y: np.ndarray, z: np.ndarray | None, k: int, *, k_perm: int = 5,
                  n_candidates: int | None = None, workers: int = -1):
    """Prepared (transformed) blocks to ``(statistic, recompute, perm_neighbours, n_exact)``.

    ``recompute(perm)`` is the estimate with x rows reordered by ``perm`` (``None``: as given), in
    nats, and its second value counts the KD-tree fallbacks; ``perm_neighbours`` are each point's
    ``k_perm`` nearest z-neighbours (the local-permutation candidates), ``None`` without z.
    """
    n = x.shape[0]
    if z is None:
        def recompute(perm):
            return _ksg_mi(x if perm is None else x[perm], y, k, workers), 0

        return recompute(None)[0], recompute, None, 0
    n_exact = 0
    est = None
    if n_candidates is None and z.shape[1] < 3:
        n_candidates = 0  # KD-trees are fast in few dimensions; the candidate list is not
    if n_candidates is None or n_candidates > 0:
        # pilot candidate list; enlarged once if too many points need the exact fallback
        n_cand = n_candidates if n_candidates is not None else max(8 * k, 64, k_perm)
        est = _CandidateFP(y, z, k, max(n_cand, k_perm), workers)
        n_xz, n_yz, n_z, bad = est.counts(x)
        if n_candidates is None and bad > 0.01 * n:
            n_cand = int(np.quantile(n_z, 0.995) * 1.5)
            if n_cand <= 1024 and n * n_cand <= 60_000_000:
                est = _CandidateFP(y, z, k, max(n_cand, k_perm), workers)
                n_xz, n_yz, n_z, bad = est.counts(x)
            else:
                est = None
        n_exact += bad
    rows = np.arange(n)
    if est is None:
        ztree = cKDTree(z)
        yztree = cKDTree(np.hstack([y, z]))
        n_xz, n_yz, n_z = _fp_exact(x, y, z, rows, k, workers, ztree, yztree)
        neigh = ztree.query(z, k=k_perm + 1, p=np.inf, workers=workers)[1][:, 1:]

        def recompute(perm):
            a, c, d = _fp_exact(x if perm is None else x[perm], y, z, rows, k, workers, ztree, yztree)
            return float(digamma(k) + np.mean(digamma(d) - digamma(a) - digamma(c))), 0
    else:
        neigh = est.idx[:, :k_perm]

        def recompute(perm):
            return est.cmi(x if perm is None else x[perm])

    stat = float(digamma(k) + np.mean(digamma(n_z) - digamma(n_xz) - digamma(n_yz)))
    return stat, recompute, neigh, n_exact


def cmi_knn_test(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None, k: int = 10,
                 n_perm: int = 200, seed: int = 0, *, k_perm: int = 5,
                 transform: str = "ranks", n_candidates: int | None = None,
                 workers: int = -1, max_dim: int = MAX_CMI_DIM) -> CMIResult:
    """Test X ⟂ Y (| Z) with the kNN (C)MI estimate and a (local) permutation null.

    Parameters
    ----------
    x, y, z : (n,) or (n, d) arrays, no NaN; ``z=None`` gives the unconditional KSG test
    k : neighbours of the estimator (integer)
    n_perm : permutations of the null distribution
    seed : seeds the tie-breaking jitter and the permutations
    k_perm : z-neighbours among which x is locally permuted (conditional case)
    transform : per-column "ranks" (default, as tigramite), "standardize" or "none"
    n_candidates : z-neighbours kept per point by the fast path (default: chosen from the
        observed counts when z has >= 3 columns, else 0); ``0`` forces exact KD-tree counting
        on every permutation
    workers : threads of the KD-tree queries (-1: all)
    max_dim : with more z columns than this, the kNN estimate and its local permutation are not
        calibrated (docs/causal.md); the test is then dispatched, with a logged notice, to the
        cross-fitted residual test :class:`galinfo.causal.citest.GCMTest` (x and y 1-D) and the
        result has ``cmi`` NaN and ``dispatched="gcm"``

    Returns
    -------
    CMIResult with ``.cmi`` (nats) and ``.pvalue``.
    """
    if isinstance(n_perm, bool) or not isinstance(n_perm, int | np.integer) or n_perm < 1:
        raise ConfigError(f"n_perm must be a positive integer, got {n_perm!r}")
    zb = _as_block(z, "z", None)
    if zb is not None and zb.shape[1] > max_dim:
        return _dispatch_gcm(x, y, zb, k, k_perm, seed, max_dim)
    x, y, z, n, rng = _prepare(x, y, z, transform, seed)
    k = _check_k(k, n, "k")
    if z is not None:
        k_perm = _check_k(k_perm, n, "k_perm")
    stat, recompute, neigh, n_exact = cmi_statistic(x, y, z, k, k_perm=k_perm,
                                                    n_candidates=n_candidates, workers=workers)
    null = np.empty(n_perm)
    for b in range(n_perm):
        perm = rng.permutation(n) if neigh is None else restricted_permutation(neigh, rng)
        null[b], bad = recompute(perm)
        n_exact += bad
    log.debug("cmi_knn_test: n=%d exact fallbacks=%d", n, n_exact)
    if z is None:
        return CMIResult(stat, _pvalue(stat, null), null, k, 0, n, False)
    return CMIResult(stat, _pvalue(stat, null), null, k, k_perm, n, True, n_exact)


def _dispatch_gcm(x, y, z: np.ndarray, k: int, k_perm: int, seed: int, max_dim: int) -> CMIResult:
    from galinfo.causal.citest import GCMTest

    xa, ya = _as_block(x, "x", None), _as_block(y, "y", z.shape[0])
    if xa.shape[1] != 1 or ya.shape[1] != 1:
        raise ConfigError(f"z has {z.shape[1]} columns (> max_dim={max_dim}): the residual test it "
                          "dispatches to needs 1-D x and y")
    log.info("cmi_knn_test: z has %d columns (> max_dim=%d), where the kNN CMI test is not "
             "calibrated; dispatching to the cross-fitted residual (GCM) test", z.shape[1], max_dim)
    res = GCMTest(seed=seed).run(xa[:, 0], ya[:, 0], z)
    return CMIResult(float("nan"), res.pvalue, res.null, k, k_perm, z.shape[0], True,
                     dispatched="gcm", statistic=res.statistic)


def _pvalue(stat: float, null: np.ndarray) -> float:
    return float((1 + np.count_nonzero(null >= stat)) / (1 + null.size))
