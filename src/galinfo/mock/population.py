"""The galaxy population of the mock: intrinsic properties and their true photometry (vectorised).

Candidates are drawn in fixed blocks of :data:`BLOCK` from ``default_rng([seed, 0, block])`` so that
candidate ``k`` (global index ``block * BLOCK + j``) is the same whatever the chunking or the number of
workers. Relations (references in docs/mock.md):

- (z, M*) from dV_c/dz x the Baldry et al. (2012) double-Schechter mass function, truncated where
  even the most luminous-per-unit-mass galaxy would be fainter than the render cut (exact: such
  candidates could never be kept);
- passive fraction rising with mass; star-forming main sequence of Speagle et al. (2014) with
  0.3 dex scatter, passive galaxies 1.2 dex below;
- bulge-to-total ratio from a Beta distribution whose mean rises with mass (higher for passive);
- disc / bulge half-light radii from the Shen et al. (2003) late- / early-type mass-size relations
  (passive galaxies follow the early-type relation as a whole);
- inclination uniform in cos i, disc thickness q0; dust A_V rising with SFR and with inclination;
- SEDs, mass-to-light and photometry from :mod:`galinfo.mock.sed`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from galinfo.data.schema import BANDS, WISE_BANDS
from galinfo.mock.config import (
    BAND_WAVELENGTH_A,
    SKY_MAG_ARCSEC2,
    WISE_AB_MINUS_VEGA,
    WISE_DEPTH_5SIG_VEGA,
    WISE_EXTINCTION_COEFF,
    WISE_PSF_FWHM,
    MockConfig,
)
from galinfo.mock.sed import (
    M_SUN_R_AB,
    PHOT_BANDS,
    STELLAR_TEMPLATES,
    age_of_universe_gyr,
    angular_diameter_distance_kpc,
    bell03_log_ml_r,
    comoving_volume_element,
    distance_modulus,
    photometry_tables,
)

BLOCK = 4096
"""Candidates per population block (fixed: part of the realisation)."""

ARCSEC_PER_RAD = 206264.806

# Disc SED as a function of log sSFR: piecewise-linear mixing of the CWW templates between nodes.
_SSFR_NODES = np.array([-11.7, -10.4, -9.8, -9.3])  # E, Sbc, Scd, Im

# Class boundaries on the offset from the main sequence (dex): sf above, passive below, other between.
CLASS_SF_MIN_DMS = -0.55
CLASS_PASSIVE_MAX_DMS = -0.85


def baldry12_phi(logm: np.ndarray) -> np.ndarray:
    """Double-Schechter stellar mass function, Baldry et al. (2012): Mpc^-3 dex^-1 (h = 0.7)."""
    log_mstar, phi1, a1, phi2, a2 = 10.66, 3.96e-3, -0.35, 0.79e-3, -1.47
    x = 10 ** (np.asarray(logm, dtype=float) - log_mstar)
    return np.log(10) * np.exp(-x) * x * (phi1 * x**a1 + phi2 * x**a2)


def speagle14_logsfr(logm: np.ndarray, t_gyr: np.ndarray) -> np.ndarray:
    """Star-forming main sequence of Speagle et al. (2014), log10 SFR (Msun/yr), Kroupa IMF."""
    t = np.asarray(t_gyr, dtype=float)
    return (0.84 - 0.026 * t) * np.asarray(logm, dtype=float) - (6.51 - 0.11 * t)


def passive_fraction(logm: np.ndarray) -> np.ndarray:
    """Fraction of passive galaxies vs log M* (logistic, 50% at 10^10.7 Msun; cf. Baldry et al. 2006)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(logm, dtype=float) - 10.7) / 0.3))


def shen03_late_r50_kpc(logm: np.ndarray) -> np.ndarray:
    """Median r-band half-light radius (kpc) of late types, Shen et al. (2003) eq. 18."""
    m = 10 ** np.asarray(logm, dtype=float)
    alpha, beta, gamma, m0 = 0.14, 0.39, 0.10, 3.98e10
    return gamma * m**alpha * (1 + m / m0) ** (beta - alpha)


def shen03_early_r50_kpc(logm: np.ndarray) -> np.ndarray:
    """Median half-light radius (kpc) of early types, Shen et al. (2003) eq. 17."""
    return 2.88e-6 * (10 ** np.asarray(logm, dtype=float)) ** 0.56


def shen03_sigma_lnr(logm: np.ndarray) -> np.ndarray:
    """Scatter of ln R50 at fixed mass, Shen et al. (2003) eq. 19 (late-type values)."""
    m = 10 ** np.asarray(logm, dtype=float)
    s1, s2, m0 = 0.47, 0.34, 3.98e10
    return s2 + (s1 - s2) / (1 + (m / m0) ** 2)


