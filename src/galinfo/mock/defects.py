"""Defects of real survey catalogues, injected into a mock catalogue at realistic rates.

A clean mock never exercises the missing-value contract. With ``MockConfig(defects="sdss")`` the
measured catalogue gets what real SDSS + MPA-JHU + WISE tables have: failed stellar-mass fits,
masses outside the usual bin range, magnitudes (with their errors) lost to a ``-9999`` sentinel,
WISE W1/W2 non-detections (W3 already has them) and failed morphology fits in u and z. Inside the
dataset they are missing values (NaN) or, for the low masses, values; ``galinfo export npz`` writes
the missing ones as the surveys do (:func:`galinfo.data.importers.export_sentinel`). True (``true_*``)
columns are never touched. The injected counts go to the manifest (``provenance.defects``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galinfo.data.schema import BANDS, MORPH_QUANTITIES
from galinfo.errors import ConfigError


@dataclass(frozen=True)
class DefectRates:
    """Fraction of galaxies hit by each defect (each drawn independently)."""

    failed_mass_fit: float = 0.01
    mass_below_bins: float = 0.005
    mag_sentinel: float = 0.005
    wise_nondetection: float = 0.01
    failed_morph_u: float = 0.02
    failed_morph_z: float = 0.01


#: Known defect sets: ``none`` (a clean mock) and ``sdss`` (SDSS DR7 + MPA-JHU + ALLWISE-like).
DEFECT_SETS: dict[str, DefectRates | None] = {"none": None, "sdss": DefectRates()}

#: log10 Msun range of the "masses outside the bin range" defect (dwarfs below the 6.0 bin edge).
LOW_MASS_RANGE = (5.2, 5.9)


def check_defects(name: str) -> str:
    """``name`` if it is a known defect set, else a one-line :class:`ConfigError`."""
    if name not in DEFECT_SETS:
        raise ConfigError(f"defects {name!r} is not one of {', '.join(DEFECT_SETS)}")
    return name


def inject_defects(columns: dict[str, np.ndarray], name: str, seed: int) -> dict[str, int]:
    """Return ``columns`` (float arrays, changed in place) with the defects of set ``name``.

    Returns the number of galaxies hit per defect (keys as :class:`DefectRates` fields). Seeded: the
    same (columns, name, seed) give the same defects.
    """
    rates = DEFECT_SETS[check_defects(name)]
    if rates is None:
        return {}
    n = len(columns["objid"])
    rng = np.random.default_rng([seed, 0xDEFEC7])
    hit = {f: rng.random(n) < getattr(rates, f) for f in
           ("failed_mass_fit", "mass_below_bins", "mag_sentinel", "wise_nondetection", "failed_morph_u",
            "failed_morph_z")}
    hit["mass_below_bins"] &= ~hit["failed_mass_fit"]
    band = rng.integers(0, len(BANDS), n)  # the band a magnitude sentinel hits
    low_mass = rng.uniform(*LOW_MASS_RANGE, n)

    def blank(cols, rows):
        for c in cols:
            if c in columns:
                columns[c] = np.where(rows, np.nan, np.asarray(columns[c], dtype=np.float64))

    blank(["logmstar"], hit["failed_mass_fit"])
    columns["logmstar"] = np.where(hit["mass_below_bins"], low_mass, columns["logmstar"])
    for k, b in enumerate(BANDS):
        blank([f"mag_{b}", f"magerr_{b}"], hit["mag_sentinel"] & (band == k))
    blank(["w1", "w2", "w1err", "w2err"], hit["wise_nondetection"])
    for b in ("u", "z"):
        blank([f"{q}_{b}" for q in MORPH_QUANTITIES], hit[f"failed_morph_{b}"])
    return {k: int(v.sum()) for k, v in hit.items()}

