import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from galinfo import metrics as M
from galinfo.data.binning import TargetBins
from galinfo.errors import DataValidationError


def test_point_metrics_known_values():
    truth = np.zeros(5)
    est = np.array([1.0, -1.0, 2.0, 0.0, 10.0])
    assert M.bias(est, truth) == pytest.approx(12.0 / 5)
    # median Δ = 1, |Δ - 1| = 0,2,1,1,9 -> median 1
    assert M.sigma_mad(est, truth) == pytest.approx(1.4826)
    # |Δ| > 3 * 1.4826 = 4.4478: only 10
    assert M.outlier_fraction(est, truth) == pytest.approx(0.2)
    s = M.summarize(est, truth)
    assert s["n"] == 5 and np.isnan(s["crps"]) and s["eta"] == pytest.approx(0.2)


def test_sigma_mad_matches_gaussian_sigma():
    rng = np.random.default_rng(0)
    d = rng.normal(0.3, 0.2, 200_000)
    assert M.sigma_mad(d, np.zeros_like(d)) == pytest.approx(0.2, rel=0.01)
    assert M.bias(d, np.zeros_like(d)) == pytest.approx(0.3, abs=0.002)


def _point_mass(edges, y0):
    p = np.zeros(len(edges) - 1)
    p[np.searchsorted(edges, y0, side="right") - 1] = 1.0
    return p


def test_crps_narrow_bin_is_abs_error():
    edges = np.linspace(0, 10, 10_001)  # width 1e-3
    y0 = 3.0005  # centre of a bin
    pdf = _point_mass(edges, y0)[None].repeat(4, axis=0)
    truth = np.array([5.0, 1.0, 3.0005, 12.0])
    got = M.crps(pdf, edges, truth)
    # a uniform pdf on one bin of width w (centre c): CRPS = |y - c| - w/6 for a truth outside
    # the bin, w/12 at its centre; so -> |Δ| as the bin narrows (here w = 1e-3)
    w = 1e-3
    np.testing.assert_allclose(got[[0, 1, 3]], np.abs(truth[[0, 1, 3]] - y0) - w / 6, atol=1e-9)
    np.testing.assert_allclose(got[[0, 1, 3]], np.abs(truth[[0, 1, 3]] - y0), atol=w)
    assert got[2] == pytest.approx(w / 12)


def test_crps_uniform_closed_form():
    bins = TargetBins(6.0, 12.5, 520)
    a, b = 8.0, 10.0  # on bin edges (multiples of 0.0125)
    p = ((bins.centers > a) & (bins.centers < b)).astype(float)
    truths = np.array([8.0, 8.7, 9.0, 9.99, 10.0, 7.0, 11.0, 13.0, 5.0])
    L = b - a
    yc = np.clip(truths, a, b)
    expected = ((yc - a) ** 3 + (b - yc) ** 3) / (3 * L**2)
    expected += np.maximum(a - truths, 0) + np.maximum(truths - b, 0)
    got = M.crps(np.tile(p, (len(truths), 1)), bins, truths)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_crps_matches_numerical_integral():
    rng = np.random.default_rng(1)
    edges = np.sort(rng.uniform(0, 1, 12))
    p = rng.dirichlet(np.ones(11), size=3)
    y = np.array([-0.2, 0.5, 1.3])
    x = np.linspace(-1, 2, 600_001)
    f = np.stack([np.interp(x, edges, np.concatenate([[0], np.cumsum(pi)])) for pi in p])
    h = (x[None] >= y[:, None]).astype(float)
    numeric = np.trapezoid((f - h) ** 2, x, axis=1)
    np.testing.assert_allclose(M.crps(p, edges, y), numeric, atol=2e-5)


def test_pit_uniform_for_correct_gaussians_and_not_for_narrow():
    rng = np.random.default_rng(2)
    bins = TargetBins(6.0, 12.5, 520)
    n = 4000
    mu = rng.uniform(8, 11, n)
    sig = rng.uniform(0.05, 0.3, n)
    y = rng.normal(mu, sig)
    cdf_edges = stats.norm.cdf((bins.edges[None] - mu[:, None]) / sig[:, None])
    pdf = np.diff(cdf_edges, axis=1)
    u = M.pit(pdf, bins, y)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    w_good = M.pit_wasserstein(u)
    assert w_good < 0.02
    narrow = np.diff(stats.norm.cdf((bins.edges[None] - mu[:, None]) / (0.5 * sig[:, None])), axis=1)
    w_bad = M.pit_wasserstein(M.pit(narrow, bins, y))
    assert w_bad > 3 * w_good
    h, e = M.pit_histogram(u, 10)
    assert h.mean() == pytest.approx(1.0) and e.size == 11
    assert np.abs(h - 1).max() < 0.25