def disc_template_weights(log_ssfr: np.ndarray) -> np.ndarray:
    """(n, 4) weights of the E, Sbc, Scd, Im templates in the disc SED (sum 1)."""
    x = np.clip(np.asarray(log_ssfr, dtype=float), _SSFR_NODES[0], _SSFR_NODES[-1])
    k = np.clip(np.searchsorted(_SSFR_NODES, x) - 1, 0, len(_SSFR_NODES) - 2)
    t = (x - _SSFR_NODES[k]) / (_SSFR_NODES[k + 1] - _SSFR_NODES[k])
    w = np.zeros((len(x), len(_SSFR_NODES)))
    rows = np.arange(len(x))
    w[rows, k] = 1 - t
    w[rows, k + 1] += t
    return w


def disc_axis_ratio(cos_i: np.ndarray, q0: float) -> np.ndarray:
    """Projected axis ratio of an oblate disc of intrinsic thickness q0 (Hubble 1926 formula)."""
    c2 = np.asarray(cos_i, dtype=float) ** 2
    return np.sqrt(c2 + q0**2 * (1 - c2))


def face_on_av(logsfr: np.ndarray) -> np.ndarray:
    """Face-on V-band attenuation of the disc (mag): grows with SFR."""
    return np.clip(0.3 + 0.35 * np.asarray(logsfr, dtype=float), 0.02, 1.5)


def inclined_av(av_face: np.ndarray, q_disc: np.ndarray) -> np.ndarray:
    """Disc A_V at inclination: A_face * (1 + 2 log10(1/q)) (Tully et al. 1998-style log(a/b) law)."""
    return np.asarray(av_face) * (1.0 + 2.0 * np.log10(1.0 / np.asarray(q_disc)))


def grey_attenuation(av_face: np.ndarray, q_disc: np.ndarray, coeff: float) -> np.ndarray:
    """Grey optical attenuation (mag, same in u..z) of an inclined, optically thick disc."""
    return coeff * np.asarray(av_face) * np.log10(1.0 / np.asarray(q_disc))


def cluver17_log_lw3(logsfr: np.ndarray) -> np.ndarray:
    """log10 nu L_nu(W3) (Lsun) from log SFR, inverting Cluver et al. (2017): log SFR = 0.889 log L - 7.76."""
    return (np.asarray(logsfr, dtype=float) + 7.76) / 0.889


