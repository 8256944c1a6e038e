import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from galinfo.cli import app
from galinfo.data.binning import TargetBins
from galinfo.errors import ConfigError, DataValidationError
from galinfo.knn.outputs import read_knn
from galinfo.models.outputs import Predictions, read_predictions, write_predictions


def _run(tmp_path, n=1500, latent=True, seed=0):
    rng = np.random.default_rng(seed)
    bins = TargetBins()
    s = rng.uniform(0, 1, (n, 3)).astype(np.float32)
    sigma = 0.05 + 0.2 * s[:, 1]
    mu = 9 + 1.5 * s[:, 0]
    y = mu + sigma * rng.normal(size=n)
    # a too-narrow softmax pdf
    pdf = np.diff(stats.norm.cdf((bins.edges[None] - mu[:, None]) / (0.4 * sigma[:, None])), axis=1)
    pdf = (pdf / pdf.sum(axis=1, keepdims=True)).astype(np.float32)
    split = np.array(["train", "val", "test"])[rng.choice(3, n, p=[0.7, 0.15, 0.15])]
    pred = Predictions(
        objid=np.arange(10**12, 10**12 + n, dtype=np.int64), split=split, target=y,
        log_q_true=np.log(pdf[np.arange(n), bins.index(y)] + 1e-12), bins=bins,
        input_set="M_ugriz", latent=s if latent else None, pdf=pdf, pdf_mean=mu,
    )
    write_predictions(tmp_path, pred)
    return tmp_path


def test_knn_command_writes_file_and_table(tmp_path):
    run = _run(tmp_path)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["knn", str(run), "--kmax", "200", "--save-neighbors"]
    )
    assert result.exit_code == 0, result.output
    assert "PIT W1 KNN" in result.output and "test" in result.output
    arrays, attrs = read_knn(run)
    pred = read_predictions(run)
    np.testing.assert_array_equal(arrays["objid"], pred.objid)
    assert arrays["objid"].dtype == np.int64
    assert attrs["kmax"] == 200 and max(attrs["k_grid"]) <= 200
    assert set(np.unique(arrays["k"])) <= set(attrs["k_grid"])
    assert np.isfinite(arrays["log_q_true"]).all() and (arrays["log_q_true"] <= 0).all()
    test = arrays["split"] == "test"
    from galinfo import metrics as M

    w_knn = M.pit_wasserstein(arrays["pit"][test])
    w_soft = M.pit_wasserstein(M.pit(pred.pdf[test].astype(float), pred.bins, pred.target[test]))
    assert w_knn < w_soft
    train = np.flatnonzero(arrays["split"] == "train")
    nb = arrays["neighbor_rows"]
    assert nb.shape == (len(pred), 200)
    assert np.isin(nb, train).all()
    assert not (nb[train] == train[:, None]).any()
    # no temporary files left behind
    assert sorted(p.name for p in run.iterdir()) == ["knn.h5", "predictions.h5"]


def test_knn_command_errors(tmp_path):
    run = _run(tmp_path, n=300, latent=False)
    result = CliRunner().invoke(app, ["knn", str(run), "--kmax", "20"])
    assert isinstance(result.exception, DataValidationError)
    assert "latent" in str(result.exception)
    run2 = _run(tmp_path / "b", n=300)
    result = CliRunner().invoke(app, ["knn", str(run2), "--kmax", "5000"])
    assert isinstance(result.exception, ConfigError) and "--kmax" in str(result.exception)
    result = CliRunner().invoke(app, ["knn", str(tmp_path / "nothing")])
    assert isinstance(result.exception, DataValidationError)


@pytest.mark.slow
def test_knn_cli_exit_status_2(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "galinfo.cli", "knn", str(tmp_path / "missing")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "error" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_galaxies_without_a_latent_keep_a_row_with_nan(tmp_path):
    """Predictions keep every galaxy; one that lacked an input has a NaN latent and NaN KNN outputs."""
    from galinfo.knn.outputs import run_adaptive_knn

    run = _run(tmp_path, n=600)
    pred = read_predictions(run)
    gone = np.array([3, 50, 51, 400])
    pred.latent[gone] = np.nan
    pred.pdf_mean[gone] = np.nan
    pred.pdf[gone] = np.nan
    pred.target[7] = np.nan  # and a failed mass fit
    write_predictions(run, pred)
    _, arrays = run_adaptive_knn(pred, kmax=50)
    assert np.isnan(arrays["pdf_mean"][gone]).all() and (arrays["k"][gone] == -1).all()
    others = np.setdiff1d(np.arange(600), gone)
    assert np.isfinite(arrays["pdf_mean"][others]).all()
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["knn", str(run), "--kmax", "50"])
    assert result.exit_code == 0, result.output
