"""The CI-test family: one run path, pluggable nulls, studentized statistics, the diagnostic."""

import logging

import numpy as np
import pytest

from galinfo.causal.citest import (
    CI_TESTS,
    INADEQUATE,
    CalibratedLocalTest,
    GCMTest,
    KnnCMITest,
    NormalNull,
    PaperLocalTest,
    PermutationNull,
    _local_studentized_pvalues,
    gcm_statistic,
    regression_diagnostic,
)
from galinfo.causal.cmi import cmi_knn, cmi_knn_test
from galinfo.causal.local import local_pearson, local_studentized
from galinfo.causal.regress import crossfit_mean, is_categorical
from galinfo.errors import ConfigError, DataValidationError


def _smooth(n, seed, beta=0.0, d=8):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, d))
    x = np.tanh(1.5 * s[:, 0]) + 0.3 * s[:, 1] + 0.5 * rng.normal(size=n)
    y = np.sin(2 * s[:, 0]) + 0.4 * s[:, 1] + 0.4 * rng.normal(size=n) + beta * x
    return s, y, x


def test_studentized_matches_dicicco_romano_formula():
    rng = np.random.default_rng(0)
    y, x = rng.normal(size=(4, 40)), rng.normal(size=(4, 40))
    w = rng.random((4, 40)) > 0.2
    t = local_studentized(y, x, w)
    r = local_pearson(y, x, w)
    for i in range(4):
        a, b = x[i, w[i]] - x[i, w[i]].mean(), y[i, w[i]] - y[i, w[i]].mean()
        m = a.size
        tau = np.sqrt(np.mean(a**2 * b**2) / (np.mean(a**2) * np.mean(b**2)))
        assert t[i] == pytest.approx(np.sqrt(m) * r[i] / tau)


def test_studentized_permutation_holds_level_under_shared_heteroscedasticity():
    # independent residuals sharing a scale that varies strongly inside each neighbourhood:
    # Pearson's permutation test over-rejects, the studentized one does not
    rng = np.random.default_rng(1)
    n, k = 3000, 100
    scale = np.exp(1.5 * rng.normal(size=n * k))
    ry = scale * rng.standard_t(3, size=n * k)
    rx = scale * rng.standard_t(3, size=n * k)
    nb = np.arange(n * k).reshape(n, k)
    _, _, p, _ = _local_studentized_pvalues(nb, ry, rx, 100, 10, 20_000, rng)
    frac_t = np.mean(p <= 0.05)
    from galinfo.causal.local import calibrated_local_test

    pear = calibrated_local_test(nb, ry, rx, residuals=(ry, rx), n_perm=100, n_perm_global=1).pvalue
    frac_r = np.mean(pear <= 0.05)
    assert frac_t <= 0.065
    assert frac_r > frac_t + 0.02


def test_calibrated_local_test_null_and_alternative():
    s, y, x = _smooth(800, 2)
    test = CalibratedLocalTest(k=50, n_perm_local=50, null=PermutationNull(50), seed=0)
    res = test.run(x, y, s)
    assert res.pvalue > 0.05 and res.verdict == "independent"
    assert res.local["pvalue"].shape == (800,) and 0 <= res.extra["frac_p_below_alpha"] < 0.12
    assert res.diagnostic.adequate and res.diagnostic.r2_y < 0.05
    s, y, x = _smooth(800, 3, beta=0.8)
    alt = test.run(x, y, s)
    assert alt.pvalue <= 0.05 and alt.verdict == "dependent"
    stat, p = test.run_test(x, y, s)
    assert (stat, p) == (alt.statistic, alt.pvalue)  # seeded: the same numbers again


def test_given_y_pred_and_missing_rows():
    s, y, x = _smooth(600, 4)
    x = x.copy()
    x[:25] = np.nan
    res = CalibratedLocalTest(k=40, n_perm_local=20, null=PermutationNull(20)).run(
        x, y, s, y_pred=np.sin(2 * s[:, 0]) + 0.4 * s[:, 1])
    assert res.n == 575 and res.extra["y_given_z"] == "given y_pred + cross-fitted correction"
    assert np.isnan(res.local["residual_xq"][:25]).all()


