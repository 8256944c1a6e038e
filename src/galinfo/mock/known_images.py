"""Cutouts whose mass information is known in closed form: one visual property carries it.

For a benchmark of image encoders (``benchmarks/image_information_truth.py``): every galaxy has
log M* = y ~ N(``Y_MEAN``, ``Y_SD``^2), a latent theta = (y - Y_MEAN) / Y_SD + N(0, sigma_n^2),
and one property of its image set by an invertible function of theta. So

    I(y; image) = I(y; theta) = 0.5 ln(1 + 1 / sigma_n^2)  nats,

whatever the rest of the image does, provided every other property is drawn independently of y
(flux, size, position angle, ... are nuisances). :func:`binned_information` gives the same for
the 520 target bins a model predicts.

The profiles are exponential discs sampled at pixel centres on a 64 x 64 grid centred between the
four middle pixels, convolved with a Gaussian PSF (FWHM ``PSF_FWHM_ARCSEC``), with Gaussian sky
noise per band. Properties (:data:`PROPERTIES`):

- ``axis_ratio``: b/a of the disc at a fixed isophote area (the shear keeps a*b), random angle;
- ``size``: the scale length of a round disc;
- ``colour_gradient``: the scale length changes with wavelength; integrated colours are fixed;
- ``azimuthal_m2``: a two-armed modulation (1 + A cos 2(phi - phi0)) of a round disc; every
  band's curve of growth in circular apertures about the centre is unchanged (its sum over a
  ring of pixels symmetric under 90-degree rotations is 0, and a round PSF keeps that);
- ``lopsided_m1``: a one-armed modulation (1 + A cos(phi - phi0)): asymmetry, also invisible to
  circular apertures;
- ``null``: the axis ratio, drawn independently of y (the information is 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special, stats

from galinfo.data.schema import BANDS, IMAGE_PIXEL_SCALE_ARCSEC

Y_MEAN = 10.0
Y_SD = 0.5
IMAGE_SIZE = 64
PSF_FWHM_ARCSEC = 1.3
BAND_FLUX_RATIO = (0.3, 0.7, 1.0, 1.2, 1.35)
"""Integrated flux of each band / r (fixed colours)."""
SKY_SIGMA_NMGY = (0.03, 0.01, 0.01, 0.015, 0.04)
"""Gaussian sky noise per pixel and band, nanomaggies."""


@dataclass(frozen=True)
class Property:
    """How one property depends on u = Phi(theta / sd(theta)) in [0, 1] (uniform)."""

    name: str
    low: float
    high: float
    informative: bool = True


PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in (
        Property("axis_ratio", 0.3, 1.0),
        Property("size", np.log(1.5), np.log(6.0)),  # ln scale length, pixels
        Property("colour_gradient", -0.3, 0.3),  # d ln(scale length) per band step
        Property("azimuthal_m2", 0.0, 0.8),
        Property("lopsided_m1", 0.0, 0.6),
        Property("null", 0.3, 1.0, informative=False),
    )
}


def information_nats(sigma_noise: float) -> float:
    """I(y; theta) for theta = standardised y + N(0, sigma_noise^2), nats (continuous y)."""
    return 0.5 * float(np.log1p(1.0 / sigma_noise**2))


def binned_information(sigma_noise: float, edges: np.ndarray, n_theta: int = 801) -> float:
    """I(bin of y; theta) for the target bins ``edges`` (log10 Msun), nats, by quadrature over theta."""
    z = (np.asarray(edges, dtype=np.float64) - Y_MEAN) / Y_SD
    p_bin = np.diff(special.ndtr(z))
    h_bin = -np.sum(p_bin[p_bin > 0] * np.log(p_bin[p_bin > 0]))
    sd_theta = np.sqrt(1.0 + sigma_noise**2)
    theta = np.linspace(-7 * sd_theta, 7 * sd_theta, n_theta)
    w = stats.norm.pdf(theta, scale=sd_theta)
    w /= w.sum()
    post_mean = theta / sd_theta**2
    post_sd = sigma_noise / sd_theta
    cdf = special.ndtr((z[None, :] - post_mean[:, None]) / post_sd)
    q = np.clip(np.diff(cdf, axis=1), 1e-300, None)
    h_cond = -np.sum(q * np.log(q), axis=1)
    return float(h_bin - np.sum(w * h_cond))


def exact_prior(edges: np.ndarray) -> np.ndarray:
    """The binned N(Y_MEAN, Y_SD^2) prior of the target bins ``edges`` (probabilities)."""
    return np.diff(special.ndtr((np.asarray(edges, dtype=np.float64) - Y_MEAN) / Y_SD))


def draw_targets(n: int, sigma_noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(y in log10 Msun, u in [0, 1]) for ``n`` galaxies; u is an invertible function of theta."""
    y = rng.normal(Y_MEAN, Y_SD, n)
    theta = (y - Y_MEAN) / Y_SD + rng.normal(0.0, sigma_noise, n)
    u = special.ndtr(theta / np.sqrt(1.0 + sigma_noise**2))
    return y, u


