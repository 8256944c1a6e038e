import json

import numpy as np
import pytest
from typer.testing import CliRunner

from galinfo.cli import app
from galinfo.data.dataset import Dataset
from galinfo.errors import ConfigError, InputSetError
from galinfo.metrics import sigma_mad
from galinfo.models.outputs import read_predictions

runner = CliRunner()


def test_train_predict_evaluate_cli(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    args = ["train", str(tiny_dataset), "--inputs", "M_ugriz|zspec", "--objective", "ce", "--out", str(run),
            "--preset", "tiny", "--max-steps", "4", "--batch-size", "32", "--target-range", "6,12.5",
            "--bins", "100", "--device", "cpu"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    pred = read_predictions(run)
    assert pred.bins.n_bins == 100 and pred.input_set == "M_ugriz|zspec"
    res = runner.invoke(app, args)  # same command again: resumes the finished run, no error
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", str(run), "--no-pdf"])
    assert res.exit_code == 0, res.output
    assert read_predictions(run).pdf is None
    res = runner.invoke(app, ["predict", str(run), "--smooth", "auto"])
    assert res.exit_code == 0, res.output
    assert ("smoothed" in res.output) == (read_predictions(run).pdf_smoothing > 0)
    res = runner.invoke(app, ["predict", str(run), "--smooth", "-1"])
    assert isinstance(res.exception, ConfigError)
    res = runner.invoke(app, ["evaluate", str(run)])
    assert res.exit_code == 0, res.output
    assert "sigma_MAD" in res.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"train", "val", "test", "by_group"}
    assert all(set(metrics[s]) >= {"bias", "sigma_mad", "eta", "crps", "n"} for s in ("train", "val", "test"))
    # per-class rows of the test split, checked against the catalogue's classes by objid
    pred = read_predictions(run)
    ds = Dataset.open(tiny_dataset)
    cls = dict(zip(ds.objid.tolist(), np.asarray(ds.catalog["cls"]).astype(str), strict=True))
    test = pred.mask("test") & np.isfinite(pred.target)
    labels = np.array([cls[int(o)] for o in pred.objid[test]])
    by_class = metrics["by_group"]["class"]
    assert set(by_class) == set(labels)
    for label, m in by_class.items():
        sel = labels == label
        assert m["n"] == sel.sum()
        assert m["sigma_mad"] == pytest.approx(sigma_mad(pred.pdf_mean[test][sel], pred.target[test][sel]))
        assert f"class {label}" in res.output
    assert set(metrics["by_group"]) == {"class", "logmstar", "mag_r"}
    binned = metrics["by_group"]["logmstar"]
    assert binned and sum(r["n"] for r in binned) <= test.sum()  # bins under 10 galaxies are left out
    for r in binned:
        inside = (pred.target[test] >= r["x_low"]) & (pred.target[test] < r["x_high"])
        assert r["n"] == inside.sum()
        assert f"logmstar [{r['x_low']:g}, {r['x_high']:g})" in res.output


@pytest.mark.parametrize(
    "extra, error",
    [(["--inputs", "Q_x"], InputSetError), (["--inputs", "M_ugriz", "--objective", "mse"], ConfigError),
     (["--inputs", "M_ugriz", "--target-range", "6"], ConfigError),
     (["--inputs", "M_ugriz", "--smooth", "wide"], ConfigError)],
)
def test_cli_bad_input_raises_galinfo_errors(tiny_dataset, tmp_path, extra, error):
    res = runner.invoke(app, ["train", str(tiny_dataset), "--out", str(tmp_path / "r"), *extra])
    assert isinstance(res.exception, error)
