"""Images against photometry: paired comparisons of cross-entropy models on the same test galaxies
(:func:`galinfo.metrics.paired_comparison`), and their report section."""

from __future__ import annotations

import numpy as np

from galinfo.data.inputs import parse_inputs
from galinfo.metrics import paired_comparison
from galinfo.models.outputs import read_predictions
from galinfo.report.html import Section, TableBlock

IMAGE_PHOTOMETRY_PAIRS: tuple[tuple[str, str], ...] = (
    ("I_ugriz", "M_ugriz"),
    ("I_ugriz", "M_ugriz|M_W123"),
    ("I_ugriz|M_W123", "M_ugriz|M_W123"),
)
"""(image input set, photometry input set): the paper's "images carry more than photometry"."""

N_BOOT = 1000


def compare_models(run_a: str, run_b: str, *, seed: int = 0) -> dict:
    """:func:`paired_comparison` of two runs on the test galaxies both predicted with a defined ln q."""
    a, b = read_predictions(run_a), read_predictions(run_b)
    ok_a = a.mask("test") & a.predicted() & np.isfinite(a.log_q_true)
    ok_b = b.mask("test") & b.predicted() & np.isfinite(b.log_q_true)
    common, ra, rb = np.intersect1d(a.objid[ok_a], b.objid[ok_b], assume_unique=True, return_indices=True)
    ia, ib = np.flatnonzero(ok_a)[ra], np.flatnonzero(ok_b)[rb]
    return paired_comparison(a.target[ia], a.pdf_mean[ia], b.pdf_mean[ib], a.log_q_true[ia], b.log_q_true[ib],
                             n_boot=N_BOOT, seed=seed)


def images_vs_photometry(models: list[dict], seed: int = 0, slack: dict[str, float] | None = None) -> list[dict]:
    """One row per pair of :data:`IMAGE_PHOTOMETRY_PAIRS` whose two ``ce`` models the study has.

    With ``slack`` (the tightness audit's, nats by input set) each row says whether its Δi is larger
    than the audited slack of its two models (``decided``, ``decided_why``)."""
    from galinfo.study.tightness import decided
    runs = {parse_inputs(m["inputs"]).name: m["run"] for m in models if m["objective"] == "ce"}
    rows = []
    for image, phot in IMAGE_PHOTOMETRY_PAIRS:
        image, phot = parse_inputs(image).name, parse_inputs(phot).name
        if image in runs and phot in runs:
            row = {"images": image, "photometry": phot, **compare_models(runs[image], runs[phot], seed=seed)}
            if slack is not None:
                row["decided"], row["decided_why"] = decided(row["d_info"], (image,), (phot,), slack)
            rows.append(row)
    return rows


def images_ahead(row: dict) -> bool:
    """Images ahead of photometry in one paired row: Δσ_MAD < 0 and Δi more than 2 standard errors above 0."""
    return row["d_info"] > 2 * row["d_info_se"] and row["d_sigma_mad"] < 0


def ahead_words(row: dict) -> str:
    """Who is ahead in one paired row, or why the run does not decide it (the audited slack)."""
    if row.get("decided") is False:
        return f"not decided by this run ({row['decided_why']})"
    if images_ahead(row):
        return "images"
    return "photometry" if row["d_info"] < -2 * row["d_info_se"] else "neither (within 2 SE)"


def _pm(value: float, se: float) -> str:
    return f"{value:+.4f} ± {se:.4f}"


def images_section(rows: list[dict]) -> Section:
    table = [[r["images"], r["photometry"], r["n"], f"{r['sigma_mad_a']:.4f}", f"{r['sigma_mad_b']:.4f}",
              _pm(r["d_sigma_mad"], r["d_sigma_mad_se"]), _pm(r["d_info"], r["d_info_se"]),
              ahead_words(r)]
             for r in rows]
    return Section("Images against photometry", [
        "Each pair of cross-entropy models is compared on the same test galaxies. Δσ_MAD = σ_MAD(images) − "
        "σ_MAD(photometry) in dex, with the standard error of a paired bootstrap over galaxies; Δi = the mean "
        "over galaxies of ln q_images(true bin) − ln q_photometry(true bin), in nats: the difference of the mean "
        "pointwise information (the prior cancels), with the standard error of a paired mean. Images are ahead "
        "where Δσ_MAD < 0 and Δi > 2 SE."],
        tables=[TableBlock(["images", "photometry", "n test", "σ_MAD images", "σ_MAD photometry", "Δσ_MAD (dex)",
                            "Δi (nats)", "ahead"], table)])
