"""Pointwise MI from model likelihoods."""

from __future__ import annotations

import numpy as np
import pytest

from galinfo.data.binning import TargetBins
from galinfo.errors import ConfigError, DataValidationError
from galinfo.info import binned_prior, pointwise_mi


@pytest.fixture
def sample():
    rng = np.random.default_rng(3)
    y = rng.normal(10.0, 0.6, size=2000).clip(6.01, 12.49)
    split = rng.choice(["train", "val", "test"], size=y.size, p=[0.7, 0.1, 0.2])
    return y, split


def test_prior_model_gives_zero(sample):
    y, _ = sample
    bins = TargetBins()
    p = bins.prior(y)
    log_q = np.log(p[bins.index(y)])  # a model that outputs the prior
    np.testing.assert_allclose(pointwise_mi(log_q, y, bins), 0.0, atol=1e-12)


def test_perfect_model_gives_bin_surprisal(sample):
    y, _ = sample
    bins = TargetBins()
    i = pointwise_mi(np.zeros_like(y), y, bins)
    np.testing.assert_allclose(i, -np.log(bins.prior(y)[bins.index(y)]))
    assert np.all(i > 0)
    # its mean is the plug-in entropy of the binned target
    p = bins.prior(y)
    assert i.mean() == pytest.approx(-(p[p > 0] * np.log(p[p > 0])).sum(), rel=1e-12)


def test_train_prior_uses_training_rows_and_pseudocount(sample):
    y, split = sample
    bins = TargetBins()
    p = binned_prior(y, bins, prior="train", split=split)
    counts = np.bincount(bins.index(y[split == "train"]), minlength=bins.n_bins) + 0.5
    np.testing.assert_allclose(p, counts / counts.sum())
    i = pointwise_mi(np.full(y.size, -3.0), y, bins, prior="train", split=split)
    assert np.all(np.isfinite(i))


def test_negative_values_when_model_is_worse_than_prior(sample):
    y, _ = sample
    i = pointwise_mi(np.full(y.size, -30.0), y)
    assert np.all(i < 0)


def test_errors(sample):
    y, _ = sample
    with pytest.raises(DataValidationError, match="log_q_true"):
        pointwise_mi(np.full(y.size, 0.5), y)
    with pytest.raises(DataValidationError, match="shape"):
        pointwise_mi(np.zeros(3), y)
    with pytest.raises(ConfigError, match="split"):
        pointwise_mi(np.zeros_like(y), y, prior="train")
    with pytest.raises(ConfigError, match="unknown prior"):
        pointwise_mi(np.zeros_like(y), y, prior="posterior")
    with pytest.raises(DataValidationError, match="outside"):
        pointwise_mi(np.zeros(2), np.array([5.0, 10.0]))
    explicit = np.zeros(520)
    explicit[0] = 1.0
    with pytest.raises(DataValidationError, match="empty in the prior"):
        pointwise_mi(np.zeros_like(y), y, prior=explicit)
