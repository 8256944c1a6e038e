"""Spectral energy distributions and synthetic photometry of the mock.

Stellar SEDs are the Coleman, Wu & Weedman (1980) templates shipped with GalSim (extended by
Bolzonella et al. 2000), continued beyond 2.2 micron with a stellar Rayleigh-Jeans tail
(f_lambda ~ lambda^-4). Star formation adds a schematic mid-IR dust + PAH spectrum whose W3
luminosity follows Cluver et al. (2017). Attenuation inside the galaxy is Calzetti et al. (2000);
Galactic extinction is Cardelli et al. (1989) with the O'Donnell (1994) optical update, R_V = 3.1.
Photometry is integrated through the real SDSS (``sdss2010-*``) and WISE (``wise2010-*``) response
curves of speclite, on a redshift x A_V grid (:class:`PhotometryTables`) interpolated per galaxy.

Units: wavelengths in Angstrom, luminosities in erg/s/Angstrom, magnitudes AB unless stated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

C_ANGSTROM_S = 2.99792458e18
PC_CM = 3.0856775814913673e18
L_SUN_ERG_S = 3.828e33
AB_ZERO_FNU = 3631e-23  # erg/s/cm^2/Hz
M_SUN_R_AB = 4.65  # absolute AB magnitude of the Sun in SDSS r (Willmer 2018)

PHOT_BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z", "w1", "w2", "w3")
"""Bands of the photometry tables: SDSS ugriz then WISE W1-W3."""

STELLAR_TEMPLATES: tuple[str, ...] = ("E", "Sbc", "Scd", "Im")
_FILTER_NAMES = {
    **{b: f"sdss2010-{b}" for b in "ugriz"},
    "w1": "wise2010-W1",
    "w2": "wise2010-W2",
    "w3": "wise2010-W3",
}
W3_REF_WAVELENGTH_A = 12.0e4

# Rest-frame wavelength grid of the extended SEDs: 900 A to 40 micron.
_LAM = np.geomspace(900.0, 4.0e5, 6000)


def calzetti_k(lam_a: np.ndarray) -> np.ndarray:
    """Calzetti et al. (2000) starburst attenuation curve k(lambda) = A_lambda / E(B-V)_s, R_V = 4.05.

    Beyond 2.2 micron (outside the published range) k falls as a lambda^-1.7 power law.
    """
    lam = np.asarray(lam_a, dtype=float) / 1e4
    rv = 4.05
    k = np.empty_like(lam)
    blue = lam < 0.63
    red = (lam >= 0.63) & (lam <= 2.2)
    ir = lam > 2.2
    x = lam[blue]
    k[blue] = 2.659 * (-2.156 + 1.509 / x - 0.198 / x**2 + 0.011 / x**3) + rv
    k[red] = 2.659 * (-1.857 + 1.040 / lam[red]) + rv
    k22 = 2.659 * (-1.857 + 1.040 / 2.2) + rv
    k[ir] = k22 * (2.2 / lam[ir]) ** 1.7
    return np.maximum(k, 0.0)


def attenuation_av(lam_a: np.ndarray, av: float | np.ndarray) -> np.ndarray:
    """Calzetti A_lambda (mag) for a V-band attenuation ``av`` (mag)."""
    return np.multiply.outer(np.asarray(av, dtype=float), calzetti_k(lam_a) / 4.05)


def ccm_odonnell(lam_a: np.ndarray, rv: float = 3.1) -> np.ndarray:
    """Milky-Way extinction A_lambda / A_V: Cardelli et al. (1989) with O'Donnell (1994) optical."""
    x = 1e4 / np.asarray(lam_a, dtype=float)
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    ir = (x >= 0.3) & (x < 1.1)
    a[ir] = 0.574 * x[ir] ** 1.61
    b[ir] = -0.527 * x[ir] ** 1.61
    far_ir = x < 0.3  # beyond 3.3 micron: continue the IR power law
    a[far_ir] = 0.574 * x[far_ir] ** 1.61
    b[far_ir] = -0.527 * x[far_ir] ** 1.61
    opt = (x >= 1.1) & (x < 3.3)
    y = x[opt] - 1.82
    a[opt] = np.polyval([-0.505, 1.647, -0.827, -1.718, 1.137, 0.701, -0.609, 0.104, 1.0], y)
    b[opt] = np.polyval([3.347, -10.805, 5.491, 11.102, -7.985, -3.989, 2.908, 1.952, 0.0], y)
    uv = x >= 3.3
    xu = np.minimum(x[uv], 8.0)
    fa = np.where(xu >= 5.9, -0.04473 * (xu - 5.9) ** 2 - 0.009779 * (xu - 5.9) ** 3, 0.0)
    fb = np.where(xu >= 5.9, 0.2130 * (xu - 5.9) ** 2 + 0.1207 * (xu - 5.9) ** 3, 0.0)
    a[uv] = 1.752 - 0.316 * xu - 0.104 / ((xu - 4.67) ** 2 + 0.341) + fa
    b[uv] = -3.090 + 1.825 * xu + 1.206 / ((xu - 4.62) ** 2 + 0.263) + fb
    return a + b / rv


