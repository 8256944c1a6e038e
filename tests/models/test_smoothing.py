import numpy as np
import pytest

from galinfo.errors import ConfigError
from galinfo.models.smoothing import choose_width, mean_log_q, smooth_log_pdf


def _log(p):
    p = np.asarray(p, dtype=float)
    return np.log(p / p.sum(axis=-1, keepdims=True))


def test_delta_becomes_a_unit_gaussian_of_the_given_width():
    log_pdf = np.full((1, 201), -800.0)
    log_pdf[0, 100] = 0.0
    p = np.exp(smooth_log_pdf(log_pdf, 3.0))[0]
    x = np.arange(201) - 100
    assert p.sum() == pytest.approx(1.0)
    assert (p * x).sum() == pytest.approx(0.0, abs=1e-12)
    assert (p * x**2).sum() == pytest.approx(9.0, rel=0.01)


def test_zero_width_is_the_identity_and_holes_are_filled():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, (5, 40))
    p[:, 20] = 1e-30  # an empty training bin
    log_pdf = _log(p)
    assert np.array_equal(smooth_log_pdf(log_pdf, 0.0), log_pdf)
    smoothed = smooth_log_pdf(log_pdf, 1.0)
    assert np.allclose(np.exp(smoothed).sum(axis=1), 1.0)
    assert np.all(smoothed[:, 20] > np.log(0.005))  # the hole now holds a share of its neighbours


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_bad_width(bad):
    with pytest.raises(ConfigError, match="smoothing width"):
        smooth_log_pdf(np.zeros((1, 4)), bad)


def _gaussian_rows(mu, sigma, n_bins):
    x = np.arange(n_bins)
    return _log(np.exp(-0.5 * ((x[None, :] - mu[:, None]) / sigma) ** 2) + 1e-300)


def test_choose_width_keeps_a_calibrated_pdf_and_smooths_a_spiky_one():
    rng = np.random.default_rng(1)
    n, n_bins, sigma = 4000, 200, 4.0
    mu = rng.uniform(60, 140, n)
    true_bin = np.clip(np.round(rng.normal(mu, sigma)).astype(int), 0, n_bins - 1)
    exact = _gaussian_rows(mu, sigma, n_bins)
    width, scores = choose_width(exact, true_bin)
    assert width == 0.0 and scores[0.0] == pytest.approx(mean_log_q(exact, true_bin))
    # the same pdfs with every third bin emptied, as a softmax does for bins no training galaxy fell in
    spiky = exact.copy()
    spiky[:, ::3] -= 30.0
    spiky = spiky - np.log(np.exp(spiky).sum(axis=1, keepdims=True))
    width, scores = choose_width(spiky, true_bin)
    assert width > 0 and scores[width] > scores[0.0] + 5.0


def test_choose_width_needs_true_bins():
    with pytest.raises(ConfigError, match="true bin"):
        choose_width(np.zeros((3, 4)), np.array([-1, -1, -1]))
