"""The mock's known causal graph (``truth_dag.json``): every generative variable, its parents, and the
designed answers that causal tests and the information decomposition must recover."""

from __future__ import annotations

import json

from galinfo.data.schema import BANDS, WISE_BANDS

DAG_VERSION = 2

# variable -> (parents, description). Measured per-band columns are expanded below.
_NODES: dict[str, tuple[list[str], str]] = {
    "z": ([], "spectroscopic redshift (drawn from dV/dz; true = catalogue value)"),
    "logmstar": ([], "true stellar mass, log10 Msun (drawn from the Baldry+12 mass function; catalogue target)"),
    "passive": (["logmstar"], "passive / star-forming switch (passive fraction rises with mass)"),
    "true_logsfr": (["logmstar", "z", "passive"], "log10 SFR: Speagle+14 main sequence at z, + offset"),
    "cls": (["true_logsfr", "logmstar", "z"], "class from the offset to the main sequence: sf / other / passive"),
    "true_bt": (["logmstar", "passive"], "bulge-to-total mass ratio"),
    "true_r50_disc_kpc": (["logmstar", "passive"], "disc half-light radius (Shen+03 late type; compact when passive)"),
    "true_r50_bulge_kpc": (["logmstar", "true_bt"], "bulge half-light radius (Shen+03 early type)"),
    "true_cosi": ([], "cosine of the disc inclination (uniform)"),
    "true_pa": ([], "position angle, deg (uniform): a designed null"),
    "true_q_disc": (["true_cosi"], "projected disc axis ratio (thickness q0)"),
    "true_q_bulge": ([], "projected bulge axis ratio"),
    "true_av_face": (["true_logsfr"], "face-on disc V attenuation"),
    "true_av": (["true_av_face", "true_q_disc"], "disc V attenuation at the inclination"),
    "true_av_bulge": (["true_av_face"], "bulge V attenuation"),
    "true_a_grey": (["true_av_face", "true_q_disc"], "grey (optically thick) optical attenuation of the inclined disc"),
    "true_log_lw3": (["true_logsfr"], "log nu L_nu(W3) of dust emission (Cluver+17, 0.15 dex scatter)"),
    "ebv": ([], "Galactic E(B-V) along the line of sight"),
    "true_r50_disc": (["true_r50_disc_kpc", "z"], "disc half-light radius, arcsec"),
    "true_r50_bulge": (["true_r50_bulge_kpc", "z"], "bulge half-light radius, arcsec"),
    "true_psf_fwhm_r": ([], "r-band seeing FWHM, arcsec (other bands scale as lambda^-0.2)"),
    "true_sky_r": ([], "r-band sky, mag/arcsec^2 (other bands share its offset)"),
    "true_flux": (["logmstar", "true_bt", "true_logsfr", "true_av", "true_av_bulge", "true_a_grey", "true_log_lw3", "z", "ebv"],
                  "per-band true bulge and disc fluxes (SEDs, M/L, attenuation, redshift, Galactic extinction)"),
    "images": (["true_flux", "true_r50_disc", "true_r50_bulge", "true_q_disc", "true_q_bulge", "true_pa",
                "true_psf_fwhm_r", "true_sky_r"], "ugriz images with PSF and noise"),
    "null_noise": ([], "pure N(0, 1) noise column: independent of everything"),
}


def _expanded_nodes() -> dict[str, dict]:
    nodes = {k: {"parents": p, "description": d} for k, (p, d) in _NODES.items()}
    for b in BANDS:
        nodes[f"mag_{b}"] = {"parents": ["images"], "description": f"Petrosian {b} (asinh AB), measured on the image"}
        nodes[f"magerr_{b}"] = {"parents": ["images"], "description": f"error of mag_{b} from the variance map"}
        for q, what in (("r50", "Petrosian R50"), ("r90", "Petrosian R90"), ("ab", "PSF-corrected adaptive-moment axis ratio"), ("sersic_n", "concentration-calibrated Sersic index")):
            nodes[f"{q}_{b}"] = {"parents": ["images"], "description": f"{what}, {b}, measured"}
    for w in WISE_BANDS:
        nodes[w] = {"parents": ["true_flux", "true_r50_disc", "true_r50_bulge"], "description": f"{w.upper()} profile-fit Vega mag (flux loss for resolved galaxies, ALLWISE-depth noise)"}
        nodes[f"{w}err"] = {"parents": [w], "description": f"error of {w} (NaN when undetected)"}
    nodes["selected"] = {"parents": ["mag_r"], "description": "in the catalogue: mag_r < r_limit (every row has selected = 1, so the sample is conditioned on it)"}
    nodes["null_lum"] = {"parents": ["mag_r", "z"], "description": "mag_r - DM(z) + N(0, 0.3): a noisy absolute magnitude from measured columns"}
    nodes["split"] = {"parents": [], "description": "train/val/test from an independent uniform draw"}
    return nodes


