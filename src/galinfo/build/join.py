"""Joining SkyServer rows and ALLWISE candidates into data-model columns (pure functions)."""

from __future__ import annotations

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from galinfo.build import queries as q
from galinfo.data.catalog import as_float, empty_catalog
from galinfo.data.schema import BANDS, WISE_BANDS


def match_wise(ra, dec, candidates: Table, radius_arcsec: float) -> tuple[Table, dict[str, dict[str, int]]]:
    """Nearest ALLWISE candidate of each galaxy within ``radius_arcsec``; W1-W3 and errors (mag,
    Vega) with NaN for no match or a non-detection (no ``w?sigmpro``: an upper limit), counted."""
    n = len(ra)
    out = Table({c: np.full(n, np.nan) for b in WISE_BANDS for c in (b, f"{b}err")})
    out["wise_sep_arcsec"] = np.full(n, np.nan)
    matched = np.zeros(n, dtype=bool)
    if n and len(candidates):
        gal = SkyCoord(np.asarray(ra, float), np.asarray(dec, float), unit="deg")
        cand = SkyCoord(as_float(candidates["ra"]), as_float(candidates["dec"]), unit="deg")
        idx, sep, _ = gal.match_to_catalog_sky(cand)
        matched = sep.arcsec <= radius_arcsec
        out["wise_sep_arcsec"][matched] = sep.arcsec[matched]
        for b in WISE_BANDS:
            mag, err = as_float(candidates[f"{b}mpro"])[idx], as_float(candidates[f"{b}sigmpro"])[idx]
            detected = matched & np.isfinite(err)
            out[b][detected] = mag[detected]
            out[f"{b}err"][detected] = err[detected]
    masked: dict[str, dict[str, int]] = {}
    for b in WISE_BANDS:
        counts = {f"no ALLWISE source within {radius_arcsec:g} arcsec": int((~matched).sum()),
                  f"ALLWISE non-detection (no {b}sigmpro: upper limit)": int((matched & np.isnan(out[b])).sum())}
        counts = {k: v for k, v in counts.items() if v}
        for col in (b, f"{b}err"):
            if counts:
                masked[col] = dict(counts)
    return out, masked


def sdss_catalog(raw: Table) -> Table:
    """SkyServer result columns (:data:`galinfo.build.queries.CATALOGUE_COLUMNS`) -> data model.

    petroMag/petroMagErr -> mag/magerr; expAB -> ab; petroR50/R90 -> r50/r90 (arcsec);
    ``ebv`` = extinction_r / 2.751 (SFD); ``lgm_tot_p50`` -> logmstar; ``cls`` from the MPA-JHU
    specific SFR: sf above -11 (log yr^-1), passive at or below, other where missing. Sersic n is
    not in SkyServer's tables: ``sersic_n_*`` stay missing. Sentinels are left for mask_catalog.
    """
    t = empty_catalog(len(raw))
    t["objid"] = q.as_objids(raw["objid"])
    t["z"] = as_float(raw["z"])
    t["logmstar"] = as_float(raw["lgm_tot_p50"])
    ext = as_float(raw["extinction_r"])
    t["ebv"] = np.where(ext <= -99, ext, ext / q.EXTINCTION_R_PER_EBV)  # keep sentinels for counting
    for b in BANDS:
        for name, col in (("mag", "petroMag"), ("magerr", "petroMagErr"), ("ab", "expAB"),
                          ("r50", "petroR50"), ("r90", "petroR90")):
            t[f"{name}_{b}"] = as_float(raw[f"{col}_{b}"])
    for c in (*WISE_BANDS, *(f"{w}err" for w in WISE_BANDS)):
        if c in raw.colnames:
            t[c] = as_float(raw[c])
    ssfr = as_float(raw["specsfr_tot_p50"], sentinels=(-9999.0, -99.0), below=-29.0)
    t["cls"] = np.where(np.isfinite(ssfr), np.where(ssfr > -11.0, "sf", "passive"), "other")
    t["ssfr"] = ssfr
    for c in ("specobjid", "run", "rerun", "camcol", "field"):
        t[c] = np.asarray(raw[c], dtype=np.int64)
    for c in ("ra", "dec", "zerr", "wise_sep_arcsec", "cutout_dx", "cutout_dy"):
        if c in raw.colnames:
            t[c] = as_float(raw[c])
    return t


def merge_counts(into: dict, more: dict) -> None:
    """Add the counts ``more`` ({column: {reason: n}}) into ``into``, in place."""
    for col, counts in more.items():
        per_col = into.setdefault(col, {})
        for reason, n in counts.items():
            per_col[reason] = per_col.get(reason, 0) + n