def _cww_path(name: str) -> str:
    import galsim

    return os.path.join(galsim.meta_data.share_dir, "SEDs", f"CWW_{name}_ext.sed")


@cache
def stellar_template(name: str) -> np.ndarray:
    """Rest-frame L_lambda of a CWW template on the module grid (arbitrary scale), IR-extended."""
    data = np.loadtxt(_cww_path(name))
    lam, flam = data[:, 0], data[:, 1]
    out = np.interp(_LAM, lam, flam, left=0.0, right=0.0)
    tail = _LAM > lam[-1]
    # Stellar Rayleigh-Jeans tail beyond the last tabulated point (2.2 micron).
    out[tail] = flam[-1] * (_LAM[tail] / lam[-1]) ** -4
    return out


def _planck_nu(lam_a: np.ndarray, temp: float) -> np.ndarray:
    lam_cm = lam_a * 1e-8
    h, c, k = 6.62607015e-27, 2.99792458e10, 1.380649e-16
    nu = c / lam_cm
    with np.errstate(over="ignore"):
        return nu**3 / np.expm1(np.minimum(h * nu / (k * temp), 700.0))


@cache
def dust_emission_template() -> np.ndarray:
    """Schematic star-forming mid-IR emission L_lambda (arbitrary scale) on the module grid.

    PAH Drude profiles (3.3, 6.2, 7.7, 8.6, 11.3, 12.7, 17 micron; widths after Smith et al. 2007),
    a warm modified black body (T = 100 K, beta = 1.5) and a weak hot component (T = 600 K).
    """
    lam_um = _LAM / 1e4
    pah = ((3.3, 0.012, 0.1), (6.22, 0.030, 0.6), (7.7, 0.126, 1.0), (8.6, 0.039, 0.5),
           (11.3, 0.032, 0.6), (12.7, 0.042, 0.4), (17.0, 0.12, 0.2))  # fmt: skip
    inu = np.zeros_like(lam_um)
    for lam0, gamma, amp in pah:
        inu += amp * gamma**2 / ((lam_um / lam0 - lam0 / lam_um) ** 2 + gamma**2)

    def _norm_bb(temp: float, beta: float, lam_ref: float, value: float) -> np.ndarray:
        bb = _planck_nu(_LAM, temp) * (1e4 / _LAM) ** beta
        ref = np.interp(lam_ref * 1e4, _LAM, bb)
        return value * bb / ref

    inu += _norm_bb(100.0, 1.5, 20.0, 1.0) + _norm_bb(600.0, 1.0, 4.0, 0.05)
    return inu / _LAM**2  # I_nu -> L_lambda


def _filter(band: str):
    import speclite.filters

    f = speclite.filters.load_filter(_FILTER_NAMES[band])
    return np.asarray(f.wavelength, dtype=float), np.asarray(f.response, dtype=float)


def _band_fnu(lam_obs: np.ndarray, resp: np.ndarray, flam: np.ndarray) -> np.ndarray:
    """Band-averaged f_nu (erg/s/cm^2/Hz) of f_lambda sampled at ``lam_obs`` (last axis)."""
    num = np.trapezoid(flam * resp * lam_obs, lam_obs, axis=-1)
    den = np.trapezoid(C_ANGSTROM_S / lam_obs**2 * resp * lam_obs, lam_obs)
    return num / den


