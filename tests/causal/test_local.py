"""Paper's local tests and the calibrated residual-based local test."""

import numpy as np
import pytest
from scipy import stats

from galinfo.causal.local import (
    _compact,
    _permute_within,
    benjamini_hochberg,
    binned_summary,
    calibrated_local_test,
    local_pearson,
    paper_local_test,
    predictive_efficiency,
    quadratic_residuals,
)
from galinfo.errors import ConfigError, DataValidationError


def _neighbours(s, k):
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k).fit(s).kneighbors(s)[1]


def make_null(n, seed, beta=0.0, d=16):
    """Y and X_q both depend on a 16-d S through shared directions; Y ⟂ X_q | S when beta=0."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, d))
    u, v, w = s[:, 0], s[:, 1], s[:, :4].sum(axis=1) * 0.5
    noise_x = 0.5 * rng.normal(size=n)
    noise_y = 0.4 * rng.normal(size=n)
    x_q = np.tanh(1.5 * u) + 0.5 * np.sin(2 * w) + 0.3 * v + noise_x
    y = np.sin(2 * u) + 0.5 * u * v + 0.4 * w + noise_y + beta * x_q
    return s, y, x_q, noise_y, noise_x


def test_local_pearson_matches_corrcoef_with_mask():
    rng = np.random.default_rng(0)
    y, x = rng.normal(size=(5, 30)), rng.normal(size=(5, 30))
    w = rng.random((5, 30)) > 0.2
    r = local_pearson(y, x, w)
    for i in range(5):
        assert r[i] == pytest.approx(np.corrcoef(y[i, w[i]], x[i, w[i]])[0, 1])
    w[0, 2:] = False
    assert np.isnan(local_pearson(y, x, w)[0])


def test_quadratic_fit_matches_polyfit_and_efficiency():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 50))
    y = 1 + 2 * x - 0.5 * x**2 + 0.3 * rng.normal(size=(4, 50))
    w = np.ones_like(x, dtype=bool)
    w[1, :10] = False
    res = quadratic_residuals(y, x, w)
    for i in range(4):
        c = np.polyfit(x[i, w[i]], y[i, w[i]], 2)
        np.testing.assert_allclose(res[i, w[i]], y[i, w[i]] - np.polyval(c, x[i, w[i]]), atol=1e-8)
        assert np.all(res[i, ~w[i]] == 0)
    exact = 1 + 2 * x - 0.5 * x**2
    np.testing.assert_allclose(predictive_efficiency(exact, x, w), 1.0, atol=1e-9)
    eff = predictive_efficiency(y, x, w)
    assert np.all((eff > 0.8) & (eff < 1))


def test_permute_within_keeps_valid_values():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 20))
    w = rng.random((50, 20)) > 0.3
    w, x = _compact(w, x)
    xp = _permute_within(x, w, rng)
    for i in range(50):
        np.testing.assert_array_equal(np.sort(xp[i, w[i]]), np.sort(x[i, w[i]]))
    assert not np.array_equal(xp, x)


def test_paper_test_masks_nan_and_counts():
    rng = np.random.default_rng(3)
    n, k = 300, 30
    y, x_q, x_c = rng.normal(size=(3, n))
    x_q[:40] = np.nan
    x_c[40:50] = np.nan
    nb = rng.integers(0, n, size=(n, k))
    res = paper_local_test(nb, y, x_q, x_c, min_valid=10)
    expect = k - (nb < 50).sum(axis=1)
    np.testing.assert_array_equal(res.n_valid, expect)
    np.testing.assert_array_equal(res.n_masked, k - expect)
    assert np.isnan(res.r[expect < 10]).all() and np.isfinite(res.r[expect >= 10]).all()
    assert res.conditional and abs(np.nanmean(res.r)) < 0.05


def test_paper_conditional_removes_explained_dependence():
    rng = np.random.default_rng(4)
    n, k = 2000, 100
    x_c = rng.normal(size=n)
    y = x_c**2 + 0.2 * rng.normal(size=n)
    x_q = x_c**2 + 0.2 * rng.normal(size=n)
    nb = rng.integers(0, n, size=(n, k))  # "neighbourhoods" that ignore x_c
    raw = paper_local_test(nb, y, x_q)
    cond = paper_local_test(nb, y, x_q, x_c)
    assert np.nanmean(raw.r) > 0.5 and abs(np.nanmean(cond.r)) < 0.05
    assert np.nanmean(raw.efficiency) > 0.4 > np.nanmean(cond.efficiency)


def test_paper_test_is_miscalibrated_and_oracle_residual_test_is_not():
    s, y, x_q, ey, ex = make_null(3000, seed=5)
    nb = _neighbours(s, 60)
    paper = paper_local_test(nb, y, x_q)
    assert np.nanmean(paper.r) > 0.3 > abs(np.nanmean(paper.r_perm))
    raw = calibrated_local_test(nb, y, x_q, residuals=(y, x_q), n_perm=50, n_perm_global=50)
    oracle = calibrated_local_test(nb, y, x_q, residuals=(ey, ex), n_perm=50, n_perm_global=50)
    assert raw.summary()["frac_p_below_alpha"] > 0.5
    assert oracle.summary()["frac_p_below_alpha"] <= 0.08 and oracle.global_pvalue > 0.01


@pytest.mark.slow
def test_calibrated_test_null_and_alternative():
    s, y, x_q, _, _ = make_null(2000, seed=6)
    nb = _neighbours(s, 50)
    null = calibrated_local_test(nb, y, x_q, latent=s, n_perm=50, n_perm_global=50, seed=1)
    assert null.summary()["frac_p_below_alpha"] <= 0.08
    assert null.global_pvalue > 0.01
    s, y, x_q, _, _ = make_null(2000, seed=7, beta=0.3)
    alt = calibrated_local_test(nb, y, x_q, latent=s, n_perm=50, n_perm_global=50, seed=1)
    assert alt.global_pvalue <= 0.05 and alt.statistic > null.statistic


def test_benjamini_hochberg_known_answer():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5, np.nan])
    reject, q = benjamini_hochberg(p, 0.05)
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 -> q = .025, .025, .05, .05, .5
    np.testing.assert_allclose(q[:5], [0.025, 0.05, 0.05, 0.025, 0.5])
    np.testing.assert_array_equal(reject, [True, True, True, True, False, False])
    assert np.isnan(q[5])


def test_binned_summary_numeric_and_categorical():
    by = np.array([8.2, 8.7, 9.1, 9.6, 11.0])
    r = np.array([0.1, 0.3, np.nan, 0.5, 0.2])
    rows = binned_summary({"r": r}, by, np.array([8.0, 9.0, 10.0]), flags=r > 0.25)
    assert [row["n"] for row in rows] == [2, 2]
    assert rows[0]["mean_r"] == pytest.approx(0.2) and rows[1]["mean_r"] == pytest.approx(0.5)
    assert rows[0]["frac_flagged"] == pytest.approx(0.5)
    cats = binned_summary({"r": r}, np.array(["sf", "sf", "passive", "other", "sf"]))
    assert {c["bin"]: c["n"] for c in cats} == {"other": 1, "passive": 1, "sf": 3}


def test_bad_inputs_raise():
    y = np.zeros(10)
    with pytest.raises(DataValidationError, match="neighbours"):
        paper_local_test(np.array([[0, 11]]), y, y)
    with pytest.raises(DataValidationError, match="x_q"):
        paper_local_test(np.array([[0, 1]]), y, y[:5])
    with pytest.raises(ConfigError, match="latent"):
        calibrated_local_test(np.array([[0, 1]]), y, y)


def test_uniform_global_pvalue_with_oracle_residuals():
    """Whole-sample p-values over replicates (oracle residuals isolate the permutation scheme)."""
    ps = []
    rng = np.random.default_rng(8)
    for rep in range(40):
        n = 400
        ey, ex = rng.normal(size=n), rng.standard_t(4, size=n)
        nb = _neighbours(rng.normal(size=(n, 3)), 30)
        res = calibrated_local_test(nb, ey, ex, residuals=(ey, ex), n_perm=5, n_perm_global=39, seed=rep)
        ps.append(res.global_pvalue)
    assert stats.kstest(ps, "uniform").pvalue > 0.01


def test_latent_neighbours_include_self_and_match_sklearn():
    from galinfo.causal.local import latent_neighbours

    rng = np.random.default_rng(9)
    s = rng.normal(size=(300, 5))
    nb = latent_neighbours(s, k=10)
    assert nb.shape == (300, 10) and np.all(nb[:, 0] == np.arange(300))
    np.testing.assert_array_equal(np.sort(nb, 1), np.sort(_neighbours(s, 10), 1))


def test_no_testable_neighbourhood_gives_a_nan_pvalue():
    """With fewer valid neighbours than min_valid everywhere, nothing was tested: p is NaN, not
    the smallest possible value (a silent 'dependent')."""
    s, y, x_q, _, _ = make_null(300, seed=2)
    nb = _neighbours(s, 8)
    res = calibrated_local_test(nb, y, x_q, residuals=(y, x_q), n_perm=20, n_perm_global=20, min_valid=10)
    assert np.isnan(res.statistic) and np.isnan(res.global_pvalue)
    assert res.summary()["n_tested"] == 0
