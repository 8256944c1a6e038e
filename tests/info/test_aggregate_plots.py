"""Aggregation (overall, per class, binned) and figures."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from galinfo.info import binned, per_galaxy_table, summarize
from galinfo.info.plots import plot_atom_bars, plot_band_study, plot_stack


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n = 3000
    cls = rng.choice(["sf", "passive", "other"], size=n, p=[0.5, 0.4, 0.1])
    logm = np.where(cls == "passive", rng.normal(10.8, 0.4, n), rng.normal(9.8, 0.5, n))
    i1 = rng.normal(1.0, 0.5, n) + 0.3 * (logm - 10)
    i2 = rng.normal(0.7, 0.5, n)
    i12 = np.maximum(i1, i2) + rng.normal(0.2, 0.3, n)
    t = per_galaxy_table(np.arange(n, dtype=np.int64), i1, i2, i12,
                         extra={"cls": cls, "logmstar": logm, "mag_r": rng.uniform(14, 17.7, n)})
    return t


def test_summarize(table):
    s = summarize(table, n_boot=200)
    assert list(s["group"]) == ["all", "sf", "passive", "other"]
    assert s["n"][0] == len(table)
    for row in s:
        sel = np.ones(len(table), bool) if row["group"] == "all" else table["cls"] == row["group"]
        assert row["syn"] == pytest.approx(np.mean(table["syn"][sel]))
        assert row["red_lo"] <= row["red"] <= row["red_hi"]
        assert row["red"] + row["unq1"] + row["unq2"] + row["syn"] == pytest.approx(row["i12"])
        # classic MMI on averages: redundancy is the smaller mean information
        assert row["mmi_red"] == pytest.approx(min(row["i1"], row["i2"]))
        assert row["mmi_red"] >= row["red"] - 1e-12  # E[min] <= min(E)


def test_binned_cuts_sparse_bins(table):
    b = binned(table, "logmstar", width=0.25, min_count=40, n_boot=100)
    assert np.all(b["n"] >= 40)
    assert set(b["group"]) <= {"all", "sf", "passive", "other"}
    sf = b[b["group"] == "sf"]
    row = sf[len(sf) // 2]
    sel = (table["cls"] == "sf") & (table["logmstar"] >= row["lo"]) & (table["logmstar"] < row["hi"])
    assert row["n"] == sel.sum()
    assert row["i1"] == pytest.approx(np.mean(table["i1"][sel]))
    loose = binned(table, "logmstar", width=0.25, min_count=1, n_boot=20)
    assert len(loose) > len(b)  # the tails with few galaxies were cut


def test_figures_are_written(table, tmp_path):
    b = binned(table, "mag_r", min_count=30, n_boot=50)
    files = plot_stack(b, tmp_path / "stack_mag_r", source1="M_ugriz", source2="Morph")
    assert [f.suffix for f in files] == [".png", ".pdf"]
    assert all(f.stat().st_size > 1000 for f in files)
    s = summarize(table, n_boot=50)
    files = plot_atom_bars({"<A, B>": s, "<C, D>": s}, tmp_path / "bars")
    assert all(f.exists() for f in files)
    assert isinstance(s, Table)
    files = plot_band_study({"<I_u, I_griz>": s, "<I_g, I_uriz>": s}, tmp_path / "band", names=["u", "g"], title="t")
    assert [f.suffix for f in files] == [".png", ".pdf"] and all(f.stat().st_size > 1000 for f in files)


def test_binned_with_a_class_below_the_minimum_count(table):
    b = binned(table, "logmstar", width=0.25, min_count=200, n_boot=20)
    assert "other" not in set(b["group"])  # ~300 'other' galaxies spread over many bins
    assert b["group"].dtype.kind == "U"


def test_stack_plot_of_an_empty_table_says_so_without_warnings(table, tmp_path):
    import warnings

    empty = binned(table, "mag_r", min_count=10**6, n_boot=5)
    assert len(empty) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's "No artists with labels found to put in legend"
        files = plot_stack(empty, tmp_path / "empty", source1="A", source2="B")
    assert all(f.exists() for f in files)
