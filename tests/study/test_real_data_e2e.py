"""Real survey data end to end: a mock with SDSS-like defects, exported to the paper's npz format
(sentinels and all), imported again, and studied; each step counts the galaxies it leaves out."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from galinfo.data.dataset import Dataset
from galinfo.data.importers import export_paper_npz, export_sentinel, import_paper_npz
from galinfo.data.schema import BANDS, NUMERIC_COLUMNS
from galinfo.data.validate import count_sentinels
from galinfo.mock import generate
from galinfo.mock.config import MockConfig
from galinfo.study.config import config_from_dict
from galinfo.study.runner import Study

N = 320
DISCOVER_VARS = ["logmstar", "mag_r", "z"]


@pytest.fixture(scope="module")
def defect_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("defects")
    mock = generate(N, 3, root / "mock", config=MockConfig(defects="sdss", chunk_size=200))
    cat, img = export_paper_npz(mock, root / "npz")
    back = import_paper_npz(cat, root / "back", images_npz=img)
    return Dataset.open(mock), Dataset.open(back)


def test_round_trip_leaves_no_sentinel_and_reports_masked_counts(defect_data):
    mock, back = defect_data
    injected = mock.manifest["provenance"]["defects"]["injected"]
    assert injected["failed_mass_fit"] > 0 and injected["failed_morph_u"] > 0  # the seed hits each kind
    assert count_sentinels(back.catalog) == {}
    for c in NUMERIC_COLUMNS:
        v = back.column(c)
        assert not np.any(v == -9999.0), c
        if c in ("w1", "w2", "w3"):
            assert not np.any(v == 0.0), c
    assert not np.any(np.isin(back.column("logmstar"), [-1.0, -99.0]))
    masked = back.manifest["provenance"]["masked"]
    for c in NUMERIC_COLUMNS:  # every value written as a sentinel was masked again, and counted
        n_sentinels = mock.n_missing(c) if not np.isnan(export_sentinel(c)) else 0
        assert sum(masked.get(c, {}).values()) == n_sentinels, c
    assert masked["logmstar"] == {"sentinel -1": injected["failed_mass_fit"]}
    n_bad_mag = sum(masked.get(f"mag_{b}", {}).get("sentinel -9999", 0) for b in BANDS)
    assert n_bad_mag == injected["mag_sentinel"]
    for c in NUMERIC_COLUMNS:
        np.testing.assert_array_equal(np.isnan(back.column(c)), np.isnan(mock.column(c)), err_msg=c)
    assert int(np.sum(back.column("logmstar") < 6)) == injected["mass_below_bins"]


def _study_raw(path, **extra):
    raw = {
        "name": "defects", "dataset": {"kind": "path", "path": str(path)},
        "training": {"preset": "tiny", "max_steps": 6, "overrides": {"eval_every": 3, "checkpoint_every": 3}},
        "latent_models": ["M_ugriz"],
        "pid": {"tuples": ["M_ugriz,M_W123", "M_ugriz,Morph"], "estimator": "model", "bootstrap": 20},
        "causal": [{"latent": "M_ugriz", "query": "ab_r", "k": 30},
                   {"latent": "M_ugriz", "query": "ab_r", "given": "z", "k": 30}],
    }
    raw.update(extra)
    return raw


def _expected_model_left_out(ds: Dataset, columns: list[str]) -> tuple[int, int]:
    has_input = np.all([np.isfinite(ds.column(c)) for c in columns], axis=0)
    y = ds.column("logmstar")
    undefined = ~(np.isfinite(y) & (y >= 6.0) & (y <= 12.5))
    return int((~has_input).sum()), int((has_input & undefined).sum())


@pytest.mark.slow
def test_small_study_on_the_imported_defect_mock(defect_data, tmp_path):
    _, back = defect_data
    out = tmp_path / "study"
    study = Study(config_from_dict(_study_raw(back.path)), out, progress=False)
    study.run()
    results = json.loads((out / "results.json").read_text())
    left = results["left_out"]
    assert set(results["causal"]) == {"ab_r | S(M_ugriz)", "ab_r | S(M_ugriz), z"}
    assert set(left) == {s.name for s in study.steps if s.kind != "report"}  # a count for every step
    for name, inputs in (("model:ce:M_ugriz", "M_ugriz"), ("model:ce:Morph", "Morph"),
                         ("model:ce:M_ugriz|M_W123", "M_ugriz|M_W123")):
        n_input, n_target = _expected_model_left_out(back, list(back.feature_columns(inputs)))
        assert left[name].get("an input missing (no prediction)", 0) == n_input, name
        assert left[name].get("logmstar missing or outside [6, 12.5] (not trained on, ln q undefined)", 0) \
            == n_target, name
    # over all galaxies, the undefined targets are exactly the injected failed and out-of-range masses
    injected = back.manifest["provenance"]["masked"]["logmstar"]["sentinel -1"]
    y = back.column("logmstar")
    assert int(np.sum(~((y >= 6) & (y <= 12.5)))) == injected + int(np.sum(y < 6))
    test = back.split == "test"
    union_cols = list(back.feature_columns("M_ugriz|Morph"))
    has_union = np.all([np.isfinite(back.column(c)) for c in union_cols], axis=0)
    pid_left = left["pid:M_ugriz,Morph"]
    assert pid_left.get("an input of M_ugriz|Morph missing", 0) == int(np.sum(test & ~has_union))
    assert pid_left.get("logmstar missing or outside [6, 12.5]", 0) == int(
        np.sum(test & has_union & ~((y >= 6) & (y <= 12.5))))
    n_pid = results["pid"]["<M_ugriz, Morph>"][0]["n"]
    assert n_pid == int(test.sum()) - sum(pid_left.values())
    for q in results["causal"].values():
        assert q["n_tested"] + q["left_out"].get("no latent in M_ugriz (an input missing)", 0) == back.n
        assert np.isfinite(q["calibrated"]["global_pvalue"])
    assert "Galaxies left out, per step" in (out / "report.html").read_text()


@pytest.mark.slow
def test_discover_cli_scores_like_the_study(defect_data, tmp_path):
    """The same graph gets the same score from `galinfo causal discover --truth` and the study, both
    against the truth projected onto the observed variables."""
    mock, _ = defect_data
    raw = {"name": "disc", "dataset": {"kind": "path", "path": str(mock.path)},
           "discover": {"vars": DISCOVER_VARS}, "seed": 1}
    study = Study(config_from_dict(raw), tmp_path / "study", progress=False)
    study.run()
    from galinfo.study.analyses import DISCOVERY_DEPTH, DISCOVERY_MAX_ROWS, DISCOVERY_PERMUTATIONS

    res = subprocess.run(
        [sys.executable, "-m", "galinfo.cli", "causal", "discover", str(mock.path), "--vars", ",".join(DISCOVER_VARS),
         "--truth", str(mock.path / "truth_dag.json"), "--max-rows", str(DISCOVERY_MAX_ROWS),
         "--n-perm", str(DISCOVERY_PERMUTATIONS), "--depth", str(DISCOVERY_DEPTH), "--k", "10", "--seed", "1",
         "--out", str(tmp_path / "cli")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    cli = json.loads((tmp_path / "cli" / "graph.json").read_text())
    step = json.loads((tmp_path / "study" / "steps" / "discover" / "done.json").read_text())["summary"]
    assert [e["text"] for e in cli["edges"]] == step["edges"]
    assert cli["score"] == step["score"]
    assert step["score"]["n_true_edges"] > 0  # the projection has edges; the restriction had none
