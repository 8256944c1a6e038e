"""The missing-value contract at import, and the dataset-level seams of real catalogues."""

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from galinfo.cli import app
from galinfo.data.binning import TargetBins
from galinfo.data.dataset import Dataset, write_dataset
from galinfo.data.importers import export_paper_npz, import_paper_npz
from galinfo.data.validate import MASK_RULES, MaskRule, mask_values, plain, require_finite
from galinfo.errors import DataValidationError
from tests.conftest import make_catalog


def test_mask_values_counts_each_reason_once():
    values = np.array([-9999.0, -1.0, 0.0, np.inf, 4.0, 10.0, 14.0, np.nan])
    out, counts = mask_values(values, MASK_RULES["logmstar"])
    assert np.isnan(out[[0, 1, 2, 3, 4, 6, 7]]).all()
    assert counts == {"sentinel -9999": 1, "sentinel -1": 1, "infinite": 1, "below 5": 2, "above 13.5": 1}
    assert out[5] == 10.0
    w, wc = mask_values(np.array([0.0, 12.0, -9999.0]), MaskRule(1.0, 30.0, zero_missing=True))
    assert wc == {"sentinel -9999": 1, "0 = no match": 1} and w[1] == 12.0


def _npz_with_sentinels(tmp_path):
    cat = make_catalog(80, seed=5)
    ds = write_dataset(tmp_path / "clean", cat)
    npz, _ = export_paper_npz(ds, tmp_path / "npz")
    with np.load(npz) as z:
        data = {k: z[k] for k in z.files}
    data["petroMag_u"][:3] = -9999.0
    data["petroMagErr_u"][:3] = -9999.0
    data["lgm_tot_p50"][3] = -1.0
    data["lgm_tot_p50"][4] = -99.0
    data["w1mpro"][5:9] = 0.0  # WISE no match
    data["z"][9] = np.inf
    data["Sersic_n_u"][10] = np.nan  # a failed fit is already missing: not counted as masked
    np.savez(tmp_path / "dirty.npz", **data)
    return tmp_path / "dirty.npz"


def test_import_npz_masks_sentinels_and_reports_per_column(tmp_path):
    ds = Dataset.open(import_paper_npz(_npz_with_sentinels(tmp_path), tmp_path / "ds"))
    masked = ds.manifest["provenance"]["masked"]
    assert masked == {"mag_u": {"sentinel -9999": 3}, "magerr_u": {"sentinel -9999": 3},
                      "logmstar": {"sentinel -1": 1, "sentinel -99": 1}, "w1": {"0 = no match": 4},
                      "z": {"infinite": 1}}
    assert ds.n == 80  # nothing dropped: the analyses leave such galaxies out and count them
    for c in ("mag_u", "magerr_u", "logmstar", "w1"):
        v = ds.column(c)
        assert not np.any(np.isin(v, [-9999.0, -99.0, -1.0, 0.0]))
    res = CliRunner().invoke(app, ["import", "npz", str(tmp_path / "dirty.npz"), str(tmp_path / "ds2")])
    assert res.exit_code == 0, res.output
    assert "masked values: 13" in res.output and "logmstar: 1 sentinel -1, 1 sentinel -99" in res.output


def test_export_writes_survey_sentinels(tmp_path):
    cat = make_catalog(40, seed=2)
    cat["mag_g"][0] = np.nan
    cat["logmstar"][1] = np.nan
    cat["w2"][2] = np.nan
    cat["sersic_n_z"][3] = np.nan
    npz, _ = export_paper_npz(write_dataset(tmp_path / "ds", cat), tmp_path / "npz")
    with np.load(npz) as z:
        assert z["petroMag_g"][0] == -9999.0 and z["lgm_tot_p50"][1] == -1.0 and z["w2mpro"][2] == 0.0
        assert np.isnan(z["Sersic_n_z"][3])
    back = Dataset.open(import_paper_npz(npz, tmp_path / "back"))
    for c in ("mag_g", "logmstar", "w2", "sersic_n_z"):
        np.testing.assert_array_equal(np.isnan(back.column(c)), np.isnan(np.asarray(cat[c])))


def test_checksum_covers_the_image_cube(tmp_path, catalog, cube):
    a = Dataset.open(write_dataset(tmp_path / "a", catalog, cube))
    b = Dataset.open(write_dataset(tmp_path / "b", catalog, cube + 1.0))
    assert a.manifest["checksums"]["catalog.fits"] == b.manifest["checksums"]["catalog.fits"]
    assert a.checksum != b.checksum
    c = Dataset.open(write_dataset(tmp_path / "c", catalog))
    assert c.checksum == c.manifest["checksums"]["catalog.fits"]  # unchanged without images


def test_corrupt_catalog_is_one_line_exit_2(tmp_path, catalog):
    path = write_dataset(tmp_path / "ds", catalog)
    (path / "catalog.fits").write_bytes(b"SIMPLE  =   garbage" + b"\0" * 100)
    with pytest.raises(DataValidationError, match="not a readable FITS table"):
        Dataset.open(path)
    res = subprocess.run([sys.executable, "-m", "galinfo.cli", "info", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "catalog.fits" in res.stderr
    assert "Traceback" not in res.stderr
    cfg = tmp_path / "study.yaml"
    cfg.write_text(f"name: x\ndataset: {{kind: path, path: {path}}}\npid: {{tuples: ['M_ugriz,Morph']}}\n")
    res = subprocess.run([sys.executable, "-m", "galinfo.cli", "study", str(cfg), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before any work


def test_overwrite_keeps_the_old_dataset_until_the_new_one_is_in_place(tmp_path, catalog, monkeypatch):
    import galinfo.data.dataset as dataset_mod

    path = write_dataset(tmp_path / "ds", catalog)
    before = (path / "catalog.fits").read_bytes()
    real_replace = dataset_mod.os.replace

    def failing_replace(src, dst):
        if ".tmp-" in str(src):  # the final rename of the new dataset fails (e.g. disk full)
            raise OSError("simulated failure")
        return real_replace(src, dst)

    monkeypatch.setattr(dataset_mod.os, "replace", failing_replace)
    other = make_catalog(len(catalog), seed=9)
    with pytest.raises(OSError, match="simulated"):
        write_dataset(path, other, overwrite=True)
    assert (path / "catalog.fits").read_bytes() == before
    monkeypatch.setattr(dataset_mod.os, "replace", real_replace)
    write_dataset(path, other, overwrite=True)
    assert (path / "catalog.fits").read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temporary folder left behind


def test_messages_print_plain_numbers():
    with pytest.raises(DataValidationError) as err:
        TargetBins().index(np.array([7.0, 5.5]), column="logmstar")
    assert "(first: 5.5)" in str(err.value) and "np." not in str(err.value)
    assert plain(np.float64(5.5)) == "5.5" and plain(np.int64(3)) == "3"
    with pytest.raises(DataValidationError, match="x has 1 non-finite"):
        require_finite(np.array([1.0, np.nan]), "x")


def test_manifest_of_an_import_is_json(tmp_path):
    path = import_paper_npz(_npz_with_sentinels(tmp_path), tmp_path / "ds")
    assert json.loads((path / "manifest.json").read_text())["provenance"]["importer"] == "paper-npz"
