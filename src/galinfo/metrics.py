"""Point and probabilistic metrics of estimates (pure numpy functions).

With Δ = estimate − truth (target units, e.g. dex of log10 M*):

- ``bias`` = mean Δ; ``sigma_mad`` = 1.4826 · median |Δ − median Δ|;
- ``outlier_fraction`` η = fraction with |Δ| > 3 σ_MAD;
- ``crps`` of binned pdfs: the pdf is piecewise constant inside each bin (a histogram density),
  so its CDF is piecewise linear and CRPS = ∫ (F(x) − 1[x ≥ y])² dx is computed exactly;
- ``pit`` = F(y), the PIT value of the truth under the same piecewise-linear CDF;
- ``pit_wasserstein``: 1-Wasserstein distance between the empirical PIT distribution and U(0, 1).

A binned pdf is an (n, B) array of bin probabilities (each row sums to 1) on bin ``edges`` (B + 1
increasing values) or a :class:`galinfo.data.binning.TargetBins`. Truths outside the edges are
allowed: the CDF is 0 below the first edge and 1 above the last.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from galinfo.data.binning import TargetBins
from galinfo.data.validate import require_finite
from galinfo.errors import DataValidationError

MAD_TO_SIGMA = 1.4826
OUTLIER_NSIGMA = 3.0


# ---------------------------------------------------------------- validation helpers
def _as_1d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise DataValidationError(f"{name} must be 1-D, got shape {x.shape}")
    return require_finite(x, name)


def _pair(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    e = _as_1d(estimate, "estimate")
    t = _as_1d(truth, "truth")
    if e.shape != t.shape:
        raise DataValidationError(f"estimate has {e.size} values but truth has {t.size}")
    if e.size == 0:
        raise DataValidationError("estimate and truth are empty")
    return e - t


def _edges(bins: TargetBins | np.ndarray | Sequence[float]) -> np.ndarray:
    edges = bins.edges if isinstance(bins, TargetBins) else np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
        raise DataValidationError(f"bin edges must be >= 2 increasing values, got {edges!r}")
    return edges


def _pdf(pdf: np.ndarray, edges: np.ndarray) -> np.ndarray:
    p = np.asarray(pdf, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] != edges.size - 1:
        raise DataValidationError(
            f"pdf must be (n, {edges.size - 1}) bin probabilities, got shape {np.shape(pdf)}"
        )
    if not np.isfinite(p).all() or (p < 0).any():
        raise DataValidationError("pdf has negative or non-finite bin probabilities")
    s = p.sum(axis=1, keepdims=True)
    if (s <= 0).any():
        raise DataValidationError(f"{int((s <= 0).sum())} pdf row(s) sum to zero")
    return p / s


def _pdf_truth(pdf, bins, truth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = _edges(bins)
    p = _pdf(pdf, edges)
    y = np.atleast_1d(_as_1d(np.atleast_1d(truth), "truth"))
    if y.size != p.shape[0]:
        raise DataValidationError(f"pdf has {p.shape[0]} rows but truth has {y.size} values")
    return p, edges, y


#: rows of binned pdfs processed at once (bounds the float64 temporaries to ~ tens of MB)
_BLOCK = 4096


def _blockwise(fn, pdf: np.ndarray, *row_args: np.ndarray) -> np.ndarray:
    """Apply ``fn(pdf_block, *arg_blocks)`` over blocks of rows and concatenate the results."""
    pdf = np.asarray(pdf)
    if pdf.ndim != 2 or pdf.shape[0] <= _BLOCK:
        return fn(pdf, *row_args)
    row_args = [np.atleast_1d(np.asarray(a)) for a in row_args]
    for a in row_args:
        if a.shape[0] != pdf.shape[0]:
            raise DataValidationError(f"pdf has {pdf.shape[0]} rows but truth has {a.shape[0]} values")
    return np.concatenate([
        fn(pdf[i : i + _BLOCK], *(a[i : i + _BLOCK] for a in row_args))
        for i in range(0, pdf.shape[0], _BLOCK)
    ])


# ---------------------------------------------------------------- point metrics
def bias(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Mean of Δ = estimate − truth (target units)."""
    return float(np.mean(_pair(estimate, truth)))


