"""Real-survey defects injected into the mock, and the mock's resumable state written atomically."""

import json

import numpy as np
import pytest

from galinfo.data.schema import BANDS, MORPH_QUANTITIES
from galinfo.errors import ConfigError
from galinfo.mock.config import MockConfig
from galinfo.mock.defects import DEFECT_SETS, LOW_MASS_RANGE, inject_defects


def _columns(n, seed=0):
    rng = np.random.default_rng(seed)
    cols = {"objid": np.arange(n, dtype=np.int64), "logmstar": rng.uniform(8, 11.5, n),
            "true_logmstar": rng.uniform(8, 11.5, n)}
    for b in BANDS:
        cols[f"mag_{b}"] = rng.uniform(14, 20, n)
        cols[f"magerr_{b}"] = rng.uniform(0.01, 0.1, n)
        for q in MORPH_QUANTITIES:
            cols[f"{q}_{b}"] = rng.uniform(0.3, 0.9, n)
    for w in ("w1", "w2", "w3"):
        cols[w] = rng.uniform(12, 16, n)
        cols[f"{w}err"] = rng.uniform(0.01, 0.1, n)
    return cols


def test_inject_defects_rates_counts_and_seed():
    n = 20_000
    cols = _columns(n)
    truth = cols["true_logmstar"].copy()
    counts = inject_defects(cols, "sdss", seed=4)
    rates = DEFECT_SETS["sdss"]
    for name, k in counts.items():
        assert abs(k / n - getattr(rates, name)) < 5 * np.sqrt(getattr(rates, name) / n) + 1e-3, name
    assert int(np.isnan(cols["logmstar"]).sum()) == counts["failed_mass_fit"]
    low = cols["logmstar"] < 6
    assert int(low.sum()) == counts["mass_below_bins"]
    assert np.all((cols["logmstar"][low] >= LOW_MASS_RANGE[0]) & (cols["logmstar"][low] <= LOW_MASS_RANGE[1]))
    mags = np.stack([cols[f"mag_{b}"] for b in BANDS], 1)
    assert int(np.isnan(mags).any(axis=1).sum()) == counts["mag_sentinel"]
    for b in BANDS:
        np.testing.assert_array_equal(np.isnan(cols[f"mag_{b}"]), np.isnan(cols[f"magerr_{b}"]))
    assert int(np.isnan(cols["w1"]).sum()) == counts["wise_nondetection"]
    assert int(np.isnan(cols["sersic_n_u"]).sum()) == counts["failed_morph_u"]
    assert not np.isnan(cols["sersic_n_g"]).any() and not np.isnan(cols["w3"]).any()
    np.testing.assert_array_equal(cols["true_logmstar"], truth)  # the truth is never touched
    again = _columns(n)
    assert inject_defects(again, "sdss", seed=4) == counts
    np.testing.assert_array_equal(again["logmstar"], cols["logmstar"])
    assert inject_defects(_columns(10), "none", seed=4) == {}


def test_unknown_defect_set_is_a_config_error():
    with pytest.raises(ConfigError, match="defects 'lsst' is not one of none, sdss"):
        MockConfig(defects="lsst")
    assert MockConfig(defects="sdss").digest() == MockConfig().digest()  # the rendering is unchanged


def test_mock_with_defects_records_counts(tmp_path):
    from galinfo.data.dataset import Dataset
    from galinfo.mock import generate

    ds = Dataset.open(generate(60, 2, tmp_path / "m", config=MockConfig(defects="sdss", chunk_size=40)))
    defects = ds.manifest["provenance"]["defects"]
    assert defects["set"] == "sdss"
    injected = defects["injected"]
    assert ds.n_missing("logmstar") == injected["failed_mass_fit"]
    assert int(np.sum(ds.column("logmstar") < 6)) == injected["mass_below_bins"]
    assert ds.n_missing("sersic_n_u") == injected["failed_morph_u"]


def test_partial_state_is_written_atomically(tmp_path, monkeypatch):
    from pathlib import Path

    from galinfo.mock.generate import STATE_FILE, _prepare_partial

    def torn_write(self, *a, **k):
        raise OSError("non-atomic write")

    monkeypatch.setattr(Path, "write_text", torn_write)
    _prepare_partial(tmp_path / "x.partial", 3, MockConfig(), 100, resume=False)
    assert json.loads((tmp_path / "x.partial" / STATE_FILE).read_bytes())["seed"] == 3