def test_gcm_null_alternative_and_pluggable_null():
    s, y, x = _smooth(1000, 5)
    res = GCMTest(seed=0).run(x, y, s)
    assert isinstance(GCMTest().null, NormalNull) and res.null.size == 0
    assert res.pvalue > 0.01
    perm = GCMTest(seed=0, null=PermutationNull(60)).run(x, y, s)
    assert perm.statistic == pytest.approx(res.statistic) and perm.null.size == 60
    s, y, x = _smooth(1000, 6, beta=0.5)
    assert GCMTest(seed=0).run(x, y, s).pvalue < 1e-3
    assert gcm_statistic(np.ones(5), np.zeros(5)) != gcm_statistic(np.ones(5), np.zeros(5))  # NaN


def test_diagnostic_flags_leftover_structure():
    rng = np.random.default_rng(7)
    s = rng.normal(size=(1500, 4))
    from sklearn.neighbors import NearestNeighbors

    nb = NearestNeighbors(n_neighbors=31).fit(s).kneighbors(s)[1][:, 1:]
    noise_y, noise_x = rng.normal(size=1500), rng.normal(size=1500)
    good = regression_diagnostic(noise_y, noise_x, nb)
    assert good.adequate and abs(good.r2_y) < 0.05
    left = np.sin(2 * s[:, 0])  # an unmodelled function of S in both residuals
    bad = regression_diagnostic(noise_y + 2 * left, noise_x + 2 * left, nb)
    assert not bad.adequate and bad.r2_y > 0.3 and bad.cross > 0.8


def test_inadequate_regression_reads_not_interpretable():
    s, y, x = _smooth(600, 8)
    res = CalibratedLocalTest(k=40, n_perm_local=10, null=PermutationNull(10), r2_max=-1.0).run(x, y, s)
    assert res.verdict == INADEQUATE and res.summary()["diagnostic"]["adequate"] is False


def test_crossfit_mean_binary_categorical_and_columns():
    rng = np.random.default_rng(9)
    s = rng.normal(size=(800, 5))
    p = 1 / (1 + np.exp(-2 * s[:, 0]))
    b = (rng.random(800) < p).astype(float)
    assert is_categorical(b) and not is_categorical(s[:, 0])
    pb = crossfit_mean(s, b)
    assert pb.min() >= -0.2 and pb.max() <= 1.2
    assert np.corrcoef(pb, p)[0, 1] > 0.8
    both = crossfit_mean(s, np.stack([s[:, 1] ** 2, b], axis=1))
    assert both.shape == (800, 2) and np.corrcoef(both[:, 0], s[:, 1] ** 2)[0, 1] > 0.8
    with pytest.raises(DataValidationError, match="NaN"):
        crossfit_mean(s, np.where(b > 0, np.nan, 1.0))


def test_a_biased_y_pred_is_corrected_by_cross_fitting():
    s, y, x = _smooth(800, 14)
    biased = np.sin(2 * s[:, 0]) + 0.4 * s[:, 1] + 0.8 * np.tanh(1.5 * s[:, 0])  # leftover shared with x
    res = CalibratedLocalTest(k=50, n_perm_local=20, null=PermutationNull(40)).run(x, y, s, y_pred=biased)
    assert res.diagnostic.adequate and res.diagnostic.r2_y < 0.05 and res.pvalue > 0.05


def test_paper_local_test_is_a_member():
    s, y, x = _smooth(500, 10)
    res = PaperLocalTest(k=30, null=PermutationNull(5)).run(x, y, s)
    assert res.extra["mean_r"] == pytest.approx(res.statistic)
    assert res.statistic > 0.2  # uncalibrated: X_q still varies with S inside neighbourhoods
    assert set(res.local) >= {"r", "r_perm", "efficiency"}