def property_values(name: str, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The property of each galaxy: low + (high - low) * u, or independent of u for the null."""
    prop = PROPERTIES[name]
    uu = rng.uniform(size=len(u)) if not prop.informative else u
    return prop.low + (prop.high - prop.low) * uu


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (size - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(size) - c, np.arange(size) - c, indexing="ij")
    return xx, yy


def render(name: str, values: np.ndarray, rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
    """(N, 5, size, size) float32 cutouts in nanomaggies/pixel, the property ``name`` set to ``values``.

    Nuisances, drawn independently of the property: r magnitude U(15.5, 17.5), scale length
    U(2.5, 4.5) px (except for ``size``), position angle or modulation phase U(0, 2 pi).
    """
    n = len(values)
    xx, yy = _grid(size)
    r_mag = rng.uniform(15.5, 17.5, n)
    scale = rng.uniform(2.5, 4.5, n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    q = np.ones(n)
    amp = np.zeros(n)
    m = 0
    grad = np.zeros(n)
    if name in ("axis_ratio", "null"):
        q = values
    elif name == "size":
        scale = np.exp(values)
    elif name == "colour_gradient":
        grad = values
    elif name in ("azimuthal_m2", "lopsided_m1"):
        amp, m = values, (2 if name == "azimuthal_m2" else 1)
    else:
        raise ValueError(f"unknown property {name!r}; known: {', '.join(PROPERTIES)}")
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    xr = c * xx + s * yy
    yr = -s * xx + c * yy
    qq = q[:, None, None]
    radius = np.sqrt(qq * xr**2 + yr**2 / qq)  # area-preserving: a = r / sqrt(q), b = r sqrt(q)
    modulation = 1.0
    if m:
        phi = np.arctan2(yy, xx)[None]
        modulation = 1.0 + amp[:, None, None] * np.cos(m * (phi - angle[:, None, None]))
    sigma_psf = PSF_FWHM_ARCSEC / (2 * np.sqrt(2 * np.log(2))) / IMAGE_PIXEL_SCALE_ARCSEC
    flux_r = 10 ** (-0.4 * (r_mag - 22.5))
    out = np.empty((n, len(BANDS), size, size), dtype=np.float32)
    for k in range(len(BANDS)):
        r_s = (scale * np.exp(grad * (k - 2)))[:, None, None]
        prof = np.exp(-radius / r_s) * modulation
        prof /= prof.sum(axis=(1, 2), keepdims=True)
        prof = ndimage.gaussian_filter(prof, sigma=(0, sigma_psf, sigma_psf), mode="constant", truncate=5.0)
        img = prof * (flux_r * BAND_FLUX_RATIO[k])[:, None, None]
        img += rng.normal(0.0, SKY_SIGMA_NMGY[k], img.shape)
        out[:, k] = img
    return out


def known_information_sample(name: str, n: int, sigma_noise: float, seed: int) -> dict[str, np.ndarray]:
    """One benchmark sample: ``y`` (log10 Msun), ``value`` (the property), ``images`` (N, 5, 64, 64).

    Rendered in blocks of 500 galaxies, each block from its own generator seeded by (seed, block),
    so a sample is the same however it is consumed.
    """
    rng = np.random.default_rng([seed, 0])
    y, u = draw_targets(n, sigma_noise, rng)
    value = property_values(name, u, rng)
    blocks = []
    for b, start in enumerate(range(0, n, 500)):
        sl = slice(start, min(n, start + 500))
        blocks.append(render(name, value[sl], np.random.default_rng([seed, 1, b])))
    return {"y": y, "value": value, "images": np.concatenate(blocks)}
