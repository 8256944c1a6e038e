"""The known-information cutouts: closed-form truth, and structure invisible to circular apertures."""

import numpy as np
import torch

from galinfo.mock import known_images as K
from galinfo.models.networks import APERTURE_RADII, ApertureFluxes, create_model


def test_binned_information_matches_the_closed_form():
    edges = np.linspace(6.0, 12.5, 521)
    assert abs(K.binned_information(0.7, edges) - K.information_nats(0.7)) < 1e-3
    assert abs(K.exact_prior(edges).sum() - 1.0) < 1e-5  # mass outside [6, 12.5]: 3e-7


def test_azimuthal_modes_leave_every_circular_curve_of_growth_unchanged():
    masks = ApertureFluxes(64, APERTURE_RADII).masks.numpy()
    for name in ("azimuthal_m2", "lopsided_m1"):
        p = K.PROPERTIES[name]
        flat = K.render(name, np.full(3, p.low), np.random.default_rng(1))
        strong = K.render(name, np.full(3, p.high), np.random.default_rng(1))
        assert np.abs(strong - flat).max() > 0.1  # the images differ ...
        cog_flat, cog_strong = (a.reshape(3, 5, -1) @ masks for a in (flat, strong))
        assert np.abs(cog_strong - cog_flat).max() < 1e-4 * np.abs(cog_flat).max()  # ... their apertures do not


def test_shape_cnn_convolves_the_central_crop_only():
    model = create_model("shape_cnn", n_channels=5, image_size=64, n_tabular=1).eval()
    x = torch.randn(2, 5, 64, 64)
    y = x.clone()
    y[:, :, :2, :2] = 0.0  # outside the 32 x 32 crop: only the apertures see it (and they sum circles)
    with torch.no_grad():
        a = model.encoder.conv1(x[:, :, 16:48, 16:48])
        b = model.encoder.conv1(y[:, :, model.encoder.crop, model.encoder.crop])
    assert torch.equal(a, b)
