"""Per-galaxy tables from three models' predictions, aligned by objid."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from galinfo.data.binning import TargetBins
from galinfo.errors import DataValidationError
from galinfo.info import pid_table
from galinfo.info.table import write_table
from galinfo.models.outputs import Predictions, read_predictions, write_predictions


def make_predictions(n=400, seed=0):
    rng = np.random.default_rng(seed)
    objid = rng.choice(2**62, size=n, replace=False).astype(np.int64) + 2**40
    split = rng.choice(["train", "val", "test"], size=n, p=[0.6, 0.2, 0.2])
    target = rng.normal(10, 0.5, n).clip(6.1, 12.4)
    logq = {k: -rng.uniform(0.5, 8.0, n) for k in ("a", "b", "ab")}
    names = {"a": "M_ugriz", "b": "Morph", "ab": "M_ugriz|Morph"}
    preds = {
        k: Predictions(objid=objid, split=split, target=target, log_q_true=logq[k],
                       bins=TargetBins(), input_set=names[k])
        for k in logq
    }
    return preds, objid, target, logq, split


def shuffled(p: Predictions, perm: np.ndarray) -> Predictions:
    return Predictions(objid=p.objid[perm], split=p.split[perm], target=p.target[perm],
                       log_q_true=p.log_q_true[perm], bins=p.bins, input_set=p.input_set)


def test_alignment_by_objid_and_identity(tmp_path):
    preds, objid, target, logq, split = make_predictions()
    rng = np.random.default_rng(1)
    p1 = shuffled(preds["a"], rng.permutation(len(objid)))
    p2 = shuffled(preds["b"], rng.permutation(len(objid)))
    write_predictions(tmp_path / "run12", preds["ab"])
    p12 = read_predictions(tmp_path / "run12")
    t = pid_table(p1, p2, p12)
    test = split == "test"
    assert len(t) == test.sum()
    assert t["objid"].dtype == np.int64
    np.testing.assert_array_equal(t["objid"], objid[test])
    bins = TargetBins()
    log_p = np.log(bins.prior(target)[bins.index(target)])[test]  # full-sample prior
    np.testing.assert_allclose(t["i1"], logq["a"][test] - log_p)
    np.testing.assert_allclose(t["i2"], logq["b"][test] - log_p)
    total = t["red"] + t["unq1"] + t["unq2"] + t["syn"]
    np.testing.assert_allclose(total, t["i12"], atol=1e-12)
    assert t.meta["source2"] == "Morph"
    path = write_table(t, tmp_path / "out" / "pid.fits")
    back = Table.read(path)
    np.testing.assert_array_equal(back["objid"], t["objid"])


def test_split_and_prior_options():
    preds, _, _, _, split = make_predictions()
    t_all = pid_table(preds["a"], preds["b"], preds["ab"], split="all")
    t_held = pid_table(preds["a"], preds["b"], preds["ab"], split="heldout")
    assert len(t_all) == len(split) and len(t_held) == (split != "train").sum()
    t_train = pid_table(preds["a"], preds["b"], preds["ab"], prior="train")
    t_full = pid_table(preds["a"], preds["b"], preds["ab"])
    assert not np.allclose(t_train["i1"], t_full["i1"])
    # the same prior enters all three models, so i12 - i1 does not depend on it
    np.testing.assert_allclose(t_train["i12"] - t_train["i1"], t_full["i12"] - t_full["i1"])


def test_missing_objid_and_mismatches_raise():
    preds, objid, *_ = make_predictions()
    keep = np.arange(len(objid)) != np.flatnonzero(preds["ab"].split == "test")[0]
    p1 = shuffled(preds["a"], np.flatnonzero(keep))
    t = pid_table(p1, preds["b"], preds["ab"])  # a galaxy without an input is left out, and counted
    assert len(t) == int((preds["ab"].split == "test").sum()) - 1
    assert t.meta["left_out"] == {"an input of M_ugriz missing": 1}
    other = Predictions(objid=preds["b"].objid, split=preds["b"].split, target=preds["b"].target + 0.1,
                        log_q_true=preds["b"].log_q_true, bins=TargetBins(), input_set="Morph")
    with pytest.raises(DataValidationError, match="differs"):
        pid_table(preds["a"], other, preds["ab"])
    coarse = Predictions(objid=preds["b"].objid, split=preds["b"].split, target=preds["b"].target,
                         log_q_true=preds["b"].log_q_true, bins=TargetBins(n_bins=52), input_set="Morph")
    with pytest.raises(DataValidationError, match="bins differ"):
        pid_table(preds["a"], coarse, preds["ab"])


def test_latent_copula_pid_aligns_by_objid():
    from galinfo.info import gaussian_mmi_pid
    from galinfo.info.table import latent_copula_pid

    rng = np.random.default_rng(7)
    n = 20_000
    cov = np.array([[1.0, 0.2, 0.6], [0.2, 1.0, 0.4], [0.6, 0.4, 1.0]])
    z = rng.multivariate_normal(np.zeros(3), cov, size=n)
    objid = np.arange(n, dtype=np.int64) + 10**15
    split = np.full(n, "test")
    target = 10 + 0.5 * z[:, 2]
    perm = rng.permutation(n)
    p1 = Predictions(objid=objid, split=split, target=target, log_q_true=np.full(n, -2.0),
                     bins=TargetBins(), input_set="M_ugriz", latent=z[:, :1])
    p2 = Predictions(objid=objid[perm], split=split, target=target[perm], log_q_true=np.full(n, -2.0),
                     bins=TargetBins(), input_set="Morph", latent=z[perm, 1:2])
    res = latent_copula_pid(p1, p2)
    truth = gaussian_mmi_pid(cov, 0, 1, 2)
    for k in ("i1", "i2", "i12", "red", "syn"):
        assert res.mmi[k] == pytest.approx(truth[k], abs=0.02), k


def _with(p: Predictions, **changes) -> Predictions:
    fields = dict(objid=p.objid, split=p.split, target=p.target, log_q_true=p.log_q_true, bins=p.bins,
                  input_set=p.input_set, data_checksum=p.data_checksum)
    fields.update(changes)
    return Predictions(**fields)


def test_undefined_targets_are_left_out_and_counted():
    """predict keeps galaxies whose mass is missing or outside the bins (ln q = NaN): pid_table
    leaves them out, counts them, and builds the prior from the defined targets only."""
    preds, objid, target, logq, split = make_predictions()
    test = np.flatnonzero(split == "test")
    bad_target = target.copy()
    bad_target[test[:3]] = 5.5  # below the 6.0 bin edge
    bad_target[test[3]] = np.nan  # a failed mass fit
    bad_target[np.flatnonzero(split == "train")[:4]] = 5.5
    logq_nan = {k: v.copy() for k, v in logq.items()}
    for v in logq_nan.values():
        v[np.isnan(bad_target) | (bad_target < 6)] = np.nan
    logq_nan["b"][test[4]] = np.nan  # one model has no defined ln q for this galaxy
    p = {k: _with(preds[k], target=bad_target, log_q_true=logq_nan[k]) for k in preds}
    t = pid_table(p["a"], p["b"], p["ab"])
    assert len(t) == len(test) - 5
    assert t.meta["left_out"] == {"logmstar missing or outside [6, 12.5]": 4, "log q undefined in a model": 1}
    assert not np.isin(t["objid"], objid[test[:5]]).any()
    ok = ~(np.isnan(bad_target) | (bad_target < 6))
    bins = TargetBins()
    prior = bins.prior(bad_target[ok])
    pos = {int(o): i for i, o in enumerate(objid)}
    rows = np.array([pos[int(o)] for o in t["objid"]])
    np.testing.assert_allclose(t["i1"], logq["a"][rows] - np.log(prior[bins.index(target[rows])]))


def test_duplicate_objids_and_mixed_datasets_raise():
    preds, objid, *_ = make_predictions()
    dup = objid.copy()
    dup[1] = dup[0]
    with pytest.raises(DataValidationError, match=r"1 objid\(s\) appear more than once in the predictions of M_ugriz"):
        pid_table(_with(preds["a"], objid=dup), preds["b"], preds["ab"])
    p = {k: _with(preds[k], data_checksum="a" * 64) for k in preds}
    p["b"] = _with(preds["b"], data_checksum="b" * 64)
    with pytest.raises(DataValidationError, match="not made on one dataset"):
        pid_table(p["a"], p["b"], p["ab"])
