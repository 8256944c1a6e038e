"""Bivariate systems with known mutual information, to test estimators (nats).

Each system gives the exact pointwise MI ``i(x, y) = ln p(x, y) - ln p(x) - ln p(y)`` from its
closed-form densities, and the MI itself in closed form (Student-t, additive uniform noise) or by
quadrature of the closed-form densities (Gaussian mixtures). Used by ``benchmarks/mi_shapes.py``.

- Student-t (Arellano-Valle, Contreras-Reyes & Genton 2013): a p-variate t with ``nu`` degrees of
  freedom and correlation matrix R has entropy
  ``H_p = 1/2 ln|R| + ln[(nu pi)^{p/2} G(nu/2) / G((nu+p)/2)] + (nu+p)/2 [psi((nu+p)/2) - psi(nu/2)]``,
  so ``I(X; Y) = 2 H_1 - H_2 = -1/2 ln(1 - rho^2) + c(nu)``. For nu = 1 and rho = 0:
  ``2 ln(4 pi) - (ln(2 pi) + 3) = 0.22417`` nats, all of it in the tails (X and Y are uncorrelated).
- Additive uniform noise: X ~ U(0, 1), Y = X + N, N ~ U(-eps, eps). h(Y | X) = ln(2 eps); the
  trapezoidal density of Y gives ``I = eps - ln(2 eps)`` for eps <= 1/2 and ``1 / (4 eps)`` above.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats


def _t_entropy(p: int, nu: float) -> float:
    """Differential entropy of a standard p-variate Student-t (identity scale), nats."""
    return float(
        0.5 * p * np.log(nu * np.pi) + special.gammaln(nu / 2) - special.gammaln((nu + p) / 2)
        + (nu + p) / 2 * (special.digamma((nu + p) / 2) - special.digamma(nu / 2))
    )


def student_t_mi(nu: float = 1.0, rho: float = 0.0) -> float:
    """I(X; Y) of a bivariate Student-t with ``nu`` degrees of freedom and correlation ``rho``, nats."""
    return 2 * _t_entropy(1, nu) - _t_entropy(2, nu) - 0.5 * np.log(1 - rho**2)


def student_t_pmi(x: np.ndarray, y: np.ndarray, nu: float = 1.0, rho: float = 0.0) -> np.ndarray:
    """Exact pointwise MI of the bivariate Student-t at (x, y), nats."""
    joint = stats.multivariate_t(loc=[0.0, 0.0], shape=[[1.0, rho], [rho, 1.0]], df=nu)
    xy = np.column_stack([x, y])
    return joint.logpdf(xy) - stats.t.logpdf(x, nu) - stats.t.logpdf(y, nu)


def uniform_noise_mi(eps: float) -> float:
    """I(X; X + N) for X ~ U(0, 1), N ~ U(-eps, eps), nats."""
    return eps - np.log(2 * eps) if eps <= 0.5 else 1.0 / (4 * eps)


def uniform_noise_pmi(y: np.ndarray, eps: float) -> np.ndarray:
    """Exact pointwise MI of the additive uniform noise system, nats: -ln(2 eps) - ln p(y).

    p(y | x) = 1 / (2 eps) wherever the pair can occur, so only y matters.
    """
    y = np.asarray(y, dtype=float)
    overlap = np.clip(np.minimum(y + eps, 1.0) - np.maximum(y - eps, 0.0), 0.0, None)
    with np.errstate(divide="ignore"):
        return -np.log(2 * eps) - np.log(overlap / (2 * eps))


def _mixture_logpdf(points: np.ndarray, weights, means, covs) -> np.ndarray:
    parts = [np.log(w) + stats.multivariate_normal(m, c).logpdf(points) for w, m, c in zip(weights, means, covs, strict=True)]
    return special.logsumexp(np.stack(parts, axis=0), axis=0)


def mixture_pmi(x: np.ndarray, y: np.ndarray, weights, means, covs) -> np.ndarray:
    """Exact pointwise MI of a mixture of bivariate Gaussians (``means`` (K, 2), ``covs`` (K, 2, 2)), nats."""
    means, covs = np.asarray(means, float), np.asarray(covs, float)
    xy = np.column_stack([x, y])
    joint = _mixture_logpdf(xy, weights, means, covs)
    px = _mixture_logpdf(np.asarray(x, float)[:, None], weights, means[:, :1], covs[:, :1, :1])
    py = _mixture_logpdf(np.asarray(y, float)[:, None], weights, means[:, 1:], covs[:, 1:, 1:])
    return joint - px - py


def mixture_mi(weights, means, covs, *, n_grid: int = 1500, span: float = 8.0) -> float:
    """I(X; Y) of a mixture of bivariate Gaussians by quadrature on an ``n_grid``^2 grid, nats.

    The grid covers every component to ``span`` standard deviations; the integrand is smooth, so
    the error is far below the Monte Carlo error of any estimate (checked in the tests).
    """
    means, covs = np.asarray(means, float), np.asarray(covs, float)
    sd = np.sqrt(np.stack([covs[:, 0, 0], covs[:, 1, 1]], axis=1))
    lo, hi = (means - span * sd).min(axis=0), (means + span * sd).max(axis=0)
    gx, gy = np.linspace(lo[0], hi[0], n_grid), np.linspace(lo[1], hi[1], n_grid)
    xx, yy = np.meshgrid(gx, gy, indexing="ij")
    x, y = xx.ravel(), yy.ravel()
    pmi = mixture_pmi(x, y, weights, means, covs)
    p = np.exp(_mixture_logpdf(np.column_stack([x, y]), weights, means, covs))
    cell = (gx[1] - gx[0]) * (gy[1] - gy[0])
    return float(np.sum(p * pmi) * cell / (np.sum(p) * cell))
