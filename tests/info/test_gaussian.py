"""Gaussian closed forms and the Gaussian-copula PID on synthetic latents."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from galinfo.errors import GalinfoWarning
from galinfo.info import (
    copula_normalize,
    gaussian_copula_pid,
    gaussian_dep_pid,
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


def test_dep_pid_gives_an_independent_noise_source_nothing():
    rho = 0.8
    cov = np.array([[1.0, 0.0, rho], [0.0, 1.0, 0.0], [rho, 0.0, 1.0]])  # S1, noise S2, Y
    res = gaussian_dep_pid(cov, 0, 1, 2)
    assert res["i1"] == pytest.approx(-0.5 * np.log(1 - rho**2), abs=1e-12)
    for atom in ("red", "unq2", "syn"):
        assert res[atom] == pytest.approx(0.0, abs=1e-12), atom
    assert res["unq1"] == pytest.approx(res["i1"], abs=1e-12)


def test_dep_pid_of_conditionally_independent_readouts_is_the_co_information():
    # S_k = Y + N_k with independent noises: S1 and S2 are independent given Y, so I_dep's
    # redundancy is the co-information I1 + I2 - I12 and there is no synergy.
    v1, v2 = 0.5, 2.0
    cov = np.array([[1 + v1, 1.0, 1.0], [1.0, 1 + v2, 1.0], [1.0, 1.0, 1.0]])
    i1, i2, i12 = 0.5 * np.log(1 + 1 / v1), 0.5 * np.log(1 + 1 / v2), 0.5 * np.log(1 + 1 / v1 + 1 / v2)
    res = gaussian_dep_pid(cov, 0, 1, 2)
    assert res["red"] == pytest.approx(i1 + i2 - i12, abs=1e-12)
    assert res["syn"] == pytest.approx(0.0, abs=1e-12)
    # MMI calls the whole of the weaker source redundant instead
    assert gaussian_mmi_pid(cov, 0, 1, 2)["red"] == pytest.approx(i2, abs=1e-12)


def test_dep_pid_is_a_decomposition_below_mmi_redundancy():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a = rng.normal(size=(5, 5))
        cov = a @ a.T + 0.1 * np.eye(5)
        dep = gaussian_dep_pid(cov, [0, 1], [2, 3], 4)
        mmi = gaussian_mmi_pid(cov, [0, 1], [2, 3], 4)
        assert dep["red"] + dep["unq1"] + dep["unq2"] + dep["syn"] == pytest.approx(dep["i12"], abs=1e-10)
        assert dep["red"] + dep["unq1"] == pytest.approx(dep["i1"], abs=1e-10)
        assert dep["red"] + dep["unq2"] == pytest.approx(dep["i2"], abs=1e-10)
        assert min(dep[k] for k in ("red", "unq1", "unq2", "syn")) >= -1e-10
        assert dep["red"] <= mmi["red"] + 1e-10
        assert dep["syn"] <= mmi["syn"] + 1e-10


def test_gaussian_copula_pid_dep_matches_closed_form():
    s1, s2, y, cov = latent_system(60_000, seed=1)
    truth = gaussian_dep_pid(cov, [0, 1], [2, 3], 4)
    res = gaussian_copula_pid(s1, s2, y)
    for k in ("red", "unq1", "unq2", "syn"):
        assert res.dep[k] == pytest.approx(truth[k], abs=0.01), k
    assert gaussian_copula_pid(s1, s2, y, s12=np.column_stack([s1, s2])).dep is None
