"""PID rules: exact answers on discrete gates and the identity red + unq1 + unq2 + syn = i12."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from galinfo.errors import ConfigError, DataValidationError
from galinfo.info import ATOMS, average_atoms, mmi_on_averages, pid

LN2 = np.log(2.0)


def exact_pointwise(joint: dict[tuple, float]):
    """Exact local informations i1, i2, i12 (nats) and probabilities of each outcome (x1, x2, y)."""
    p_y, p_x1, p_x2, p_x1y, p_x2y = (defaultdict(float) for _ in range(5))
    for (x1, x2, y), p in joint.items():
        p_y[y] += p
        p_x1[x1] += p
        p_x2[x2] += p
        p_x1y[x1, y] += p
        p_x2y[x2, y] += p
    p_x12 = defaultdict(float)
    for (x1, x2, _), p in joint.items():
        p_x12[x1, x2] += p
    out = {"i1": [], "i2": [], "i12": [], "w": []}
    for (x1, x2, y), p in joint.items():
        out["i1"].append(np.log(p_x1y[x1, y] / p_x1[x1] / p_y[y]))
        out["i2"].append(np.log(p_x2y[x2, y] / p_x2[x2] / p_y[y]))
        out["i12"].append(np.log(p / p_x12[x1, x2] / p_y[y]))
        out["w"].append(p)
    return {k: np.array(v) for k, v in out.items()}


def bits():
    return [(a, b) for a in (0, 1) for b in (0, 1)]


GATES = {
    # name: (joint over (x1, x2, y), expected averaged atoms of the pointwise-min rule, derived by hand)
    "xor": ({(a, b, a ^ b): 0.25 for a, b in bits()}, {"red": 0, "unq1": 0, "unq2": 0, "syn": LN2}),
    "copy": ({(a, b, (a, b)): 0.25 for a, b in bits()}, {"red": LN2, "unq1": 0, "unq2": 0, "syn": LN2}),
    "rdn": ({(a, a, a): 0.5 for a in (0, 1)}, {"red": LN2, "unq1": 0, "unq2": 0, "syn": 0}),
    "unq": ({(a, b, a): 0.25 for a, b in bits()}, {"red": 0, "unq1": LN2, "unq2": 0, "syn": 0}),
    # AND: outcomes (0,0,0) (0,1,0) (1,0,0) (1,1,1) with i-values ln4/3, ln2/3, ln2 (see docs/info.md)
    "and": (
        {(a, b, a & b): 0.25 for a, b in bits()},
        {
            "red": 0.25 * (np.log(4 / 3) + 2 * np.log(2 / 3) + LN2),
            "unq1": 0.25 * LN2,
            "unq2": 0.25 * LN2,
            "syn": 0.25 * LN2,
        },
    ),
}


@pytest.mark.parametrize("gate", sorted(GATES))
def test_gates_pointwise_min_rule(gate):
    joint, expected = GATES[gate]
    v = exact_pointwise(joint)
    atoms = pid(v["i1"], v["i2"], v["i12"])
    got = average_atoms(atoms, weights=v["w"])
    for a in ATOMS:
        assert got[a] == pytest.approx(expected[a], abs=1e-12), a


def test_xor_local_values_are_exact():
    v = exact_pointwise(GATES["xor"][0])
    np.testing.assert_allclose(v["i1"], 0.0, atol=1e-15)
    np.testing.assert_allclose(v["i12"], LN2, rtol=1e-15)


def test_and_gate_classic_mmi_on_averages():
    v = exact_pointwise(GATES["and"][0])
    m = mmi_on_averages(v["i1"], v["i2"], v["i12"], weights=v["w"])
    h_y = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    i_x1 = h_y - 0.5 * LN2  # H(Y) - H(Y|X1): Y is fixed when x1 = 0, a fair bit when x1 = 1
    assert m["i1"] == pytest.approx(i_x1, abs=1e-12)
    assert m["i12"] == pytest.approx(h_y, abs=1e-12)
    assert m["red"] == pytest.approx(i_x1, abs=1e-12)
    assert m["unq1"] == pytest.approx(0.0, abs=1e-12)
    assert m["syn"] == pytest.approx(h_y - i_x1, abs=1e-12)


def test_ccs_type_rule_on_gates():
    # XOR: local co-information is -ln2 everywhere but i1 = i2 = 0, so no redundancy is counted.
    v = exact_pointwise(GATES["xor"][0])
    got = average_atoms(pid(v["i1"], v["i2"], v["i12"], "ccs_pointwise"), v["w"])
    assert got["red"] == pytest.approx(0.0, abs=1e-12)
    assert got["syn"] == pytest.approx(LN2, abs=1e-12)
    # RDN: everything is redundant.
    v = exact_pointwise(GATES["rdn"][0])
    got = average_atoms(pid(v["i1"], v["i2"], v["i12"], "ccs_pointwise"), v["w"])
    assert got["red"] == pytest.approx(LN2, abs=1e-12)
    assert got["syn"] == pytest.approx(0.0, abs=1e-12)


finite = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(*(arrays(np.float64, n, elements=finite) for _ in range(3)))
    ),
    st.sampled_from(["mmi_pointwise", "ccs_pointwise"]),
)
def test_identity_holds_per_galaxy(arrs, measure):
    i1, i2, i12 = arrs
    atoms = pid(i1, i2, i12, measure=measure)
    total = atoms["red"] + atoms["unq1"] + atoms["unq2"] + atoms["syn"]
    scale = 1.0 + np.abs(i1) + np.abs(i2) + np.abs(i12)
    assert np.all(np.abs(total - i12) <= 8 * np.finfo(float).eps * scale)
    if measure == "mmi_pointwise":
        assert np.all(np.minimum(atoms["unq1"], atoms["unq2"]) == 0)
        assert np.all(atoms["unq1"] >= 0) and np.all(atoms["unq2"] >= 0)


def test_bad_inputs_raise():
    with pytest.raises(ConfigError, match="unknown PID measure"):
        pid([0.1], [0.2], [0.3], measure="nope")
    with pytest.raises(DataValidationError, match="same shape"):
        pid([0.1, 0.2], [0.2], [0.3])
    with pytest.raises(DataValidationError, match="non-finite"):
        pid([np.nan], [0.2], [0.3])
