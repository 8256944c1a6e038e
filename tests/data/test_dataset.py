import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galinfo.data.dataset import Dataset, write_dataset
from galinfo.data.schema import REQUIRED_COLUMNS
from galinfo.errors import DataValidationError, GalinfoError
from tests.conftest import make_catalog

HYP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_round_trip(tmp_path, catalog, cube):
    out = write_dataset(tmp_path / "ds", catalog, cube, provenance={"source": "test"})
    ds = Dataset.open(out, verify=True)
    assert ds.n == len(catalog)
    assert ds.objid.dtype == np.int64
    np.testing.assert_array_equal(ds.objid, np.asarray(catalog["objid"]))  # exact, never via float
    np.testing.assert_array_equal(ds.column("logmstar"), np.asarray(catalog["logmstar"]))
    assert ds.catalog["r50_r"].unit == "arcsec" and ds.catalog["mag_g"].unit == "mag"
    assert sum(len(ds.rows(s)) for s in ("train", "val", "test")) == ds.n
    rows = np.array([5, 1, 5, 30])
    np.testing.assert_array_equal(ds.images(rows), cube[rows])  # unsorted, repeated rows
    np.testing.assert_array_equal(ds.images(rows, bands=("g", "z")), cube[rows][:, [1, 4]])
    assert ds.image_shape == (5, 16, 16)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["provenance"] == {"source": "test"} and manifest["n_rows"] == ds.n
    flux = ds.petrosian_flux(rows[:2], ("r",))
    np.testing.assert_allclose(22.5 - 2.5 * np.log10(flux[:, 0]), ds.column("mag_r", rows[:2]))


def test_features_and_targets(tmp_path, catalog):
    ds = Dataset.open(write_dataset(tmp_path / "ds", catalog))
    X = ds.features("M_ugriz|M_W123")
    assert X.dtype == np.float32
    assert ds.feature_columns("M_ugriz|M_W123")[-1] == "ebv"
    assert X.shape == (ds.n, 5 + 5 + 3 + 2 + 1)
    assert ds.features("Morph").shape == (ds.n, 21)
    assert ds.target().shape == (ds.n,)


def test_missing_values_in_used_inputs(tmp_path, catalog):
    catalog["mag_g"][3] = np.nan
    ds = Dataset.open(write_dataset(tmp_path / "ds", catalog))
    with pytest.raises(DataValidationError, match=r"mag_g has 1 missing .*first objid: \d+"):
        ds.features("M_ugriz")
    assert len(ds.complete_rows("M_ugriz")) == ds.n - 1
    ds.features("M_ugriz", ds.complete_rows("M_ugriz"))  # fine once the row is left out
    ds.features("M_W123")  # mag_g is not used there


def test_chunked_images(tmp_path, catalog, cube):
    blocks = (cube[i : i + 7] for i in range(0, len(cube), 7))
    ds = Dataset.open(write_dataset(tmp_path / "ds", catalog, blocks))
    np.testing.assert_array_equal(ds.images(), cube)


def test_existing_output_is_kept(tmp_path, catalog):
    out = write_dataset(tmp_path / "ds", catalog)
    with pytest.raises(GalinfoError, match="already exists"):
        write_dataset(out, catalog)
    write_dataset(out, catalog, overwrite=True)


def _assert_nothing_written(tmp_path):
    assert list(tmp_path.iterdir()) == []


# -- malformed tables: each gets its own error and nothing is written ------------------------------
@HYP
@given(drop=st.sampled_from(REQUIRED_COLUMNS))
def test_missing_required_column(tmp_path_factory, drop):
    tmp = tmp_path_factory.mktemp("w")
    cat = make_catalog(20)
    cat.remove_column(drop)
    with pytest.raises(DataValidationError, match=f"required column.*{drop}"):
        write_dataset(tmp / "ds", cat)
    _assert_nothing_written(tmp)


@HYP
@given(i=st.integers(0, 19), j=st.integers(0, 19))
def test_duplicate_objid(tmp_path_factory, i, j):
    if i == j:
        return
    tmp = tmp_path_factory.mktemp("w")
    cat = make_catalog(20)
    cat["objid"][j] = cat["objid"][i]
    with pytest.raises(DataValidationError, match=f"objid has 1 duplicated value.*{int(cat['objid'][i])}"):
        write_dataset(tmp / "ds", cat)
    _assert_nothing_written(tmp)