def sigma_mad(estimate: np.ndarray, truth: np.ndarray) -> float:
    """1.4826 · median |Δ − median Δ| (target units); σ of Δ for Gaussian Δ."""
    d = _pair(estimate, truth)
    return float(MAD_TO_SIGMA * np.median(np.abs(d - np.median(d))))


def outlier_fraction(
    estimate: np.ndarray, truth: np.ndarray, *, nsigma: float = OUTLIER_NSIGMA
) -> float:
    """η: fraction of |Δ| > nsigma · σ_MAD (Δ itself, not Δ − median Δ, as in the paper)."""
    d = _pair(estimate, truth)
    s = MAD_TO_SIGMA * np.median(np.abs(d - np.median(d)))
    return float(np.mean(np.abs(d) > nsigma * s))


# ---------------------------------------------------------------- binned pdfs
def binned_cdf(pdf: np.ndarray, bins: TargetBins | np.ndarray, x: np.ndarray) -> np.ndarray:
    """CDF F_n(x_n) of each row's histogram pdf at one value per row (piecewise linear)."""

    def block(pdf_b, x_b):
        p, edges, y = _pdf_truth(pdf_b, bins, x_b)
        return _cdf_at(p, edges, y)

    return _blockwise(block, pdf, x)


def _cdf_at(p: np.ndarray, edges: np.ndarray, y: np.ndarray) -> np.ndarray:
    n_bins = p.shape[1]
    j = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, n_bins - 1)
    cum = np.cumsum(p, axis=1)
    below = np.take_along_axis(cum, j[:, None], axis=1)[:, 0] - p[np.arange(len(y)), j]
    frac = np.clip((y - edges[j]) / (edges[j + 1] - edges[j]), 0.0, 1.0)
    f = below + p[np.arange(len(y)), j] * frac
    return np.clip(np.where(y < edges[0], 0.0, np.where(y >= edges[-1], 1.0, f)), 0.0, 1.0)


def pit(pdf: np.ndarray, bins: TargetBins | np.ndarray, truth: np.ndarray) -> np.ndarray:
    """PIT values F(truth) in [0, 1] of each truth under its binned pdf (float64, (n,))."""
    return binned_cdf(pdf, bins, truth)


