"""Gaussian closed forms and the Gaussian-copula PID on synthetic latents."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from galinfo.errors import GalinfoWarning
from galinfo.info import (
    copula_normalize,
    gaussian_copula_pid,
    gaussian_local_mi,
    gaussian_mi,
    gaussian_mmi_pid,
)


def test_bivariate_closed_form():
    for rho in (0.0, 0.3, 0.75, 0.95):
        cov = np.array([[1.0, rho], [rho, 1.0]])
        assert gaussian_mi(cov, 0, 1) == pytest.approx(-0.5 * np.log(1 - rho**2), abs=1e-12)


def test_local_mi_averages_to_mi():
    rng = np.random.default_rng(0)
    rho = 0.75
    cov = np.array([[1.0, rho], [rho, 1.0]])
    z = rng.multivariate_normal([0, 0], cov, size=200_000)
    loc = gaussian_local_mi(z[:, 0], z[:, 1], mean=np.zeros(2), cov=cov)
    se = loc.std() / np.sqrt(loc.size)
    assert abs(loc.mean() - gaussian_mi(cov, 0, 1)) < 4 * se


def latent_system(n: int, seed: int):
    """S1 (2-d), S2 (2-d) and a scalar Y, jointly Gaussian with a known covariance."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + 0.5 * np.eye(5)
    d = np.sqrt(np.diag(cov))
    cov = cov / np.outer(d, d)
    z = rng.multivariate_normal(np.zeros(5), cov, size=n)
    return z[:, :2], z[:, 2:4], z[:, 4], cov


def test_gaussian_copula_pid_matches_closed_form():
    s1, s2, y, cov = latent_system(60_000, seed=1)
    truth = gaussian_mmi_pid(cov, [0, 1], [2, 3], 4)
    res = gaussian_copula_pid(s1, s2, y)
    for k in ("i1", "i2", "i12", "red", "unq1", "unq2", "syn"):
        assert res.mmi[k] == pytest.approx(truth[k], abs=0.01), k
    # the local values average to the same informations, and the identity holds per galaxy
    for k in ("i1", "i2", "i12"):
        assert res.local[k].mean() == pytest.approx(truth[k], abs=0.02), k
    total = sum(res.pointwise[a] for a in ("red", "unq1", "unq2", "syn"))
    np.testing.assert_allclose(total, res.local["i12"], atol=1e-12)


def test_gaussian_copula_pid_invariant_to_monotone_transforms():
    s1, s2, y, _ = latent_system(5_000, seed=2)
    base = gaussian_copula_pid(s1, s2, y)
    warped = gaussian_copula_pid(np.exp(s1), s2**3, np.tanh(y))
    for k in base.mmi:
        assert warped.mmi[k] == pytest.approx(base.mmi[k], abs=1e-10)


def test_copula_normalize_is_standard_normal():
    rng = np.random.default_rng(4)
    g = copula_normalize(rng.exponential(size=(20_000, 2)))
    assert np.abs(g.mean(axis=0)).max() < 1e-9
    assert np.allclose(g.std(axis=0), 1.0, atol=0.01)


def test_constant_latent_dimension_is_dropped_with_warning():
    s1, s2, y, _ = latent_system(2_000, seed=3)
    s1c = np.column_stack([s1, np.ones(len(y))])
    with pytest.warns(GalinfoWarning, match="constant dimension"):
        res = gaussian_copula_pid(s1c, s2, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = gaussian_copula_pid(s1, s2, y)
    assert res.mmi["i1"] == pytest.approx(ref.mmi["i1"], abs=1e-12)
