"""docs/byo-model.md end to end: a table written without galinfo, imported on the command line, gives
the same local tests and decomposition as the same arrays through ``galinfo.models.from_arrays``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from galinfo.data.binning import TargetBins
from galinfo.data.dataset import Dataset, write_dataset
from tests.conftest import make_catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "byo-model.md"
MODELS = ("M_ugriz", "Morph", "M_ugriz|Morph")
BINS = TargetBins(6.0, 12.5, 26)
# runs the docs' script, then fails if anything imported galinfo
RUNNER = ("import runpy, sys; sys.argv[0] = sys.argv.pop(1); runpy.run_path(sys.argv[0], run_name='__main__'); "
          "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'galinfo'); "
          "sys.exit(f'imported {bad}' if bad else 0)")


def _script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks and "MLPClassifier" in blocks[0] and "galinfo" not in blocks[0]
    return blocks[0]


def _cli(monkeypatch, *args) -> None:
    from galinfo.cli import main

    monkeypatch.setattr(sys, "argv", ["galinfo", *map(str, args)])
    try:
        main()
    except SystemExit as exc:  # typer exits 0 on success
        assert exc.code in (0, None), args


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("byo")
    ds_path = write_dataset(root / "ds", make_catalog(400, seed=11))
    script = root / "train_outside.py"
    script.write_text(_script())
    res = subprocess.run([sys.executable, "-c", RUNNER, str(script), str(ds_path), str(root / "ext")],
                         capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert res.returncode == 0, res.stderr[-2000:]
    return Dataset.open(ds_path), root / "ext"


def test_table_through_cli_equals_arrays_through_api(tables, tmp_path, monkeypatch):
    from galinfo.causal.pipeline import local_tests
    from galinfo.info.pipeline import run_pid
    from galinfo.info.tuples import TupleSpec
    from galinfo.models import from_arrays
    from galinfo.models.outputs import read_predictions

    ds, ext = tables
    cli_runs, api_runs = [], []
    for name in MODELS:
        table = ext / (name.replace("|", "+") + ".fits")
        run = tmp_path / "cli" / name.replace("|", "+")
        _cli(monkeypatch, "import", "predictions", table, "--dataset", ds.path, "--out", run, "--bins", "6,12.5,26")
        cli_runs.append(run)
        t = Table.read(table)
        api_runs.append(from_arrays(ds, np.asarray(t["objid"]), latent=np.asarray(t["latent"]),
                                    pdf=np.asarray(t["pdf"]), point=np.asarray(t["point"]), inputs=name,
                                    bins=BINS, out=tmp_path / "api" / name.replace("|", "+")))
    assert read_predictions(cli_runs[0]).latent.shape == (ds.n, 16)

    # local tests in the photometry model's latent space
    _cli(monkeypatch, "causal", "local", cli_runs[0], "--dataset", ds.path, "--query", "ab_r",
         "--k", "30", "--n-perm", "20", "--out", tmp_path / "causal-cli")
    cli_summary = json.loads((tmp_path / "causal-cli" / "local_ab_r.json").read_text())
    api_summary = local_tests(read_predictions(api_runs[0]), ds, "ab_r", k=30, n_perm=20)
    assert cli_summary["y_given_s"] == "model pdf mean"
    for key in ("paper", "calibrated", "binned"):
        assert cli_summary[key] == json.loads(json.dumps(api_summary[key], default=float)), key
    cli_local = Table.read(tmp_path / "causal-cli" / "local_ab_r.fits")
    assert np.isfinite(cli_local["r_resid"]).sum() > ds.n // 2

    # pointwise decomposition against the two other imported models
    _cli(monkeypatch, "pid", ds.path, "--tuple", "M_ugriz,Morph", "--runs", ",".join(map(str, cli_runs)),
         "--out", tmp_path / "pid-cli", "--n-boot", "50", "--min-count", "5")
    run_pid(ds.path, TupleSpec.parse("M_ugriz,Morph"), tmp_path / "pid-api", runs=api_runs, n_boot=50,
            min_count=5)
    cli_pid, api_pid = Table.read(tmp_path / "pid-cli" / "pid.fits"), Table.read(tmp_path / "pid-api" / "pid.fits")
    assert len(cli_pid) == (ds.split == "test").sum()
    for col in ("objid", "i1", "i2", "i12", "red", "unq1", "unq2", "syn"):
        np.testing.assert_array_equal(cli_pid[col], api_pid[col], err_msg=col)
    # photometry carries the mass information here (morphology is noise in this mock)
    assert np.mean(cli_pid["i1"]) > np.mean(cli_pid["i2"]) + 0.3
    cli_sum, api_sum = Table.read(tmp_path / "pid-cli" / "summary.ecsv"), Table.read(tmp_path / "pid-api" / "summary.ecsv")
    for col in ("i12", "red", "unq1", "unq2", "syn", "i12_lo", "syn_hi"):
        np.testing.assert_array_equal(cli_sum[col], api_sum[col], err_msg=col)

    # knn and evaluate read the imported run unchanged
    _cli(monkeypatch, "knn", cli_runs[0], "--kmax", "50")
    _cli(monkeypatch, "evaluate", cli_runs[0])
    metrics = json.loads((cli_runs[0] / "metrics.json").read_text())
    assert metrics["test"]["n"] == (ds.split == "test").sum() and metrics["test"]["sigma_mad"] < 0.5
