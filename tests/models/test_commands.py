import json

import pytest
from typer.testing import CliRunner

from galinfo.cli import app
from galinfo.errors import ConfigError, InputSetError
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
    assert set(metrics) == {"train", "val", "test"}
    assert all(set(m) >= {"bias", "sigma_mad", "eta", "crps", "n"} for m in metrics.values())


@pytest.mark.parametrize(
    "extra, error",
    [(["--inputs", "Q_x"], InputSetError), (["--inputs", "M_ugriz", "--objective", "mse"], ConfigError),
     (["--inputs", "M_ugriz", "--target-range", "6"], ConfigError),
     (["--inputs", "M_ugriz", "--smooth", "wide"], ConfigError)],
)
def test_cli_bad_input_raises_galinfo_errors(tiny_dataset, tmp_path, extra, error):
    res = runner.invoke(app, ["train", str(tiny_dataset), "--out", str(tmp_path / "r"), *extra])
    assert isinstance(res.exception, error)
