"""Tightness audit: how loose are the information models a study used?

Every information number is a variational lower bound, ``i = ln q(true bin | x) - ln p(true bin)``,
so a loose model under-states what its inputs carry. The audit compares, galaxy by galaxy on the
test split, the model a study used for an input set with an *independent* estimate of the same
inputs: the latent model's own estimator (``scl``: also a function of x alone, so also a valid
bound) and, where the study trains one, a dedicated ``audit`` cross-entropy model. The gap

    gap = mean_i [ln q_independent(y_i | x_i) - ln q_used(y_i | x_i)]   (nats)

is positive when the used model is looser; its standard error is that of a paired mean. The slack
of a set is the largest gap of its independent estimates, floored at 0. A loose model can only
under-state its own information, so a comparison or claim is decided by the run only where its
sign survives the slack of the models whose looseness could have produced it (:func:`decided`).
"""

from __future__ import annotations

import math

import numpy as np

TIGHT_NATS = 0.03
"""An audited gap up to this (nats per galaxy) reads 'tight'."""


def _paired_log_q(run_a: str, run_b: str) -> tuple[np.ndarray, np.ndarray]:
    """ln q(true bin) of two runs on the test galaxies both predicted with a defined value."""
    from galinfo.models.outputs import read_predictions

    a, b = read_predictions(run_a), read_predictions(run_b)
    ok_a = a.mask("test") & a.predicted() & np.isfinite(a.log_q_true)
    ok_b = b.mask("test") & b.predicted() & np.isfinite(b.log_q_true)
    _, ra, rb = np.intersect1d(a.objid[ok_a], b.objid[ok_b], assume_unique=True, return_indices=True)
    return a.log_q_true[np.flatnonzero(ok_a)[ra]], b.log_q_true[np.flatnonzero(ok_b)[rb]]


def _mean_se(d: np.ndarray) -> tuple[float, float]:
    n = d.size
    return (float(d.mean()) if n else math.nan, float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan)


def gap_stats(lq_independent: np.ndarray, lq_used: np.ndarray) -> dict:
    """Mean and standard error (nats) of ln q_independent - ln q_used, paired by galaxy."""
    gap, se = _mean_se(lq_independent - lq_used)
    n = int(lq_used.size)
    return {"n": n, "gap_nats": gap, "gap_se": se,
            "mean_log_q_independent": float(lq_independent.mean()) if n else math.nan,
            "mean_log_q_used": float(lq_used.mean()) if n else math.nan}


def pointwise_floor(lq_a: np.ndarray, lq_b: np.ndarray) -> tuple[float, float]:
    """Noise floor of pointwise atoms from two models of the same inputs (nats, mean and SE).

    The tuple <A, A'> has no synergy or unique information, yet the pointwise rule takes
    max(i_A, i_A') galaxy by galaxy: mean max(i, i') - mean (i + i')/2 = mean |i - i'| / 2 is how far
    model noise alone moves a pointwise atom (and pushes mean synergy down). The prior cancels.
    """
    return _mean_se(0.5 * np.abs(lq_a - lq_b))


def audit_rows(used: dict[str, str], independent: dict[str, dict[str, str]]) -> list[dict]:
    """One row per (input set, independent estimate).

    ``used``: run folder of the information model the study used, by input set; ``independent``:
    {input set: {estimate name: run folder}}. Sets without an independent estimate are left out.
    """
    rows = []
    for inputs, estimates in independent.items():
        if inputs not in used:
            continue
        for name, run in estimates.items():
            lq_ind, lq_used = _paired_log_q(run, used[inputs])
            g = gap_stats(lq_ind, lq_used)
            floor, floor_se = pointwise_floor(lq_ind, lq_used)
            rows.append({"inputs": inputs, "independent": name, **g, "floor_nats": floor, "floor_se": floor_se,
                         "tight": bool(math.isfinite(g["gap_nats"]) and g["gap_nats"] <= TIGHT_NATS)})
    return rows


def slack_by_set(rows: list[dict]) -> dict[str, float]:
    """The audited slack of each input set (nats): its largest gap, floored at 0."""
    out: dict[str, float] = {}
    for r in rows:
        if math.isfinite(r["gap_nats"]):
            out[r["inputs"]] = max(out.get(r["inputs"], 0.0), max(0.0, r["gap_nats"]))
    return out


def floor_by_set(rows: list[dict]) -> dict[str, float]:
    """The pointwise noise floor of each input set (nats): the largest of its audit rows."""
    out: dict[str, float] = {}
    for r in rows:
        if math.isfinite(r.get("floor_nats", math.nan)):
            out[r["inputs"]] = max(out.get(r["inputs"], 0.0), r["floor_nats"])
    return out