def test_pit_wasserstein_closed_forms():
    assert M.pit_wasserstein(np.zeros(10)) == pytest.approx(0.5)
    assert M.pit_wasserstein(np.ones(3)) == pytest.approx(0.5)
    assert M.pit_wasserstein(np.array([0.5])) == pytest.approx(0.25)
    # evenly spread midpoints: W1 = 1/(4n)
    n = 50
    assert M.pit_wasserstein((np.arange(n) + 0.5) / n) == pytest.approx(1 / (4 * n))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_pit_wasserstein_matches_scipy(values):
    u = np.array(values)
    grid = (np.arange(20_000) + 0.5) / 20_000
    expected = stats.wasserstein_distance(u, grid)
    assert M.pit_wasserstein(u) == pytest.approx(expected, abs=1e-4)


def test_hist_wasserstein_uniform():
    counts = np.array([[1, 1, 1, 1], [4, 0, 0, 0], [0, 0, 0, 4]])
    got = M.hist_wasserstein_uniform(counts)
    assert got[0] == pytest.approx(0.0)
    # mass uniform on [0, 1/4]: W1 = ∫|F - u| = 3/8
    assert got[1] == pytest.approx(3 / 8)
    assert got[2] == pytest.approx(3 / 8)
    # a histogram close to the sample's W1 for fine bins
    rng = np.random.default_rng(3)
    u = rng.beta(2, 5, 5000)
    c = np.bincount((u * 1000).astype(int), minlength=1000)
    assert M.hist_wasserstein_uniform(c) == pytest.approx(M.pit_wasserstein(u), abs=1e-3)


