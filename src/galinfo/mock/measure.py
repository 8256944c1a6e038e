"""Survey-pipeline measurements on the noisy images (never copied from the truth).

- Centre: adaptive-moment centroid in r.
- Petrosian photometry (Blanton et al. 2001 / SDSS): the Petrosian ratio (mean surface brightness in
  the annulus 0.8-1.25 R over the mean inside R) reaches 0.2 at R_P, measured in r; the flux inside
  2 R_P (r-band aperture for every band, as SDSS petroMag) gives the Petrosian flux, reported as SDSS
  asinh magnitudes with errors from the variance map; R50 and R90 are the radii enclosing 50% and
  90% of each band's Petrosian flux.
- Axis ratio: adaptive moments per band (the HSM fixed point, vectorised) with the PSF's moment
  size subtracted.
- Sersic index: a calibrated concentration proxy (R90/R50 mapped to n on noiseless renders of Sersic
  profiles through the same PSF and the same code, as a function of R50/FWHM).
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from galinfo.data.schema import BANDS
from galinfo.mock.config import ASINH_B

log = logging.getLogger(__name__)

PETRO_RATIO = 0.2
N_SERSIC_MAX = 5.9  # cap of the NYU-VAGC-like catalogues


def asinh_mag(flux_nmgy: np.ndarray, band: str) -> np.ndarray:
    """SDSS asinh magnitude (Lupton et al. 1999) of a flux in nanomaggies."""
    b = ASINH_B[band]
    f = np.asarray(flux_nmgy, dtype=float) * 1e-9
    return -2.5 / np.log(10) * (np.arcsinh(f / (2 * b)) + np.log(b))


def asinh_mag_err(flux_nmgy: np.ndarray, sigma_nmgy: np.ndarray, band: str) -> np.ndarray:
    """Error of :func:`asinh_mag`, mag."""
    b = ASINH_B[band]
    f = np.asarray(flux_nmgy, dtype=float) * 1e-9
    s = np.asarray(sigma_nmgy, dtype=float) * 1e-9
    return 2.5 / np.log(10) * s / np.sqrt(4 * b**2 + f**2)


def _first_crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """Smallest x where y falls to or below ``level`` (linear interpolation); NaN if never."""
    below = np.flatnonzero(y <= level)
    if below.size == 0:
        return np.nan
    i = below[0]
    if i == 0:
        return float(x[0])
    y0, y1 = y[i - 1], y[i]
    return float(x[i - 1] + (level - y0) * (x[i] - x[i - 1]) / (y1 - y0))


def _first_reach(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """Smallest x where y rises to or above ``level`` (linear interpolation); NaN if never."""
    return _first_crossing(x, -y, -level)


def petrosian(images: np.ndarray, var: np.ndarray, center: tuple[float, float], ref: int = 2) -> dict:
    """Petrosian quantities of a (B, N, N) cube around ``center`` (x, y in array pixel coordinates).

    Returns radius ``rp`` (pixels, in band ``ref``), ``flux`` and ``flux_err`` (B,) in image units
    inside 2 R_P, ``r50`` and ``r90`` (B,) in pixels (NaN where the band's flux is not positive).
    """
    nb, n, _ = images.shape
    yy, xx = np.indices((n, n))
    rad = np.hypot(xx - center[0], yy - center[1]).ravel()
    order = np.argsort(rad, kind="stable")
    rs = rad[order]
    cum = np.cumsum(images.reshape(nb, -1)[:, order], axis=1)
    cumvar = np.cumsum(var.reshape(nb, -1)[:, order], axis=1)
    npix = np.arange(1, rs.size + 1, dtype=float)
    r_max = min(center[0], center[1], n - 1 - center[0], n - 1 - center[1])

    def at(values, radii):
        return np.interp(radii, rs, values)

    grid = np.arange(1.0, r_max / 1.25, 0.25)
    f_in = at(cum[ref], grid)
    a_in = at(npix, grid)
    f_ann = at(cum[ref], 1.25 * grid) - at(cum[ref], 0.8 * grid)
    a_ann = at(npix, 1.25 * grid) - at(npix, 0.8 * grid)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = (f_ann / a_ann) / (f_in / a_in)
    eta = np.where(f_in > 0, eta, 1.0)
    rp = _first_crossing(grid, eta, PETRO_RATIO)
    if not np.isfinite(rp):
        rp = r_max / 2
    r_ap = min(2.0 * rp, r_max)
    flux = np.array([at(cum[k], r_ap) for k in range(nb)])
    err = np.sqrt(np.maximum([at(cumvar[k], r_ap) for k in range(nb)], 0.0))
    fine = np.arange(0.05, r_ap + 1e-9, 0.05)
    r50 = np.full(nb, np.nan)
    r90 = np.full(nb, np.nan)
    for k in range(nb):
        if flux[k] <= 0:
            continue
        prof = at(cum[k], fine)
        r50[k] = _first_reach(fine, prof, 0.5 * flux[k])
        r90[k] = _first_reach(fine, prof, 0.9 * flux[k])
    return {"rp": rp, "r_ap": r_ap, "flux": flux, "flux_err": err, "r50": r50, "r90": r90}


@lru_cache(maxsize=4)
def psf_moment_sigma_per_fwhm(beta: float) -> float:
    """Adaptive-moment sigma of a Moffat PSF divided by its FWHM (dimensionless)."""
    import galsim

    im = galsim.Moffat(beta=beta, fwhm=10.0).drawImage(nx=128, ny=128, scale=1.0, method="no_pixel")
    return float(galsim.hsm.FindAdaptiveMom(im).moments_sigma) / 10.0


def adaptive_moments_bands(
    images: np.ndarray,
    center: tuple[float, float],
    sigma0: float | np.ndarray,
    n_iter: int = 20,
    tol: float = 2e-4,
    init: np.ndarray | None = None,
):
    """Adaptive (elliptical-Gaussian-weighted) second moments of every band at once.

    Same fixed point as GalSim's HSM ``FindAdaptiveMom`` (weight covariance = 2 x the weighted
    covariance; centroid iterated), vectorised over the bands of a (B, N, N) cube; a band stops
    iterating once its moments change by less than ``tol`` (relative). ``sigma0``: starting weight
    size in pixels, or ``init``: (B, 3) starting (Wxx, Wxy, Wyy). Returns (sigma (B,), q (B,), cx (B,),
    cy (B,), m (B, 3)) with sigma = det(M)^(1/4) in pixels and q = sqrt(lambda_min/lambda_max); NaN
    where a band fails.
    """
    nb, n, _ = images.shape
    yy, xx = np.indices((n, n), dtype=float)
    cx = np.full(nb, float(center[0]))
    cy = np.full(nb, float(center[1]))
    if init is None:
        m = np.zeros((nb, 3))
        m[:, 0] = m[:, 2] = np.asarray(sigma0, dtype=float) ** 2
    else:
        m = np.array(init, dtype=float)
    ok = np.ones(nb, dtype=bool)
    active = np.ones(nb, dtype=bool)
    for _ in range(n_iter):
        idx = np.flatnonzero(active & ok)
        if idx.size == 0:
            break
        mm = m[idx]
        det = mm[:, 0] * mm[:, 2] - mm[:, 1] ** 2
        i00, i01, i11 = mm[:, 2] / det, -mm[:, 1] / det, mm[:, 0] / det
        dx = xx[None] - cx[idx, None, None]
        dy = yy[None] - cy[idx, None, None]
        rho2 = i00[:, None, None] * dx**2 + 2 * i01[:, None, None] * dx * dy + i11[:, None, None] * dy**2
        w = np.exp(-0.5 * np.minimum(rho2, 50.0)) * images[idx]
        s0 = w.sum(axis=(1, 2))
        good = s0 > 0
        s0 = np.where(good, s0, 1.0)
        wx, wy = w * dx, w * dy
        mx = wx.sum(axis=(1, 2)) / s0
        my = wy.sum(axis=(1, 2)) / s0
        cxx = (wx * dx).sum(axis=(1, 2)) / s0 - mx**2
        cxy = (wx * dy).sum(axis=(1, 2)) / s0 - mx * my
        cyy = (wy * dy).sum(axis=(1, 2)) / s0 - my**2
        new = np.stack([2 * cxx, 2 * cxy, 2 * cyy], axis=1)
        good &= (new[:, 0] > 0.01) & (new[:, 2] > 0.01) & (new[:, 0] * new[:, 2] > new[:, 1] ** 2)
        change = np.abs(new - mm).max(axis=1) / np.maximum(new[:, 0] + new[:, 2], 1e-12)
        # The plain update W <- 2 C_w contracts the error by ~1/2 per step; the over-relaxed step
        # W + 2 (2 C_w - W) is Newton's step for a Gaussian profile. Use it where it stays positive.
        fast = mm + 2.0 * (new - mm)
        pd = (fast[:, 0] > 0.01) & (fast[:, 2] > 0.01) & (fast[:, 0] * fast[:, 2] > fast[:, 1] ** 2)
        pd &= (fast[:, 0] + fast[:, 2] < 4 * (new[:, 0] + new[:, 2])) & (fast[:, 0] + fast[:, 2] > 0.25 * (new[:, 0] + new[:, 2]))
        new = np.where(pd[:, None], fast, new)
        # Same for the centroid: the matched-weight centroid shift is about half the offset.
        step = np.where(pd, 2.0, 1.0)
        cx[idx] = np.where(good, cx[idx] + step * mx, cx[idx])
        cy[idx] = np.where(good, cy[idx] + step * my, cy[idx])

        m[idx] = np.where(good[:, None], new, mm)
        good &= (np.abs(cx[idx] - center[0]) < n / 4) & (np.abs(cy[idx] - center[1]) < n / 4)
        ok[idx] = good
        active[idx] = ~((change < tol) & (np.abs(mx) < 1e-3) & (np.abs(my) < 1e-3))
    tr = m[:, 0] + m[:, 2]
    disc = np.sqrt(np.maximum((m[:, 0] - m[:, 2]) ** 2 / 4 + m[:, 1] ** 2, 0.0))
    lam1, lam2 = tr / 2 + disc, np.maximum(tr / 2 - disc, 1e-12)
    sigma = np.where(ok, (lam1 * lam2) ** 0.25, np.nan)
    q = np.where(ok, np.sqrt(lam2 / lam1), np.nan)
    return sigma, q, np.where(ok, cx, np.nan), np.where(ok, cy, np.nan), m


def psf_corrected_axis_ratio(sigma: float, q: float, psf_sigma: float) -> float:
    """Axis ratio b/a from adaptive moments (sigma, observed q) with an isotropic PSF moment removed.

    Eigenvalues of the moment matrix are sigma^2/q and sigma^2 q; the PSF's sigma^2 is subtracted
    from both. Returns NaN when the galaxy is unresolved in that band.
    """
    if not (np.isfinite(sigma) and np.isfinite(q)):
        return np.nan
    lam1 = sigma**2 / q - psf_sigma**2
    lam2 = sigma**2 * q - psf_sigma**2
    if lam1 <= 0.1 * psf_sigma**2:
        return np.nan
    return float(np.sqrt(np.clip(lam2 / lam1, 0.0025, 1.0)))


@lru_cache(maxsize=4)
def concentration_calibration(beta: float, pixel_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Petrosian concentration C = R90/R50 of circular Sersic profiles seen through a Moffat PSF.

    Returns (n grid, observed R50/FWHM [n, s], C [n, s]) measured with :func:`petrosian` on
    noiseless renders (FWHM 1.4 arcsec, 0.396 arcsec pixels).
    """
    import galsim

    from galinfo.mock.render import gsparams

    fwhm = 1.4
    n_grid = np.array([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0])
    s_grid = np.array([0.15, 0.3, 0.5, 0.8, 1.2, 1.8, 2.7, 4.0])
    psf = galsim.Moffat(beta=beta, fwhm=fwhm, gsparams=gsparams())
    s_obs = np.empty((len(n_grid), len(s_grid)))
    conc = np.empty_like(s_obs)
    for i, nn in enumerate(n_grid):
        for j, s in enumerate(s_grid):
            hlr = s * fwhm
            size = int(min(256, max(64, 2 * np.ceil((6 * hlr + 3 * fwhm) / pixel_scale / 2))))
            trunc = 12 * hlr if nn >= 2 else 0.0
            prof = galsim.Sersic(n=nn, half_light_radius=hlr, trunc=trunc, gsparams=gsparams())
            im = galsim.Convolve(prof, psf).drawImage(nx=size, ny=size, scale=pixel_scale).array[None]
            c = (size - 1) / 2
            p = petrosian(im, np.zeros_like(im), (c, c), ref=0)
            s_obs[i, j] = p["r50"][0] * pixel_scale / fwhm
            conc[i, j] = p["r90"][0] / p["r50"][0]
    return n_grid, s_obs, conc


