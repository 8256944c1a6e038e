"""A study that uses models trained outside galinfo (``external_models``) instead of training them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from galinfo.data.binning import TargetBins
from galinfo.data.dataset import Dataset, write_dataset
from galinfo.errors import ConfigError
from galinfo.models import from_arrays
from galinfo.study.config import config_from_dict
from galinfo.study.runner import Study
from tests.conftest import make_catalog

BINS = TargetBins()  # the study's default bins: 520 on [6, 12.5]


def _runs(ds, root):
    """Three fake external models: photometry (with a latent), morphology, and both."""
    rng = np.random.default_rng(0)
    y = ds.column("logmstar")
    runs = {}
    for name, width in (("M_ugriz", 0.3), ("Morph", 1.0), ("M_ugriz|Morph", 0.25)):
        centre = y + rng.normal(0, width / 2, ds.n)
        pdf = np.exp(-0.5 * ((BINS.centers[None, :] - centre[:, None]) / width) ** 2) + 1e-9
        pdf /= pdf.sum(axis=1, keepdims=True)
        latent = np.column_stack([centre, rng.normal(size=(ds.n, 2))]) if name == "M_ugriz" else None
        runs[name] = from_arrays(ds, ds.objid, latent=latent, pdf=pdf, inputs=name,
                                 out=root / name.replace("|", "+"))
    return runs


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ext")
    ds = Dataset.open(write_dataset(root / "ds", make_catalog(300, seed=4)))
    return ds, _runs(ds, root)


def _config(ds, runs, **extra):
    raw = {"name": "external", "dataset": {"kind": "path", "path": str(ds.path)},
           "latent_models": ["M_ugriz"], "causal": [{"latent": "M_ugriz", "query": "ab_r", "k": 20}],
           "pid": {"tuples": ["M_ugriz,Morph"], "estimator": "model", "bootstrap": 20},
           "external_models": {k: str(v) for k, v in runs.items()}, **extra}
    return config_from_dict(raw)


def test_study_uses_external_runs_without_training(setup, tmp_path):
    from galinfo.info.pipeline import run_pid
    from galinfo.info.tuples import TupleSpec

    ds, runs = setup
    study = Study(_config(ds, runs), tmp_path / "study", progress=False)
    assert {s.kind for s in study.steps} == {"dataset", "external", "knn", "pid", "causal", "report"}
    results = json.loads(open(study.run()["json"]).read())
    assert not (tmp_path / "study" / "models").exists()  # nothing was trained
    assert results["estimation"]["external:M_ugriz"]["test"]["n"] == (ds.split == "test").sum()
    direct = run_pid(ds.path, TupleSpec.parse("M_ugriz,Morph"), tmp_path / "direct",
                     runs=[runs[m] for m in ("M_ugriz", "Morph", "M_ugriz|Morph")], n_boot=20,
                     min_count=20, prior="train")  # a study's prior: the training split's histogram
    via_study = Table.read(tmp_path / "study" / "steps" / "pid_M_ugriz_Morph" / "pid.fits")
    np.testing.assert_array_equal(via_study["i12"], Table.read(direct["table"])["i12"])
    causal = json.loads((tmp_path / "study" / "steps" / "causal_ab_r_S_M_ugriz" / "local_ab_r.json").read_text())
    assert causal["input_set"] == "M_ugriz" and causal["k"] == 20


def test_external_run_checks(setup, tmp_path):
    ds, runs = setup
    with pytest.raises(ConfigError, match="holds no predictions.h5"):
        Study(_config(ds, {**runs, "Morph": str(tmp_path / "nowhere")}), tmp_path / "a", progress=False).run()
    swapped = {**runs, "Morph": runs["M_ugriz"]}
    with pytest.raises(ConfigError, match="holds a model of M_ugriz, not Morph"):
        Study(_config(ds, swapped), tmp_path / "b", progress=False).run()
    from galinfo.models.outputs import read_predictions

    pred = read_predictions(runs["M_ugriz"])
    flat = from_arrays(ds, pred.objid, pdf=pred.pdf, inputs="M_ugriz", out=tmp_path / "flat")
    with pytest.raises(ConfigError, match="has no latent, but the study uses it as a latent model"):
        Study(_config(ds, {**runs, "M_ugriz": flat}), tmp_path / "c", progress=False).run()
