"""``galinfo pid`` on a small synthetic dataset, with runs and with --estimate."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from galinfo.cli import app
from galinfo.data.binning import TargetBins
from galinfo.data.dataset import write_dataset
from galinfo.data.schema import BANDS, COLUMNS
from galinfo.models.outputs import Predictions, write_predictions

N = 600


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    rng = np.random.default_rng(0)
    t = Table()
    for c in COLUMNS:
        t[c.name] = np.full(N, np.nan)
    t["objid"] = np.arange(N, dtype=np.int64) * 7 + 2**45
    t["split"] = rng.choice(["train", "val", "test"], N, p=[0.6, 0.2, 0.2])
    t["cls"] = rng.choice(["sf", "passive", "other"], N)
    logm = rng.normal(10.3, 0.5, N)
    t["logmstar"] = logm
    t["z"] = rng.uniform(0.02, 0.1, N)
    for k, b in enumerate(BANDS):
        t[f"mag_{b}"] = 17.5 - 1.0 * (logm - 10) + 0.2 * k + rng.normal(0, 0.1, N)
        for q in ("sersic_n", "ab", "r50", "r90"):
            t[f"{q}_{b}"] = rng.normal(1, 0.2, N) + (0.5 * (logm - 10) if q == "r50" else 0)
    return write_dataset(tmp_path_factory.mktemp("ds") / "synth", t)


def test_pid_with_runs(dataset, tmp_path):
    from galinfo.data.dataset import Dataset

    ds = Dataset.open(dataset)
    y = ds.column("logmstar")
    rng = np.random.default_rng(1)
    runs = []
    for name in ("M_ugriz", "Morph", "M_ugriz|Morph"):
        pred = Predictions(objid=ds.objid, split=ds.split, target=y, bins=TargetBins(),
                           log_q_true=-rng.uniform(1, 6, N), input_set=name)
        runs.append(str(write_predictions(tmp_path / name.replace("|", "+"), pred).parent))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["pid", str(dataset), "--tuple", "M_ugriz,Morph", "--runs",
                                   ",".join(runs), "--out", str(out), "--n-boot", "50", "--min-count", "5"])
    assert res.exit_code == 0, res.output
    t = Table.read(out / "pid.fits")
    assert len(t) == (ds.split == "test").sum()
    assert {"cls", "mag_r", "red", "syn"} <= set(t.colnames)
    for name in ("stack_logmstar", "stack_mag_r", "bars"):
        assert (out / f"{name}.png").exists() and (out / f"{name}.pdf").exists()
    s = Table.read(out / "summary.ecsv")
    assert s["group"][0] == "all"


def test_pid_with_several_realisations_gives_mean_and_spread(dataset, tmp_path):
    from galinfo.data.dataset import Dataset

    ds = Dataset.open(dataset)
    y = ds.column("logmstar")
    realisations = []
    for k in range(3):
        rng = np.random.default_rng(10 + k)
        runs = []
        for name in ("M_ugriz", "Morph", "M_ugriz|Morph"):
            pred = Predictions(objid=ds.objid, split=ds.split, target=y, bins=TargetBins(),
                               log_q_true=-rng.uniform(1, 6, N), input_set=name)
            runs.append(str(write_predictions(tmp_path / f"r{k}" / name.replace("|", "+"), pred).parent))
        realisations.append(",".join(runs))
    out = tmp_path / "out"
    args = ["pid", str(dataset), "--tuple", "M_ugriz,Morph", "--out", str(out), "--n-boot", "20", "--min-count", "5"]
    res = CliRunner().invoke(app, [*args, *(x for r in realisations for x in ("--runs", r))])
    assert res.exit_code == 0, res.output
    spread = Table.read(out / "spread.ecsv")
    per = [Table.read(out / f"realisation_{k}" / "summary.ecsv") for k in range(3)]
    for a in ("i12", "red", "syn"):
        values = np.array([s[a][0] for s in per])
        assert spread[a][0] == pytest.approx(values.mean())
        assert spread[f"{a}_std"][0] == pytest.approx(values.std(ddof=1)) and spread[f"{a}_std"][0] > 0
        assert f"{a} {values.mean():+.3f} ± {values.std(ddof=1):.3f}" in res.output
    assert list(spread["group"]) == list(per[0]["group"]) and set(spread["n_realisations"]) == {3}
    assert (out / "bars_spread.png").exists()
    res = CliRunner().invoke(app, [*args, "--runs", realisations[0], "--runs", realisations[1], "--estimate"])
    assert res.exit_code != 0 and "exactly one" in str(res.exception)


def test_pid_estimate(dataset, tmp_path):
    out = tmp_path / "est"
    res = CliRunner().invoke(app, ["pid", str(dataset), "--tuple", "M_ugriz,Morph", "--estimate",
                                   "--out", str(out), "--n-boot", "50", "--folds", "2",
                                   "--max-epochs", "3", "--min-count", "5"])
    assert res.exit_code == 0, res.output
    t = Table.read(out / "pid.fits")
    assert len(t) == N  # cross-fitting: every galaxy gets an out-of-sample value
    np.testing.assert_allclose(t["red"] + t["unq1"] + t["unq2"] + t["syn"], t["i12"], atol=1e-12)
    # the target is binned at its quantiles; the edges are recorded with the run
    import json

    edges = np.asarray(json.loads((out / "pid_run.json").read_text())["target_bin_edges"])
    counts = np.histogram(np.asarray(t["logmstar"]), edges)[0]
    assert len(edges) == 61 and counts.min() >= 8 and counts.max() <= 12


def test_pid_bad_options(dataset, tmp_path):
    from galinfo.errors import ConfigError
    from galinfo.info.pipeline import run_pid
    from galinfo.info.tuples import TupleSpec

    spec = TupleSpec.parse("M_ugriz,Morph")
    with pytest.raises(ConfigError, match="exactly one"):
        run_pid(dataset, spec, tmp_path / "x")
    with pytest.raises(ConfigError, match="catalogue inputs only"):
        run_pid(dataset, TupleSpec.parse("I_ugriz,M_W123"), tmp_path / "x", estimate=True)


@pytest.mark.parametrize("given, used", [(None, "train"), ("full", "full"), ("train", "train")])
def test_prior_reaches_the_estimator(dataset, tmp_path, monkeypatch, given, used):
    """--prior was silently ignored with --estimate: the estimator always used its default."""
    import json

    import galinfo.info.estimate as estimate_mod

    seen = []

    def fake(X, y, *, prior="train", seed=0, **kw):
        seen.append(prior)
        return 0.2 * np.asarray(X)[:, 0] - 2.0 + 0.1 * len(seen)

    monkeypatch.setattr(estimate_mod, "estimate_pointwise_mi", fake)
    args = ["pid", str(dataset), "--tuple", "M_ugriz,Morph", "--estimate", "--out", str(tmp_path / "o"),
            "--n-boot", "50", "--min-count", "5"] + (["--prior", given] if given else [])
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert seen == [used] * 3
    assert json.loads((tmp_path / "o" / "pid_run.json").read_text())["prior"] == used