def luminosity_distance_cm(z: np.ndarray) -> np.ndarray:
    """Luminosity distance (cm), flat LambdaCDM with H0 = 70 km/s/Mpc, Omega_m = 0.3."""
    return _cosmo_grid()[1](np.asarray(z, dtype=float))


def angular_diameter_distance_kpc(z: np.ndarray) -> np.ndarray:
    """Angular-diameter distance (kpc) in the same cosmology."""
    z = np.asarray(z, dtype=float)
    return luminosity_distance_cm(z) / (1 + z) ** 2 / (PC_CM * 1e3)


def distance_modulus(z: np.ndarray) -> np.ndarray:
    """5 log10(d_L / 10 pc)."""
    return 5.0 * np.log10(luminosity_distance_cm(z) / (10 * PC_CM))


def age_of_universe_gyr(z: np.ndarray) -> np.ndarray:
    """Cosmic time at redshift ``z``, Gyr (same cosmology)."""
    return _cosmo_grid()[2](np.asarray(z, dtype=float))


def comoving_volume_element(z: np.ndarray) -> np.ndarray:
    """dV_c/dz per steradian (Mpc^3), same cosmology."""
    return _cosmo_grid()[3](np.asarray(z, dtype=float))


@lru_cache(maxsize=1)
def _cosmo_grid():
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=70.0, Om0=0.3)
    zg = np.linspace(0.0, 1.2, 2401)
    dl = cosmo.luminosity_distance(zg).to("cm").value
    age = cosmo.age(zg).to("Gyr").value
    dv = cosmo.differential_comoving_volume(zg).to("Mpc3 / sr").value

    def interp(values):
        return lambda z: np.interp(z, zg, values)

    return zg, interp(dl), interp(age), interp(dv)


@dataclass(frozen=True)
class PhotometryTables:
    """Precomputed synthetic photometry on a redshift (x A_V) grid.

    ``stellar[t, b, iz, iav]``: observed AB magnitude minus distance modulus of stellar template t
    (normalised to absolute rest-frame r = 0 AB before attenuation), attenuated by Calzetti A_V.
    ``dust[b, iz]``: the same for the dust-emission template normalised to L_W3 = 1 Lsun at z = 0
    (so add -2.5 log10 L_W3/Lsun). ``rest_gr[t]``: rest-frame g - r of each stellar template.
    ``galactic_r[b]``: A_band / E(B-V) for the Milky-Way law (flat-f_nu source).
    """

    z: np.ndarray
    av: np.ndarray
    stellar: np.ndarray
    dust: np.ndarray
    rest_gr: np.ndarray
    galactic_r: np.ndarray

    def stellar_mag(self, t: int, z: np.ndarray, av: np.ndarray) -> np.ndarray:
        """(n, 8) magnitudes minus DM for template index ``t`` (bilinear in z and A_V)."""
        return _bilinear(self.stellar[t], self.z, self.av, z, av)

    def dust_mag(self, z: np.ndarray) -> np.ndarray:
        """(n, 8) dust-emission magnitudes minus DM per unit L_W3 (Lsun)."""
        z = np.asarray(z, dtype=float)
        return np.stack([np.interp(z, self.z, self.dust[b]) for b in range(self.dust.shape[0])], axis=1)


def _bilinear(table: np.ndarray, xg: np.ndarray, yg: np.ndarray, x, y) -> np.ndarray:
    """Interpolate ``table[b, ix, iy]`` at points (x, y); returns (n, b)."""
    x = np.clip(np.asarray(x, dtype=float), xg[0], xg[-1])
    y = np.clip(np.asarray(y, dtype=float), yg[0], yg[-1])
    ix = np.clip(np.searchsorted(xg, x) - 1, 0, len(xg) - 2)
    iy = np.clip(np.searchsorted(yg, y) - 1, 0, len(yg) - 2)
    tx = (x - xg[ix]) / (xg[ix + 1] - xg[ix])
    ty = (y - yg[iy]) / (yg[iy + 1] - yg[iy])
    t00 = table[:, ix, iy]
    t10 = table[:, ix + 1, iy]
    t01 = table[:, ix, iy + 1]
    t11 = table[:, ix + 1, iy + 1]
    out = t00 * (1 - tx) * (1 - ty) + t10 * tx * (1 - ty) + t01 * (1 - tx) * ty + t11 * tx * ty
    return out.T


