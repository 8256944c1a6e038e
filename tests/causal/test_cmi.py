"""KNN (conditional) mutual information estimator and permutation tests."""

import numpy as np
import pytest
from scipy import stats

from galinfo.causal.cmi import (
    _CandidateFP,
    _fp_exact,
    _prepare,
    cmi_knn,
    cmi_knn_test,
    restricted_permutation,
)
from galinfo.errors import ConfigError, DataValidationError


def test_ksg_matches_gaussian_mi():
    rng = np.random.default_rng(1)
    rho = 0.8
    xy = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=3000)
    exact = -0.5 * np.log(1 - rho**2)
    est = cmi_knn(xy[:, 0], xy[:, 1], k=10, transform="standardize")
    assert est == pytest.approx(exact, abs=0.05)


def test_frenzel_pompe_matches_gaussian_cmi():
    rng = np.random.default_rng(2)
    n = 3000
    z = rng.normal(size=n)
    x = z + rng.normal(size=n)
    y = z + 0.6 * x + rng.normal(size=n)
    # partial correlation of x and y given z
    rx = x - np.polyval(np.polyfit(z, x, 1), z)
    ry = y - np.polyval(np.polyfit(z, y, 1), z)
    pc = np.corrcoef(rx, ry)[0, 1]
    exact = -0.5 * np.log(1 - pc**2)
    est = cmi_knn(x, y, z, k=10, transform="standardize")
    assert est == pytest.approx(exact, abs=0.05)


def test_candidate_path_counts_equal_kdtree_counts():
    rng = np.random.default_rng(3)
    n = 800
    z = rng.normal(size=(n, 6))
    x = np.tanh(z[:, 0]) + 0.5 * rng.normal(size=n)
    y = z[:, 1] + 0.5 * rng.normal(size=n)
    x, y, z, n, _ = _prepare(x, y, z, "ranks", 0)
    est = _CandidateFP(y, z, 10, 40, workers=1)  # short list: some rows need the exact fallback
    xp = x[rng.permutation(n)]
    for xx in (x, xp):
        n_xz, n_yz, n_z, _ = est.counts(xx)
        e_xz, e_yz, e_z = _fp_exact(xx, y, z, np.arange(n), 10, 1, est.ztree)
        np.testing.assert_array_equal(n_xz, e_xz)
        np.testing.assert_array_equal(n_yz, e_yz)
        np.testing.assert_array_equal(n_z, e_z)


def _systems(kind: str, nonlinear: bool, n: int, seed: int):
    rng = np.random.default_rng(seed)
    f = (lambda a: np.tanh(2 * a) + 0.3 * a**2) if nonlinear else (lambda a: a)
    e = lambda: 0.5 * rng.normal(size=n)  # noqa: E731
    if kind == "chain":  # X -> Z -> Y
        x = rng.normal(size=n)
        z = f(x) + e()
        y = f(z) + e()
    elif kind == "fork":  # X <- Z -> Y
        z = rng.normal(size=n)
        x = f(z) + e()
        y = f(-z) + e()
    else:  # collider X -> Z <- Y
        x = rng.normal(size=n)
        y = rng.normal(size=n)
        z = f(x) + f(y) + e()
    return x, y, z


@pytest.mark.parametrize("nonlinear", [False, True])
@pytest.mark.parametrize("kind", ["chain", "fork", "collider"])
def test_structural_known_answers(kind, nonlinear):
    x, y, z = _systems(kind, nonlinear, 2000, seed=10)
    cond = cmi_knn_test(x, y, z, k=10, n_perm=40, seed=0)
    marg = cmi_knn_test(x, y, None, k=10, n_perm=40, seed=0)
    if kind == "collider":
        assert cond.pvalue <= 0.05 and marg.pvalue > 0.05
    else:
        assert cond.pvalue > 0.05 and marg.pvalue <= 0.05
    assert cond.conditional and not marg.conditional
    assert cond.null.shape == (40,)


def test_same_seed_same_numbers_and_multivariate_blocks():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(600, 4))
    x = np.stack([z[:, 0] + rng.normal(size=600), rng.normal(size=600)], axis=1)
    y = z[:, :2] + rng.normal(size=(600, 2))
    a = cmi_knn_test(x, y, z, n_perm=20, seed=7, max_dim=4)  # 4-d z: kept on the kNN path
    b = cmi_knn_test(x, y, z, n_perm=20, seed=7, max_dim=4)
    assert a.cmi == b.cmi and a.pvalue == b.pvalue
    np.testing.assert_array_equal(a.null, b.null)


def test_restricted_permutation_stays_among_neighbours():
    rng = np.random.default_rng(5)
    n, m = 500, 5
    nb = np.stack([rng.choice(np.delete(np.arange(n), i), m, replace=False) for i in range(n)])
    perm = restricted_permutation(nb, rng)
    assert all(perm[i] in nb[i] for i in range(n))
    # without replacement where possible: far more distinct targets than independent draws give
    iid = nb[np.arange(n), rng.integers(0, m, size=n)]
    assert np.unique(perm).size > 0.8 * n > np.unique(iid).size


def test_bad_inputs_raise():
    x = np.arange(10.0)
    with pytest.raises(DataValidationError, match="NaN"):
        cmi_knn_test(np.r_[x[:-1], np.nan], x)
    with pytest.raises(DataValidationError, match="rows"):
        cmi_knn_test(x, x[:5])
    with pytest.raises(ConfigError, match="k"):
        cmi_knn_test(x, x, k=20)
    with pytest.raises(ConfigError, match="n_perm"):
        cmi_knn_test(x, x, n_perm=0)
    with pytest.raises(ConfigError, match="transform"):
        cmi_knn(x, x, transform="rank")


@pytest.mark.slow
def test_null_pvalues_uniform_small():
    """A small version of benchmarks/local_test_calibration.py section 3."""
    ps = []
    for rep in range(60):
        rng = np.random.default_rng(100 + rep)
        x = rng.normal(size=200)
        z = np.tanh(x) + 0.5 * rng.normal(size=200)
        y = z**2 + 0.5 * rng.normal(size=200)
        ps.append(cmi_knn_test(x, y, z, k=5, n_perm=19, seed=rep).pvalue)
    assert stats.kstest(ps, "uniform").pvalue > 0.01
