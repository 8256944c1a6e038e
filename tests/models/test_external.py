"""Bring your own model: ``galinfo import predictions`` and ``galinfo.models.from_arrays``."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pytest
from astropy.table import Table

from galinfo.data.binning import TargetBins
from galinfo.data.dataset import Dataset, write_dataset
from galinfo.errors import ConfigError, DataValidationError
from galinfo.models import from_arrays, import_predictions
from galinfo.models.outputs import read_predictions
from tests.conftest import make_catalog

N = 200
BINS = TargetBins(6.0, 12.5, 26)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return Dataset.open(write_dataset(tmp_path_factory.mktemp("ds") / "ds", make_catalog(N, seed=5)))


def model_arrays(ds, n=N, d=3, seed=0):
    """Arrays of a fake external model for the first ``n`` galaxies, in reversed order."""
    rng = np.random.default_rng(seed)
    objid = ds.objid[:n][::-1].copy()
    y = ds.column("logmstar")[:n][::-1]
    logits = -0.5 * ((BINS.centers[None, :] - y[:, None]) / 0.4) ** 2 + rng.normal(0, 0.1, (n, BINS.n_bins))
    pdf = np.exp(logits)
    pdf /= pdf.sum(axis=1, keepdims=True)
    latent = np.column_stack([y, rng.normal(size=(n, d - 1))]).astype(np.float32)
    return {"objid": objid, "latent": latent, "pdf": pdf, "point": y + rng.normal(0, 0.1, n)}


def write_fits(path, arrays, **meta):
    t = Table({k: v for k, v in arrays.items()})
    t.meta.update(meta)
    t.write(path, overwrite=True)
    return path


def test_table_and_arrays_give_the_same_run(ds, tmp_path):
    a = model_arrays(ds)
    run_api = from_arrays(ds, a["objid"], latent=a["latent"], pdf=a["pdf"], point=a["point"],
                          inputs="M_ugriz", bins=BINS, out=tmp_path / "api")
    table = write_fits(tmp_path / "m.fits", a, INPUTS="M_ugriz")
    run_file = import_predictions(table, ds.path, tmp_path / "file", bins=BINS)
    p_api, p_file = read_predictions(run_api), read_predictions(run_file)
    assert p_file.input_set == "M_ugriz" and p_file.objective == "external"
    np.testing.assert_array_equal(p_file.objid, ds.objid[:N])  # dataset order, not table order
    assert p_file.objid.dtype == np.int64
    np.testing.assert_array_equal(p_file.split, ds.split[:N])
    np.testing.assert_array_equal(p_file.target, ds.column("logmstar")[:N])
    for name in ("latent", "pdf", "log_q_true", "pdf_mean", "pdf_median", "point"):
        np.testing.assert_array_equal(getattr(p_api, name), getattr(p_file, name), err_msg=name)
    # ln q(true bin) is read off the pdf at the dataset's true bin
    y_bin = BINS.index(p_file.target)
    np.testing.assert_allclose(p_file.log_q_true, np.log(p_file.pdf[np.arange(N), y_bin]), rtol=1e-6)
    rec = p_file.config["external"]
    assert rec["n_missing"] == 0 and rec["latent_dim"] == 3 and rec["columns"] == ["latent", "pdf", "point"]


def test_numbered_latents_hdf5_and_ecsv(ds, tmp_path):
    a = model_arrays(ds, n=150)
    cols = {"objid": a["objid"], **{f"latent_{j}": a["latent"][:, j] for j in range(3)}}
    h5 = tmp_path / "m.h5"
    with h5py.File(h5, "w") as f:
        for k, v in cols.items():
            f.create_dataset(k, data=v)
        f.attrs["inputs"] = "I_ugriz"
    ecsv = tmp_path / "m.ecsv"
    Table(cols).write(ecsv)
    p_h5 = read_predictions(import_predictions(h5, ds, tmp_path / "h5"))
    p_ecsv = read_predictions(import_predictions(ecsv, ds, tmp_path / "ecsv", inputs="I_ugriz"))
    assert p_h5.input_set == "I_ugriz"
    np.testing.assert_array_equal(p_h5.latent, p_ecsv.latent)
    assert len(p_h5) == 150 and p_h5.config["external"]["n_missing"] == N - 150
    assert np.all(np.isnan(p_h5.log_q_true)) and p_h5.pdf is None


def test_log_q_true_only_and_consistency_with_pdf(ds, tmp_path):
    a = model_arrays(ds)
    y_bin = BINS.index(ds.column("logmstar")[:N][::-1])
    log_q = np.log(a["pdf"][np.arange(N), y_bin])
    p = read_predictions(from_arrays(ds, a["objid"], log_q_true=log_q, bins=BINS, inputs="Morph",
                                     out=tmp_path / "lq"))
    np.testing.assert_allclose(p.log_q_true, log_q[::-1])
    with pytest.raises(DataValidationError, match="differs from ln pdf"):
        from_arrays(ds, a["objid"], log_q_true=log_q - 0.5, pdf=a["pdf"], bins=BINS, out=tmp_path / "x")
    with pytest.raises(DataValidationError, match="<= 0"):
        from_arrays(ds, a["objid"], log_q_true=-log_q, bins=BINS, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_existing_run_needs_overwrite(ds, tmp_path):
    a = model_arrays(ds)
    run = from_arrays(ds, a["objid"], latent=a["latent"], out=tmp_path / "r")
    with pytest.raises(ConfigError, match="--overwrite"):
        from_arrays(ds, a["objid"], latent=a["latent"], out=run)
    from_arrays(ds, a["objid"][:10], latent=a["latent"][:10], out=run, overwrite=True)
    assert len(read_predictions(run)) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary folders left


def _bad_tables(ds, tmp_path):
    """(name, path, extra CLI args, a word the error must contain) for each kind of bad file."""
    a = model_arrays(ds)
    out = []

    def fits(name, **cols):
        return write_fits(tmp_path / f"{name}.fits", cols)

    out.append(("no objid", fits("noobjid", latent=a["latent"]), [], "no objid column"))
    out.append(("float objid", fits("float", objid=a["objid"].astype(float), latent=a["latent"]), [],
                "objid is float64"))
    unknown = a["objid"].copy()
    unknown[:3] = [41, 42, 43]
    out.append(("unknown objid", fits("unknown", objid=unknown, latent=a["latent"]), [], "3 of 200 objid"))
    out.append(("unnormalised pdf", fits("unnorm", objid=a["objid"], pdf=a["pdf"] * 1.1), ["--bins", "6,12.5,26"],
                "sum to 1"))
    neg = a["pdf"].copy()
    neg[5, 0] = -0.01
    neg[5, 1] += 0.01
    out.append(("negative pdf", fits("neg", objid=a["objid"], pdf=neg), ["--bins", "6,12.5,26"], "negative"))
    out.append(("wrong bins", fits("bins", objid=a["objid"], pdf=a["pdf"]), [], "26 bins but the target bins are 520"))
    out.append(("ragged numbered latents", fits("ragged1", objid=a["objid"], latent_0=a["latent"][:, 0],
                                                latent_2=a["latent"][:, 2]), [], "latent_1 is missing"))
    ragged = tmp_path / "ragged2.h5"
    with h5py.File(ragged, "w") as f:
        f.create_dataset("objid", data=a["objid"])
        vlen = f.create_dataset("latent", (N,), dtype=h5py.vlen_dtype(np.float32))
        for i in range(N):
            vlen[i] = a["latent"][i, : 2 + (i % 2)]
    out.append(("ragged latent array", ragged, [], "latent is ragged"))
    vla = np.empty(N, dtype=object)
    for i in range(N):
        vla[i] = a["latent"][i, : 2 + (i % 2)].astype(float)
    out.append(("ragged latent fits", fits("ragged3", objid=a["objid"], latent=vla), [], "latent is ragged"))
    out.append(("parquet", tmp_path / "m.parquet", [], "pyarrow"))
    return out


def test_bad_files_one_line_exit_2_nothing_written(ds, tmp_path, monkeypatch, capsys):
    from galinfo.cli import main

    pyarrow = True
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pyarrow = False
    for name, path, extra, needle in _bad_tables(ds, tmp_path):
        if name == "parquet":
            if pyarrow:  # then the Parquet reader works; check that instead of the error
                continue
            path.write_bytes(b"PAR1")
        out = tmp_path / "runs" / name.replace(" ", "_")
        monkeypatch.setattr(sys, "argv", ["galinfo", "import", "predictions", str(path), "--dataset",
                                          str(ds.path), "--out", str(out), "--inputs", "M_ugriz", *extra])
        with pytest.raises(SystemExit) as exc:
            main()
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2, (name, err)
        assert len(err.splitlines()) == 1 and needle in err, (name, err)
        assert not out.exists(), name
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_parquet_when_pyarrow_is_there(ds, tmp_path):
    pytest.importorskip("pyarrow", reason="pyarrow absent: the clear error is tested instead")
    a = model_arrays(ds)
    Table({"objid": a["objid"], "point": a["point"]}).write(tmp_path / "m.parquet")
    p = read_predictions(import_predictions(tmp_path / "m.parquet", ds, tmp_path / "r", inputs="M_ugriz"))
    np.testing.assert_allclose(p.pdf_mean, a["point"][::-1])


def test_bad_inputs_and_bins_options(ds, tmp_path):
    from galinfo.models.external import parse_bins

    a = model_arrays(ds)
    with pytest.raises(ConfigError, match="--inputs 'Nope'"):
        from_arrays(ds, a["objid"], latent=a["latent"], inputs="Nope", out=tmp_path / "x")
    with pytest.raises(ConfigError, match="LOW,HIGH,N_BINS"):
        parse_bins("6,12.5")
    with pytest.raises(ConfigError, match="not increasing"):
        parse_bins("7,6,10")
    with pytest.raises(ConfigError, match="no default bins"):
        from_arrays(ds, a["objid"], pdf=a["pdf"], target="z", out=tmp_path / "x")
    with pytest.raises(DataValidationError, match="none of the columns"):
        from_arrays(ds, a["objid"], out=tmp_path / "x")
    lat = a["latent"].copy()
    lat[3, 1] = np.nan
    with pytest.raises(DataValidationError, match="latent is NaN"):
        from_arrays(ds, a["objid"], latent=lat, out=tmp_path / "x")