@lru_cache(maxsize=1)
def photometry_tables() -> PhotometryTables:
    """Build (once per process) the synthetic photometry tables. Takes about a second."""
    zg = np.concatenate([[0.0], np.geomspace(0.002, 0.45, 90)])
    avg = np.linspace(0.0, 4.0, 41)
    dist_10pc = 10 * PC_CM
    nb = len(PHOT_BANDS)
    stellar = np.empty((len(STELLAR_TEMPLATES), nb, len(zg), len(avg)))
    dust = np.empty((nb, len(zg)))
    rest_gr = np.empty(len(STELLAR_TEMPLATES))
    filters = {b: _filter(b) for b in PHOT_BANDS}

    def abmag(fnu):
        return -2.5 * np.log10(np.maximum(fnu, 1e-300) / AB_ZERO_FNU)

    # Observed flux at 10 pc scaled so that "m - DM" is independent of distance: use f_lambda of a
    # source at 10 pc, redshifted with the (1+z) bandwidth factor only.
    for t, name in enumerate(STELLAR_TEMPLATES):
        lum = stellar_template(name)
        lam_r, resp_r = filters["r"]
        m_r0 = abmag(_band_fnu(lam_r, resp_r, np.interp(lam_r, _LAM, lum) / (4 * np.pi * dist_10pc**2)))
        lum = lum * 10 ** (0.4 * m_r0)  # absolute rest-frame r = 0 AB
        lam_g, resp_g = filters["g"]
        m_g0 = abmag(_band_fnu(lam_g, resp_g, np.interp(lam_g, _LAM, lum) / (4 * np.pi * dist_10pc**2)))
        rest_gr[t] = m_g0
        for b, band in enumerate(PHOT_BANDS):
            lam_o, resp = filters[band]
            lam_rest = lam_o[None, :] / (1 + zg[:, None])  # (nz, nl)
            base = np.interp(lam_rest, _LAM, lum) / (4 * np.pi * dist_10pc**2) / (1 + zg[:, None])
            ext = 10 ** (-0.4 * attenuation_av(lam_rest, avg))  # (nav, nz, nl)
            fnu = _band_fnu(lam_o, resp, base[None] * ext)  # (nav, nz)
            stellar[t, b] = abmag(fnu).T
    dlum = dust_emission_template()
    lam_w3, resp_w3 = filters["w3"]
    fnu_w3 = _band_fnu(lam_w3, resp_w3, np.interp(lam_w3, _LAM, dlum) / (4 * np.pi * dist_10pc**2))
    l_w3 = fnu_w3 * 4 * np.pi * dist_10pc**2 * C_ANGSTROM_S / W3_REF_WAVELENGTH_A  # nu L_nu, erg/s
    dlum = dlum * L_SUN_ERG_S / l_w3  # L_W3 = 1 Lsun
    for b, band in enumerate(PHOT_BANDS):
        lam_o, resp = filters[band]
        lam_rest = lam_o[None, :] / (1 + zg[:, None])
        flam = np.interp(lam_rest, _LAM, dlum) / (4 * np.pi * dist_10pc**2) / (1 + zg[:, None])
        dust[b] = abmag(_band_fnu(lam_o, resp, flam))
    galactic = np.empty(nb)
    for b, band in enumerate(PHOT_BANDS):
        lam_o, resp = filters[band]
        flat = C_ANGSTROM_S / lam_o**2  # flat f_nu
        ebv = 0.01
        a = ccm_odonnell(lam_o) * 3.1 * ebv
        ratio = _band_fnu(lam_o, resp, flat * 10 ** (-0.4 * a)) / _band_fnu(lam_o, resp, flat)
        galactic[b] = -2.5 * np.log10(ratio) / ebv
    return PhotometryTables(zg, avg, stellar, dust, rest_gr, galactic)


def bell03_log_ml_r(gr: np.ndarray) -> np.ndarray:
    """log10 (M*/L_r) from rest-frame g - r, Bell et al. (2003) table 7, shifted -0.15 dex to a
    Kroupa-like IMF (their recommended offset)."""
    return -0.306 + 1.097 * np.asarray(gr, dtype=float) - 0.15
