import numpy as np
import pytest
import torch

from galinfo.data.binning import TargetBins
from galinfo.data.dataset import Dataset
from galinfo.errors import ConfigError
from galinfo.models.data import InputSpec, model_data, usable_rows
from galinfo.models.networks import ModelConfig, create_model, list_models, model_config


@pytest.mark.parametrize(
    "inputs, n_channels, n_tab, latent",
    [
        ("I_ugriz", 5, 1, 16),  # ebv is always a companion input
        ("M_ugriz", 0, 11, 8),  # 5 mags + 5 errors + ebv
        ("I_ugriz|M_W123", 5, 6, 16),  # w1 w2 w3 + 2 errors + ebv as the image bias
        ("I_gr_norm", 2, 1, 16),
        ("Morph|zspec", 0, 22, 8),
    ],
)
@pytest.mark.parametrize("decoder", [False, True])
def test_shapes_for_every_input_kind(tiny_dataset, inputs, n_channels, n_tab, latent, decoder):
    ds = Dataset.open(tiny_dataset)
    rows, _ = usable_rows(ds, inputs)
    spec = InputSpec.fit(ds, inputs, ds.rows("train"))
    data = model_data(ds, spec, rows[:6], "logmstar", TargetBins())
    assert data.tab.shape == (6, n_tab)
    arch = "inception_tiny" if n_channels else "mlp_tiny"
    model = create_model(arch, n_channels=n_channels, image_size=spec.image_size, n_tabular=n_tab,
                         n_bins=520, decoder=decoder)
    image = data.images.get(torch.arange(6)) if n_channels else None
    if n_channels:
        assert image.shape == (6, n_channels, 16, 16)
    out = model(image, data.tab)
    extra = model.cfg.extra_dim if decoder else 0
    assert out.latent.shape == (6, latent + extra)
    assert out.s.shape == (6, latent)
    assert torch.equal(out.s, out.latent[:, :latent])
    assert out.logits.shape == (6, 520)
    if decoder:
        rec = model.decode(out.latent)
        assert rec.shape == (image.shape if n_channels else data.tab.shape)
    else:
        with pytest.raises(ConfigError):
            model.decode(out.latent)


def test_tabular_bias_changes_image_encoding():
    torch.manual_seed(0)
    m = create_model("inception_tiny", n_channels=5, image_size=16, n_tabular=3, n_bins=10)
    img = torch.randn(2, 5, 16, 16)
    a = m(img, torch.zeros(2, 3)).latent
    b = m(img, torch.ones(2, 3)).latent
    assert not torch.allclose(a, b)


def test_paper_encoder_shapes_on_64px():
    torch.manual_seed(0)
    m = create_model("inception_paper", n_channels=5, image_size=64, n_tabular=1, n_bins=520)
    out = m(torch.randn(2, 5, 64, 64), torch.randn(2, 1))
    assert out.latent.shape == (2, 16) and out.logits.shape == (2, 520)
    assert 5e6 < m.n_parameters() < 2e7


def test_paper_mlp_has_20_hidden_layers():
    m = create_model("mlp_paper", n_tabular=11, n_bins=520)
    linear = [x for x in m.encoder.body if isinstance(x, torch.nn.Linear)]
    assert len(linear) == 20 and all(x.out_features == 128 for x in linear)


def test_registry_and_config_roundtrip():
    assert {"inception_paper", "inception_small", "mlp_paper", "mlp_small"} <= set(list_models())
    with pytest.raises(ConfigError, match="unknown model"):
        model_config("resnet9000")
    with pytest.raises(ConfigError, match="bad override"):
        model_config("mlp_small", nonsense=1)
    cfg = model_config("inception_small", n_channels=5, image_size=32, n_tabular=2, decoder=True)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    torch.manual_seed(0)
    a = create_model(cfg)
    torch.manual_seed(0)
    b = create_model(ModelConfig.from_dict(cfg.to_dict()))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_model_needs_some_input():
    with pytest.raises(ConfigError):
        create_model("mlp_tiny", n_tabular=0)
    assert np.isfinite(create_model("mlp_tiny", n_tabular=2).n_parameters())


def test_aperture_fluxes_stay_finite_for_decoded_images_far_outside_the_data():
    import torch

    from galinfo.models.networks import ApertureFluxes

    layer = ApertureFluxes(16, (0.25, 0.5, 1.0))
    x = torch.zeros(3, 2, 16, 16)
    x[0, 0, 8, 8] = 200.0  # exp(200) overflows float32 without the cap
    x[1, 1] = -150.0
    out = layer(x)
    assert torch.isfinite(out).all()


def test_aperture_layer_in_place_path_gives_the_same_numbers_as_the_autograd_path():
    """The in-place transform (inputs without gradient) and the autograd one (decoded images of
    an scl reconstruction pass) give bit-identical fluxes, masked (all-zero) bands included, and
    the input is left untouched."""
    import torch

    from galinfo.models.networks import ApertureFluxes

    layer = ApertureFluxes(16, (0.25, 0.5, 1.0))
    x = torch.randn(8, 5, 16, 16, generator=torch.Generator().manual_seed(0)) * 4
    x[0, 2] = 0.0
    x[1, 3, :2] = -0.0
    before = x.clone()
    fast = layer.raw(x)
    assert torch.equal(x, before)
    slow = layer.raw(x.clone().requires_grad_(True))
    assert torch.equal(fast, slow.detach())
    slow.sum().backward()  # the autograd path still differentiates
