"""Local dependence tests in a latent space: the paper's tests and a calibrated version.

Every galaxy i has ``k`` neighbours in the latent S among a reference (training) set, given as an
(n, k) integer array of reference rows. ``y``, ``x_q`` and ``x_c`` are arrays over the reference
set; their values are gathered per neighbourhood, so the maths below works on (n, k) blocks,
vectorised over galaxies (no Python loop per galaxy) and processed in chunks of galaxies.

Missing values: a neighbour whose y, x_q or (when given) x_c is NaN is excluded from that
neighbourhood; ``n_valid`` counts the neighbours used, and galaxies with fewer than
``min_valid`` get NaN statistics.

Paper's test (Zhang, Lin, Ting et al. 2025): Pearson r(Y, X_q) within the neighbourhood, with a
baseline r after permuting X_q within the neighbourhood; predictive efficiency
``1 - Var(residual)/Var(Y)`` of a quadratic fit of Y on X_q; conditional versions first replace Y
and X_q by their residuals of a local quadratic fit on X_c. This baseline ignores that S, hence
E[Y|S] and E[X_q|S], still vary inside a neighbourhood: with a many-dimensional S the test flags
dependence under a true conditional independence (see docs/causal.md).

Calibrated test: Y and X_q (given S, and X_c when conditioning) are first replaced by their
residuals of a cross-fitted regression on S (see :mod:`galinfo.causal.regress`), removing the
within-neighbourhood variation of E[.|S]; then per galaxy the local correlation of the residuals
is tested against within-neighbourhood permutations (two-sided), Benjamini–Hochberg controls the
per-galaxy false discoveries, and the whole sample is tested with the mean local correlation
against global permutations of the X_q residuals (one permutation re-used by every
neighbourhood, so their overlap is part of the null distribution).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = [
    "LocalTestResult",
    "CalibratedLocalResult",
    "latent_neighbours",
    "local_pearson",
    "local_studentized",
    "quadratic_residuals",
    "predictive_efficiency",
    "paper_local_test",
    "calibrated_local_test",
    "within_permutation_pvalues",
    "benjamini_hochberg",
    "binned_summary",
]

Progress = Callable[[int], None] | None


# ----------------------------------------------------------------------------- block maths
def local_pearson(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson r per row of (n, k) blocks over the entries where ``w`` is True (NaN if < 3)."""
    y, x = np.where(w, y, 0.0), np.where(w, x, 0.0)  # masked entries may hold NaN
    wf = w.astype(np.float64)
    m = wf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        yc = (y - (y * wf).sum(axis=1, keepdims=True) / m[:, None]) * wf
        xc = (x - (x * wf).sum(axis=1, keepdims=True) / m[:, None]) * wf
        r = (yc * xc).sum(axis=1) / np.sqrt((yc * yc).sum(axis=1) * (xc * xc).sum(axis=1))
    r[m < 3] = np.nan
    return r


