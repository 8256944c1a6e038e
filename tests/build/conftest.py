"""Synthetic SDSS for the build tests: corrected frames with SDSS-like TAN WCS headers and Gaussian
galaxies at known positions, and a fake archive service that answers the builder's queries from a
truth table (and records every request). No test here reaches the network."""

from __future__ import annotations

import bz2
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from galinfo.build.queries import CATALOGUE_COLUMNS
from galinfo.build.service import frame_name
from galinfo.data.schema import BANDS

PIXEL_DEG = 0.396 / 3600
SHAPE = (180, 220)  # (rows, columns) of a synthetic frame; real ones are 1489 x 2048
SIGMA_PX = 1.6
NOISE = 0.005  # nanomaggies per pixel (the sum over a 64 x 64 cutout: 0.3)
N_FIELDS = 24
#: Per band: (rotation relative to r [deg], CRVAL offset in RA and Dec [arcsec]), as in real frames
#: whose bands were exposed at different times of the drift scan.
BAND_GEOMETRY = {"u": (0.12, 3.1, -1.7), "g": (-0.07, 1.2, 0.8), "r": (0.0, 0.0, 0.0),
                 "i": (0.05, -0.9, 2.2), "z": (-0.10, -2.5, -1.1)}
SLOTS = ((55.0, 55.0), (150.0, 60.0), (60.0, 125.0), (150.0, 120.0))  # r-frame pixel positions


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any socket connection in these tests is an error."""
    def refuse(*args, **kwargs):
        raise AssertionError("a build test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def field_ids(f: int) -> tuple[int, int, int]:
    """(run, camcol, field) of synthetic field number f."""
    return 3704, 1 + f // 8, 100 + f


def frame_wcs(f: int, band: str) -> WCS:
    """An SDSS-like corrected-frame WCS: TAN, CD matrix, 0.396"/px, per-band rotation and offset."""
    rot, dra, ddec = BAND_GEOMETRY[band]
    theta = np.deg2rad(2.0 + 7.0 * (f % 3) + rot)
    ra0, dec0 = 150.0 + 0.25 * f, 2.0 + 0.05 * (f % 5)
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.crpix = [SHAPE[1] / 2 + 0.5, SHAPE[0] / 2 + 0.5]
    w.wcs.crval = [ra0 + dra / 3600 / np.cos(np.deg2rad(dec0)), dec0 + ddec / 3600]
    w.wcs.cd = PIXEL_DEG * np.array([[-np.cos(theta), np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    w.wcs.radesys = "ICRS"
    w.wcs.equinox = 2000.0
    return w


def mag_to_nmgy(mag: float) -> float:
    return 10 ** (-0.4 * (mag - 22.5))


@dataclass
class Sky:
    """Truth: the galaxies (catalogue columns as SkyServer returns them), WISE sources, frames."""

    truth: Table
    wise: Table
    frames_dir: Path
    fields_with_frames: list = field(default_factory=list)


def _render(shape, wcs: WCS, gals: Table, band: str, rng) -> np.ndarray:
    img = rng.normal(0.0, NOISE, shape).astype(np.float64)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    for g in gals:
        x, y = wcs.world_to_pixel(SkyCoord(g["ra"], g["dec"], unit="deg"))
        flux = g[f"true_flux_{band}"]
        img += flux / (2 * np.pi * SIGMA_PX**2) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * SIGMA_PX**2))
    return img.astype(np.float32)


def _write_frame(path: Path, data: np.ndarray, wcs: WCS, band: str, ids, compress: bool) -> None:
    header = wcs.to_header()
    header["BUNIT"] = "nanomaggy"
    header["FILTER"] = band
    header["RUN"], header["CAMCOL"], header["FIELD"] = ids
    hdul = fits.HDUList([fits.PrimaryHDU(data, header=header), fits.ImageHDU(np.ones(SHAPE[1], np.float32))])
    if compress:
        path = path.with_name(path.name + ".bz2")
        path.write_bytes(bz2.compress(_to_bytes(hdul)))
    else:
        hdul.writeto(path)


def _to_bytes(hdul) -> bytes:
    import io

    buf = io.BytesIO()
    hdul.writeto(buf)
    return buf.getvalue()


def make_sky(root: Path, seed: int = 0) -> Sky:
    """98 galaxies in 24 fields with frames (one galaxy off the r frame edge, one on NaN pixels of
    the g frame), one galaxy in a 25th field without frames; sentinels and WISE cases planted."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(N_FIELDS + 1):
        slots = list(SLOTS) if f < N_FIELDS else [(110.0, 90.0)]
        if f == 0:
            slots.append((14.0, 90.0))  # off the r frame edge
        if f == 1:
            slots.append((110.0, 90.0))  # NaN pixels in g (below)
        w = frame_wcs(f, "r")
        for x, y in slots:
            x, y = x + rng.uniform(-3, 3), y + rng.uniform(-3, 3)
            c = w.pixel_to_world(x, y)
            rows.append((f, float(c.ra.deg), float(c.dec.deg)))
    n = len(rows)
    t = Table()
    # objids above 2**53: a float on the way would change their last digits
    t["objid"] = np.int64(1237650000000000001) + np.arange(n, dtype=np.int64) * 7919
    t["specobjid"] = np.int64(299489677444933632) + np.arange(n, dtype=np.int64) * 8191
    t["ra"] = [r[1] for r in rows]
    t["dec"] = [r[2] for r in rows]
    ids = np.array([field_ids(r[0]) for r in rows])
    t["run"], t["rerun"], t["camcol"], t["field"] = ids[:, 0], 301, ids[:, 1], ids[:, 2]
    logm = rng.uniform(9.5, 11.5, n)
    for k, b in enumerate(BANDS):
        t[f"petroMag_{b}"] = 17.5 - (logm - 10.5) - 0.4 * k + rng.normal(0, 0.05, n)
        t[f"petroMagErr_{b}"] = rng.uniform(0.005, 0.05, n)
        t[f"expAB_{b}"] = rng.uniform(0.2, 1.0, n)
        t[f"petroR50_{b}"] = rng.uniform(1.0, 4.0, n)
        t[f"petroR90_{b}"] = t[f"petroR50_{b}"] * rng.uniform(2.0, 3.2, n)
    t["extinction_r"] = rng.uniform(0.02, 0.2, n)
    t["z"] = rng.uniform(0.02, 0.15, n)
    t["zerr"] = rng.uniform(1e-5, 1e-4, n)
    t["lgm_tot_p50"] = logm
    t["specsfr_tot_p50"] = rng.uniform(-12.5, -9.5, n)
    t["frame_index"] = [r[0] for r in rows]
    for b in BANDS:
        t[f"true_flux_{b}"] = mag_to_nmgy(np.asarray(t[f"petroMag_{b}"]))
    # planted SDSS sentinels, on galaxies with good cutouts (rows 0-3 and 5-8 are the normal
    # galaxies of fields 0 and 1; row 4 is off the frame edge, row 9 on NaN pixels)
    t["petroMag_u"][5] = t["petroMagErr_u"][5] = -9999.0
    t["lgm_tot_p50"][7] = -1.0
    t["expAB_z"][10] = -9999.0
    t["specsfr_tot_p50"][11] = -9999.0
    frames_dir = root / "frames"
    frames_dir.mkdir(parents=True)
    for f in range(N_FIELDS):
        gals = t[t["frame_index"] == f]
        for b in BANDS:
            w = frame_wcs(f, b)
            data = _render(SHAPE, w, gals, b, rng)
            if f == 1 and b == "g":  # bad pixels next to the galaxy at slot (110, 90)
                x, y = w.world_to_pixel(SkyCoord(gals["ra"][-1], gals["dec"][-1], unit="deg"))
                data[int(y) + 1 : int(y) + 4, int(x) + 1 : int(x) + 4] = np.nan
            _write_frame(frames_dir / frame_name(b, *field_ids(f)), data, w, b, field_ids(f), compress=f == 2)
    # WISE: a source 0.3-1.5" from each galaxy; for rows 3 and 8 it is 6" away (outside 3"); row 6
    # is not detected in W3 (no w3sigmpro: an upper limit).
    sep = rng.uniform(0.3, 1.5, n)
    sep[[3, 8]] = 6.0
    pa = rng.uniform(0, 2 * np.pi, n)
    cos_dec = np.cos(np.deg2rad(t["dec"]))
    wise = Table()
    wise["ra"] = np.asarray(t["ra"]) + sep / 3600 * np.sin(pa) / cos_dec
    wise["dec"] = np.asarray(t["dec"]) + sep / 3600 * np.cos(pa)
    for k, wb in enumerate(("w1", "w2", "w3")):
        wise[f"{wb}mpro"] = 14.0 + 0.5 * k + rng.normal(0, 0.3, n)
        sig = np.ma.MaskedArray(rng.uniform(0.02, 0.2, n), mask=np.zeros(n, bool))
        if wb == "w3":
            sig.mask[6] = True
        wise[f"{wb}sigmpro"] = sig
        wise[f"{wb}snr"] = 1.0 / sig.filled(np.nan)
    wise["true_row"] = np.arange(n)
    return Sky(t, wise, frames_dir, list(range(N_FIELDS)))


class FakeService:
    """Answers the builder from a :class:`Sky`; records requests; can fail on a chosen objid."""

    def __init__(self, sky: Sky, fail_on_objid: int | None = None):
        self.sky = sky
        self.fail_on_objid = fail_on_objid
        self.sql: list[str] = []
        self.frames: list[tuple] = []
        self.wise_calls = 0

    def describe(self) -> dict:
        return {"name": "fake SDSS (tests)", "sql_url": "test://skyserver", "wise_url": "test://irsa"}

    def query_sql(self, sql: str) -> Table:
        self.sql.append(sql)
        t = self.sky.truth
        values = re.search(r"\(VALUES (.*?)\) AS u\(idx, ra, dec\)", sql)
        if values is not None:  # a coordinate selection: the nearest galaxy within the radius
            radius = float(re.search(r"fGetNearestObjEq\(u\.ra, u\.dec, ([0-9.e-]+)\)", sql).group(1)) * 60
            rows = [tuple(map(float, v.split(","))) for v in re.findall(r"\(([^()]*)\)", values.group(1))]
            idx, ra, dec = (np.array(c) for c in zip(*rows, strict=True))
            near, sep, _ = SkyCoord(ra, dec, unit="deg").match_to_catalog_sky(SkyCoord(t["ra"], t["dec"], unit="deg"))
            ok = sep.arcsec <= radius
            out = t[near[ok]][[name for _, name in CATALOGUE_COLUMNS]]
            out.add_column(idx[ok].astype(np.int64), name="idx", index=0)
            return out
        m = re.search(r"p\.objID IN \(([0-9,]+)\)", sql)
        if m is None:  # the selection: objids ordered by frame
            order = np.lexsort((t["objid"], t["field"], t["camcol"], t["run"]))
            top = re.search(r"SELECT TOP (\d+)", sql)
            order = order[: int(top.group(1))] if top else order
            return t[order]["objid", "run", "camcol", "field"]
        ids = np.array([int(v) for v in m.group(1).split(",")], dtype=np.int64)
        if self.fail_on_objid is not None and self.fail_on_objid in ids:
            raise ConnectionError("HTTP 503: SkyServer is unavailable\n(second line of the server's page)")
        rows = t[np.isin(t["objid"], ids)]
        return rows[[name for _, name in CATALOGUE_COLUMNS]]

    def get_frame(self, run, camcol, field, band):
        self.frames.append((int(run), int(camcol), int(field), band))
        for suffix in ("", ".bz2"):
            path = self.sky.frames_dir / (frame_name(band, run, camcol, field) + suffix)
            if path.exists():
                return path
        return None

    def allwise(self, positions: Table, radius_arcsec: float) -> Table:
        self.wise_calls += 1
        w = self.sky.wise
        gal = SkyCoord(positions["ra"], positions["dec"], unit="deg")
        src = SkyCoord(w["ra"], w["dec"], unit="deg")
        idx, sep, _ = src.match_to_catalog_sky(gal)
        near = sep.arcsec <= 10 * radius_arcsec  # a generous cone, as a real one may return neighbours
        out = w[near]
        out["idx"] = np.asarray(positions["idx"])[idx[near]]
        return out


@pytest.fixture(scope="session")
def sky(tmp_path_factory) -> Sky:
    return make_sky(tmp_path_factory.mktemp("sky"))
