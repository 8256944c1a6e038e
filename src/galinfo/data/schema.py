"""The canonical galaxy catalogue: column names, types, units and meanings.

A dataset is a folder holding ``catalog.fits`` (one row per galaxy, these columns), an optional
``images.h5`` ugriz cube aligned by ``objid``, and ``manifest.json``. See ``docs/data-model.md``.
Masked (missing) values are stored as NaN in float columns; catalogue-specific sentinels never reach
a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u

SCHEMA_VERSION = 1

BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z")
"""SDSS optical bands, in wavelength order."""

WISE_BANDS: tuple[str, ...] = ("w1", "w2", "w3")
"""WISE bands used by galinfo (W4 is not used)."""

SPLITS: tuple[str, ...] = ("train", "val", "test")
CLASSES: tuple[str, ...] = ("sf", "passive", "other")

MORPH_QUANTITIES: tuple[str, ...] = ("sersic_n", "ab", "r50", "r90")
"""Morphology quantities measured per band: Sersic index, axis ratio b/a, Petrosian R50, R90."""

IMAGE_PIXEL_SCALE_ARCSEC = 0.396
IMAGE_UNIT = "nanomaggy / pixel"

#: log10 Msun has no FITS-standard unit string: the column carries no unit, and the catalogue
#: header's COMMENT cards say "logmstar: log10 stellar mass [Msun]".
LOG_MSUN = None


@dataclass(frozen=True)
class ColumnSpec:
    """One catalogue column: name, numpy dtype kind, unit and meaning."""

    name: str
    dtype: str
    unit: u.UnitBase | None
    description: str


def _columns() -> tuple[ColumnSpec, ...]:
    cols = [
        ColumnSpec("objid", "int64", None, "unique galaxy identifier (never passes through float)"),
        ColumnSpec("split", "str", None, "train / val / test"),
        ColumnSpec("z", "float64", u.dimensionless_unscaled, "spectroscopic redshift"),
        ColumnSpec("logmstar", "float64", LOG_MSUN, "stellar mass, log10 Msun (the default target)"),
        ColumnSpec("ebv", "float64", u.mag, "Galactic E(B-V) (SFD-like), mag"),
    ]
    for b in BANDS:
        cols.append(ColumnSpec(f"mag_{b}", "float64", u.mag, f"Petrosian {b} magnitude, AB"))
    for b in BANDS:
        cols.append(ColumnSpec(f"magerr_{b}", "float64", u.mag, f"error of mag_{b}"))
    for w in WISE_BANDS:
        cols.append(ColumnSpec(w, "float64", u.mag, f"WISE {w.upper()} profile-fit magnitude, Vega"))
    for w in WISE_BANDS:
        cols.append(ColumnSpec(f"{w}err", "float64", u.mag, f"error of {w}"))
    for b in BANDS:
        cols.append(ColumnSpec(f"sersic_n_{b}", "float64", u.dimensionless_unscaled, f"Sersic index, {b}"))
        cols.append(ColumnSpec(f"ab_{b}", "float64", u.dimensionless_unscaled, f"axis ratio b/a, {b}"))
        cols.append(ColumnSpec(f"r50_{b}", "float64", u.arcsec, f"Petrosian half-light radius, {b}"))
        cols.append(ColumnSpec(f"r90_{b}", "float64", u.arcsec, f"Petrosian 90% radius, {b}"))
    cols.append(ColumnSpec("cls", "str", None, "galaxy class: sf, passive or other"))
    return tuple(cols)


COLUMNS: tuple[ColumnSpec, ...] = _columns()
COLUMN_BY_NAME: dict[str, ColumnSpec] = {c.name: c for c in COLUMNS}
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.dtype == "float64")

MORPH_COLUMNS: tuple[str, ...] = tuple(f"{q}_{b}" for b in BANDS for q in MORPH_QUANTITIES)
"""The 20 morphology numbers (4 quantities x 5 bands), band-major."""

# Paper-code (Zhang, Lin, Ting et al. 2025) catalogue.npz names for our columns.
PAPER_NPZ_NAMES: dict[str, str] = {
    "logmstar": "lgm_tot_p50",
    "ebv": "EBV",
    "z": "z",
    **{f"mag_{b}": f"petroMag_{b}" for b in BANDS},
    **{f"magerr_{b}": f"petroMagErr_{b}" for b in BANDS},
    "w1": "w1mpro",
    "w2": "w2mpro",
    "w3": "w3mpro",
    "w1err": "w1sigmpro",
    "w2err": "w2sigmpro",
    "w3err": "w3sigmpro",  # not in the paper code (it does not use the W3 error); kept for round trips
    **{f"sersic_n_{b}": f"Sersic_n_{b}" for b in BANDS},
    **{f"ab_{b}": f"expAB_{b}" for b in BANDS},
    **{f"r50_{b}": f"petroR50_{b}" for b in BANDS},
    **{f"r90_{b}": f"petroR90_{b}" for b in BANDS},
}


def mag_to_nanomaggies(mag):
    """AB magnitude -> flux in nanomaggies (22.5 mag zero point)."""
    import numpy as np

    return np.power(10.0, -0.4 * (np.asarray(mag, dtype=float) - 22.5))


def nanomaggies_to_mag(flux):
    """Flux in nanomaggies -> AB magnitude; non-positive fluxes give NaN."""
    import numpy as np

    flux = np.asarray(flux, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, 22.5 - 2.5 * np.log10(np.where(flux > 0, flux, 1.0)), np.nan)
