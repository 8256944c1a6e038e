import numpy as np
import pytest
from astropy.table import Table

from galinfo.data.dataset import Dataset, write_dataset
from galinfo.data.importers import (
    export_paper_npz,
    import_lcs,
    import_na10,
    import_paper_npz,
    import_table,
)
from galinfo.data.schema import NUMERIC_COLUMNS, PAPER_NPZ_NAMES
from galinfo.errors import ConfigError, DataValidationError
from tests.conftest import LCS_FITS, NA10_FITS, make_catalog, require_real


def _equal_tables(a, b, columns):
    for c in columns:
        x, y = np.asarray(a[c]), np.asarray(b[c])
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=c)
        else:
            assert (x.astype(str) == y.astype(str)).all(), c


def test_paper_npz_round_trip(tmp_path, catalog, cube):
    catalog["mag_u"][2] = np.nan  # missing values survive as NaN
    catalog["true_logmstar"] = np.asarray(catalog["logmstar"]) + 0.01  # extra columns survive
    ds = Dataset.open(write_dataset(tmp_path / "ds", catalog, cube))
    cat_npz, img_npz = export_paper_npz(ds, tmp_path / "npz")
    with np.load(cat_npz) as npz:
        assert set(PAPER_NPZ_NAMES.values()) <= set(npz.files)
        assert npz["objid"].dtype == np.int64
        assert {"id_train", "id_validation", "id_test"} <= set(npz.files)
    with np.load(img_npz) as npz:
        assert npz["img_g"].shape == (len(catalog), 16, 16)
    back = Dataset.open(import_paper_npz(cat_npz, tmp_path / "back", images_npz=img_npz))
    np.testing.assert_array_equal(back.objid, ds.objid)  # exact int64, never through float
    _equal_tables(back.catalog, ds.catalog, [*NUMERIC_COLUMNS, "split", "cls", "true_logmstar"])
    np.testing.assert_array_equal(back.images(), ds.images())
    # and the npz written again from the re-imported dataset is identical
    cat2, _ = export_paper_npz(back, tmp_path / "npz2")
    with np.load(cat_npz) as a, np.load(cat2) as b:
        assert set(a.files) == set(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_paper_npz_without_objid_uses_row_index(tmp_path):
    n = 30
    rng = np.random.default_rng(0)
    arrays = {"lgm_tot_p50": rng.uniform(9, 11, n), "z": rng.uniform(0.01, 0.2, n),
              "id_train": np.arange(0, 20), "id_validation": np.arange(20, 25), "id_test": np.arange(25, 30)}
    np.savez(tmp_path / "catalog.npz", **arrays)
    ds = Dataset.open(import_paper_npz(tmp_path / "catalog.npz", tmp_path / "ds"))
    np.testing.assert_array_equal(ds.objid, np.arange(n))
    assert len(ds.rows("val")) == 5
    arrays["id_test"] = np.arange(24, 30)  # row 24 in two splits
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataValidationError, match="id_test repeats rows"):
        import_paper_npz(tmp_path / "bad.npz", tmp_path / "ds2")
    assert not (tmp_path / "ds2").exists()


def test_import_table_with_mapping(tmp_path):
    cat = make_catalog(40)
    src = Table({"ID": cat["objid"], "REDSHIFT": cat["z"], "MASS": cat["logmstar"], "r_petro": cat["mag_r"],
                 "extra": np.arange(40)})
    src["MASS"][0] = -9999.0  # sentinel -> missing -> dropped (no target)
    src.write(tmp_path / "src.csv", format="ascii.csv")
    (tmp_path / "map.yaml").write_text("objid: ID\nz: REDSHIFT\nlogmstar: MASS\nmag_r: r_petro\n")
    ds = Dataset.open(import_table(tmp_path / "src.csv", tmp_path / "ds", mapping_path=tmp_path / "map.yaml"))
    assert ds.n == 39
    assert ds.manifest["provenance"]["dropped"] == {"missing logmstar": 1}
    assert ds.objid.dtype == np.int64
    np.testing.assert_array_equal(ds.objid, np.asarray(cat["objid"])[1:])
    assert "extra" in ds.catalog.colnames
    assert ds.input_set_status("M_r")[0] and not ds.input_set_status("M_g")[0]


