"""Bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from galinfo.errors import ConfigError, DataValidationError
from galinfo.info import bootstrap_means, realisation_spread


def test_interval_matches_standard_error():
    rng = np.random.default_rng(0)
    v = rng.normal(0.3, 1.0, size=4000)
    res = bootstrap_means(v, n_boot=2000, ci=0.95, seed=1)
    assert res.mean["value"][0] == pytest.approx(v.mean())
    se = v.std(ddof=1) / np.sqrt(v.size)
    width = res.hi["value"][0] - res.lo["value"][0]
    assert width == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert res.lo["value"][0] < v.mean() < res.hi["value"][0]


def test_groups_and_excluded_rows():
    rng = np.random.default_rng(2)
    v = np.concatenate([rng.normal(0, 1, 500), rng.normal(5, 1, 500), rng.normal(99, 1, 10)])
    g = np.repeat([0, 1, -1], [500, 500, 10])
    res = bootstrap_means({"a": v, "b": -v}, g, 3, n_boot=300, seed=0)
    np.testing.assert_array_equal(res.count, [500, 500, 0])
    assert res.mean["a"][0] == pytest.approx(v[:500].mean())
    assert res.mean["a"][1] == pytest.approx(v[500:1000].mean())
    assert np.isnan(res.mean["a"][2]) and np.isnan(res.lo["a"][2])
    # shared resamples: the interval of -a is the mirror image of that of a
    np.testing.assert_allclose(res.lo["b"][:2], -res.hi["a"][:2])
    assert res.hi["a"][1] < 6 and res.lo["a"][1] > 4


def test_seeded_and_chunking_invariant_in_distribution():
    v = np.random.default_rng(3).normal(size=500)
    a = bootstrap_means(v, n_boot=400, seed=5)
    b = bootstrap_means(v, n_boot=400, seed=5)
    assert a.lo["value"][0] == b.lo["value"][0]
    c = bootstrap_means(v, n_boot=400, seed=5, max_cells=1000)  # many small chunks
    assert c.lo["value"][0] == pytest.approx(a.lo["value"][0], abs=0.03)


def test_errors_and_realisations():
    with pytest.raises(DataValidationError):
        bootstrap_means(np.array([np.nan, 1.0]))
    with pytest.raises(ConfigError):
        bootstrap_means(np.ones(3), ci=1.5)
    spread = realisation_spread([{"red": 0.1}, {"red": 0.3}])
    assert spread["red"][0] == pytest.approx(0.2)
    assert spread["red"][1] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    with pytest.raises(DataValidationError):
        realisation_spread([{"red": 0.1}])
