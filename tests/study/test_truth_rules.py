"""Which designed answers of the mock a local test in a latent space must reproduce."""

from __future__ import annotations

import pytest

from galinfo.mock.dag import DESIGNED_ANSWERS
from galinfo.study.analyses import designed_answer_applies, latent_covers

NULL_LUM = DESIGNED_ANSWERS["d_hard_null_null_lum"]["expect"]
AXIS_MAGS, AXIS = DESIGNED_ANSWERS["a_axis_ratio_through_dust"]["expect"]


def question(input_set: str, query: str, given: str | None = None) -> dict:
    return {"input_set": input_set, "query": query, "given": given}


def test_latent_covers_inputs_and_image_bands():
    assert latent_covers("M_ugriz|zspec") == {"mag_u", "mag_g", "mag_r", "mag_i", "mag_z", "z"}
    assert {"mag_u", "mag_z"} <= latent_covers("I_ugriz")
    assert "z" not in latent_covers("I_ugriz")


def test_independence_needs_the_conditioning_set_inside_the_inputs():
    # S of M_ugriz|zspec keeps what mag_r and z say about the mass: null_lum is a null given S
    assert designed_answer_applies(NULL_LUM, "logmstar", question("M_ugriz|zspec", "null_lum"))
    assert designed_answer_applies(NULL_LUM, "logmstar", question("M_ugriz|zspec", "null_lum", "z"))
    # S of M_ugriz was not trained to be sufficient once z is known: no designed answer
    assert not designed_answer_applies(NULL_LUM, "logmstar", question("M_ugriz", "null_lum", "z"))
    assert not designed_answer_applies(NULL_LUM, "logmstar", question("M_ugriz", "null_lum"))


def test_dependence_applies_when_inputs_and_extra_variable_cover_it():
    assert designed_answer_applies(AXIS, "logmstar", question("M_ugriz", "ab_r", "z"))
    assert designed_answer_applies(AXIS, "logmstar", question("M_ugriz|zspec", "ab_r"))
    assert not designed_answer_applies(AXIS, "logmstar", question("M_ugriz", "ab_r"))
    assert designed_answer_applies(AXIS_MAGS, "logmstar", question("M_ugriz", "ab_r"))
    assert not designed_answer_applies(AXIS, "z", question("M_ugriz", "ab_r", "z"))


def test_dependence_given_magnitudes_does_not_apply_given_images():
    # ab_r is measured on the images: given them the path through the disc axis ratio is blocked,
    # so the dependence the magnitudes leave open is no designed answer of an image latent
    for given in (None, "z"):
        assert not designed_answer_applies(AXIS_MAGS, "logmstar", question("I_ugriz", "ab_r", given))
        assert not designed_answer_applies(AXIS, "logmstar", question("I_ugriz|M_W123|zspec", "ab_r", given))
    null = DESIGNED_ANSWERS["c_designed_nulls"]["expect"][1]
    assert designed_answer_applies(null, "logmstar", question("I_ugriz", "null_noise"))


def test_truth_check_gives_one_row_per_answer_and_question():
    from galinfo.mock.dag import truth_dag
    from galinfo.study.analyses import truth_check_causal

    summary = {**question("M_ugriz|zspec", "ab_r"), "question": "ab_r | S(M_ugriz|zspec)",
               "calibrated": {"global_pvalue": 0.005}}
    checks = truth_check_causal(None, {"causal": [summary]}, truth_dag())
    assert [c["answer"] for c in checks] == ["a_axis_ratio_through_dust"]
    assert checks[0]["right"] and checks[0]["expected"] == "dependent"