def test_binned_mean_median_quantile():
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    p = np.array([[0.25, 0.5, 0.25], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(M.binned_mean(p, edges), [1.5, 0.5])
    np.testing.assert_allclose(M.binned_median(p, edges), [1.5, 0.5])
    np.testing.assert_allclose(M.binned_quantile(p, edges, 0.25), [1.0, 0.25])


def test_grouped_summaries():
    rng = np.random.default_rng(4)
    truth = rng.uniform(8, 11, 600)
    groups = np.array(["a", "b", "c"])[np.arange(600) % 3]
    noise = np.where(groups == "a", 0.1, 0.3)
    est = truth + rng.normal(0, noise)
    by = M.summarize_by(est, truth, groups)
    assert set(by) == {"a", "b", "c"} and by["a"]["n"] == 200
    assert by["a"]["sigma_mad"] < by["b"]["sigma_mad"]
    rows = M.summarize_in_bins(est, truth, truth, [8, 9, 10, 11], min_count=10)
    assert [r["x_low"] for r in rows] == [8, 9, 10]
    assert sum(r["n"] for r in rows) == 600
    rows = M.summarize_in_bins(est, truth, truth, [8, 8.01, 11], min_count=50)
    assert len(rows) == 1


def test_summarize_with_pdf_and_errors():
    bins = TargetBins(0.0, 1.0, 10)
    pdf = np.full((3, 10), 0.1)
    s = M.summarize(np.full(3, 0.5), np.array([0.5, 0.5, 0.5]), pdf, bins)
    assert s["crps"] == pytest.approx(2 * 0.5**3 / 3)
    with pytest.raises(DataValidationError):
        M.summarize(np.ones(3), np.ones(3), pdf)
    with pytest.raises(DataValidationError):
        M.bias(np.ones(3), np.ones(4))
    with pytest.raises(DataValidationError):
        M.bias(np.array([np.nan]), np.ones(1))
    with pytest.raises(DataValidationError):
        M.crps(np.ones((2, 9)), bins, np.ones(2))
    with pytest.raises(DataValidationError):
        M.crps(-np.ones((2, 10)), bins, np.ones(2))
    with pytest.raises(DataValidationError):
        M.pit_wasserstein(np.array([1.5]))


def test_blockwise_equals_single_block(monkeypatch):
    rng = np.random.default_rng(6)
    bins = TargetBins(0.0, 1.0, 30)
    pdf = rng.dirichlet(np.ones(30), size=50).astype(np.float32)
    y = rng.uniform(-0.1, 1.1, 50)
    whole = (M.crps(pdf, bins, y), M.pit(pdf, bins, y), M.binned_mean(pdf, bins),
             M.binned_median(pdf, bins))
    monkeypatch.setattr(M, "_BLOCK", 7)
    blocked = (M.crps(pdf, bins, y), M.pit(pdf, bins, y), M.binned_mean(pdf, bins),
               M.binned_median(pdf, bins))
    for a, b in zip(whole, blocked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    with pytest.raises(DataValidationError):
        M.crps(pdf, bins, y[:10])


def test_accuracy_breakdown_per_class_and_bin():
    from galinfo.metrics import accuracy_breakdown, regular_edges, summarize

    rng = np.random.default_rng(1)
    truth = rng.uniform(9.0, 11.0, 400)
    est = truth + rng.normal(0, 0.1, 400) * np.where(truth > 10, 3.0, 1.0)
    cls = np.where(rng.random(400) < 0.5, "sf", "passive")
    mag = np.where(rng.random(400) < 0.1, np.nan, 25 - 1.5 * truth)
    edges = regular_edges(truth, 0.5)
    assert edges[0] == 9.0 and edges[-1] == 11.0 and np.allclose(np.diff(edges), 0.5)
    out = accuracy_breakdown(est, truth, cls, {"logmstar": (truth, edges), "mag_r": (mag, regular_edges(mag, 1.0))})
    want = summarize(est[cls == "sf"], truth[cls == "sf"])
    assert {k: out["class"]["sf"][k] for k in ("bias", "sigma_mad", "n")} == {k: want[k] for k in ("bias", "sigma_mad", "n")}
    low, high = out["logmstar"][0], out["logmstar"][-1]
    assert high["sigma_mad"] > 2 * low["sigma_mad"]  # the noisier massive galaxies show up in their bins
    assert sum(r["n"] for r in out["mag_r"]) == np.isfinite(mag).sum()


def test_paired_comparison_sees_the_better_model_and_its_uncertainty():
    from galinfo.metrics import paired_comparison

    rng = np.random.default_rng(0)
    y = rng.uniform(9, 11.5, 4000)
    good, bad = y + rng.normal(0, 0.1, y.size), y + rng.normal(0, 0.2, y.size)
    lq_good, lq_bad = rng.normal(-2.0, 0.5, y.size), rng.normal(-2.5, 0.5, y.size)
    r = paired_comparison(y, good, bad, lq_good, lq_bad, n_boot=300, seed=1)
    assert r["n"] == y.size
    assert r["sigma_mad_a"] == pytest.approx(0.1, rel=0.08) and r["sigma_mad_b"] == pytest.approx(0.2, rel=0.08)
    assert r["d_sigma_mad"] == pytest.approx(r["sigma_mad_a"] - r["sigma_mad_b"])
    assert 0 < r["d_sigma_mad_se"] < 0.01 and r["d_sigma_mad"] < -5 * r["d_sigma_mad_se"]
    assert r["d_info"] == pytest.approx(np.mean(lq_good - lq_bad))
    assert r["d_info_se"] == pytest.approx(np.std(lq_good - lq_bad, ddof=1) / np.sqrt(y.size))
    # pairing: a common per-galaxy term cancels out of the standard error
    common = rng.normal(0, 5, y.size)
    r2 = paired_comparison(y, good, bad, lq_good + common, lq_bad + common, n_boot=50)
    assert r2["d_info_se"] == pytest.approx(r["d_info_se"])
    swapped = paired_comparison(y, bad, good, lq_bad, lq_good, n_boot=300, seed=1)
    assert swapped["d_info"] == pytest.approx(-r["d_info"]) and swapped["d_sigma_mad"] > 0


def test_paired_comparison_rejects_unpaired_or_missing_rows():
    from galinfo.metrics import paired_comparison

    y = np.linspace(9, 11, 10)
    with pytest.raises(DataValidationError, match="one length"):
        paired_comparison(y, y, y[:-1], y, y)
    with pytest.raises(DataValidationError, match="log_q_b"):
        paired_comparison(y, y, y, y, np.where(y > 10, np.nan, y))
