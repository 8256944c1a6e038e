"""``galinfo causal local`` and ``galinfo causal discover`` end to end on a tiny dataset."""

import json

import numpy as np
from astropy.table import Table
from typer.testing import CliRunner

from galinfo.cli import app
from galinfo.data.binning import TargetBins
from galinfo.data.dataset import Dataset, write_dataset
from galinfo.errors import DataValidationError
from galinfo.models.outputs import Predictions, write_predictions
from tests.conftest import make_catalog


def _setup(tmp_path, n=400):
    cat = make_catalog(n, seed=3)
    cat["ab_r"][:7] = np.nan  # missing values must be masked, not crash
    ds_path = write_dataset(tmp_path / "ds", cat)
    ds = Dataset.open(ds_path)
    rng = np.random.default_rng(0)
    y = ds.column("logmstar")
    latent = np.stack([y, ds.column("z")] + [rng.normal(size=n) for _ in range(2)], 1)
    bins = TargetBins()
    pred = Predictions(objid=ds.objid[::-1].copy(), split=np.asarray(ds.split)[::-1], target=y[::-1],
                       log_q_true=np.zeros(n), bins=bins, input_set="M_ugriz",
                       latent=latent[::-1].astype(np.float32))
    run = tmp_path / "run"
    run.mkdir()
    write_predictions(run, pred)
    return ds, run


def test_local_command_writes_table_and_summary(tmp_path):
    ds, run = _setup(tmp_path)
    res = CliRunner().invoke(app, ["causal", "local", str(run), "--query", "ab_r", "--given", "z",
                                   "--dataset", str(ds.path), "--k", "30", "--n-perm", "10"])
    assert res.exit_code == 0, res.output
    t = Table.read(run / "causal" / "local_ab_r_given_z.fits")
    assert t["objid"].dtype.kind == "i" and t["objid"].dtype.itemsize == 8
    np.testing.assert_array_equal(np.asarray(t["objid"]), ds.objid)
    assert {"r", "r_perm", "efficiency", "pvalue", "qvalue", "reject_bh", "n_valid"} <= set(t.colnames)
    assert np.all(np.asarray(t["n_valid"]) <= 30)
    s = json.loads((run / "causal" / "local_ab_r_given_z.json").read_text())
    assert s["given"] == "z" and s["paper"]["n_galaxies"] == ds.n
    assert 0 < s["calibrated"]["global_pvalue"] <= 1
    assert s["calibrated"]["verdict"] in ("dependent", "independent", "regression inadequate: not interpretable")
    assert {"r2_y", "r2_x", "cross", "adequate"} <= set(s["calibrated"]["diagnostic"])
    assert "calibrated local test: " in res.output and "held-out R²" in res.output
    assert {"logmstar", "mag_r", "cls"} <= set(s["binned"])
    assert sum(b["n"] for b in s["binned"]["cls"]) == ds.n


def test_local_command_bad_query(tmp_path):
    ds, run = _setup(tmp_path, n=120)
    res = CliRunner().invoke(app, ["causal", "local", str(run), "--query", "nope",
                                   "--dataset", str(ds.path)])
    assert res.exit_code != 0 and isinstance(res.exception, DataValidationError)
    assert "nope" in str(res.exception)


def test_discover_command(tmp_path):
    ds, _ = _setup(tmp_path, n=300)
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"mag_r": ["logmstar", "z"]}))
    out = tmp_path / "g"
    res = CliRunner().invoke(app, ["causal", "discover", str(ds.path), "--vars",
                                   "logmstar,z,mag_r,mag_g-mag_r", "--test", "fisherz",
                                   "--truth", str(truth), "--out", str(out)])
    assert res.exit_code == 0, res.output
    g = json.loads((out / "graph.json").read_text())
    assert g["nodes"] == ["logmstar", "z", "mag_r", "mag_g-mag_r"]
    assert "shd" in g["score"] and (out / "graph.png").exists()


def test_local_tests_take_e_y_given_s_from_the_model_mean(tmp_path):
    from galinfo.causal.pipeline import local_tests
    from galinfo.models.outputs import read_predictions

    ds, run = _setup(tmp_path)
    pred = read_predictions(run)
    pred.pdf_mean = pred.target.copy()  # a perfect model: Y is a function of S here
    with_model = local_tests(pred, ds, "ab_r", k=30, n_perm=10)
    refit = local_tests(pred, ds, "ab_r", k=30, n_perm=10, y_from_model=False)
    given = local_tests(pred, ds, "ab_r", given="z", k=30, n_perm=10)
    assert with_model["y_given_s"] == "model pdf mean"
    assert with_model["calibrated"]["y_given_z"] == "given y_pred + cross-fitted correction"
    assert refit["y_given_s"] == "cross-fitted regression on S"
    assert given["y_given_s"] == "cross-fitted regression on S, X_c"
    # with the model mean, Y - E[Y|S] is exactly 0 here, so no local correlation is defined
    assert np.isnan(with_model["calibrated"]["mean_r"]) and np.isfinite(refit["calibrated"]["mean_r"])


def test_local_tests_with_galaxies_missing_from_the_predictions(tmp_path):
    """predict leaves galaxies without an input out; local_tests tests the others and counts them."""
    from galinfo.causal.pipeline import local_tests
    from galinfo.models.outputs import read_predictions

    ds, run = _setup(tmp_path, n=300)
    full = read_predictions(run)
    keep = np.ones(len(full), dtype=bool)
    keep[[0, 5, 17]] = False  # three galaxies had an input missing
    part = Predictions(objid=full.objid[keep], split=full.split[keep], target=full.target[keep],
                       log_q_true=full.log_q_true[keep], bins=full.bins, input_set=full.input_set,
                       latent=full.latent[keep])
    s = local_tests(part, ds, "ab_r", k=30, n_perm=5, out=tmp_path / "out")
    assert s["n_tested"] == ds.n - 3 and s["paper"]["n_galaxies"] == ds.n - 3
    assert s["left_out"]["no latent in M_ugriz (an input missing)"] == 3
    n_ref_missing = int(np.sum(~np.isfinite(ds.column("ab_r")) & (ds.split == "train")))
    assert s["left_out"].get("training galaxies without logmstar, ab_r (not used as neighbours)", 0) == n_ref_missing
    t = Table.read(s["files"]["table"])
    assert len(t) == ds.n - 3 and not np.isin(full.objid[~keep], np.asarray(t["objid"])).any()


def test_report_shows_the_regression_diagnostic_per_causal_row():
    from galinfo.study.report import results_markdown

    cal = {"mean_r": 0.1, "effect_size": 2.0, "global_pvalue": 0.3, "frac_p_below_alpha": 0.05,
           "n_reject_bh": 0, "verdict": "regression inadequate: not interpretable",
           "diagnostic": {"r2_y": 0.12, "r2_x": -0.01, "cross": 0.6, "adequate": False}}
    md = results_markdown({"causal": {"ab_r | S": {"k": 100, "paper": {"mean_r": 0.2, "mean_r_perm": 0.0},
                                                   "calibrated": cal}}}, "t", "c")
    row = next(line for line in md.splitlines() if line.startswith("| ab_r"))
    assert "0.12, -0.01 (inadequate)" in row and row.rstrip().endswith("regression inadequate: not interpretable |")
