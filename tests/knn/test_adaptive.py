import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone

from galinfo import metrics as M
from galinfo.data.binning import TargetBins
from galinfo.errors import ConfigError, DataValidationError
from galinfo.knn.adaptive import (
    CLAP_K_GRID,
    AdaptiveKNN,
    bin_position,
    candidate_ks,
    choose_k,
    fit_pit_quadratic,
    knn_histogram,
    local_pit_counts,
    neighbor_pit,
    pit_bin,
    recalibrate_pdf,
)


def test_clap_grid():
    assert CLAP_K_GRID.size == 120
    assert CLAP_K_GRID[0] == 5 and CLAP_K_GRID[-1] == 2000
    assert {200, 210, 600, 620, 1000, 1050} <= set(CLAP_K_GRID.tolist())
    np.testing.assert_array_equal(candidate_ks(23), [5, 10, 15, 20])
    np.testing.assert_array_equal(candidate_ks(7, np.array([9, 3, 3, 7])), [3, 7])
    with pytest.raises(ConfigError):
        candidate_ks(4)


def test_neighbor_pit_equals_pit_of_histogram_pdf():
    rng = np.random.default_rng(0)
    bins = TargetBins(0.0, 1.0, 20)
    y_nb = rng.uniform(0, 1, (50, 30))
    y = rng.uniform(0, 1, 50)
    nb_bins, _ = bin_position(y_nb.ravel(), bins)
    nb_bins = nb_bins.reshape(50, 30)
    tb, tf = bin_position(y, bins)
    ks = np.array([1, 4, 17, 30])
    got = neighbor_pit(nb_bins, tb, tf, ks)
    for c, k in enumerate(ks):
        pdf = knn_histogram(nb_bins, np.full(50, k), bins.n_bins)
        np.testing.assert_allclose(got[:, c], M.pit(pdf, bins, y), atol=1e-12)


def test_choose_k_matches_brute_force():
    rng = np.random.default_rng(1)
    n_train, ks = 60, np.array([2, 5, 9])
    pit_train = rng.uniform(0, 1, (3, n_train)).astype(np.float32)
    idx = np.stack([rng.permutation(n_train)[:9] for _ in range(8)])
    best, w1 = choose_k(idx, pit_bin(pit_train, 10), ks, n_hist=10)
    for i in range(8):
        for c, k in enumerate(ks):
            vals = pit_train[c][idx[i, :k]]
            counts = np.bincount(np.minimum((vals * 10).astype(int), 9), minlength=10)
            assert w1[i, c] == pytest.approx(M.hist_wasserstein_uniform(counts))
        assert best[i] == np.argmin(w1[i])


def test_local_counts_and_quadratic_fit():
    vals = np.array([[0.05, 0.15, 0.95, 0.5], [0.0, 1.0, 0.99, 0.2]])
    np.testing.assert_array_equal(pit_bin(vals, 10), [[0, 1, 9, 5], [0, 9, 9, 2]])
    counts = local_pit_counts(pit_bin(vals, 10), np.array([4, 2]), n_hist=10)
    np.testing.assert_array_equal(counts.sum(axis=1), [4, 2])
    assert counts[1, 0] == 1 and counts[1, 9] == 1
    coef = fit_pit_quadratic(np.full((1, 100), 7))
    np.testing.assert_allclose(coef, [[1, 0, 0]], atol=1e-10)
    # a density exactly quadratic is recovered: h(u) = 6u(1 - u)
    u = (np.arange(100) + 0.5) / 100
    coef = fit_pit_quadratic((6 * u * (1 - u))[None] * 1000)
    h = coef[0, 0] + coef[0, 1] * u + coef[0, 2] * u**2
    np.testing.assert_allclose(h / h.mean(), 6 * u * (1 - u) / (6 * u * (1 - u)).mean(), atol=1e-8)


