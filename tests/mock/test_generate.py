import json

import numpy as np
import pytest

from galinfo.data.schema import REQUIRED_COLUMNS
from galinfo.errors import ConfigError, GalinfoError
from galinfo.mock import MockConfig, generate


def test_dataset_opens_and_follows_data_model(small_mock):
    from galinfo.data.dataset import Dataset

    ds = Dataset.open(small_mock, verify=True)
    assert ds.n == 150
    assert ds.image_shape == (5, 64, 64)
    assert all(c in ds.catalog.colnames for c in REQUIRED_COLUMNS)
    assert np.all(ds.column("mag_r") < 17.77)
    assert ds.objid.dtype == np.int64 and len(np.unique(ds.objid)) == ds.n
    assert set(ds.split) <= {"train", "val", "test"}
    feats = ds.features("M_ugriz|M_W123")
    assert np.isfinite(feats).all()


def test_image_flux_agrees_with_catalogue(small_mock):
    from galinfo.data.dataset import Dataset

    ds = Dataset.open(small_mock)
    small = ds.column("r90_r") < 5.0  # Petrosian aperture well inside the 64-pixel stamp
    rows = np.flatnonzero(small)
    img = ds.images(rows, bands=["r"])[:, 0]
    total = img.sum(axis=(1, 2))
    petro = 10 ** (-0.4 * (ds.column("mag_r", rows) - 22.5))
    true = 10 ** (-0.4 * (ds.column("true_mag_r", rows) - 22.5))
    assert np.median(total / true) == pytest.approx(1.0, abs=0.03)
    assert np.median(petro / true) == pytest.approx(0.97, abs=0.05)


def test_measured_physics_in_catalogue(small_mock):
    from astropy.table import Table

    t = Table.read(small_mock / "catalog.fits")
    gr = np.asarray(t["mag_g"] - t["mag_r"])
    cls = np.asarray(t["cls"]).astype(str)
    assert np.median(gr[cls == "passive"]) > np.median(gr[cls == "sf"]) + 0.1
    assert np.corrcoef(t["ab_r"], t["true_q_disc"])[0, 1] > 0.5
    assert abs(np.corrcoef(t["null_noise"], t["logmstar"])[0, 1]) < 0.3
    assert np.corrcoef(t["null_lum"], t["logmstar"])[0, 1] < -0.5


def test_truth_dag_encodes_designed_answers(small_mock):
    dag = json.loads((small_mock / "truth_dag.json").read_text())
    answers = dag["designed_answers"]
    for key in ("a_axis_ratio_through_dust", "b_redshift_confounds_size_and_flux", "c_designed_nulls", "d_hard_null_null_lum"):
        assert key in answers
    nodes = dag["nodes"]
    for name, node in nodes.items():
        for parent in node["parents"]:
            assert parent in nodes, f"{name} has unknown parent {parent}"
    assert nodes["null_lum"]["parents"] == ["mag_r", "z"]
    assert nodes["null_noise"]["parents"] == [] and nodes["true_pa"]["parents"] == []
    assert answers["d_hard_null_null_lum"]["conditionally_independent_given"] == ["mag_r", "z"]
    # every variable a designed answer names exists in the catalogue or the graph
    from astropy.table import Table

    cols = Table.read(small_mock / "catalog.fits").colnames
    for name in ("ab_r", "r50_r", "true_pa", "null_noise", "null_lum", "true_cosi", "true_av"):
        assert name in cols and name in nodes


def test_same_seed_same_bytes_any_workers_and_chunking(tmp_path):
    a = generate(40, 9, tmp_path / "a", workers=1, config=MockConfig(chunk_size=25))
    b = generate(40, 9, tmp_path / "b", workers=2, config=MockConfig(chunk_size=15))
    assert (a / "catalog.fits").read_bytes() == (b / "catalog.fits").read_bytes()
    c = generate(40, 10, tmp_path / "c", workers=1, config=MockConfig(chunk_size=25))
    assert (a / "catalog.fits").read_bytes() != (c / "catalog.fits").read_bytes()


def test_resume_skips_finished_chunks(tmp_path):
    cfg = MockConfig(chunk_size=20)
    seen = []

    def crash(k, kept):
        seen.append(k)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(30, 4, tmp_path / "r", config=cfg, on_chunk=crash)
    assert (tmp_path / "r.partial" / "chunk_00000.npz").exists()
    done = []
    out = generate(30, 4, tmp_path / "r", config=cfg, resume=True, on_chunk=lambda k, kept: done.append(k))
    assert 0 not in done
    ref = generate(30, 4, tmp_path / "ref", config=cfg)
    assert (out / "catalog.fits").read_bytes() == (ref / "catalog.fits").read_bytes()
    assert not (tmp_path / "r.partial").exists()


def test_bad_options_raise_one_line_errors(tmp_path):
    with pytest.raises(ConfigError):
        generate(0, 1, tmp_path / "x")
    with pytest.raises(ConfigError):
        MockConfig(z_min=0.5, z_max=0.1)
    (tmp_path / "exists").mkdir()
    with pytest.raises(GalinfoError):
        generate(5, 1, tmp_path / "exists")


def test_dask_missing_is_a_config_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match="dask"):
        generate(5, 1, tmp_path / "d", dask_address="tcp://127.0.0.1:1")
    assert not (tmp_path / "d.partial").exists()
