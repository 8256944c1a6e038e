"""The tightness audit's rules: slack per input set and when an effect is decided by a run."""

import math

import pytest

from galinfo.study.tightness import TIGHT_NATS, decided, default_audit_sets, slack_by_set


def _row(inputs, gap):
    return {"inputs": inputs, "gap_nats": gap, "tight": gap <= TIGHT_NATS}


def test_slack_is_the_largest_gap_floored_at_zero():
    rows = [_row("M_ugriz", 0.02), _row("M_ugriz", 0.05), _row("I_ugriz", -0.01), _row("Morph", math.nan)]
    assert slack_by_set(rows) == {"M_ugriz": pytest.approx(0.05), "I_ugriz": 0.0}


def test_an_effect_is_decided_only_where_its_sign_survives_the_slack():
    slack = {"I_ugriz": 0.01, "M_ugriz": 0.12}
    # images - photometry: a loose photometry model inflates a positive difference
    ok, why = decided(0.30, ("I_ugriz",), ("M_ugriz",), slack)
    assert ok and "0.120" in why
    ok, why = decided(0.10, ("I_ugriz",), ("M_ugriz",), slack)
    assert not ok and "<= audited slack 0.120" in why
    # a negative difference is inflated by the looseness of the image model only
    ok, why = decided(-0.05, ("I_ugriz",), ("M_ugriz",), slack)
    assert ok and "0.010" in why
    # the noise floor adds to the slack; an unaudited model on the side that matters: never decided
    assert not decided(0.10, ("I_ugriz",), ("M_ugriz",), {"M_ugriz": 0.05}, floor=0.06)[0]
    ok, why = decided(1.0, ("I_ugriz",), ("Morph",), slack)
    assert not ok and "Morph not audited" in why
    assert decided(1.0, ("Morph",), ("I_ugriz",), slack)[0]  # Morph's slack cannot flip a positive effect


def test_default_audit_covers_the_headline_sets_and_every_union():
    from galinfo.info.tuples import PAPER_TUPLES

    sets = default_audit_sets(PAPER_TUPLES)
    for name in ("I_ugriz", "M_ugriz", "M_ugriz|M_W123", "I_ugriz|M_W123", "M_ugriz|Morph",
                 "I_ugriz|M_W123|zspec"):
        assert name in sets
    assert len(sets) == len(set(sets))
