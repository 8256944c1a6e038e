"""Configuration of the mock survey: one frozen, hashable spec with units in the field docs.

Everything that changes the realisation lives here, so that a (config, seed) pair names a mock and a
resumed run can refuse a partial folder written with a different configuration.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from galinfo.errors import ConfigError

#: Effective wavelengths (Angstrom) used to scale the seeing between bands.
BAND_WAVELENGTH_A: dict[str, float] = {"u": 3551.0, "g": 4686.0, "r": 6166.0, "i": 7480.0, "z": 8932.0}

#: Median dark-sky surface brightness per band, AB mag / arcsec^2 (SDSS-like).
SKY_MAG_ARCSEC2: dict[str, float] = {"u": 22.2, "g": 21.9, "r": 20.9, "i": 20.3, "z": 19.1}

#: Photo-electrons per nanomaggy in one 53.9 s SDSS exposure (gain x counts per nanomaggy).
ELECTRONS_PER_NMGY: dict[str, float] = {"u": 170.0, "g": 990.0, "r": 900.0, "i": 650.0, "z": 150.0}

#: Read noise + dark current variance per pixel, electrons^2.
READ_VAR_E2: dict[str, float] = {"u": 40.0, "g": 25.0, "r": 25.0, "i": 25.0, "z": 40.0}

#: SDSS asinh-magnitude softening parameters b (in maggies), Lupton et al. (1999) / SDSS DR7.
ASINH_B: dict[str, float] = {"u": 1.4e-10, "g": 0.9e-10, "r": 1.2e-10, "i": 1.8e-10, "z": 7.4e-10}

#: WISE AB - Vega offsets (Jarrett et al. 2011).
WISE_AB_MINUS_VEGA: dict[str, float] = {"w1": 2.699, "w2": 3.339, "w3": 5.174}

#: ALLWISE 5-sigma point-source depths, Vega mag (54, 71, 730 microJy).
WISE_DEPTH_5SIG_VEGA: dict[str, float] = {"w1": 16.9, "w2": 15.95, "w3": 11.6}

#: WISE PSF FWHM, arcsec (Wright et al. 2010).
WISE_PSF_FWHM: dict[str, float] = {"w1": 6.1, "w2": 6.4, "w3": 6.5}

#: Galactic extinction A_band / E(B-V) for the WISE bands (approximate mid-IR law values).
WISE_EXTINCTION_COEFF: dict[str, float] = {"w1": 0.18, "w2": 0.16, "w3": 0.10}


@dataclass(frozen=True)
class MockConfig:
    """Physical and survey settings of the mock (defaults: an SDSS main-sample-like survey).

    Attributes
    ----------
    r_limit : float
        Petrosian r flux limit (AB mag) applied to the *measured* catalogue (SDSS main: 17.77).
    render_margin : float
        Candidates with true total r (AB, with Galactic extinction) fainter than
        ``r_limit + render_margin`` are rejected before rendering (a speed cut; see docs/mock.md).
    z_min, z_max : float
        Redshift range of the candidate population.
    logm_min, logm_max : float
        Stellar-mass range of the candidate population, log10 Msun.
    stamp_size : int
        Image side in pixels (64).
    pixel_scale : float
        Pixel scale, arcsec / pixel (0.396, SDSS).
    seeing_median_r : float
        Median r-band PSF FWHM, arcsec.
    seeing_sigma_dex : float
        Log-normal scatter of the seeing, dex.
    moffat_beta : float
        Moffat index of the PSF.
    disc_q0 : float
        Intrinsic disc thickness (edge-on axis ratio).
    dust_grey_coeff : float
        Grey (wavelength-independent) optical attenuation of an inclined disc, in units of its
        face-on A_V per dex of 1/q: A_grey = coeff * A_V,face * log10(1/q). Optically thick dust
        lanes make the attenuation curve greyer towards edge-on (Tuffs et al. 2004; Chevallard et al.
        2013), so an edge-on disc is fainter without being redder and integrated colours cannot
        correct for it: only the axis ratio can. 0 turns it off.
    renderer : str
        ``"fourier"`` (fast Fourier synthesis of the GalSim profiles) or ``"galsim"`` (GalSim
        ``drawImage``, the reference); they agree to a few 1e-5 of the total flux per pixel.
    defects : str
        ``"none"`` (default, a clean catalogue) or ``"sdss"``: add the defects of real survey
        catalogues at realistic rates after rendering (:mod:`galinfo.mock.defects`). They do not
        change the rendered chunks, so ``--resume`` may switch them.
    chunk_size : int
        Candidates per chunk (the unit of work, of the ``.partial`` files and of ``--resume``).
        Changing it does not change the mock: every candidate is drawn and rendered from its
        own seed.
    """

    r_limit: float = 17.77
    render_margin: float = 0.15
    z_min: float = 0.005
    z_max: float = 0.35
    logm_min: float = 7.5
    logm_max: float = 12.3
    stamp_size: int = 64
    pixel_scale: float = 0.396
    seeing_median_r: float = 1.35
    seeing_sigma_dex: float = 0.07
    moffat_beta: float = 3.5
    disc_q0: float = 0.2
    dust_grey_coeff: float = 2.5
    renderer: str = "fourier"
    defects: str = "none"
    chunk_size: int = 500

    def __post_init__(self) -> None:
        if not 0 < self.z_min < self.z_max <= 1.0:
            raise ConfigError(f"mock redshift range ({self.z_min}, {self.z_max}) must satisfy 0 < z_min < z_max <= 1")
        if not self.logm_min < self.logm_max:
            raise ConfigError(f"mock mass range ({self.logm_min}, {self.logm_max}) is empty")
        if self.stamp_size < 16 or self.stamp_size % 2:
            raise ConfigError(f"stamp_size {self.stamp_size} must be an even number >= 16")
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size {self.chunk_size} must be positive")
        if self.renderer not in ("fourier", "galsim"):
            raise ConfigError(f"renderer {self.renderer!r} must be 'fourier' or 'galsim'")
        if self.dust_grey_coeff < 0:
            raise ConfigError(f"dust_grey_coeff {self.dust_grey_coeff} must be >= 0")
        if self.render_margin < 0:
            raise ConfigError(f"render_margin {self.render_margin} must be >= 0")
        from galinfo.mock.defects import check_defects

        check_defects(self.defects)

    def realisation_dict(self) -> dict:
        """Fields that change the rendered realisation (``chunk_size`` and ``defects`` do not)."""
        d = asdict(self)
        d.pop("chunk_size")
        d.pop("defects")
        return d

    def digest(self) -> str:
        """Short hash of :meth:`realisation_dict`, used to check ``--resume``."""
        text = json.dumps(self.realisation_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
