"""Tuple specs and the model planner."""

from __future__ import annotations

import pytest

from galinfo.data.inputs import parse_inputs
from galinfo.errors import ConfigError
from galinfo.info import PAPER_TUPLES, TupleSpec, band_study_tuples, plan_models


def test_paper_tuples_and_unions():
    assert len(PAPER_TUPLES) == 5
    unions = [t.union for t in PAPER_TUPLES]
    assert unions[1] == parse_inputs("M_ugriz|Morph").name
    assert unions[4] == parse_inputs("I_ugriz|M_W123|zspec").name
    assert PAPER_TUPLES[1].catalogue_only and not PAPER_TUPLES[0].catalogue_only


def test_band_studies():
    bs = band_study_tuples()
    images = [t for t in bs if t.source1.startswith("I_")]
    mags = [t for t in bs if t.source1.startswith("M_")]
    assert len(images) == 5 + 4 and len(mags) == 8 + 7
    assert {t.union for t in images} == {"I_ugriz"}
    assert {t.union for t in mags} == {parse_inputs("M_ugrizW123").name}
    g = next(t for t in images if t.source1 == "I_g")
    assert parse_inputs(g.source2).image_bands == ("u", "r", "i", "z")
    zw1 = next(t for t in mags if t.source1 == parse_inputs("M_zW1").name)
    assert parse_inputs(zw1.source2).mags == ("u", "g", "r", "i", "w2", "w3")


def test_planner_dedups_shared_models():
    tuples = PAPER_TUPLES + band_study_tuples()
    plan = plan_models(tuples)
    assert len(plan) == len(set(plan))
    assert plan.count("I_ugriz") == 1
    needed = {m for t in tuples for m in t.models}
    assert set(plan) == needed
    assert len(plan) < 3 * len(tuples)


def test_parse():
    t = TupleSpec.parse("M_ugriz, Morph")
    assert t.models == ("M_ugriz", "Morph", "M_ugriz|Morph")
    with pytest.raises(ConfigError):
        TupleSpec.parse("M_ugriz")


def test_band_studies_are_the_band_study_tuples_by_id():
    from galinfo.info.tuples import BAND_STUDIES, band_studies

    studies = band_studies()
    assert list(studies) == list(BAND_STUDIES) == [2, 3, 4, 5]
    assert [len(v) for v in studies.values()] == [5, 4, 8, 7]
    assert tuple(t for v in studies.values() for t in v) == band_study_tuples()
    assert all(parse_inputs(t.source1).has_images for t in studies[2] + studies[3])
    assert not any(parse_inputs(t.source1).has_images for t in studies[4] + studies[5])
    assert {t.union for t in studies[2] + studies[3]} == {"I_ugriz"}