DESIGNED_ANSWERS: dict[str, dict] = {
    "a_axis_ratio_through_dust": {
        "statement": "The disc axis ratio (ab_*) carries information on logmstar beyond the integrated photometry.",
        "path": "true_cosi -> true_q_disc -> (true_av, true_a_grey) -> true_flux -> mag_* <- logmstar; ab_* <- images <- true_q_disc",
        "why": "mag_* are a collider of mass and inclination-dependent dust: given mag_*, the inclination tells how much of the "
               "faintness is dust rather than a lower mass, so logmstar is NOT independent of ab_* given mag_*. The selective "
               "(reddening) part of the dust is nearly degenerate with the colour-M/L relation; the grey part of edge-on "
               "discs (true_a_grey) dims without reddening, so colours cannot correct for it, z included.",
        "also": "true_bt depends on logmstar and rounds the projected shape, a second (direct morphological) path.",
        "expect": [{"independent": False, "x": "ab_r", "y": "logmstar", "given": ["mag_u", "mag_g", "mag_r", "mag_i", "mag_z"]},
                   {"independent": False, "x": "ab_r", "y": "logmstar", "given": ["mag_u", "mag_g", "mag_r", "mag_i", "mag_z", "z"]}],
    },
    "b_redshift_confounds_size_and_flux": {
        "statement": "Spec-z confounds angular size and flux with intrinsic quantities.",
        "path": "z -> true_r50_*(arcsec) -> r50_*; z -> true_flux -> mag_*; selection (mag_r < limit) makes z and logmstar dependent (Malmquist bias)",
        "why": "r50 (arcsec) = R50(kpc) / D_A(z); at fixed mass, higher z means smaller and fainter; the flux limit keeps only massive galaxies at high z.",
        "expect": {"independent": False, "x": "r50_r", "y": "logmstar", "given": []},
    },
    "c_designed_nulls": {
        "statement": "true_pa and null_noise are independent of logmstar given anything (and marginally).",
        "path": "none: null_noise has no parents and no children; true_pa has no parents and only rotates the images",
        "note": "images is formally a collider of true_pa and logmstar, but PA only sets the orientation and the mass only the "
                "fluxes/sizes, so the dependence opened by conditioning on images or any rotation-invariant summary of them "
                "is zero (a designed faithfulness violation); measured ab_*, r50_*, mags do not depend on true_pa.",
        "expect": [{"independent": True, "x": "true_pa", "y": "logmstar", "given": "any"},
                   {"independent": True, "x": "null_noise", "y": "logmstar", "given": "any"}],
    },
    "d_hard_null_null_lum": {
        "statement": "null_lum = mag_r - DM(z) + N(0, 0.3 mag) correlates strongly with logmstar marginally and within loose "
                     "neighbourhoods, but has no path to logmstar of its own.",
        "conditionally_independent_given": ["mag_r", "z"],
        "not_independent_given": ["nothing", "mag_g - mag_r", "any set that does not determine both mag_r and z"],
        "why": "its only parents are the measured mag_r and the spec-z plus independent noise; every dependence on logmstar runs "
               "through mag_r and z. Given the latent S of a model whose inputs include mag_r and z and that keeps all their "
               "stellar-mass information, it is a null; a loose neighbourhood or an S trained without z (then conditioned on z) "
               "leaves a residual correlation that a correct test must not report as information outside mag_r and z.",
        "expect": {"independent": True, "x": "null_lum", "y": "logmstar", "given": ["mag_r", "z"]},
    },
}


def truth_dag(config: dict | None = None) -> dict:
    """The machine-readable truth: nodes with parents, designed answers, and the generating config."""
    return {
        "dag_version": DAG_VERSION,
        "target": "logmstar",
        "nodes": _expanded_nodes(),
        "designed_answers": DESIGNED_ANSWERS,
        "config": config or {},
    }


def truth_dag_json(config: dict | None = None) -> str:
    """:func:`truth_dag` as deterministic JSON text."""
    return json.dumps(truth_dag(config), indent=2, sort_keys=True) + "\n"
