"""Cutouts from synthetic corrected frames: centred, bands aligned to < 0.1 pixel, nanomaggies kept."""

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from galinfo.build.service import frame_name
from galinfo.data.schema import BANDS
from tests.build.conftest import NOISE, field_ids, frame_wcs

pytest.importorskip("reproject")

from galinfo.build.cutouts import cut_ugriz, read_frame  # noqa: E402

SIZE = 64


def centroid(img: np.ndarray, x0: float, y0: float, radius: float = 6.0) -> tuple[float, float]:
    """First moment of the pixels within ``radius`` of (x0, y0) (0-based pixel centres)."""
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    w = np.where((xx - x0) ** 2 + (yy - y0) ** 2 <= radius**2, img, 0.0)
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())


def frames_of(sky, f):
    out = {}
    for b in BANDS:
        name = frame_name(b, *field_ids(f))
        path = sky.frames_dir / name
        out[b] = read_frame(path if path.exists() else path.with_name(name + ".bz2"))
    return out


@pytest.mark.parametrize("f", [0, 1, 2, 4, 8, 23])  # three rotations, a bz2 field, other camcols
def test_cutouts_are_centred_and_aligned_in_every_band(sky, f):
    t = sky.truth[sky.truth["frame_index"] == f]
    frames = frames_of(sky, f)
    n_checked = 0
    for g in t:
        cut = cut_ugriz(frames, g["ra"], g["dec"], SIZE)
        if cut.image is None:
            continue
        n_checked += 1
        assert cut.image.shape == (5, SIZE, SIZE) and cut.image.dtype == np.float32
        dx, dy = cut.offset
        assert abs(dx) <= 0.5 and abs(dy) <= 0.5  # centred to half a pixel (r is not resampled)
        # the offset is the galaxy's true r-frame position minus an integer pixel origin
        xr, yr = frame_wcs(f, "r").world_to_pixel(SkyCoord(g["ra"], g["dec"], unit="deg"))
        for frac in (xr - (SIZE - 1) / 2 - dx, yr - (SIZE - 1) / 2 - dy):
            assert abs(frac - round(float(frac))) < 1e-6
        for k, b in enumerate(BANDS):
            cx, cy = centroid(cut.image[k], (SIZE - 1) / 2 + dx, (SIZE - 1) / 2 + dy)
            assert abs(cx - ((SIZE - 1) / 2 + dx)) < 0.1, (b, cx, dx)
            assert abs(cy - ((SIZE - 1) / 2 + dy)) < 0.1, (b, cy, dy)
            # units: the cutout sum is the injected flux in nanomaggies (noise 0.005 per pixel)
            np.testing.assert_allclose(cut.image[k].sum(), g[f"true_flux_{b}"], rtol=0.002, atol=4 * NOISE * SIZE)
    assert n_checked >= 4


def test_bands_are_really_misaligned_in_the_frames(sky):
    """The check above is not trivial: without resampling, u/g/i/z would be off by pixels."""
    g = sky.truth[sky.truth["frame_index"] == 0][0]
    c = SkyCoord(g["ra"], g["dec"], unit="deg")
    xr, yr = frame_wcs(0, "r").world_to_pixel(c)
    shifts = [np.hypot(*(np.subtract(frame_wcs(0, b).world_to_pixel(c), (xr, yr)))) for b in "ugiz"]
    assert min(shifts) > 1.0


def test_edge_and_bad_pixels_give_a_reason_not_an_image(sky):
    t = sky.truth
    edge = t[(t["frame_index"] == 0)][4]
    cut = cut_ugriz(frames_of(sky, 0), edge["ra"], edge["dec"], SIZE)
    assert cut.image is None and cut.reason == "off the r frame edge"
    bad = t[(t["frame_index"] == 1)][4]
    cut = cut_ugriz(frames_of(sky, 1), bad["ra"], bad["dec"], SIZE)
    assert cut.image is None and cut.reason == "bad (non-finite) pixels in g"


def test_an_unreadable_frame_is_one_line_naming_it(tmp_path):
    from galinfo.errors import DataValidationError

    bad = tmp_path / "frame-r-003704-1-0100.fits"
    bad.write_bytes(b"not a FITS file")
    with pytest.raises(DataValidationError, match="cannot read frame .*frame-r-003704-1-0100.fits") as err:
        read_frame(bad)
    assert "\n" not in str(err.value)