@HYP
@given(value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_float_objid(tmp_path_factory, value):
    tmp = tmp_path_factory.mktemp("w")
    cat = make_catalog(20)
    cat["objid"] = np.full(20, value) + np.arange(20)
    with pytest.raises(DataValidationError, match="objid must be an integer column"):
        write_dataset(tmp / "ds", cat)
    _assert_nothing_written(tmp)


@HYP
@given(col=st.sampled_from(["z", "logmstar", "mag_r", "w1", "ab_g"]), row=st.integers(0, 19),
       sign=st.sampled_from([1, -1]))
def test_infinite_value(tmp_path_factory, col, row, sign):
    tmp = tmp_path_factory.mktemp("w")
    cat = make_catalog(20)
    cat[col][row] = sign * np.inf
    with pytest.raises(DataValidationError, match=f"column {col} has 1 infinite value.*{int(cat['objid'][row])}"):
        write_dataset(tmp / "ds", cat)
    _assert_nothing_written(tmp)


@HYP
@given(col=st.sampled_from(["split", "cls"]), value=st.text(min_size=1, max_size=6).filter(
    lambda s: s.strip() not in {"train", "val", "test", "sf", "passive", "other"} and s.isprintable()
    and s.isascii() and s.strip() != ""))
def test_bad_labels(tmp_path_factory, col, value):
    tmp = tmp_path_factory.mktemp("w")
    cat = make_catalog(20)
    cat[col] = cat[col].astype("U10")
    cat[col][4] = value
    with pytest.raises(DataValidationError, match=f"column {col} has 1 value"):
        write_dataset(tmp / "ds", cat)
    _assert_nothing_written(tmp)


# -- malformed cubes -------------------------------------------------------------------------------
@HYP
@given(shape=st.sampled_from([(20, 4, 16, 16), (20, 5, 16, 12), (20, 5, 16), (20, 5, 4, 4)]))
def test_wrong_cube_shape(tmp_path_factory, shape):
    tmp = tmp_path_factory.mktemp("w")
    with pytest.raises(DataValidationError, match="image|images"):
        write_dataset(tmp / "ds", make_catalog(20), np.zeros(shape, np.float32))
    _assert_nothing_written(tmp)


@HYP
@given(n=st.integers(1, 40).filter(lambda n: n != 20))
def test_cube_row_count(tmp_path_factory, n):
    tmp = tmp_path_factory.mktemp("w")
    with pytest.raises(DataValidationError, match="catalogue has 20 rows"):
        write_dataset(tmp / "ds", make_catalog(20), np.zeros((n, 5, 16, 16), np.float32))
    _assert_nothing_written(tmp)


@HYP
@given(row=st.integers(0, 19), band=st.integers(0, 4), bad=st.sampled_from([np.nan, np.inf]))
def test_nan_in_images(tmp_path_factory, row, band, bad):
    tmp = tmp_path_factory.mktemp("w")
    cat = make_catalog(20)
    cube = np.zeros((20, 5, 16, 16), np.float32)
    cube[row, band, 3, 4] = bad
    with pytest.raises(DataValidationError, match=f"images of 1 galaxies contain NaN.*{int(cat['objid'][row])}"):
        write_dataset(tmp / "ds", cat, cube)
    _assert_nothing_written(tmp)


def test_misaligned_cube_on_disk(tmp_path, catalog, cube):
    import h5py

    out = write_dataset(tmp_path / "ds", catalog, cube)
    with h5py.File(out / "images.h5", "r+") as f:
        ids = f["objid"][()]
        f["objid"][0], f["objid"][1] = ids[1], ids[0]
    with pytest.raises(DataValidationError, match="misaligned with the catalogue at 2 rows"):
        Dataset.open(out)


def test_interrupted_write_leaves_nothing(tmp_path, catalog, cube):
    def blocks():
        yield cube[:10]
        raise KeyboardInterrupt  # e.g. Ctrl-C half way through a long cube

    with pytest.raises(KeyboardInterrupt):
        write_dataset(tmp_path / "ds", catalog, blocks())
    _assert_nothing_written(tmp_path)


def test_corrupted_checksum(tmp_path, catalog):
    out = write_dataset(tmp_path / "ds", catalog)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["checksums"]["catalog.fits"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    Dataset.open(out)  # fine without verification
    with pytest.raises(DataValidationError, match="checksum of .*catalog.fits"):
        Dataset.open(out, verify=True)


def test_deterministic_bytes(tmp_path, catalog, cube):
    a = write_dataset(tmp_path / "a", catalog, cube)
    b = write_dataset(tmp_path / "b", catalog, cube)
    assert (a / "catalog.fits").read_bytes() == (b / "catalog.fits").read_bytes()
