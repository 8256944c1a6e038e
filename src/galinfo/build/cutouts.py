"""ugriz cutouts on the r-band grid from SDSS corrected frames.

The r cutout is cut from the r frame with :class:`astropy.nddata.Cutout2D` (no resampling: r
pixels are the frame's own). The other bands are cut with a margin around the same sky position
from their own frames and resampled with :func:`reproject.reproject_interp` (bicubic) onto the r
cutout's WCS. SDSS pixels are 0.396" in every band, so values stay nanomaggies per pixel. The
galaxy lies within half a pixel of the cutout centre; the offset is returned (r-grid pixels).

A galaxy whose cutout would leave any band's frame, or that has a non-finite pixel in any band's
cut (the margin included), gets no image and a reason instead (the builder counts it).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D, NoOverlapError, PartialOverlapError
from astropy.wcs import WCS, FITSFixedWarning

from galinfo.data.schema import BANDS
from galinfo.errors import DataValidationError

CUTOUT_SIZE = 64
#: Extra pixels on each side of the u, g, i, z cut before resampling (covers band offsets/rotation).
MARGIN = 8


@dataclass(frozen=True, eq=False)
class Frame:
    """One corrected frame: ``data`` in nanomaggies per pixel (float32) and its celestial WCS."""

    data: np.ndarray
    wcs: WCS


@dataclass(frozen=True)
class Cutout:
    """A (5, size, size) float32 ugriz cube (nanomaggies/pixel), or None with the ``reason``;
    ``offset``: the galaxy's (x, y) position minus the cutout centre, r-grid pixels."""

    image: np.ndarray | None
    reason: str = ""
    offset: tuple[float, float] = (np.nan, np.nan)


def read_frame(path: str | Path) -> Frame:
    """Read HDU 0 of a ``frame-*.fits(.bz2)`` file: the image (nanomaggies) and its WCS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            with fits.open(path, memmap=False) as hdul:
                hdu = hdul[0]
                return Frame(np.asarray(hdu.data, dtype=np.float32), WCS(hdu.header).celestial)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line naming it
        raise DataValidationError(f"cannot read frame {path} ({type(exc).__name__}: {exc}); "
                                  "delete it to download it again") from None


def _cut(frame: Frame, coord: SkyCoord, size: int) -> Cutout2D | None:
    try:
        return Cutout2D(frame.data, coord, size, wcs=frame.wcs, mode="strict", copy=True)
    except (NoOverlapError, PartialOverlapError):
        return None


def cut_ugriz(frames: Mapping[str, Frame], ra: float, dec: float, size: int = CUTOUT_SIZE) -> Cutout:
    """The ugriz cutout of the galaxy at (ra, dec) [deg] from one frame per band."""
    from reproject import reproject_interp

    coord = SkyCoord(ra, dec, unit="deg")
    r = _cut(frames["r"], coord, size)
    if r is None:
        return Cutout(None, "off the r frame edge")
    if not np.isfinite(r.data).all():
        return Cutout(None, "bad (non-finite) pixels in r")
    x, y = r.wcs.world_to_pixel(coord)
    offset = (float(x) - (size - 1) / 2, float(y) - (size - 1) / 2)
    cube = np.empty((len(BANDS), size, size), dtype=np.float32)
    for k, band in enumerate(BANDS):
        if band == "r":
            cube[k] = r.data
            continue
        sub = _cut(frames[band], coord, size + 2 * MARGIN)
        if sub is None:
            return Cutout(None, f"off the {band} frame edge", offset)
        if not np.isfinite(sub.data).all():
            return Cutout(None, f"bad (non-finite) pixels in {band}", offset)
        values, footprint = reproject_interp((sub.data, sub.wcs), r.wcs, shape_out=(size, size),
                                             order="bicubic", roundtrip_coords=False)
        if not np.all(footprint > 0):
            return Cutout(None, f"off the {band} frame edge", offset)
        cube[k] = values
    return Cutout(cube, "", offset)