def sersic_from_concentration(conc: float, r50_over_fwhm: float, calib) -> float:
    """Invert the calibration: Sersic n for an observed concentration at an observed R50/FWHM."""
    n_grid, s_obs, c_tab = calib
    if not (np.isfinite(conc) and np.isfinite(r50_over_fwhm)):
        return np.nan
    c_at = np.array([np.interp(r50_over_fwhm, s_obs[i], c_tab[i]) for i in range(len(n_grid))])
    c_at = np.maximum.accumulate(c_at)  # concentration rises with n
    return float(np.clip(np.interp(conc, c_at, n_grid), n_grid[0], N_SERSIC_MAX))


def measure_galaxy(image: np.ndarray, var: np.ndarray, psf_fwhm: np.ndarray, pixel_scale: float, moffat_beta: float) -> dict[str, float]:
    """All catalogue measurements of one galaxy from its (5, N, N) image and variance map.

    ``psf_fwhm``: (5,) PSF FWHM per band, arcsec (the pipeline's PSF model). Sizes in arcsec.
    """
    n = image.shape[-1]
    c0 = ((n - 1) / 2, (n - 1) / 2)
    ref = BANDS.index("r")
    # Petrosian quantities around the stamp centre (the detection position), then adaptive moments
    # in a box of 1.5 R90 + 3 pixels around it; the r-band moment centroid then re-centres the Petrosian aperture.
    pet0 = petrosian(image[ref : ref + 1], var[ref : ref + 1], c0, ref=0)
    r90 = pet0["r90"][0] if np.isfinite(pet0["r90"][0]) else n / 6
    h = int(np.clip(np.ceil(1.5 * r90 + 3), 8, n // 2))
    lo = n // 2 - h
    box = image[:, lo : lo + 2 * h, lo : lo + 2 * h]
    sig, qobs, cx, cy, _ = adaptive_moments_bands(box, (c0[0] - lo, c0[1] - lo), max(psf_fwhm[ref] / pixel_scale, 2.0))
    center = (cx[ref] + lo, cy[ref] + lo) if np.isfinite(cx[ref]) else c0
    if np.hypot(center[0] - c0[0], center[1] - c0[1]) > 3:
        center = c0
    pet = petrosian(image, var, center, ref=ref)
    out: dict[str, float] = {"petro_rad_r": pet["rp"] * pixel_scale}
    psf_sig_per_fwhm = psf_moment_sigma_per_fwhm(moffat_beta)
    calib = concentration_calibration(moffat_beta, pixel_scale)
    ab = {}
    for k, b in enumerate(BANDS):
        out[f"mag_{b}"] = float(asinh_mag(pet["flux"][k], b))
        out[f"magerr_{b}"] = float(asinh_mag_err(pet["flux"][k], pet["flux_err"][k], b))
        out[f"petroflux_{b}"] = float(pet["flux"][k])
        psf_sigma = psf_sig_per_fwhm * psf_fwhm[k] / pixel_scale
        ab[b] = psf_corrected_axis_ratio(sig[k], qobs[k], psf_sigma)
        out[f"r50_{b}"] = pet["r50"][k] * pixel_scale
        out[f"r90_{b}"] = pet["r90"][k] * pixel_scale
    # Bands where a quantity failed (faint u / z) take the r-band value, as a pipeline's fallback.
    n_fallback = 0
    for b in BANDS:
        for q in ("r50", "r90"):
            if not np.isfinite(out[f"{q}_{b}"]):
                out[f"{q}_{b}"] = out[f"{q}_r"] if np.isfinite(out[f"{q}_r"]) else psf_fwhm[ref] / 2
                n_fallback += 1
        if not np.isfinite(ab[b]):
            ab[b] = ab["r"] if np.isfinite(ab["r"]) else 1.0
            n_fallback += 1
        out[f"ab_{b}"] = ab[b]
    for k, b in enumerate(BANDS):
        conc = out[f"r90_{b}"] / out[f"r50_{b}"]
        n_est = sersic_from_concentration(conc, out[f"r50_{b}"] / psf_fwhm[k], calib)
        out[f"sersic_n_{b}"] = n_est if np.isfinite(n_est) else 1.0
    out["n_fallback"] = float(n_fallback)
    return out
