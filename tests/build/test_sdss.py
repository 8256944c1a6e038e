"""``galinfo build sdss`` end to end on synthetic frames and a fake archive: the join, WISE, the
missing-value contract, cutouts in images.h5, resumption, failures, the dry run and the CLI."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from galinfo.build.queries import EXTINCTION_R_PER_EBV
from galinfo.build.sdss import BuildOptions, Selection, build_sdss, work_folder
from galinfo.build.service import ServiceError
from galinfo.data.dataset import Dataset, sha256_file
from galinfo.data.schema import BANDS, NUMERIC_COLUMNS
from galinfo.errors import ConfigError
from tests.build.conftest import FakeService
from tests.build.test_cutouts import centroid

pytest.importorskip("reproject")

CHUNK = 20
OPTS = BuildOptions(chunk_size=CHUNK, workers=3)


@pytest.fixture(scope="module")
def built(sky, tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "sdss"
    service = FakeService(sky)
    build_sdss(out, Selection(), OPTS, service=service)
    return Dataset.open(out, verify=True), service


def _by_objid(table: Table, objid: np.ndarray) -> Table:
    index = {int(v): i for i, v in enumerate(table["objid"])}
    return table[[index[int(v)] for v in objid]]


def _selection_order(sky) -> np.ndarray:
    t = sky.truth
    return np.asarray(t["objid"])[np.lexsort((t["objid"], t["field"], t["camcol"], t["run"]))]


def test_join_keeps_objids_int64_and_values(built, sky):
    ds, _ = built
    assert ds.catalog["objid"].dtype.kind == "i" and ds.catalog["objid"].dtype.itemsize == 8
    lost = {int(v) for v in sky.truth["objid"][[4, 9, len(sky.truth) - 1]]}  # edge, NaN pixels, no frames
    assert set(ds.objid.tolist()) == set(sky.truth["objid"].tolist()) - lost
    truth = _by_objid(sky.truth, ds.objid)
    good = np.isfinite(ds.column("mag_u"))
    np.testing.assert_array_equal(ds.column("mag_u")[good], truth["petroMag_u"][good])
    np.testing.assert_allclose(ds.column("ebv"), truth["extinction_r"] / EXTINCTION_R_PER_EBV)
    np.testing.assert_array_equal(ds.column("r90_i"), truth["petroR90_i"])
    np.testing.assert_array_equal(np.asarray(ds.catalog["specobjid"]), truth["specobjid"])
    ssfr = np.asarray(truth["specsfr_tot_p50"])
    expected_cls = np.where(ssfr < -29, "other", np.where(ssfr > -11, "sf", "passive"))
    np.testing.assert_array_equal(np.asarray(ds.catalog["cls"]).astype(str), expected_cls)
    assert set(ds.split) == {"train", "val", "test"}


def test_wise_match_within_radius_and_misses_masked(built, sky):
    ds, _ = built
    truth = _by_objid(sky.truth, ds.objid)
    rows = np.array([int(np.flatnonzero(sky.truth["objid"] == v)[0]) for v in ds.objid])
    wise = sky.wise[rows]
    sep = SkyCoord(truth["ra"], truth["dec"], unit="deg").separation(
        SkyCoord(wise["ra"], wise["dec"], unit="deg")).arcsec
    inside = sep <= 3.0
    assert (~inside).sum() == 2  # the two planted 6" sources
    np.testing.assert_array_equal(ds.column("w1")[inside], wise["w1mpro"][inside])
    assert np.all(np.isnan(ds.column("w1")[~inside])) and np.all(np.isnan(ds.column("w2err")[~inside]))
    np.testing.assert_allclose(ds.column("wise_sep_arcsec")[inside], sep[inside], atol=1e-6)
    w3_undetected = np.ma.getmaskarray(wise["w3sigmpro"]) & inside
    assert w3_undetected.sum() == 1
    assert np.isnan(ds.column("w3")[w3_undetected]).all() and np.isfinite(ds.column("w2")[w3_undetected]).all()


def test_manifest_counts_every_masked_and_dropped_value(built, sky):
    ds, _ = built
    prov = ds.manifest["provenance"]
    masked = prov["masked"]
    for c in NUMERIC_COLUMNS:  # every missing value of the dataset is counted, with a reason
        if c.startswith("sersic_n_"):
            assert c in prov["columns_not_provided"] and ds.n_missing(c) == ds.n
            continue
        assert sum(masked.get(c, {}).values()) == ds.n_missing(c), c
    assert masked["mag_u"] == {"sentinel -9999": 1} and masked["magerr_u"] == {"sentinel -9999": 1}
    assert masked["logmstar"] == {"sentinel -1": 1}
    assert masked["ab_z"] == {"sentinel -9999": 1}
    assert masked["w1"] == {"no ALLWISE source within 3 arcsec": 2}
    assert masked["w3"] == {"no ALLWISE source within 3 arcsec": 2,
                            "ALLWISE non-detection (no w3sigmpro: upper limit)": 1}
    assert prov["dropped"] == {"cutout off the r frame edge": 1, "cutout bad (non-finite) pixels in g": 1,
                               "cutout frame not available": 1}
    assert prov["rows_in"] == len(sky.truth) and prov["rows_out"] == ds.n == len(sky.truth) - 3
    listed = Table.read(ds.path / "masked_cutouts.ecsv", format="ascii.ecsv")
    assert sorted(listed["objid"].tolist()) == sorted(sky.truth["objid"][[4, 9, len(sky.truth) - 1]].tolist())
    assert prov["data_release"] == 17 and "MPA-JHU" in prov["citation"] and "ALLWISE" in prov["citation"]
    assert prov["service"]["name"] == "fake SDSS (tests)"
    assert prov["queries"][0].startswith("SELECT p.objID AS objid")  # the selection, then per chunk
    assert len(prov["queries"]) == 1 + 2 * int(np.ceil(len(sky.truth) / CHUNK))
    frames = prov["frames_sha256"]
    assert len(frames) == 24 * len(BANDS)
    for name, digest in list(frames.items())[:10]:
        path = sky.frames_dir / name
        assert sha256_file(path) == digest


def test_images_are_centred_aligned_and_in_nanomaggies(built, sky):
    ds, _ = built
    assert ds.image_shape == (5, 64, 64)
    truth = _by_objid(sky.truth, ds.objid)
    rows = np.arange(0, ds.n, 7)
    cube = ds.images(rows)
    dx, dy = ds.column("cutout_dx", rows), ds.column("cutout_dy", rows)
    for j, i in enumerate(rows):
        x0, y0 = 31.5 + dx[j], 31.5 + dy[j]
        for k, b in enumerate(BANDS):
            cx, cy = centroid(cube[j, k], x0, y0)
            assert abs(cx - x0) < 0.1 and abs(cy - y0) < 0.1, (i, b)
            np.testing.assert_allclose(cube[j, k].sum(), truth[f"true_flux_{b}"][i], rtol=0.002, atol=1.3)


def test_interrupted_build_resumes_without_redoing_chunks(built, sky, tmp_path):
    full, _ = built
    order = _selection_order(sky)
    out = tmp_path / "resume"
    failing = FakeService(sky, fail_on_objid=int(order[2 * CHUNK]))  # the first galaxy of chunk 3
    with pytest.raises(ServiceError) as err:
        build_sdss(out, Selection(), OPTS, service=failing)
    assert "chunk 3" in str(err.value) and "rerun to resume" in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()
    assert sorted(p.name for p in (work_folder(out) / "chunks").glob("*.fits")) == \
        ["chunk-00001.fits", "chunk-00002.fits"]
    again = FakeService(sky)
    build_sdss(out, Selection(), OPTS, service=again)
    asked = {int(v) for sql in again.sql for v in sql.split("IN (")[1].split(")")[0].split(",")}
    assert asked == set(order[2 * CHUNK :].tolist())  # chunks 3-5 only; no selection query either
    done_fields = {tuple(r) for r in sky.truth[np.isin(sky.truth["objid"], order[: 2 * CHUNK])]
                   ["run", "camcol", "field"]}
    todo_fields = {tuple(r) for r in sky.truth[np.isin(sky.truth["objid"], order[2 * CHUNK :])]
                   ["run", "camcol", "field"]}
    requested = {f[:3] for f in again.frames}
    assert requested == todo_fields and requested.isdisjoint(done_fields - todo_fields)
    resumed = Dataset.open(out)
    np.testing.assert_array_equal(resumed.objid, full.objid)
    np.testing.assert_array_equal(resumed.images(), full.images())
    for c in ("mag_r", "w1", "logmstar"):
        np.testing.assert_array_equal(resumed.column(c), full.column(c))
    np.testing.assert_array_equal(resumed.split, full.split)


def test_work_folder_of_another_build_is_refused(sky, tmp_path):
    out = tmp_path / "a"
    build_sdss(out, Selection(limit=5), BuildOptions(chunk_size=5, images=False), service=FakeService(sky))
    with pytest.raises(ConfigError, match="holds another build"):
        build_sdss(tmp_path / "a", Selection(limit=6), BuildOptions(chunk_size=5, images=False),
                   service=FakeService(sky), overwrite=True)


def test_coordinate_selection_counts_misses_and_repeats(sky, tmp_path, monkeypatch):
    import galinfo.build.sdss as builder

    monkeypatch.setattr(builder, "KEYS_PER_QUERY", 3)  # chunks of 4 positions in queries of 3 and 1
    t = sky.truth
    ra = [*t["ra"][:6], t["ra"][0] + 1e-5, 10.0]  # a repeat of galaxy 0 (0.04") and an empty position
    dec = [*t["dec"][:6], t["dec"][0], 0.0]
    out = build_sdss(tmp_path / "c", Selection(ra=tuple(ra), dec=tuple(dec)),
                     BuildOptions(chunk_size=4, images=False), service=FakeService(sky))
    ds = Dataset.open(out)
    assert sorted(ds.objid.tolist()) == sorted(t["objid"][:6].tolist())
    dropped = ds.manifest["provenance"]["dropped"]
    assert dropped["matched a galaxy already selected"] == 1
    assert dropped["not found in SDSS (no GALAXY spectrum with zWarning = 0 and an MPA-JHU entry)"] == 1
    assert not ds.has_images


# -- the command line ----------------------------------------------------------------------------
def _main(monkeypatch, capsys, *args, service=None):
    """Run ``galinfo.cli.main`` in-process with the fake service injected at the CLI's seam."""
    import galinfo.build.commands as commands
    from galinfo.cli import main

    if service is not None:
        monkeypatch.setattr(commands, "_service_factory", lambda: service)
    monkeypatch.setattr(sys, "argv", ["galinfo", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at the terminal width
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def test_failing_service_one_line_exit_2_no_dataset(sky, tmp_path, monkeypatch, capsys):
    out = tmp_path / "fail"
    order = _selection_order(sky)
    code, _, err = _main(monkeypatch, capsys, "build", "sdss", out, "--chunk-size", CHUNK,
                         service=FakeService(sky, fail_on_objid=int(order[CHUNK])))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "SkyServer catalogue query of chunk 2 failed: ConnectionError: HTTP 503" in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fail.tmp")]
    assert (work_folder(out) / "chunks" / "chunk-00001.fits").exists()  # kept for the resume


def test_refused_where_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    code, _, err = _main(monkeypatch, capsys, "build", "sdss", tmp_path / "x", "--where", "z<0.1; DROP TABLE",
                         service=None)
    assert code == 2 and "unexpected ';'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() and not work_folder(tmp_path / "x").exists()


def test_dry_run_prints_queries_and_size_without_network(sky, tmp_path, monkeypatch, capsys):
    ids = tmp_path / "ids.csv"
    Table({"objid": sky.truth["objid"][:30]}).write(ids, format="ascii.csv")

    def no_service():
        raise AssertionError("the dry run asked for a service")

    import galinfo.build.commands as commands

    monkeypatch.setattr(commands, "_service_factory", no_service)
    code, out, _ = _main(monkeypatch, capsys, "build", "sdss", tmp_path / "dry", "--objids", ids,
                         "--chunk-size", 10, "--dry-run")
    assert code == 0
    assert f"p.objID IN ({','.join(str(v) for v in sky.truth['objid'][:10])})" in out
    assert "FROM allwise_p3as_psd" in out
    assert "estimated download for 30 galaxies: 6 queries" in out
    assert "at most 0.51 GB" in out  # 30 x 5 frames x 3.5 MB
    code, out, _ = _main(monkeypatch, capsys, "build", "sdss", tmp_path / "dry", "--where",
                         "z < 0.1 AND petroMag_r < 17.77", "--dry-run")
    assert code == 0 and "AND (s.z < 0.1 AND p.petroMag_r < 17.77)" in out and "give --limit" in out
    assert not (tmp_path / "dry").exists() and not work_folder(tmp_path / "dry").exists()


def test_cli_objid_table_build_then_info(sky, tmp_path, monkeypatch, capsys):
    ids = tmp_path / "ids.ecsv"
    chosen = np.concatenate([sky.truth["objid"][10:40], sky.truth["objid"][10:12], [1237650000000000000]])
    Table({"objid": chosen}).write(ids, format="ascii.ecsv")
    out = tmp_path / "ids_ds"
    code, text, err = _main(monkeypatch, capsys, "build", "sdss", out, "--objids", ids, "--no-images",
                            "--chunk-size", 16, service=FakeService(sky))
    assert code == 0, err
    assert "30 galaxies from 33 rows" in text
    dropped = Dataset.open(out).manifest["provenance"]["dropped"]
    assert dropped["duplicate objid in the input"] == 2
    assert dropped["not found in SDSS (no GALAXY spectrum with zWarning = 0 and an MPA-JHU entry)"] == 1
    code, text, _ = _main(monkeypatch, capsys, "info", out)
    assert code == 0 and "30 galaxies" in text and "M_ugriz|M_W123" in text


def test_built_dataset_serves_info_and_train(built, tmp_path, monkeypatch, capsys):
    ds, _ = built
    code, text, err = _main(monkeypatch, capsys, "info", ds.path, "--verify")
    assert code == 0, err
    assert f"{ds.n} galaxies" in text and "image cube: 5x64x64" in text
    code, text, err = _main(monkeypatch, capsys, "train", ds.path, "--inputs", "M_ugriz", "--objective", "ce",
                            "--preset", "tiny", "--max-steps", 20, "--out", tmp_path / "m", "--device", "cpu")
    assert code == 0, err
    assert (tmp_path / "m" / "predictions.h5").exists()
    code, text, err = _main(monkeypatch, capsys, "train", ds.path, "--inputs", "I_ugriz", "--objective", "ce",
                            "--preset", "tiny", "--max-steps", 4, "--batch-size", 16, "--out", tmp_path / "i",
                            "--device", "cpu")
    assert code == 0, err
    assert (tmp_path / "i" / "predictions.h5").exists()


def test_built_dataset_runs_a_small_study(built, tmp_path):
    from galinfo.study.config import config_from_dict
    from galinfo.study.runner import Study

    ds, _ = built
    raw = {"name": "sdss-build", "dataset": {"kind": "path", "path": str(ds.path)},
           "training": {"preset": "tiny", "max_steps": 6, "overrides": {"eval_every": 3, "checkpoint_every": 3}},
           "latent_models": ["M_ugriz"]}  # models (ce, scl), KNN and the report; a causal step adds ~40 s
    out = tmp_path / "study"
    study = Study(config_from_dict(raw), out, progress=False)
    study.run()
    results = json.loads((out / "results.json").read_text())
    assert set(results["left_out"]) == {s.name for s in study.steps if s.kind != "report"}
    left = results["left_out"]["model:ce:M_ugriz"]
    assert left.get("an input missing (no prediction)", 0) == 1  # the galaxy with the u sentinel
    assert "Galaxies left out, per step" in (out / "report.html").read_text()


def test_a_chunk_without_any_found_galaxy(sky, tmp_path):
    ids = (*sky.truth["objid"][10:12].tolist(), 5, 7, *sky.truth["objid"][12:14].tolist())
    out = build_sdss(tmp_path / "gap", Selection(objids=tuple(ids)), BuildOptions(chunk_size=2),
                     service=FakeService(sky))
    ds = Dataset.open(out)
    assert ds.objid.tolist() == sky.truth["objid"][10:14].tolist() and ds.image_shape == (5, 64, 64)
    assert ds.manifest["provenance"]["dropped"] == {
        "not found in SDSS (no GALAXY spectrum with zWarning = 0 and an MPA-JHU entry)": 2}


def test_astroquery_service_with_a_local_mirror_through_the_clients_hooks(sky, tmp_path):
    """The real service class, its clients replaced by stubs that answer like astroquery's
    (SDSS.query_sql; Irsa.tap.run_sync(...).to_table()); frames from --frames DIR."""
    pytest.importorskip("astroquery")
    from galinfo.build.service import AstroqueryService, Polite

    fake = FakeService(sky)

    class StubSDSS:
        def query_sql(self, sql, *, data_release, timeout, cache):
            assert data_release == 17 and cache is False
            result = fake.query_sql(sql)
            result["objid"] = result["objid"].astype(np.uint64)  # as astroquery returns it
            return result

        def get_images_async(self, **kwargs):
            raise AssertionError("a local mirror never downloads")

    class StubTap:
        def run_sync(self, adql, uploads):
            radius = float(re.search(r"u\.dec, ([0-9.e-]+)\)\)", adql).group(1)) * 3600
            table = fake.allwise(uploads["pos"], radius)
            return type("Result", (), {"to_table": lambda self: table})()

    work = tmp_path / "m.work"
    service = AstroqueryService(work / "cache", frames_dir=sky.frames_dir, polite=Polite(rate=1000.0))
    service.sdss, service.irsa = StubSDSS(), type("Irsa", (), {"tap": StubTap()})()
    out = build_sdss(tmp_path / "m", Selection(limit=12), BuildOptions(chunk_size=6), service=service)
    ds = Dataset.open(out)
    prov = ds.manifest["provenance"]
    # the first 12 in frame order (fields 0, 1 and two of field 2), less the galaxy off the r frame
    # edge (field 0) and the one on NaN pixels (field 1)
    assert ds.n == 10
    assert prov["dropped"] == {"cutout off the r frame edge": 1, "cutout bad (non-finite) pixels in g": 1}
    assert prov["service"]["frames"] == str(sky.frames_dir) and prov["service"]["name"].startswith("astroquery")
    assert prov["service"]["rate_limit_per_s"] == 1000.0
    assert len(list((work / "cache" / "sql").glob("*.ecsv"))) == 3  # selection + 2 chunks, cached
    assert len(list((work / "cache" / "allwise").glob("*.ecsv"))) == 2
    assert ds.catalog["objid"].dtype.kind == "i"
    assert set(ds.objid.tolist()) <= set(sky.truth["objid"].tolist())


def test_long_chunks_are_asked_in_short_queries(sky, tmp_path, monkeypatch):
    import galinfo.build.sdss as builder

    monkeypatch.setattr(builder, "KEYS_PER_QUERY", 7)
    service = FakeService(sky)
    ids = tuple(sky.truth["objid"][:40].tolist())
    ds = Dataset.open(build_sdss(tmp_path / "short", Selection(objids=ids), BuildOptions(chunk_size=20, images=False),
                                 service=service))
    sizes = [len(sql.split("IN (")[1].split(")")[0].split(",")) for sql in service.sql]
    assert sizes == [7, 7, 6, 7, 7, 6]
    assert sorted(ds.objid.tolist()) == sorted(ids)
    assert len(ds.manifest["provenance"]["queries"]) == 6 + 2  # six catalogue queries, two ALLWISE
