"""The qualitative claims of Zhang, Lin, Ting et al. (2025) checked against a study's results.

Each claim is a small :class:`PaperClaim` that reads ``results.json`` and says what this run measured,
whether that agrees with the paper, and, where the study ran on the mock, what the mock's design
predicts (so that a disagreement can be explained). A claim the study has no numbers for is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from galinfo.info.tuples import band_studies
from galinfo.report.html import Section, TableBlock
from galinfo.study.comparisons import images_ahead
from galinfo.study.tightness import decided

ALL = "all"
AGREEMENT_WORDS = {True: "agrees", False: "differs", None: "undecided"}


def _row(results: dict, tuple_label: str, group: str = ALL) -> dict | None:
    return next((g for g in results.get("pid", {}).get(tuple_label, []) if g["group"] == group), None)


def _ci(g: dict, atom: str) -> str:
    return f"{g[atom]:+.3f} [{g[atom + '_lo']:+.3f}, {g[atom + '_hi']:+.3f}]"


@dataclass(frozen=True)
class Verdict:
    """What a run measured for a claim. ``effect`` (nats) and ``models`` (the input sets whose
    information models it rests on, with their signs) let the tightness audit undecide an effect
    within their slack."""

    measured: str
    agrees: bool | None
    note: str = ""
    effect: float | None = None
    plus: tuple[str, ...] = ()
    minus: tuple[str, ...] = ()
    pointwise: bool = False
    """``effect`` = information of the ``plus`` input sets - that of the ``minus`` ones
    (:func:`galinfo.study.tightness.decided`); a pointwise atom must also clear the noise floor of
    ``plus[0]``."""


class PaperClaim:
    """One claim of the paper: ``statement`` in its words, ``check`` of a results mapping."""

    key: str = ""
    statement: str = ""

    def check(self, results: dict) -> Verdict | None:  # pragma: no cover - interface
        raise NotImplementedError


class MorphologySynergy(PaperClaim):
    key = "photometry_morphology_synergy"
    statement = "Separating photometry from morphology loses synergy: ⟨M_ugriz, Morph⟩ has positive synergy."

    def check(self, results):
        g = _row(results, "<M_ugriz, Morph>")
        if g is None:
            return None
        agrees = g["syn_lo"] > 0
        gain = g["i12"] - max(g["i1"], g["i2"])
        note = "" if agrees else (
            f"The union gains {gain:+.3f} nats on average over the better source, but the pointwise minimum "
            "rule counts synergy galaxy by galaxy (i12 − max(i1, i2)), and the union model is below the better "
            "source for enough galaxies to make the mean negative. In the mock, morphology tells about the mass "
            "through the disc inclination (grey dust) and the bulge fraction (docs/mock.md), which the catalogue's "
            "axis ratios and Sérsic indices measure only roughly.")
        return Verdict(f"syn = {_ci(g, 'syn')} nats (all test galaxies)", agrees, note, g["syn"],
                       ("M_ugriz|Morph",), ("M_ugriz", "Morph"), pointwise=True)


class ImagesBeatPhotometry(PaperClaim):
    key = "images_beat_optical_and_infrared_photometry"
    statement = "Optical images carry more stellar-mass information than optical and infrared photometry together."

    def check(self, results):
        row = next((r for r in results.get("images_vs_photometry", [])
                    if r["images"] == "I_ugriz" and r["photometry"] == "M_ugriz|M_W123"), None)
        if row is None:
            return None
        agrees = images_ahead(row)
        measured = (f"I_ugriz − M_ugriz|M_W123: Δi = {row['d_info']:+.3f} ± {row['d_info_se']:.3f} nats, "
                    f"Δσ_MAD = {row['d_sigma_mad']:+.4f} ± {row['d_sigma_mad_se']:.4f} dex")
        note = "" if agrees else ("The mock's images add resolved colours (bulge/disc) and sizes to the integrated "
                                  "fluxes; an encoder that does not extract them cannot beat the photometry.")
        return Verdict(measured, agrees, note, row["d_info"], ("I_ugriz",), ("M_ugriz|M_W123",))


class InfraredAddsLessWithImages(PaperClaim):
    key = "infrared_adds_less_with_images"
    statement = ("Negative information shrinks the added value of infrared photometry once images are present: "
                 "M_W123 adds less to I_ugriz than to M_ugriz.")

    def check(self, results):
        gi, gm = _row(results, "<I_ugriz, M_W123>"), _row(results, "<M_ugriz, M_W123>")
        if gi is None or gm is None:
            return None
        add_i, add_m = gi["i12"] - gi["i1"], gm["i12"] - gm["i1"]
        agrees = add_i < add_m
        measured = (f"i12 − i1: {add_i:+.3f} nats with images, {add_m:+.3f} with photometry; "
                    f"syn {gi['syn']:+.3f} vs {gm['syn']:+.3f}")
        note = "" if agrees else ("The mock's W1–W3 come from the same SEDs as the optical fluxes; where the images "
                                  "already pin the SED, less is left for WISE to add.")
        return Verdict(measured, agrees, note, add_m - add_i, ("M_ugriz|M_W123", "I_ugriz"),
                       ("M_ugriz", "I_ugriz|M_W123"))


class BandSynergyInvolvesG(PaperClaim):
    key = "band_synergy_involves_g"
    statement = "Strong synergy across and within bands, especially involving the g band (image band studies)."

    def check(self, results):
        single = {t: _row(results, t.label) for t in band_studies()[2]}  # each image band vs the other four
        single = {t: g for t, g in single.items() if g is not None}
        if len(single) < 2:
            return None
        syn = {t.source1.removeprefix("I_"): g["syn"] for t, g in single.items()}
        top = max(syn, key=syn.get)
        positive = sum(v > 0 for v in syn.values())
        agrees = positive == len(syn) and top == "g"
        measured = ("synergy of each band with the other four: " + ", ".join(f"{b} {v:+.3f}" for b, v in syn.items())
                    + f" nats; largest: {top}")
        # a union less informative than one of its own subsets: the model, not the data (information
        # cannot drop when a band is added)
        below = {t.source2: g["i2"] - g["i12"] for t, g in single.items() if g["i2"] > g["i12"]}
        notes = []
        notes.append("g leads, as in the paper." if top == "g" else f"The largest synergy is {top}'s, not g's.")
        if positive < len(syn):
            notes.append(f"{len(syn) - positive} of {len(syn)} bands have negative mean synergy.")
        if below:
            worst = max(below, key=below.get)
            notes.append(f"The union I_ugriz is less informative than {len(below)} of its four-band subsets "
                         f"(by up to {below[worst]:.3f} nats, {worst}): adding a band cannot lose information, so "
                         "the negative synergies measure the information model (one amortised network for every "
                         "subset), not the data.")
        return Verdict(measured, agrees, "" if agrees else " ".join(notes))


class ImageMorphologyOutsideLatent(PaperClaim):
    key = "image_morphology_outside_latent"
    statement = ("Image-derived morphology (axis ratio) carries stellar-mass information outside the image latent "
                 "S(I_ugriz), partly explained by spec-z.")

    def check(self, results):
        causal = results.get("causal", {})
        plain, given_z = causal.get("ab_r | S(I_ugriz)"), causal.get("ab_r | S(I_ugriz), z")
        if plain is None:
            return None
        p = (plain.get("calibrated") or {}).get("global_pvalue")
        r = (plain.get("calibrated") or {}).get("mean_r")
        if p is None or not math.isfinite(p):
            return Verdict("not tested", None)
        sufficient = (results.get("sufficiency", {}).get("I_ugriz") or {}).get("sufficient")
        dependent = p <= 0.05
        measured = f"ab_r | S(I_ugriz): p = {p:.3g}, mean r = {r:+.3f}"
        if given_z is not None and (given_z.get("calibrated") or {}).get("mean_r") is not None:
            measured += f"; given z: mean r = {given_z['calibrated']['mean_r']:+.3f}"
        note = ("In the mock ab_r is measured on the images, so given the images it carries nothing more "
                "(designed). A dependence here measures what the image encoder leaves out of S (the CPU "
                "presets' aperture_mlp sees only fluxes in circular apertures).") if dependent else (
                "In the mock ab_r is measured on the images, so given a sufficient image latent it carries "
                "nothing more: the mock's design predicts this difference from the paper.")
        verdict = (results.get("sufficiency", {}).get("I_ugriz") or {}).get("verdict")
        if sufficient is False:
            gap = results["sufficiency"]["I_ugriz"]["gap_nats"]
            return Verdict(measured + f"; S(I_ugriz) is {gap:.3f} nats short of sufficient", None,
                           "Not interpretable: the image latent does not keep all the mass information of its "
                           "inputs, so a dependence may be what S lost. " + note)
        if verdict == "comparator not converged":
            gap = results["sufficiency"]["I_ugriz"]["gap_nats"]
            return Verdict(measured + f"; S(I_ugriz) beats its comparator by {-gap:.3f} nats", None,
                           "Not decided by this run: the sufficiency comparator is loose, so it cannot certify "
                           "the image latent. " + note)
        return Verdict(measured, dependent, note)


PAPER_CLAIMS: tuple[PaperClaim, ...] = (MorphologySynergy(), ImagesBeatPhotometry(), InfraredAddsLessWithImages(),
                                         BandSynergyInvolvesG(), ImageMorphologyOutsideLatent())


def paper_vs_run(results: dict) -> list[dict]:
    """One row per claim of :data:`PAPER_CLAIMS` the results have numbers for."""
    rows = []
    for claim in PAPER_CLAIMS:
        v = claim.check(results)
        if v is not None and v.agrees is not None and (v.plus or v.minus) and "tightness" in results:
            tight = results["tightness"]
            floor = tight.get("floor", {}).get(v.plus[0], 0.0) if v.pointwise and v.plus else 0.0
            ok, why = decided(v.effect, v.plus, v.minus, tight["slack"], floor)
            if not ok:
                v = replace(v, agrees=None, note=f"Not decided by this run: {why}. " + v.note)
        if v is not None:
            rows.append({"claim": claim.key, "paper": claim.statement, "this_run": v.measured,
                         "agrees": v.agrees, "why": v.note})
    return rows


def paper_section(rows: list[dict]) -> Section:
    return Section("The paper against this run", [
        "Each qualitative finding of Zhang, Lin, Ting et al. (2025), and what this run measured. Where the run "
        "differs, the last column says why, from what the data were built from."],
        tables=[TableBlock(["paper", "this run", "", "why"],
                           [[r["paper"], r["this_run"], AGREEMENT_WORDS[r["agrees"]], r["why"]] for r in rows])])
