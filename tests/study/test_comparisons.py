"""Images against photometry: paired comparisons of two runs on the same test galaxies."""

from __future__ import annotations

import numpy as np
import pytest

from galinfo.data.dataset import Dataset, write_dataset
from galinfo.metrics import paired_comparison
from galinfo.models import from_arrays
from galinfo.study.comparisons import images_section, images_vs_photometry
from tests.conftest import make_catalog


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    ds = Dataset.open(write_dataset(root / "ds", make_catalog(300, seed=3)))
    rng = np.random.default_rng(0)
    y = np.asarray(ds.catalog["logmstar"], dtype=float)
    out = {}
    for inputs, scatter in (("I_ugriz", 0.1), ("M_ugriz", 0.2)):
        point = y + rng.normal(0, scatter, y.size)
        lq = -np.log(scatter) - 0.5 * ((point - y) / scatter) ** 2 - 3.0
        keep = slice(7, None) if inputs == "M_ugriz" else slice(None)  # galaxies one model did not predict
        out[inputs] = from_arrays(ds, ds.objid[keep], out=root / inputs, point=point[keep], log_q_true=lq[keep],
                                  inputs=inputs)
    return ds, out


def test_images_vs_photometry_pairs_the_test_galaxies_of_both_runs(runs):
    ds, out = runs
    models = [{"objective": "ce", "inputs": k, "run": str(v)} for k, v in out.items()]
    rows = images_vs_photometry(models + [{"objective": "scl", "inputs": "M_ugriz|M_W123", "run": "unused"}])
    assert [(r["images"], r["photometry"]) for r in rows] == [("I_ugriz", "M_ugriz")]
    test = (ds.split == "test") & (np.arange(ds.n) >= 7)
    assert rows[0]["n"] == int(test.sum())
    assert rows[0]["d_sigma_mad"] < 0 and rows[0]["d_info"] > 0
    from galinfo.models.outputs import read_predictions

    a, b = read_predictions(out["I_ugriz"]), read_predictions(out["M_ugriz"])
    ids = np.sort(ds.objid[test])  # paired rows in objid order
    ia, ib = a.align(ids), b.align(ids)
    expect = paired_comparison(a.target[ia], a.pdf_mean[ia], b.pdf_mean[ib], a.log_q_true[ia],
                               b.log_q_true[ib], n_boot=1000, seed=0)
    assert rows[0]["d_info"] == pytest.approx(expect["d_info"])
    assert rows[0]["d_sigma_mad_se"] == pytest.approx(expect["d_sigma_mad_se"])
    assert images_section(rows).tables[0].rows[0][-1] == "images"