def crps(pdf: np.ndarray, bins: TargetBins | np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Exact CRPS (target units) of each histogram pdf against its point truth, (n,) float64.

    CRPS = ∫ (F(x) − 1[x ≥ y])² dx with F piecewise linear between the bin edges; on a bin
    where F goes linearly from a to b over width w, ∫F² = w (a² + ab + b²)/3.
    """
    return _blockwise(lambda p_b, y_b: _crps_block(p_b, bins, y_b), pdf, truth)


def _crps_block(pdf: np.ndarray, bins, truth: np.ndarray) -> np.ndarray:
    p, edges, y = _pdf_truth(pdf, bins, truth)
    n, n_bins = p.shape
    w = np.diff(edges)
    f_hi = np.cumsum(p, axis=1)
    f_lo = f_hi - p
    f_hi = np.minimum(f_hi, 1.0)
    f_lo = np.clip(f_lo, 0.0, 1.0)
    below = w * (f_lo**2 + f_lo * f_hi + f_hi**2) / 3.0  # ∫ F² over each bin
    g_lo, g_hi = 1.0 - f_lo, 1.0 - f_hi
    above = w * (g_lo**2 + g_lo * g_hi + g_hi**2) / 3.0  # ∫ (1 − F)² over each bin
    cum_below = np.concatenate([np.zeros((n, 1)), np.cumsum(below, axis=1)], axis=1)
    cum_above = np.concatenate([np.cumsum(above[:, ::-1], axis=1)[:, ::-1], np.zeros((n, 1))], axis=1)

    rows = np.arange(n)
    yc = np.clip(y, edges[0], edges[-1])
    j = np.clip(np.searchsorted(edges, yc, side="right") - 1, 0, n_bins - 1)
    a, b = edges[j], edges[j + 1]
    fa, fb = f_lo[rows, j], f_hi[rows, j]
    fy = fa + (fb - fa) * (yc - a) / (b - a)
    left = (yc - a) * (fa**2 + fa * fy + fy**2) / 3.0
    gy, gb = 1.0 - fy, 1.0 - fb
    right = (b - yc) * (gy**2 + gy * gb + gb**2) / 3.0
    out = cum_below[rows, j] + left + right + cum_above[rows, j + 1]
    # truths outside the edges: F is 0 (or 1) on the stretch between the truth and the range
    out += np.maximum(edges[0] - y, 0.0) + np.maximum(y - edges[-1], 0.0)
    return out


def binned_mean(pdf: np.ndarray, bins: TargetBins | np.ndarray) -> np.ndarray:
    """Mean of each histogram pdf (target units)."""
    edges = _edges(bins)
    return _blockwise(lambda p_b: _pdf(p_b, edges) @ (0.5 * (edges[:-1] + edges[1:])), pdf)


def binned_quantile(pdf: np.ndarray, bins: TargetBins | np.ndarray, q: float) -> np.ndarray:
    """q-quantile of each histogram pdf (inverse of the piecewise-linear CDF)."""
    if not 0.0 <= q <= 1.0:
        raise DataValidationError(f"quantile q={q} is outside [0, 1]")
    edges = _edges(bins)
    return _blockwise(lambda p_b: _quantile_block(_pdf(p_b, edges), edges, q), pdf)


def _quantile_block(p: np.ndarray, edges: np.ndarray, q: float) -> np.ndarray:
    cum = np.cumsum(p, axis=1)
    j = np.minimum((cum < q).sum(axis=1), p.shape[1] - 1)
    rows = np.arange(p.shape[0])
    lo = cum[rows, j] - p[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(p[rows, j] > 0, (q - lo) / p[rows, j], 0.5)
    frac = np.clip(frac, 0.0, 1.0)
    return edges[j] + frac * (edges[j + 1] - edges[j])


def binned_median(pdf: np.ndarray, bins: TargetBins | np.ndarray) -> np.ndarray:
    """Median of each histogram pdf."""
    return binned_quantile(pdf, bins, 0.5)


# ---------------------------------------------------------------- PIT diagnostics
def _pit_values(pit_values: np.ndarray) -> np.ndarray:
    u = _as_1d(pit_values, "pit")
    if u.size == 0:
        raise DataValidationError("pit is empty")
    if ((u < 0) | (u > 1)).any():
        raise DataValidationError("pit values must lie in [0, 1]")
    return u


def pit_histogram(pit_values: np.ndarray, n_bins: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Density histogram of PIT values on ``n_bins`` equal bins of [0, 1] (uniform = 1)."""
    u = _pit_values(pit_values)
    counts = np.bincount(np.minimum((u * n_bins).astype(np.int64), n_bins - 1), minlength=n_bins)
    return counts * (n_bins / u.size), np.linspace(0.0, 1.0, n_bins + 1)


def pit_wasserstein(pit_values: np.ndarray) -> float:
    """Exact 1-Wasserstein distance ∫₀¹ |F_n(u) − u| du of the PIT sample to U(0, 1).

    0 for a perfectly uniform sample; 0.5 at most (all values at 0 or all at 1); an n-point
    sample drawn from U(0, 1) has expectation ≈ 0.31/√n.
    """
    u = np.sort(_pit_values(pit_values))
    n = u.size
    lo = np.concatenate([[0.0], u])
    hi = np.concatenate([u, [1.0]])
    c = np.arange(n + 1) / n  # value of F_n on [lo, hi)
    # ∫_lo^hi |u − c| du = (sign(hi − c)(hi − c)² − sign(lo − c)(lo − c)²) / 2
    val = np.sign(hi - c) * (hi - c) ** 2 - np.sign(lo - c) * (lo - c) ** 2
    return float(0.5 * val.sum())


def hist_wasserstein_uniform(counts: np.ndarray) -> np.ndarray:
    """1-Wasserstein distance to U(0, 1) of histograms on equal bins of [0, 1], row-wise.

    ``counts`` is (..., n_bins); each histogram is read as piecewise-uniform inside its bins, so
    F − u is linear on every bin and the integral of its absolute value is exact. Empty rows give
    NaN.
    """
    c = np.asarray(counts, dtype=np.float64)
    n_bins = c.shape[-1]
    total = c.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.cumsum(c, axis=-1) / total
    u = np.arange(1, n_bins + 1) / n_bins
    g1 = f - u
    g0 = np.concatenate([np.zeros_like(g1[..., :1]), g1[..., :-1]], axis=-1)
    a0, a1 = np.abs(g0), np.abs(g1)
    same = g0 * g1 >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.where(a0 + a1 > 0, (g0**2 + g1**2) / (a0 + a1), 0.0)
    per_bin = np.where(same, a0 + a1, crossing) / (2.0 * n_bins)
    return per_bin.sum(axis=-1)


# ---------------------------------------------------------------- summaries
def summarize(
    estimate: np.ndarray,
    truth: np.ndarray,
    pdf: np.ndarray | None = None,
    bins: TargetBins | np.ndarray | None = None,
) -> dict[str, float]:
    """bias, sigma_mad, eta (outlier fraction), crps (mean, NaN without a pdf) and n."""
    d = _pair(estimate, truth)
    s = MAD_TO_SIGMA * np.median(np.abs(d - np.median(d)))
    out = {
        "bias": float(d.mean()),
        "sigma_mad": float(s),
        "eta": float(np.mean(np.abs(d) > OUTLIER_NSIGMA * s)),
        "crps": float("nan"),
        "n": int(d.size),
    }
    if pdf is not None:
        if bins is None:
            raise DataValidationError("summarize needs bins when a pdf is given")
        out["crps"] = float(np.mean(crps(pdf, bins, truth)))
    return out


def summarize_by(
    estimate: np.ndarray,
    truth: np.ndarray,
    groups: np.ndarray,
    pdf: np.ndarray | None = None,
    bins: TargetBins | np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """:func:`summarize` per distinct label of ``groups`` (e.g. split or class), sorted by label."""
    groups = np.asarray(groups)
    if groups.shape != np.shape(estimate):
        raise DataValidationError(
            f"groups has {groups.size} values but estimate has {np.size(estimate)}"
        )
    e, t = np.asarray(estimate), np.asarray(truth)
    out = {}
    for label in np.unique(groups):
        m = groups == label
        out[str(label)] = summarize(e[m], t[m], None if pdf is None else np.asarray(pdf)[m], bins)
    return out


def summarize_in_bins(
    estimate: np.ndarray,
    truth: np.ndarray,
    x: np.ndarray,
    edges: np.ndarray | Sequence[float],
    pdf: np.ndarray | None = None,
    bins: TargetBins | np.ndarray | None = None,
    *,
    min_count: int = 1,
) -> list[dict[str, float]]:
    """:func:`summarize` in bins of ``x`` (e.g. true log M* or r magnitude).

    Each entry adds ``x_low``/``x_high``; bins with fewer than ``min_count`` galaxies are left
    out. Values of ``x`` outside the edges are not counted.
    """
    x = _as_1d(x, "x")
    edges = _edges(edges)
    if x.shape != np.shape(estimate):
        raise DataValidationError(f"x has {x.size} values but estimate has {np.size(estimate)}")
    e, t = np.asarray(estimate), np.asarray(truth)
    which = np.searchsorted(edges, x, side="right") - 1
    which[x == edges[-1]] = edges.size - 2
    out = []
    for j in range(edges.size - 1):
        m = which == j
        if m.sum() < max(min_count, 1):
            continue
        row = summarize(e[m], t[m], None if pdf is None else np.asarray(pdf)[m], bins)
        out.append({"x_low": float(edges[j]), "x_high": float(edges[j + 1]), **row})
    return out


def accuracy_breakdown(
    estimate: np.ndarray,
    truth: np.ndarray,
    classes: np.ndarray | None = None,
    binned_by: dict[str, tuple[np.ndarray, np.ndarray | Sequence[float]]] | None = None,
    *,
    min_count: int = 10,
) -> dict:
    """Accuracy per class and in bins of other quantities (no pdf, so no CRPS).

    ``binned_by`` maps a name (e.g. ``logmstar`` for the true log10 M*/Msun, ``mag_r`` in mag) to
    ``(values, edges)``. Returns ``{"class": {label: summary}, name: [summary with x_low/x_high]}``
    (see :func:`summarize_by`, :func:`summarize_in_bins`); NaN values of a binning quantity are left out.
    """
    out: dict = {}
    if classes is not None:
        out["class"] = summarize_by(estimate, truth, np.asarray(classes))
    for name, (x, edges) in (binned_by or {}).items():
        x = np.asarray(x, dtype=float)
        ok = np.isfinite(x)
        out[name] = summarize_in_bins(np.asarray(estimate)[ok], np.asarray(truth)[ok], x[ok], edges,
                                      min_count=min_count)
    return out


def regular_edges(x: np.ndarray, width: float) -> np.ndarray:
    """Edges every ``width`` (units of ``x``) covering the finite values of ``x``, on multiples of ``width``."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.array([0.0, width])
    lo, hi = np.floor(x.min() / width) * width, np.ceil(x.max() / width) * width
    return np.arange(lo, max(hi, lo + width) + width / 2, width)


# ---------------------------------------------------------------- paired comparison of two models
def paired_comparison(truth: np.ndarray, estimate_a: np.ndarray, estimate_b: np.ndarray,
                      log_q_a: np.ndarray, log_q_b: np.ndarray, *, n_boot: int = 1000,
                      seed: int = 0) -> dict[str, float]:
    """Model A against model B on the same galaxies (rows paired).

    ``d_sigma_mad`` = σ_MAD(A) − σ_MAD(B) (target units) with its standard error from a paired
    bootstrap over galaxies (``n_boot`` resamples, seeded); ``d_info`` = mean of ln q_A − ln q_B over
    galaxies (nats): the difference of the mean pointwise information, since the prior term cancels,
    with the standard error of a paired mean. Negative ``d_sigma_mad`` and positive ``d_info`` mean
    A is the better estimator.
    """
    y = _as_1d(truth, "truth")
    arrays = [_as_1d(a, name) for a, name in ((estimate_a, "estimate_a"), (estimate_b, "estimate_b"),
                                              (log_q_a, "log_q_a"), (log_q_b, "log_q_b"))]
    if any(len(a) != len(y) for a in arrays):
        raise DataValidationError("paired_comparison needs arrays of one length (one row per galaxy)")
    est_a, est_b, lq_a, lq_b = arrays
    for name, a in (("truth", y), ("estimate_a", est_a), ("estimate_b", est_b), ("log_q_a", lq_a), ("log_q_b", lq_b)):
        require_finite(a, name)
    n = len(y)
    if n < 2:
        raise DataValidationError(f"paired_comparison needs at least 2 galaxies, got {n}")
    da, db = est_a - y, est_b - y

    def smad(d: np.ndarray) -> np.ndarray:  # σ_MAD along the last axis
        med = np.median(d, axis=-1, keepdims=True)
        return MAD_TO_SIGMA * np.median(np.abs(d - med), axis=-1)

    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    for start in range(0, n_boot, 64):  # blocks of resamples keep the memory at 64 x n
        idx = rng.integers(0, n, size=(min(64, n_boot - start), n))
        boot[start:start + len(idx)] = smad(da[idx]) - smad(db[idx])
    diff = lq_a - lq_b
    return {"n": n, "sigma_mad_a": float(smad(da)), "sigma_mad_b": float(smad(db)),
            "d_sigma_mad": float(smad(da) - smad(db)), "d_sigma_mad_se": float(boot.std(ddof=1)),
            "d_info": float(diff.mean()), "d_info_se": float(diff.std(ddof=1) / np.sqrt(n))}
