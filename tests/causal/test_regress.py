"""Repeated cross-fits with a partition per target, and the stability weights built on them."""

import numpy as np
import pytest

from galinfo.causal.regress import crossfit_repeats, stability_weights
from galinfo.errors import ConfigError, DataValidationError


def test_stability_weights_formula_and_edges():
    spread_one = np.array([0.0, 1.0, 2.0, 4.0])  # median 1.5 with scale 1 -> w = 1 / (1 + (s/1.5)^2)
    fits = np.stack([np.zeros((4, 1)), spread_one[:, None] * np.sqrt(2)])  # sd over 2 repeats = |diff|/sqrt 2
    w = stability_weights(fits, scale=1.0)
    np.testing.assert_allclose(w, 1 / (1 + (spread_one / 1.5) ** 2))
    assert np.all(np.diff(w) < 0) and w[0] == 1.0
    assert np.all(stability_weights(fits[:1]) == 1.0)  # one repeat: no spread, no weighting
    flat = np.zeros((3, 5, 2))  # a perfectly stable target (median spread 0) does not weigh
    assert np.all(stability_weights(flat) == 1.0)
    with pytest.raises(DataValidationError, match="repeats, n, m"):
        stability_weights(np.zeros((2, 5)))
    with pytest.raises(ConfigError, match="scale"):
        stability_weights(fits, scale=0.0)


def test_repeats_use_their_own_partitions_and_are_seeded():
    rng = np.random.default_rng(3)
    s = rng.normal(size=(500, 4))
    t = np.stack([np.sin(2 * s[:, 0]), s[:, 1] ** 2], axis=1) + 0.3 * rng.normal(size=(500, 2))
    fits = crossfit_repeats(s, t, repeats=3, seed=5)
    assert fits.shape == (3, 500, 2)
    assert not np.allclose(fits[0], fits[1])  # other partitions, other out-of-fold fits
    np.testing.assert_array_equal(fits, crossfit_repeats(s, t, repeats=3, seed=5))
    for j in range(2):
        assert np.corrcoef(fits.mean(axis=0)[:, j], t[:, j])[0, 1] > 0.7
    with pytest.raises(ConfigError, match="repeats"):
        crossfit_repeats(s, t, repeats=0)


def test_weights_are_low_next_to_a_jump_both_targets_share():
    """Fits are unstable where the fitted threshold moves between partitions: next to the jump."""
    rng = np.random.default_rng(11)
    s = rng.normal(size=(2000, 6))
    step = (s[:, 0] > 0.3).astype(float)
    t = np.stack([1.5 * step, 1.2 * step], axis=1) + 0.5 * rng.normal(size=(2000, 2))
    w = stability_weights(crossfit_repeats(s, t, repeats=2, seed=0))
    near = np.abs(s[:, 0] - 0.3) < 0.01  # the slab where the fitted threshold moves
    far = np.abs(s[:, 0] - 0.3) > 0.5
    assert w[near].mean() < 0.6 * w[far].mean()
