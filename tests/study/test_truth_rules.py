"""Which designed answers of the mock a local test in a latent space must reproduce."""

from __future__ import annotations

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


def test_truth_check_gives_one_row_per_answer_and_question():
    from galinfo.mock.dag import truth_dag
    from galinfo.study.analyses import truth_check_causal

    summary = {**question("M_ugriz|zspec", "ab_r"), "question": "ab_r | S(M_ugriz|zspec)",
               "calibrated": {"global_pvalue": 0.005}}
    checks = truth_check_causal(None, {"causal": [summary]}, truth_dag())
    assert [c["answer"] for c in checks] == ["a_axis_ratio_through_dust"]
    assert checks[0]["right"] and checks[0]["expected"] == "dependent"


def test_truth_check_counts_untested_and_not_interpretable_as_not_right():
    """A NaN p-value (nothing testable, issue 14) reads 'not tested'; a failed regression
    diagnostic (issue 15) reads 'not interpretable'; neither counts as a recovered answer, even
    when the p-value alone would have matched."""
    from galinfo.mock.dag import truth_dag
    from galinfo.study.analyses import truth_check_causal

    base = {**question("M_ugriz|zspec", "ab_r"), "question": "ab_r | S(M_ugriz|zspec)"}
    untested = {**base, "calibrated": {"global_pvalue": float("nan"), "verdict": "untested"}}
    legacy_nan = {**base, "calibrated": {"global_pvalue": float("nan")}}
    inadequate = {**base, "calibrated": {"global_pvalue": 0.001,
                                         "verdict": "regression inadequate: not interpretable"}}
    dependent = {**base, "calibrated": {"global_pvalue": 0.001, "verdict": "dependent"}}
    checks = truth_check_causal(None, {"causal": [untested, legacy_nan, inadequate, dependent]}, truth_dag())
    assert [c["right"] for c in checks] == [False, False, False, True]
    assert checks[0]["found"].startswith("not tested") and checks[1]["found"].startswith("not tested")
    assert checks[2]["found"].startswith("regression inadequate: not interpretable")
    assert checks[3]["found"] == "dependent (p = 0.001)"