def test_knn_cmi_member_low_and_high_dimension(caplog):
    rng = np.random.default_rng(11)
    z = rng.normal(size=(400, 2))
    x = z[:, 0] + rng.normal(size=400)
    y = z[:, 0] + 0.5 * rng.normal(size=400)
    res = KnnCMITest(k=10, null=PermutationNull(20)).run(x, y, z)
    assert res.statistic == pytest.approx(cmi_knn(x, y, z, k=10))
    assert res.null.size == 20 and res.test == "knn_cmi"
    s, y16, x16 = _smooth(1000, 12, d=16)
    with caplog.at_level(logging.INFO, logger="galinfo"):
        hi = KnnCMITest().run(x16, y16, s)
        fn = cmi_knn_test(x16, y16, s, n_perm=10, seed=0)
    assert hi.test == "gcm" and "dispatched from knn_cmi" in hi.notes[0]
    assert fn.dispatched == "gcm" and np.isnan(fn.cmi) and fn.pvalue > 0.01
    assert sum("dispatching to the cross-fitted residual" in m for m in caplog.messages) == 2


def test_validation_errors():
    s, y, x = _smooth(100, 13)
    with pytest.raises(ConfigError, match="needs a conditioning block"):
        CalibratedLocalTest().run(x, y, None)
    assert GCMTest().run(x, y, None).diagnostic is None  # unconditional GCM: centred variables
    with pytest.raises(DataValidationError, match="y has 99 rows"):
        GCMTest().run(x, y[:99], s)
    bad = s.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataValidationError, match="first row 3"):
        CalibratedLocalTest().run(x, y, bad)
    with pytest.raises(DataValidationError, match="neighbours index outside"):
        CalibratedLocalTest().run(x, y, s, neighbours=np.full((100, 5), 100))
    with pytest.raises(ConfigError, match="null must be"):
        GCMTest(null="normal")
    with pytest.raises(ConfigError, match="n_perm"):
        PermutationNull(0)
    assert set(CI_TESTS) == {"paper_local", "calibrated_local", "gcm", "knn_cmi"}


def test_family_skips_missing_rows_and_gives_nan_when_nothing_is_testable():
    """Issue 14's contract inside the family: rows with an undefined x or y take no part (counted
    in ``n``), and a NaN statistic (no neighbourhood with ``min_valid`` valid galaxies) gives a
    NaN p-value and the verdict 'untested', never a silent 'dependent'."""
    s, y, x = _smooth(400, 21)
    y, x = y.copy(), x.copy()
    y[:30], x[30:50] = np.nan, np.nan
    gcm = GCMTest(folds=3).run(x, y, s)
    assert gcm.n == 350 and np.isfinite(gcm.pvalue)
    nb = np.argsort(((s[:, None, :2] - s[None, :, :2]) ** 2).sum(-1), axis=1)[:, :8]  # 8 < min_valid
    res = CalibratedLocalTest(folds=3, n_perm_local=5, null=PermutationNull(5)).run(x, y, s, neighbours=nb)
    assert res.n == 350 and np.isnan(res.statistic) and np.isnan(res.pvalue)
    assert res.extra["n_tested"] == 0 and res.null.size == 0
    assert res.verdict in ("untested", INADEQUATE) and res.summary()["verdict"] == res.verdict
    assert np.isnan(PaperLocalTest(min_valid=10).run(x, y, s, neighbours=nb).pvalue)


def test_the_residual_tests_report_their_stability_weights_and_can_switch_them_off():
    s, y, x = _smooth(500, 21)
    kw = {"k": 30, "n_perm_local": 5, "null": PermutationNull(5)}
    weighted = CalibratedLocalTest(**kw).run(x, y, s)
    w = weighted.local["weight"]
    assert 0 < weighted.summary()["mean_weight"] < 1 and np.all((w > 0) & (w <= 1))
    plain = CalibratedLocalTest(stability_scale=None, **kw).run(x, y, s)
    assert plain.summary()["mean_weight"] == 1.0
    # the tests see sqrt(w) e: same residuals up to the weights (same two fits, same seed)
    np.testing.assert_allclose(weighted.local["residual_y"], np.sqrt(w) * plain.local["residual_y"])
    assert GCMTest(repeats=1).run(x, y, s).summary()["mean_weight"] == 1.0
    with pytest.raises(ConfigError, match="stability_scale"):
        GCMTest(stability_scale=0.0)