def test_holm_adjusts_step_down():
    import numpy as np

    from galinfo.study.analyses import holm

    assert np.allclose(holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    assert np.allclose(holm([0.9, 0.8]), [1.0, 1.0])  # capped at 1, monotone in p
    assert holm([]).size == 0


def _asked(input_set, query, p):
    return {**question(input_set, query), "question": f"{query} | S({input_set})", "calibrated": {"global_pvalue": p}}


def test_truth_panel_controls_the_family_wise_error_and_leaves_insufficient_latents_undecided():
    from galinfo.mock.dag import truth_dag
    from galinfo.study.analyses import NOT_SUFFICIENT, decide_truth_panel

    causal = [_asked("M_ugriz|zspec", "ab_r", 0.001), _asked("M_ugriz", "null_noise", 0.03),
              _asked("M_ugriz|zspec", "null_lum", 0.5)]
    checks = {c["answer"]: c for c in decide_truth_panel(causal, truth_dag(), {})}
    # alone, p = 0.03 would call the designed null dependent; Holm over three questions does not (0.06)
    assert checks["c_designed_nulls"]["p_holm"] == pytest.approx(0.06) and checks["c_designed_nulls"]["right"] is True
    assert checks["a_axis_ratio_through_dust"]["right"] is True
    assert checks["d_hard_null_null_lum"]["right"] is True

    # the latent of M_ugriz|zspec is short of sufficient: its rows are undecided and leave the family
    insufficient = {"M_ugriz|zspec": False, "M_ugriz": True}
    checks = {c["answer"]: c for c in decide_truth_panel(causal, truth_dag(), insufficient)}
    for name in ("a_axis_ratio_through_dust", "d_hard_null_null_lum"):
        assert checks[name]["right"] is None and NOT_SUFFICIENT in checks[name]["found"]
    assert checks["c_designed_nulls"]["p_holm"] == pytest.approx(0.03) and checks["c_designed_nulls"]["right"] is False


def test_sufficiency_verdict_uses_the_stated_margin():
    from galinfo.study.analyses import SUFFICIENCY_MARGIN_NATS, sufficiency_verdict

    assert sufficiency_verdict(1.00 + SUFFICIENCY_MARGIN_NATS / 2, 1.00)["sufficient"] is True
    assert sufficiency_verdict(1.00 + 2 * SUFFICIENCY_MARGIN_NATS, 1.00)["sufficient"] is False
    assert sufficiency_verdict(float("nan"), 1.00)["sufficient"] is None


def test_an_untested_question_is_wrong_and_leaves_the_holm_family():
    from galinfo.mock.dag import truth_dag
    from galinfo.study.analyses import decide_truth_panel

    causal = [_asked("M_ugriz|zspec", "ab_r", 0.001), _asked("M_ugriz", "null_noise", float("nan")),
              _asked("M_ugriz|zspec", "null_lum", 0.5)]
    checks = {c["answer"]: c for c in decide_truth_panel(causal, truth_dag(), {})}
    untested = checks["c_designed_nulls"]
    assert untested["right"] is False and untested["p_holm"] is None and "not tested" in untested["found"]
    # two questions in the family, not three
    assert checks["d_hard_null_null_lum"]["p_holm"] == pytest.approx(0.5)
    assert checks["a_axis_ratio_through_dust"]["p_holm"] == pytest.approx(0.002)


def test_untested_and_not_interpretable_questions_are_never_right():
    """A NaN p-value (nothing testable, issue 14) reads 'not tested' and is wrong; a failed
    regression diagnostic (issue 15) reads 'not interpretable' and is undecided, even when the
    p-value alone would have matched the designed answer."""
    from galinfo.causal.citest import INADEQUATE
    from galinfo.mock.dag import truth_dag
    from galinfo.study.analyses import decide_truth_panel

    def one(cal):
        base = {**question("M_ugriz|zspec", "ab_r"), "question": "ab_r | S(M_ugriz|zspec)", "calibrated": cal}
        return decide_truth_panel([base], truth_dag(), {})[0]

    untested = one({"global_pvalue": float("nan"), "verdict": "untested"})
    assert untested["right"] is False and untested["found"].startswith("not tested")
    inadequate = one({"global_pvalue": 0.001, "verdict": INADEQUATE})
    assert inadequate["right"] is None and INADEQUATE in inadequate["found"] and inadequate["p_holm"] is None
    dependent = one({"global_pvalue": 0.001, "verdict": "dependent"})
    assert dependent["right"] is True and dependent["found"].startswith("dependent (p = 0.001")


def test_sufficiency_check_is_two_sided_and_reports_a_loose_comparator():
    """A latent that beats its tightest comparator by more than the margin means the comparator is
    loose: the row reads 'comparator not converged', never 'sufficient', and the latent's causal rows
    are undecided. The tightest of several comparators is the one used."""
    from galinfo.mock.dag import truth_dag
    from galinfo.study.analyses import (
        COMPARATOR_LOOSE,
        SUFFICIENCY_MARGIN_NATS,
        decide_truth_panel,
        sufficiency_verdict,
    )

    loose = sufficiency_verdict(3.80, {"amortised ce": 3.80 + 3 * SUFFICIENCY_MARGIN_NATS})
    assert loose["verdict"] == COMPARATOR_LOOSE and loose["sufficient"] is None
    assert loose["gap_nats"] == pytest.approx(-3 * SUFFICIENCY_MARGIN_NATS)
    # with a tight comparator among the candidates, the same latent is certified
    tight = sufficiency_verdict(3.80, {"amortised ce": 3.95, "dedicated ce": 3.79})
    assert tight["comparator"] == "dedicated ce" and tight["verdict"] == "sufficient" and tight["sufficient"]
    causal = [_asked("M_ugriz|zspec", "ab_r", 0.001), _asked("M_ugriz|zspec", "null_lum", 0.5)]
    checks = decide_truth_panel(causal, truth_dag(), {"M_ugriz|zspec": loose["verdict"]})
    assert checks and all(c["right"] is None and COMPARATOR_LOOSE in c["found"] for c in checks)