def test_import_table_errors(tmp_path):
    Table({"a": [1, 2]}).write(tmp_path / "t.csv", format="ascii.csv")
    with pytest.raises(DataValidationError, match="no column for objid"):
        import_table(tmp_path / "t.csv", tmp_path / "o")
    (tmp_path / "m.yaml").write_text("stellar_mass: a\n")
    with pytest.raises(ConfigError, match="unknown data-model column.*stellar_mass"):
        import_table(tmp_path / "t.csv", tmp_path / "o", mapping_path=tmp_path / "m.yaml")
    (tmp_path / "m.yaml").write_text("objid: ID\n")
    with pytest.raises(DataValidationError, match="lacks mapped column.*objid<-ID"):
        import_table(tmp_path / "t.csv", tmp_path / "o", mapping_path=tmp_path / "m.yaml")
    with pytest.raises(DataValidationError, match="unknown extension"):
        import_table(tmp_path / "m.yaml", tmp_path / "o")
    assert not (tmp_path / "o").exists()


@pytest.mark.real_data
def test_na10(tmp_path):
    ds = Dataset.open(import_na10(require_real(NA10_FITS), tmp_path / "na10"))
    assert ds.n >= 13700
    dropped = ds.manifest["provenance"]["dropped"]
    assert ds.n + sum(dropped.values()) == 13895
    # stratified: the mass distribution is the same in every split
    q = {s: np.quantile(ds.column("logmstar", ds.rows(s)), [0.1, 0.5, 0.9]) for s in ("train", "val", "test")}
    np.testing.assert_allclose(q["test"], q["train"], atol=0.05)
    np.testing.assert_allclose(q["val"], q["train"], atol=0.05)
    assert abs(len(ds.rows("train")) / ds.n - 0.7) < 0.01
    status = ds.available_input_sets()
    for name in ("M_ugriz", "Morph", "zspec"):
        assert status[name][0], name
    assert "gr" in status["Morph"][1]
    assert not status["M_W123"][0] and not status["I_ugriz"][0]
    # bands NA10 lacks stay missing, not invented
    assert ds.n_missing("magerr_r") == ds.n and ds.n_missing("ab_u") == ds.n
    # colours reconstructed: u - g equals the catalogue's UG
    src = Table.read(NA10_FITS)
    ug = {int(o): v for o, v in zip(ds.objid, ds.column("mag_u") - ds.column("mag_g"), strict=True)}
    pid = (np.asarray(src["PLATEID"], np.int64) * 100000 + np.asarray(src["MJD"], np.int64)) * 10000 + np.asarray(src["FIBERID"], np.int64)
    k = int(np.flatnonzero(np.isin(pid, ds.objid))[0])
    assert ug[int(pid[k])] == pytest.approx(float(src["UG"][k]), abs=1e-5)


@pytest.mark.real_data
def test_lcs(tmp_path):
    ds = Dataset.open(import_lcs(require_real(LCS_FITS), tmp_path / "lcs"))
    assert 1700 < ds.n <= 1800
    assert ds.manifest["provenance"]["dropped"]["repeated NSAID"] == 11
    ok, detail = ds.input_set_status("M_W123")
    assert ok and "partial" in detail  # W1-3 missing where WISE had no match (0 in the source)
    assert ds.n_missing("w1") > 0 and np.nanmin(ds.column("w1")) > 5
    assert ds.feature_columns("M_ugriz")[:5] == ("mag_u", "mag_g", "mag_r", "mag_i", "mag_z")
    assert "magerr_r" in ds.feature_columns("M_ugriz")  # NSA inverse variances give errors
