"""The missing-value contract across the seams: masks of inputs and targets drawn by hypothesis go
through predict -> pid_table -> local_tests, and every galaxy is either analysed or counted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galinfo.causal.pipeline import local_tests
from galinfo.data.dataset import Dataset, write_dataset
from galinfo.errors import GalinfoWarning
from galinfo.info.table import pid_table
from galinfo.models import predict, train
from galinfo.models.outputs import read_predictions
from tests.conftest import make_catalog

N = 240
MODELS = ("M_ugriz", "Morph", "M_ugriz|Morph")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    cat = make_catalog(N, seed=11)
    ds = write_dataset(root / "clean", cat)
    runs = {}
    for m in MODELS:
        runs[m] = train(ds, root / m.replace("|", "_"), inputs=m, objective="ce", preset="tiny",
                        max_steps=4, eval_every=2, checkpoint_every=2)
    return root, cat, runs


rows = st.lists(st.integers(0, N - 1), max_size=25, unique=True)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(no_mag=rows, no_morph=rows, no_mass=rows, low_mass=rows, seed=st.integers(0, 2**16))
def test_masks_flow_through_predict_pid_and_local_tests(trained, tmp_path_factory, no_mag, no_morph, no_mass,
                                                         low_mass, seed):
    root, clean, runs = trained
    cat = clean.copy()
    rng = np.random.default_rng(seed)
    for r in no_mag:
        cat[f"mag_{'ugriz'[rng.integers(5)]}"][r] = np.nan
    for r in no_morph:
        cat[f"r50_{'ugriz'[rng.integers(5)]}"][r] = np.nan
    cat["logmstar"][no_mass] = np.nan
    cat["logmstar"][low_mass] = 5.5
    ds = Dataset.open(write_dataset(tmp_path_factory.mktemp("masked") / "ds", cat))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GalinfoWarning)  # predicting on a dataset other than the training one
        preds = {m: read_predictions(predict(runs[m], ds)) for m in MODELS}

    for m in MODELS:  # outputs: every galaxy keeps its row, in the dataset's order
        np.testing.assert_array_equal(preds[m].objid, ds.objid)
    has = {m: preds[m].predicted() for m in MODELS}
    mags_ok = np.all([np.isfinite(ds.column(f"mag_{b}")) for b in "ugriz"], axis=0)
    morph_ok = np.all([np.isfinite(ds.column(c)) for c in ds.feature_columns("Morph")], axis=0)
    np.testing.assert_array_equal(has["M_ugriz"], mags_ok)  # NaN outputs exactly where an input is missing
    np.testing.assert_array_equal(has["M_ugriz|Morph"], mags_ok & morph_ok)
    y = ds.column("logmstar")
    defined = np.isfinite(y) & (y >= 6) & (y <= 12.5)
    for m in MODELS:  # ln q is NaN exactly where an input or the target is undefined
        np.testing.assert_array_equal(np.isnan(preds[m].log_q_true), ~(has[m] & defined))

    if np.any((ds.split == "test") & has["M_ugriz|Morph"] & defined):
        t = pid_table(preds["M_ugriz"], preds["Morph"], preds["M_ugriz|Morph"])
        expect = (ds.split == "test") & has["M_ugriz|Morph"] & defined
        assert set(np.asarray(t["objid"]).tolist()) == set(ds.objid[expect].tolist())
        assert len(t) + sum(t.meta["left_out"].values()) == int(np.sum(ds.split == "test"))
        assert np.isfinite(np.asarray(t["syn"])).all()

    s = local_tests(preds["M_ugriz"], ds, "ab_r", k=20, n_perm=3, calibrated=False)
    assert s["n_tested"] == int(mags_ok.sum())
    assert s["n_tested"] + s["left_out"].get("no latent in M_ugriz (an input missing)", 0) == ds.n
