import numpy as np
import pytest

from galinfo.mock import MockConfig
from galinfo.mock.measure import (
    adaptive_moments_bands,
    asinh_mag,
    measure_galaxy,
    petrosian,
)
from galinfo.mock.render import model_fourier, model_galsim, render_galaxy


def _galaxy(**kw):
    g = {"r_disc": 2.0, "r_bulge": 0.8, "bt": 0.3, "q_disc": 0.5, "q_bulge": 0.8, "pa": 30.0,
         "offset_x": 0.2, "offset_y": -0.3}
    for b in "ugriz":
        g[f"psf_fwhm_{b}"] = 1.4
        g[f"flux_bulge_{b}"] = 30.0
        g[f"flux_disc_{b}"] = 70.0
        g[f"sky_{b}"] = 21.0
    g.update(kw)
    return g


def test_fourier_renderer_matches_galsim():
    cfg = MockConfig()
    g = _galaxy()
    a, b = model_fourier(g, cfg, 64), model_galsim(g, cfg, 64)
    assert np.abs(a - b).max() < 1e-4 * b.sum(axis=(1, 2)).max()
    assert a.sum() == pytest.approx(b.sum(), rel=0.01)


def test_image_flux_matches_true_flux_within_noise():
    cfg = MockConfig()
    g = _galaxy(r_disc=1.2, r_bulge=0.5)
    img, var, model = render_galaxy(g, cfg, np.random.default_rng(0))
    total = np.array([g[f"flux_bulge_{b}"] + g[f"flux_disc_{b}"] for b in "ugriz"])
    assert np.allclose(model.sum(axis=(1, 2)), total, rtol=0.01)
    resid = img.sum(axis=(1, 2)) - model.sum(axis=(1, 2))
    assert np.all(np.abs(resid) < 5 * np.sqrt(var.sum(axis=(1, 2))))


def test_petrosian_exponential_captures_nearly_all_flux():
    import galsim

    im = galsim.Exponential(half_light_radius=2.0).drawImage(nx=128, ny=128, scale=0.396, method="no_pixel").array
    p = petrosian(im[None], np.zeros((1, 128, 128)), (63.5, 63.5), ref=0)
    assert p["flux"][0] == pytest.approx(1.0, abs=0.03)  # Blanton+01: ~99% for an exponential
    assert p["r50"][0] * 0.396 == pytest.approx(2.0, rel=0.05)
    assert 2.1 < p["r90"][0] / p["r50"][0] < 2.5


def test_adaptive_moments_recover_axis_ratio():
    import galsim

    im = galsim.Gaussian(sigma=3.0).shear(q=0.5, beta=0.4 * galsim.radians).drawImage(nx=64, ny=64, scale=1.0).array
    sigma, q, cx, cy, _ = adaptive_moments_bands(im[None], (31.5, 31.5), 2.0)
    assert q[0] == pytest.approx(0.5, abs=0.01)
    assert cx[0] == pytest.approx(31.5, abs=0.01)


def test_measurement_recovers_truth_qualitatively():
    cfg = MockConfig()
    rng = np.random.default_rng(1)
    g_disc = _galaxy(bt=0.0, flux_bulge_r=0.0, q_disc=0.35, r_disc=3.0)
    g_bulge = _galaxy(bt=1.0, q_bulge=0.9, r_bulge=3.0, **{f"flux_disc_{b}": 0.0 for b in "ugriz"})
    fwhm = np.full(5, 1.4)
    md = measure_galaxy(*render_galaxy(g_disc, cfg, rng)[:2], fwhm, cfg.pixel_scale, cfg.moffat_beta)
    mb = measure_galaxy(*render_galaxy(g_bulge, cfg, rng)[:2], fwhm, cfg.pixel_scale, cfg.moffat_beta)
    assert md["ab_r"] == pytest.approx(0.35, abs=0.08)
    assert mb["sersic_n_r"] > md["sersic_n_r"] + 1.0
    assert md["mag_r"] == pytest.approx(22.5 - 2.5 * np.log10(70.0), abs=0.1)


def test_asinh_mag_equals_pogson_when_bright():
    assert asinh_mag(np.array([100.0]), "r")[0] == pytest.approx(22.5 - 5.0, abs=1e-4)
    assert np.isfinite(asinh_mag(np.array([-1.0]), "u")[0])


def test_adaptive_moments_match_galsim_hsm():
    import galsim

    prof = galsim.Convolve(galsim.Exponential(half_light_radius=2.0).shear(q=0.4, beta=0.5 * galsim.radians),
                           galsim.Moffat(beta=3.5, fwhm=1.4))  # fmt: skip
    im = prof.drawImage(nx=64, ny=64, scale=0.396)
    ref = galsim.hsm.FindAdaptiveMom(im)
    sigma, q, cx, cy, _ = adaptive_moments_bands(im.array[None], (31.5, 31.5), 3.0)
    q_ref = (1 - ref.observed_shape.g) / (1 + ref.observed_shape.g)
    assert sigma[0] == pytest.approx(ref.moments_sigma, rel=1e-3)
    assert q[0] == pytest.approx(q_ref, abs=1e-3)
    assert cx[0] + 1 == pytest.approx(ref.moments_centroid.x, abs=1e-3)