@lru_cache(maxsize=8)
def _proposal(cfg: MockConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """CDF over (log M*, z) cells of phi(M) dV/dz, zero where r_bright > r_limit + margin."""
    dm_, dz_ = 0.01, 0.0005
    lm = np.arange(cfg.logm_min, cfg.logm_max, dm_) + dm_ / 2
    zz = np.arange(cfg.z_min, cfg.z_max, dz_) + dz_ / 2
    tab = photometry_tables()
    # Brightest possible r per unit mass: lowest M/L template, no dust, no Galactic extinction.
    r_idx = PHOT_BANDS.index("r")
    k_min = np.min([tab.stellar_mag(t, zz, np.zeros_like(zz))[:, r_idx] for t in range(len(STELLAR_TEMPLATES))], axis=0)
    log_ml_min = bell03_log_ml_r(tab.rest_gr).min()
    abs_r = M_SUN_R_AB - 2.5 * (lm - log_ml_min)  # (nm,)
    r_bright = abs_r[:, None] + distance_modulus(zz)[None, :] + k_min[None, :]
    w = baldry12_phi(lm)[:, None] * comoving_volume_element(zz)[None, :]
    w = np.where(r_bright < cfg.r_limit + cfg.render_margin, w, 0.0)
    cdf = np.cumsum(w.ravel())
    cdf /= cdf[-1]
    return cdf, lm, zz, dm_, dz_


def draw_block(seed: int, block: int, cfg: MockConfig) -> dict[str, np.ndarray]:
    """Draw :data:`BLOCK` candidates of population block ``block``: intrinsic properties + true photometry.

    Returns a dict of arrays (length BLOCK); ``cand`` is the global candidate index (int64).
    """
    rng = np.random.default_rng([seed, 0, block])
    n = BLOCK
    cdf, lm_grid, z_grid, dm_, dz_ = _proposal(cfg)
    cell = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)
    im, iz = np.divmod(cell, len(z_grid))
    logm = lm_grid[im] + (rng.random(n) - 0.5) * dm_
    z = z_grid[iz] + (rng.random(n) - 0.5) * dz_
    p = {"cand": np.int64(block) * BLOCK + np.arange(n, dtype=np.int64), "z": z, "logmstar": logm}

    passive = rng.random(n) < passive_fraction(logm)
    dms = np.where(passive, rng.normal(-1.2, 0.35, n), rng.normal(0.0, 0.3, n))
    logsfr = speagle14_logsfr(logm, age_of_universe_gyr(z)) + dms
    p.update(passive=passive, dms=dms, logsfr=logsfr)
    cls = np.where(dms > CLASS_SF_MIN_DMS, "sf", np.where(dms < CLASS_PASSIVE_MAX_DMS, "passive", "other"))
    p["cls"] = cls.astype("U7")

    mu_bt = np.where(passive, np.clip(0.45 + 0.15 * (logm - 10.0), 0.3, 0.85),
                     np.clip(0.05 + 0.12 * (logm - 9.0), 0.03, 0.45))  # fmt: skip
    kappa = 8.0
    bt = rng.beta(mu_bt * kappa, (1 - mu_bt) * kappa)
    sig = shen03_sigma_lnr(logm)
    # Star-forming galaxies follow Shen's late-type relation through their disc; passive ones follow
    # the early-type relation as a whole (compact S0-like discs, never larger than late-type ones).
    disc_median = np.where(passive, np.minimum(1.5 * shen03_early_r50_kpc(logm), shen03_late_r50_kpc(logm)),
                           shen03_late_r50_kpc(logm))  # fmt: skip
    r_disc_kpc = disc_median * np.exp(rng.normal(0, 1, n) * sig)
    r_bulge_kpc = shen03_early_r50_kpc(logm) * (0.5 + 0.5 * bt) * np.exp(rng.normal(0, 1, n) * sig)
    r_bulge_kpc = np.maximum(r_bulge_kpc, 0.05)
    cos_i = rng.random(n)
    q_disc = disc_axis_ratio(cos_i, cfg.disc_q0)
    q_bulge = rng.uniform(0.6, 1.0, n)
    pa = rng.uniform(0.0, 180.0, n)
    av_face = face_on_av(logsfr) * 10 ** rng.normal(0, 0.1, n)
    av_disc = inclined_av(av_face, q_disc)
    av_bulge = 0.3 * av_face
    a_grey = grey_attenuation(av_face, q_disc, cfg.dust_grey_coeff)
    ebv = np.clip(0.03 * 10 ** rng.normal(0, 0.25, n), 0.003, 0.3)
    da_kpc = angular_diameter_distance_kpc(z)
    p.update(bt=bt, r_disc_kpc=r_disc_kpc, r_bulge_kpc=r_bulge_kpc, cos_i=cos_i, q_disc=q_disc,
             q_bulge=q_bulge, pa=pa, av_face=av_face, av_disc=av_disc, av_bulge=av_bulge, a_grey=a_grey, ebv=ebv,
             r_disc=r_disc_kpc / da_kpc * ARCSEC_PER_RAD, r_bulge=r_bulge_kpc / da_kpc * ARCSEC_PER_RAD)  # fmt: skip

    # Survey conditions.
    seeing_r = np.clip(cfg.seeing_median_r * 10 ** rng.normal(0, cfg.seeing_sigma_dex, n), 0.8, 2.4)
    sky_offset = rng.normal(0, 0.15, n)
    for b in BANDS:
        fac = (BAND_WAVELENGTH_A[b] / BAND_WAVELENGTH_A["r"]) ** -0.2 * (1.08 if b == "u" else 1.0)
        p[f"psf_fwhm_{b}"] = seeing_r * fac
        p[f"sky_{b}"] = SKY_MAG_ARCSEC2[b] + sky_offset + rng.normal(0, 0.05, n)
    p["offset_x"] = rng.uniform(-0.5, 0.5, n)
    p["offset_y"] = rng.uniform(-0.5, 0.5, n)

    # True photometry of each component (AB, including Galactic extinction).
    tab = photometry_tables()
    dmod = distance_modulus(z)
    gal = tab.galactic_r[None, :] * ebv[:, None]
    mb = 10 ** logm * bt
    md = 10 ** logm * (1 - bt)
    e_idx = STELLAR_TEMPLATES.index("E")
    ml_bulge = bell03_log_ml_r(tab.rest_gr[e_idx])
    absr_bulge = M_SUN_R_AB - 2.5 * (np.log10(mb) - ml_bulge)
    mag_bulge = absr_bulge[:, None] + dmod[:, None] + tab.stellar_mag(e_idx, z, av_bulge) + gal
    w = disc_template_weights(logsfr - logm)
    rel = sum(w[:, t, None] * 10 ** (-0.4 * tab.stellar_mag(t, z, av_disc)) for t in range(len(STELLAR_TEMPLATES)))
    gr_disc = -2.5 * np.log10(w @ 10 ** (-0.4 * tab.rest_gr))
    absr_disc = M_SUN_R_AB - 2.5 * (np.log10(md) - bell03_log_ml_r(gr_disc))
    mag_disc = absr_disc[:, None] + dmod[:, None] - 2.5 * np.log10(rel) + gal
    mag_disc[:, : len(BANDS)] += a_grey[:, None]  # optical only: the lanes are thin at 3-12 micron
    log_lw3 = cluver17_log_lw3(logsfr) + rng.normal(0, 0.15, n)
    mag_dust = tab.dust_mag(z) - 2.5 * log_lw3[:, None] + dmod[:, None] + gal
    # Galactic extinction for WISE bands: replace the CCM extrapolation by the adopted coefficients.
    for j, wb in enumerate(WISE_BANDS):
        col = PHOT_BANDS.index(wb)
        delta = (WISE_EXTINCTION_COEFF[wb] - tab.galactic_r[col]) * ebv
        mag_bulge[:, col] += delta
        mag_disc[:, col] += delta
        mag_dust[:, col] += delta
        del j
    flux_b = 10 ** (-0.4 * (mag_bulge - 22.5))  # nanomaggies
    flux_d = 10 ** (-0.4 * (mag_disc - 22.5)) + 10 ** (-0.4 * (mag_dust - 22.5))
    for k, b in enumerate(PHOT_BANDS):
        p[f"flux_bulge_{b}"] = flux_b[:, k]
        p[f"flux_disc_{b}"] = flux_d[:, k]
        p[f"true_mag_{b}"] = 22.5 - 2.5 * np.log10(flux_b[:, k] + flux_d[:, k])
    p["log_lw3"] = log_lw3
    p["gr_disc_rest"] = gr_disc

    # WISE profile-fit photometry (no WISE images): a PSF fit to a resolved galaxy recovers
    # 2 s_p^2 / (2 s_p^2 + s_g^2) of the flux (Gaussian approximation), plus noise at ALLWISE depth.
    for wb in WISE_BANDS:
        k = PHOT_BANDS.index(wb)
        ftot = flux_b[:, k] + flux_d[:, k]
        fb = flux_b[:, k] / ftot
        r_eff = np.sqrt(fb * p["r_bulge"] ** 2 + (1 - fb) * p["r_disc"] ** 2)
        s_g2 = (r_eff / 1.1774) ** 2
        s_p2 = (WISE_PSF_FWHM[wb] / 2.3548) ** 2
        # Floored at 0.25: the Gaussian approximation overstates the loss for huge nearby galaxies.
        frac = np.maximum(2 * s_p2 / (2 * s_p2 + s_g2), 0.25)
        vega = 10 ** (-0.4 * (p[f"true_mag_{wb}"] - WISE_AB_MINUS_VEGA[wb]))  # in Vega units
        sigma = 10 ** (-0.4 * WISE_DEPTH_5SIG_VEGA[wb]) / 5.0
        meas = frac * vega * (1 + rng.normal(0, 0.02, n)) + rng.normal(0, 1, n) * sigma
        detected = meas > 2 * sigma
        p[wb] = np.where(detected, -2.5 * np.log10(np.maximum(meas, 1e-30)), -2.5 * np.log10(np.maximum(meas, 0) + 2 * sigma))
        err = 1.0857 * np.sqrt(sigma**2 + (0.02 * meas) ** 2) / np.maximum(meas, 1e-30)
        # ALLWISE gives no error for an upper limit; W1/W2 errors are model inputs, so they keep the
        # error of a 2-sigma measurement instead (never happens in practice: see docs/mock.md).
        p[f"{wb}err"] = np.where(detected, err, np.nan if wb == "w3" else 1.0857 / 2)
        p[f"true_{wb}"] = p[f"true_mag_{wb}"] - WISE_AB_MINUS_VEGA[wb]

    p["null_noise"] = rng.normal(0, 1, n)
    p["null_lum_noise"] = rng.normal(0, 0.3, n)
    p["split_u"] = rng.random(n)
    return p


def render_cut(p: dict[str, np.ndarray], cfg: MockConfig) -> np.ndarray:
    """Boolean mask of candidates worth rendering: true total r brighter than r_limit + margin."""
    return p["true_mag_r"] < cfg.r_limit + cfg.render_margin


def take(p: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    """Subset every array of a population dict."""
    return {k: v[idx] for k, v in p.items()}


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate population dicts with the same keys."""
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