def test_recalibration_identity_and_narrowing():
    bins = TargetBins(0.0, 10.0, 200)
    x = bins.centers
    pdf = stats.norm.pdf(x, 5, 1.0)[None]
    pdf /= pdf.sum()
    same = recalibrate_pdf(pdf, np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(same, pdf, atol=1e-12)
    # PIT density peaked in the middle (pdf too broad) -> recalibrated pdf is narrower
    narrower = recalibrate_pdf(pdf, np.array([[0.0, 6.0, -6.0]]))
    assert narrower.sum() == pytest.approx(1.0)
    sd = lambda p: np.sqrt(p @ x**2 - (p @ x) ** 2)  # noqa: E731
    assert sd(narrower[0]) < 0.9 * sd(pdf[0])
    # a negative quadratic everywhere keeps the raw pdf
    np.testing.assert_allclose(recalibrate_pdf(pdf, np.array([[-1.0, 0.0, 0.0]])), pdf)


def _synthetic(rng, n):
    s = rng.uniform(0, 1, (n, 2))
    sigma = 0.02 + 0.3 * s[:, 1]  # heteroscedastic: noise grows with s1
    mu = 9 + 1.5 * s[:, 0]
    return s.astype(np.float32), mu + sigma * rng.normal(size=n), mu, sigma


@pytest.fixture(scope="module")
def synthetic_fit():
    rng = np.random.default_rng(0)
    s_tr, y_tr, _, _ = _synthetic(rng, 4000)
    s_te, y_te, mu, sigma = _synthetic(rng, 1500)
    model = AdaptiveKNN(kmax=400, batch_size=512).fit(s_tr, y_tr)
    return model, (s_tr, y_tr), (s_te, y_te, mu, sigma)


def test_adaptive_knn_calibrated_vs_narrow_parametric(synthetic_fit):
    model, _, (s_te, y_te, mu, sigma) = synthetic_fit
    res = model.predict(s_te, y_te)
    w_knn = M.pit_wasserstein(res.pit)
    w_narrow = M.pit_wasserstein(stats.norm.cdf((y_te - mu) / (0.5 * sigma)))
    assert w_knn < 0.03
    assert w_knn < 0.5 * w_narrow
    # the point estimate follows the truth's mean
    assert M.sigma_mad(res.mean, mu) < 0.1


def test_adaptive_k_grows_with_noise(synthetic_fit):
    model, _, (s_te, y_te, _, sigma) = synthetic_fit
    res = model.predict(s_te)
    assert res.pit is None and res.q_true is None
    assert stats.spearmanr(res.k, sigma).statistic > 0.5
    low, high = sigma < np.quantile(sigma, 0.3), sigma > np.quantile(sigma, 0.7)
    assert np.median(res.k[high]) > 2 * np.median(res.k[low])
    assert set(np.unique(res.k)) <= set(model.ks_.tolist())


def test_training_rows_reproduce_fit_pit(synthetic_fit):
    model, (s_tr, y_tr), _ = synthetic_fit
    rows = np.arange(0, 4000, 97)
    res = model.predict(s_tr[rows], y_tr[rows], self_rows=rows, return_pdf=True,
                        return_neighbors=True)
    assert not (res.neighbors == rows[:, None]).any()
    c = np.searchsorted(model.ks_, res.k)
    np.testing.assert_allclose(res.raw_pit, model.pit_train_[c, rows], atol=1e-6)
    np.testing.assert_allclose(res.pdf.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(res.pdf[np.arange(rows.size), model.bin_train_[rows]],
                               res.q_true, rtol=1e-5)
    np.testing.assert_allclose(res.mean, M.binned_mean(res.pdf, model._bins()), atol=1e-5)


def test_deterministic_and_estimator_conventions():
    rng = np.random.default_rng(5)
    s, y, _, _ = _synthetic(rng, 600)
    a = AdaptiveKNN(kmax=50, batch_size=100).fit(s, y)
    b = clone(a).set_params(batch_size=37).fit(s, y)
    assert b.get_params()["batch_size"] == 37 and not hasattr(clone(a), "pit_train_")
    np.testing.assert_array_equal(a.pit_train_, b.pit_train_)
    np.testing.assert_array_equal(a.predict_pdf(s[:50]), b.predict_pdf(s[:50]))
    import pickle

    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.predict_pdf(s[:50]), a.predict_pdf(s[:50]))


def test_validation():
    s = np.zeros((10, 2), np.float32)
    with pytest.raises(ConfigError, match="kmax"):
        AdaptiveKNN(kmax=10).fit(s, np.full(10, 9.0))
    with pytest.raises(DataValidationError):
        AdaptiveKNN(kmax=5).fit(s, np.full(9, 9.0))
    with pytest.raises(DataValidationError):
        AdaptiveKNN(kmax=5).fit(s, np.full(10, 20.0))  # outside the target bins
    with pytest.raises(ConfigError, match="not fitted"):
        AdaptiveKNN(kmax=5).predict(s)
    rng = np.random.default_rng(0)
    fitted = AdaptiveKNN(kmax=5).fit(rng.normal(size=(10, 2)), np.full(10, 9.0))
    with pytest.raises(DataValidationError):
        fitted.predict(np.zeros((3, 3)))
    with pytest.raises(DataValidationError):
        fitted.predict(np.zeros((3, 2)), self_rows=np.arange(2))
    with pytest.raises(DataValidationError):
        fitted.predict(np.full((3, 2), np.nan))