def local_studentized(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Studentized local correlation per row of (n, k) blocks over ``w`` (NaN if < 3 entries).

    ``t = sum(xc yc) / sqrt(sum(xc^2 yc^2))`` with xc, yc centred on the row mean: the statistic
    sqrt(m) r / tau of DiCiccio & Romano (2017), tau^2 = mu22 / (mu20 mu02). Its permutation
    distribution and its distribution under independence are both N(0, 1) asymptotically, also
    when the two variables share a variance that changes inside the row (Pearson's r is not).
    """
    y, x = np.where(w, y, 0.0), np.where(w, x, 0.0)
    wf = w.astype(np.float64)
    m = wf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        yc = (y - (y * wf).sum(axis=1, keepdims=True) / m[:, None]) * wf
        xc = (x - (x * wf).sum(axis=1, keepdims=True) / m[:, None]) * wf
        t = (yc * xc).sum(axis=1) / np.sqrt((yc * yc * xc * xc).sum(axis=1))
    t[m < 3] = np.nan
    return t


def quadratic_residuals(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Residuals of a per-row least-squares fit ``y ~ a + b x + c x^2`` over ``w`` (0 elsewhere).

    x is centred and scaled per row before the fit (conditioning); rows with fewer than 4 valid
    entries or a constant x give NaN.
    """
    y, x = np.where(w, y, 0.0), np.where(w, x, 0.0)
    wf = w.astype(np.float64)
    m = wf.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (x * wf).sum(axis=1, keepdims=True) / m
        sd = np.sqrt((((x - mu) * wf) ** 2).sum(axis=1, keepdims=True) / m)
        u = np.where(w, (x - mu) / sd, 0.0)
    design = np.stack([wf, u * wf, u * u * wf], axis=2)  # (n, k, 3), zero rows where masked
    ata = np.einsum("nki,nkj->nij", design, design)
    atb = np.einsum("nki,nk->ni", design, np.where(w, y, 0.0))
    bad = ~(np.isfinite(ata).all(axis=(1, 2))) | (m[:, 0] < 4) | ~np.isfinite(sd[:, 0]) | (
        sd[:, 0] == 0)
    ata[bad] = np.eye(3)
    atb[bad] = 0.0
    ata += 1e-10 * np.eye(3)
    beta = np.linalg.solve(ata, atb[..., None])[..., 0]
    res = np.where(w, y - np.einsum("nki,ni->nk", design, beta), 0.0)
    res[bad] = np.nan
    return res


def predictive_efficiency(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``1 - Var(residual)/Var(y)`` of a per-row quadratic fit of y on x (fraction, (n,))."""
    res = quadratic_residuals(y, x, w)
    y = np.where(w, y, 0.0)
    wf = w.astype(np.float64)
    m = wf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ym = (y * wf).sum(axis=1) / m
        tss = (((y - ym[:, None]) * wf) ** 2).sum(axis=1)
        eff = 1.0 - (res**2).sum(axis=1) / tss
    eff[(m < 4) | (tss == 0)] = np.nan
    return eff


def _compact(w: np.ndarray, *blocks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Move each row's valid entries (``w``) to the front, keeping their order."""
    pos = np.argsort(~w, axis=1, kind="stable")
    return (np.take_along_axis(w, pos, axis=1),) + tuple(
        np.take_along_axis(b, pos, axis=1) for b in blocks
    )


def _permute_within(x: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permute each row of x among its valid entries; rows must be compacted (:func:`_compact`)."""
    keys = rng.random(x.shape)
    keys[~w] = 2.0  # invalid entries (at the end of the row) sort after the valid ones
    return np.take_along_axis(x, np.argsort(keys, axis=1), axis=1)


# ----------------------------------------------------------------------------- validation
def _check_neighbours(neighbours: np.ndarray, n_ref: int) -> np.ndarray:
    nb = np.asarray(neighbours)
    if nb.ndim != 2 or not np.issubdtype(nb.dtype, np.integer):
        raise DataValidationError(f"neighbours must be an (n, k) integer array, got {nb.dtype} {nb.shape}")
    if nb.size and (nb.min() < 0 or nb.max() >= n_ref):
        raise DataValidationError(
            f"neighbours index outside the reference set of {n_ref} rows (range {nb.min()}..{nb.max()})"
        )
    return nb


def _vector(a: np.ndarray | None, name: str, n_ref: int | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.ma.filled(np.ma.asarray(a, dtype=np.float64), np.nan)
    if a.ndim != 1:
        raise DataValidationError(f"{name} must be 1-D over the reference set, got shape {a.shape}")
    if n_ref is not None and a.shape[0] != n_ref:
        raise DataValidationError(f"{name} has {a.shape[0]} rows, y has {n_ref}")
    return a


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def latent_neighbours(latent_ref: np.ndarray, latent_query: np.ndarray | None = None,
                      k: int = 100) -> np.ndarray:
    """(n_query, k) int64 rows of the k nearest reference galaxies in S (squared L2, exact).

    With ``latent_query=None`` the queries are the reference galaxies themselves and each list
    includes the galaxy itself, as in the paper.
    """
    from galinfo.knn.search import knn_search

    ref = np.asarray(latent_ref, dtype=np.float32)
    query = ref if latent_query is None else np.asarray(latent_query, dtype=np.float32)
    return knn_search(ref, query, k)[1]


# ----------------------------------------------------------------------------- paper's test
@dataclass
class LocalTestResult:
    """Per-galaxy results of the paper's local test (arrays of length n_galaxies).

    r : Pearson r(Y, X_q) (of the X_c residuals when conditional)
    r_perm : baseline, mean r after permuting X_q within the neighbourhood (``n_baseline`` times)
    efficiency, efficiency_perm : predictive efficiency (fraction) and its permuted baseline
    n_valid : neighbours used; n_masked : neighbours excluded for NaN
    """

    r: np.ndarray
    r_perm: np.ndarray
    efficiency: np.ndarray
    efficiency_perm: np.ndarray
    n_valid: np.ndarray
    n_masked: np.ndarray
    conditional: bool = False

    def summary(self) -> dict:
        """Means over galaxies with a finite statistic."""
        return {
            "n_galaxies": int(self.r.size),
            "n_tested": int(np.isfinite(self.r).sum()),
            "mean_r": float(np.nanmean(self.r)),
            "mean_r_perm": float(np.nanmean(self.r_perm)),
            "mean_efficiency": float(np.nanmean(self.efficiency)),
            "mean_efficiency_perm": float(np.nanmean(self.efficiency_perm)),
            "neighbours_masked": int(self.n_masked.sum()),
            "conditional": self.conditional,
        }


def _blocks(nb, y, x_q, x_c):
    yb, xb = y[nb], x_q[nb]
    w = np.isfinite(yb) & np.isfinite(xb)
    cb = None
    if x_c is not None:
        cb = x_c[nb]
        w &= np.isfinite(cb)
    return yb, xb, cb, w


def paper_local_test(neighbours: np.ndarray, y: np.ndarray, x_q: np.ndarray,
                     x_c: np.ndarray | None = None, *, n_baseline: int = 1, seed: int = 0,
                     min_valid: int = 10, chunk: int = 20_000,
                     progress: Progress = None) -> LocalTestResult:
    """The paper's local correlation and predictive-efficiency tests, vectorised.

    ``neighbours`` (n, k) rows of the reference set; ``y`` (e.g. log M*), ``x_q`` (query, e.g.
    r-band axis ratio) and optional ``x_c`` (conditioning, e.g. spec-z) are (n_ref,) arrays with
    NaN for missing values. Not calibrated when X_q depends on S (module docstring).
    """
    y = _vector(y, "y", None)
    n_ref = y.shape[0]
    x_q = _vector(x_q, "x_q", n_ref)
    x_c = _vector(x_c, "x_c", n_ref)
    nb = _check_neighbours(neighbours, n_ref)
    if n_baseline < 1:
        raise ConfigError(f"n_baseline must be >= 1, got {n_baseline}")
    n, k = nb.shape
    rng = np.random.default_rng(seed)
    out = {name: np.full(n, np.nan) for name in ("r", "r_perm", "eff", "eff_perm")}
    n_valid = np.zeros(n, dtype=np.int64)
    for sl in _chunks(n, chunk):
        yb, xb, cb, w = _blocks(nb[sl], y, x_q, x_c)
        if cb is not None:
            yb = quadratic_residuals(yb, cb, w)
            xb = quadratic_residuals(xb, cb, w)
            w = w & np.isfinite(yb).all(axis=1, keepdims=True)
        w, yb, xb = _compact(w, yb, xb)
        m = w.sum(axis=1)
        n_valid[sl] = m
        r = local_pearson(yb, xb, w)
        eff = predictive_efficiency(yb, xb, w)
        rp = np.zeros_like(r)
        ep = np.zeros_like(r)
        for _ in range(n_baseline):
            xp = _permute_within(xb, w, rng)
            rp += local_pearson(yb, xp, w)
            ep += predictive_efficiency(yb, xp, w)
        few = m < min_valid
        for name, val in (("r", r), ("r_perm", rp / n_baseline), ("eff", eff),
                          ("eff_perm", ep / n_baseline)):
            val[few] = np.nan
            out[name][sl] = val
        if progress is not None:
            progress(sl.stop - sl.start)
    return LocalTestResult(out["r"], out["r_perm"], out["eff"], out["eff_perm"], n_valid,
                           k - n_valid, conditional=x_c is not None)


# ----------------------------------------------------------------------------- calibrated test
def benjamini_hochberg(pvalues: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg: (reject mask, q-values). NaN p-values are ignored (never rejected)."""
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        m = ok.size
        ranked = p[order] * m / np.arange(1, m + 1)
        q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return np.nan_to_num(q, nan=2.0) <= alpha, q


@dataclass
class CalibratedLocalResult:
    """Per-galaxy and whole-sample results of :func:`calibrated_local_test`.

    r : local correlation of the residuals (per galaxy); pvalue : two-sided within-neighbourhood
    permutation p-value; qvalue / reject_bh : Benjamini–Hochberg at ``alpha``.
    statistic : mean local r over tested galaxies; global_pvalue : two-sided, against global
    permutations of the X_q residuals; effect_size : (statistic - null mean) / null std.
    residual_y, residual_xq : cross-fitted residuals over the reference set (NaN where masked).
    """

    r: np.ndarray
    pvalue: np.ndarray
    qvalue: np.ndarray
    reject_bh: np.ndarray
    n_valid: np.ndarray
    statistic: float
    global_pvalue: float
    effect_size: float
    null: np.ndarray = field(repr=False)
    residual_y: np.ndarray = field(repr=False)
    residual_xq: np.ndarray = field(repr=False)
    alpha: float = 0.05
    conditional: bool = False

    def summary(self) -> dict:
        """Whole-sample numbers as plain Python types (for JSON)."""
        tested = np.isfinite(self.pvalue)
        return {
            "n_galaxies": int(self.r.size),
            "n_tested": int(tested.sum()),
            "mean_r": self.statistic,
            "global_pvalue": self.global_pvalue,
            "effect_size": self.effect_size,
            "frac_p_below_alpha": float(np.mean(self.pvalue[tested] <= self.alpha)) if tested.any() else float("nan"),
            "n_reject_bh": int(self.reject_bh.sum()),
            "alpha": self.alpha,
            "conditional": self.conditional,
        }


def residualize(latent: np.ndarray, y: np.ndarray, x_q: np.ndarray, x_c: np.ndarray | None = None,
                *, folds: int = 5, seed: int = 0, y_pred: np.ndarray | None = None,
                **fit_kw) -> tuple[np.ndarray, np.ndarray]:
    """Cross-fitted residuals of y and x_q given S (and x_c): NaN where any input is missing.

    ``y_pred`` (e.g. the model's own pdf mean, a function of S only) replaces the regression of
    y when not conditioning on x_c.
    """
    from galinfo.causal.regress import crossfit_predict

    s = np.asarray(latent, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != y.shape[0]:
        raise DataValidationError(f"latent must be (n_ref, d) with n_ref={y.shape[0]}, got {s.shape}")
    feats = s if x_c is None else np.hstack([s, x_c[:, None]])
    ok = np.isfinite(feats).all(axis=1) & np.isfinite(y) & np.isfinite(x_q)
    if ok.sum() < 20:
        raise DataValidationError(f"only {int(ok.sum())} reference rows have finite latent, y, x_q and x_c")
    ry = np.full(y.shape, np.nan)
    rx = np.full(y.shape, np.nan)
    if y_pred is not None and x_c is None:
        pred = crossfit_predict(feats[ok], x_q[ok], folds=folds, seed=seed, **fit_kw)[:, 0]
        rx[ok] = x_q[ok] - pred
        ry[ok] = y[ok] - np.asarray(y_pred, dtype=np.float64)[ok]
    else:
        pred = crossfit_predict(feats[ok], np.stack([y[ok], x_q[ok]], axis=1), folds=folds,
                                seed=seed, **fit_kw)
        ry[ok] = y[ok] - pred[:, 0]
        rx[ok] = x_q[ok] - pred[:, 1]
    log.info("residualised y and x_q on S%s: %d of %d reference rows (rest NaN)",
             "+x_c" if x_c is not None else "", int(ok.sum()), y.size)
    return ry, rx


def _mean_local_r(nb: np.ndarray, ry: np.ndarray, rx: np.ndarray, min_valid: int,
                  chunk: int, stat: Callable = local_pearson) -> float:
    """Mean over galaxies (>= ``min_valid`` valid neighbours) of a per-row block statistic."""
    tot, cnt = 0.0, 0
    for sl in _chunks(nb.shape[0], chunk):
        yb, xb = ry[nb[sl]], rx[nb[sl]]
        w = np.isfinite(yb) & np.isfinite(xb)
        r = stat(yb, xb, w)
        r = r[(w.sum(axis=1) >= min_valid) & np.isfinite(r)]
        tot += r.sum()
        cnt += r.size
    return tot / cnt if cnt else float("nan")


def within_permutation_pvalues(nb: np.ndarray, ry: np.ndarray, rx: np.ndarray, n_perm: int,
                               rng: np.random.Generator, *, stat: Callable = local_pearson,
                               min_valid: int = 10, chunk: int = 20_000,
                               progress: Progress = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per galaxy: ``stat`` of (ry, rx) over its neighbours ``nb`` and its two-sided p-value against
    ``n_perm`` permutations of rx within the neighbourhood; NaN below ``min_valid`` valid
    neighbours. Returns (statistic, pvalue, n_valid), each (n_galaxies,)."""
    n = nb.shape[0]
    value, pval = np.full(n, np.nan), np.full(n, np.nan)
    n_valid = np.zeros(n, dtype=np.int64)
    for sl in _chunks(n, chunk):
        w, yb, xb = _compact(np.isfinite(ry[nb[sl]]) & np.isfinite(rx[nb[sl]]), ry[nb[sl]], rx[nb[sl]])
        m = w.sum(axis=1)
        v = stat(yb, xb, w)
        exceed = np.zeros(v.shape)
        absv = np.abs(v) - 1e-12
        for _ in range(n_perm):
            exceed += np.abs(stat(yb, _permute_within(xb, w, rng), w)) >= absv
        pp = (1.0 + exceed) / (1.0 + n_perm)
        few = (m < min_valid) | ~np.isfinite(v)
        v[few], pp[few] = np.nan, np.nan
        value[sl], pval[sl], n_valid[sl] = v, pp, m
        if progress is not None:
            progress(sl.stop - sl.start)
    return value, pval, n_valid


def calibrated_local_test(neighbours: np.ndarray, y: np.ndarray, x_q: np.ndarray,
                          x_c: np.ndarray | None = None, *, latent: np.ndarray | None = None,
                          residuals: tuple[np.ndarray, np.ndarray] | None = None,
                          y_pred: np.ndarray | None = None, n_perm: int = 200,
                          n_perm_global: int = 200, alpha: float = 0.05, seed: int = 0,
                          folds: int = 5, min_valid: int = 10, chunk: int = 20_000,
                          global_null: str = "global", k_perm: int = 5,
                          progress: Progress = None) -> CalibratedLocalResult:
    """Residual-based local test of Y ⟂ X_q | S (, X_c), calibrated for a many-dimensional S.

    Give either ``latent`` (n_ref, d), to residualise y and x_q by cross-fitted regression on S
    (plus x_c when given), or precomputed ``residuals`` (ry, rx) over the reference set.
    ``n_perm`` within-neighbourhood permutations give the per-galaxy p-values, ``n_perm_global``
    global permutations the whole-sample p-value. ``global_null="local"`` instead moves each
    X_q residual to one of its ``k_perm`` nearest reference galaxies in S (Runge-style local
    permutation), keeping any smooth leftover dependence on S in the null. See the module docstring.
    """
    y = _vector(y, "y", None)
    n_ref = y.shape[0]
    x_q = _vector(x_q, "x_q", n_ref)
    x_c = _vector(x_c, "x_c", n_ref)
    nb = _check_neighbours(neighbours, n_ref)
    if n_perm < 1 or n_perm_global < 1:
        raise ConfigError(f"n_perm and n_perm_global must be >= 1, got {n_perm}, {n_perm_global}")
    if residuals is not None:
        ry, rx = (_vector(a, name, n_ref) for a, name in zip(residuals, ("residual y", "residual x_q"),
                                                            strict=True))
    elif latent is not None:
        ry, rx = residualize(latent, y, x_q, x_c, folds=folds, seed=seed, y_pred=y_pred)
    else:
        raise ConfigError("calibrated_local_test needs latent= (to residualise) or residuals=")
    rng = np.random.default_rng(seed)
    r, pval, n_valid = within_permutation_pvalues(nb, ry, rx, n_perm, rng, min_valid=min_valid,
                                                  chunk=chunk, progress=progress)
    reject, q = benjamini_hochberg(pval, alpha)
    stat = float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")
    # whole-sample null: one permutation of the x_q residuals shared by all neighbourhoods
    finite = np.flatnonzero(np.isfinite(rx))
    if global_null == "local":
        from galinfo.causal.cmi import restricted_permutation
        from galinfo.knn.search import knn_search

        if latent is None:
            raise ConfigError("global_null='local' needs latent= (neighbours of the reference set)")
        lat = np.asarray(latent, dtype=np.float32)[finite]
        ref_nb = knn_search(lat, lat, k_perm, exclude_self=True)[1]
    elif global_null != "global":
        raise ConfigError(f"global_null must be 'global' or 'local', got {global_null!r}")
    null = np.empty(n_perm_global)
    for b in range(n_perm_global):
        rxp = rx.copy()
        if global_null == "local":
            rxp[finite] = rx[finite[restricted_permutation(ref_nb, rng)]]
        else:
            rxp[finite] = rx[finite[rng.permutation(finite.size)]]
        null[b] = _mean_local_r(nb, ry, rxp, min_valid, chunk)
    centre = null.mean()
    if np.isfinite(stat):
        gp = float((1 + np.count_nonzero(np.abs(null - centre) >= abs(stat - centre) - 1e-15))
                   / (1 + n_perm_global))
    else:  # no neighbourhood had enough valid galaxies: nothing was tested
        gp = float("nan")
    sd = null.std(ddof=1) if n_perm_global > 1 else np.nan
    effect = float((stat - centre) / sd) if sd and np.isfinite(sd) and sd > 0 else float("nan")
    return CalibratedLocalResult(r, pval, q, reject, n_valid, stat, gp, effect, null, ry, rx,
                                 alpha=alpha, conditional=x_c is not None)


# ----------------------------------------------------------------------------- summaries
def binned_summary(values: dict[str, np.ndarray], by: np.ndarray, edges: np.ndarray | None = None,
                   *, flags: np.ndarray | None = None) -> list[dict]:
    """Mean of each array in ``values`` per bin of ``by`` (numeric with ``edges``, or categorical).

    Returns one dict per bin: ``bin`` (label), ``n``, ``mean_<name>`` (NaN-aware) and, with
    ``flags`` (bool), ``frac_flagged``.
    """
    by = np.asarray(by)
    rows = []
    if edges is not None:
        edges = np.asarray(edges, dtype=np.float64)
        idx = np.digitize(by.astype(np.float64), edges) - 1
        labels = [(f"[{edges[i]:g}, {edges[i + 1]:g})", idx == i) for i in range(edges.size - 1)]
    else:
        cats = [c for c in np.unique(by.astype(str))]
        labels = [(c, by.astype(str) == c) for c in cats]
    for label, sel in labels:
        row = {"bin": label, "n": int(sel.sum())}
        for name, v in values.items():
            vv = np.asarray(v, dtype=np.float64)[sel]
            row[f"mean_{name}"] = float(np.nanmean(vv)) if np.isfinite(vv).any() else float("nan")
        if flags is not None:
            f = np.asarray(flags)[sel]
            row["frac_flagged"] = float(f.mean()) if f.size else float("nan")
        rows.append(row)
    return rows