def decided(effect: float, plus: tuple[str, ...], minus: tuple[str, ...], slack: dict[str, float],
            floor: float = 0.0) -> tuple[bool, str]:
    """Whether the sign of an effect survives the audited slack of the models behind it.

    ``effect`` (nats) = sum of the informations of the ``plus`` input sets - those of the ``minus``
    sets. A model loose by s under-states its information by up to s, so the true effect lies in
    [effect - slack(minus), effect + slack(plus)]: a positive effect must exceed the summed slack of
    the ``minus`` models, a negative one that of the ``plus`` models (plus ``floor``, the noise floor
    a pointwise atom must also clear). Returns (decided, why). A set whose slack matters and was not
    audited leaves the effect undecided, and ``why`` names it.
    """
    against = minus if effect > 0 else plus
    missing = [s for s in against if s not in slack]
    if missing:
        return False, f"slack of {', '.join(missing)} not audited"
    total = sum(slack[s] for s in against) + floor
    what = "audited slack" + (" + noise floor" if floor else "")
    if abs(effect) > total:
        return True, f"|effect| {abs(effect):.3f} > {what} {total:.3f} nats"
    return False, f"|effect| {abs(effect):.3f} <= {what} {total:.3f} nats of {', '.join(against) or 'none'}"


def default_audit_sets(tuples) -> tuple[str, ...]:
    """The sets behind the headline comparisons (images against photometry) and each tuple's union."""
    from galinfo.data.inputs import parse_inputs
    from galinfo.study.comparisons import IMAGE_PHOTOMETRY_PAIRS

    names = [n for pair in IMAGE_PHOTOMETRY_PAIRS for n in pair]
    names += [(parse_inputs(t.source1) | parse_inputs(t.source2)).name for t in tuples]
    return tuple(dict.fromkeys(parse_inputs(n).name for n in names))


def study_audit(models: list[dict], audits: list[dict]) -> dict:
    """The audit of a study: ``models`` are the summaries of its model, subset and external steps,
    ``audits`` those of its audit steps. The information model of a set is its ``ce`` model; the
    independent estimates are the set's latent model and its audit model."""
    used = {m["inputs"]: m["run"] for m in models if m["objective"] == "ce"}
    independent: dict[str, dict[str, str]] = {}
    for m in models:
        if m["objective"] == "scl":
            independent.setdefault(m["inputs"], {})["latent model (scl)"] = m["run"]
    for a in audits:
        independent.setdefault(a["inputs"], {})["dedicated ce (audit)"] = a["run"]
    rows = audit_rows(used, independent)
    return {"tight_nats": TIGHT_NATS, "rows": rows, "slack": slack_by_set(rows), "floor": floor_by_set(rows),
            "all_tight": bool(rows) and all(r["tight"] for r in rows)}


def tightness_section(audit: dict):
    """The report section of :func:`study_audit`."""
    from galinfo.report.html import Section, TableBlock

    rows = [[r["inputs"], r["independent"], r["n"], f"{r['mean_log_q_used']:.4f}",
             f"{r['mean_log_q_independent']:.4f}", f"{r['gap_nats']:+.4f} ± {r['gap_se']:.4f}",
             "tight" if r["tight"] else "LOOSE", f"{r['floor_nats']:.4f} ± {r['floor_se']:.4f}"]
            for r in audit["rows"]]
    return Section("Tightness of the information models", [
        "Every information number is a lower bound, i = ln q(true bin) − ln p(true bin); a loose model "
        "under-states what its inputs carry. Each row compares, on the same test galaxies, the model the study "
        "used for an input set with an independent estimate of the same inputs (the latent model's own "
        "estimator, or a dedicated cross-entropy model trained for this audit). gap = mean ln q(independent) − "
        f"mean ln q(used), in nats with its paired standard error: positive means the used model is looser. "
        f"A gap up to {audit['tight_nats']:g} nats reads tight. A comparison or claim whose effect is not larger "
        "than the summed slack (the largest gap, floored at 0) of the models behind it is not decided by this run. "
        "Noise floor: the two models of one input set form a tuple ⟨A, A′⟩ whose true synergy and unique "
        "information are 0; mean |i − i′| / 2 is how far model noise alone moves a pointwise atom (it pushes mean "
        "pointwise synergy down by as much), so a pointwise synergy claim must clear it."],
        tables=[TableBlock(["input set", "independent estimate", "n test", "mean ln q used",
                            "mean ln q independent", "gap (nats)", "", "pointwise noise floor (nats)"], rows)]
        if rows else [])
