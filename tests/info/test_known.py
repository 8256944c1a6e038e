"""Closed forms of galinfo.info.known against Monte Carlo means of their exact pointwise MI."""

from __future__ import annotations

import numpy as np
import pytest

from galinfo.info import known

N = 400_000


def _close(samples: np.ndarray, truth: float) -> None:
    se = samples.std() / np.sqrt(samples.size)
    assert abs(samples.mean() - truth) < 5 * se + 1e-4, (samples.mean(), truth, se)


@pytest.mark.parametrize(("nu", "rho"), [(1.0, 0.0), (3.0, 0.5)])
def test_student_t(nu, rho):
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], N) / np.sqrt(rng.chisquare(nu, N) / nu)[:, None]
    _close(known.student_t_pmi(z[:, 0], z[:, 1], nu, rho), known.student_t_mi(nu, rho))
    if nu == 1.0 and rho == 0.0:  # the benchmark's value: 2 ln(4 pi) - ln(2 pi) - 3
        assert known.student_t_mi(1.0) == pytest.approx(2 * np.log(4 * np.pi) - np.log(2 * np.pi) - 3, abs=1e-12)
        assert known.student_t_mi(1.0) == pytest.approx(0.2242, abs=5e-5)


@pytest.mark.parametrize("eps", [0.1, 0.5, 0.75])
def test_uniform_noise(eps):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, N)
    _close(known.uniform_noise_pmi(x + rng.uniform(-eps, eps, N), eps), known.uniform_noise_mi(eps))


def test_mixture_quadrature_matches_monte_carlo():
    rng = np.random.default_rng(2)
    w, m = np.array([0.3, 0.7]), np.array([[-2.0, -1.0], [2.0, 1.5]])
    c = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.0]]])
    k = rng.choice(2, N, p=w)
    xy = m[k] + np.einsum("nij,nj->ni", np.linalg.cholesky(c)[k], rng.standard_normal((N, 2)))
    _close(known.mixture_pmi(xy[:, 0], xy[:, 1], w, m, c), known.mixture_mi(w, m, c, n_grid=600))
