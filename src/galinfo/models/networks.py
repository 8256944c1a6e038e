"""Networks of the latent (SCL) and cross-entropy models: encoders, estimator head, decoders.

Architectures follow Zhang, Lin, Ting et al. (2025) and CLAP (Lin et al. 2024), written from the
papers' descriptions (see ``docs/models.md``):

- image encoder: the inception network of Treyer et al. (2019). The first 5x5 convolution receives the
  tabular inputs (E(B-V), magnitudes, ...) through a dense layer added as a per-channel bias before
  the ReLU; then conv 3x3 tanh, pooling, 3 + 2 + 1 inception blocks separated by pooling, three valid
  3x3 convolutions, a 2x2 stride-1 average pool, dense 1024 and a dense layer to the latent.
- tabular encoder: a deep MLP (paper: 20 layers of 128, leaky ReLU).
- latent: ``S`` (16 dims for images, 8 for tabular inputs) feeds the estimator; a further block
  (512 / 8 dims) feeds only the decoder.
- estimator: ``S`` -> dense -> logits over the target bins (softmax gives q(bin | x)).
- decoders (SCL only): dense -> 8x8 map -> convolutions with bilinear upsampling to the image size;
  or an MLP back to the standardised tabular features.

Models are built by name from a registry (``create_model("inception_small", ...)``), each name being a
function that fills a :class:`ModelConfig`; the config is stored in checkpoints so a model can be
rebuilt from a checkpoint alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn
from torch.nn import functional as F

from galinfo.errors import ConfigError

# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageEncoderConfig:
    """Inception image encoder. ``k`` is the inception width (paper 156), ``width`` the conv width (96)."""

    width: int = 96
    k: int = 156
    blocks: tuple[int, int, int] = (3, 2, 1)
    n_valid_convs: int = 3
    dense: int = 1024


APERTURE_RADII = (0.0625, 0.094, 0.14, 0.2, 0.28, 0.4, 0.56, 0.8, 1.0)
"""Default aperture radii of :class:`ApertureFluxes`, as fractions of half the cutout size."""


@dataclass(frozen=True)
class CNNConfig:
    """Plain CPU-friendly image encoder (``image_trunk="cnn"``): convolutions and aperture photometry.

    Convolutions (``widths``; empty for none): a 5x5 stride-2 convolution (tabular inputs enter as
    its per-channel bias), then 3x3 convolutions with 2x2 average pooling between them and global
    average pooling. Apertures (``apertures``; empty for none): the flux inside circles of these
    radii (fractions of half the cutout) per band, a fixed layer (:class:`ApertureFluxes`). Both
    feature sets and the tabular inputs are joined before a dense layer of ``dense`` units. No
    normalisation layer: nothing mixes galaxies of a batch. ``crop`` (pixels; 0 for the whole
    cutout): the convolutions see only the central ``crop`` x ``crop`` pixels, where the galaxy's
    shape is, while the apertures still sum the whole cutout (4x fewer pixels to convolve at 32).
    """

    widths: tuple[int, ...] = (32, 48, 64, 96)
    dense: int = 128
    apertures: tuple[float, ...] = APERTURE_RADII
    dense_layers: int = 2
    crop: int = 0


@dataclass(frozen=True)
class MLPConfig:
    """A stack of ``n_layers`` dense layers of ``width`` units with leaky ReLU."""

    n_layers: int = 20
    width: int = 128


@dataclass(frozen=True)
class ImageDecoderConfig:
    """Image decoder: dense ``dense`` -> ``seed_size`` x ``seed_size`` x ``seed_channels`` -> upsampling convs."""

    dense: int = 1024
    seed_size: int = 8
    seed_channels: int = 16
    width: int = 64


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a :class:`GalaxyModel`.

    ``n_channels``/``image_size`` are 0 for tabular-only inputs; ``n_tabular`` counts the tabular
    features (for image inputs these enter the image encoder as a bias). ``latent_dim`` is S,
    ``extra_dim`` the decoder-only block. ``estimator_width`` and ``estimator_act`` set the head.
    ``image_trunk`` chooses the image encoder: ``inception`` (the paper's, :class:`ImageEncoder`) or
    ``cnn`` (:class:`PlainCNN`, learns in minutes on a CPU).
    """

    arch: str = "mlp_small"
    image_trunk: str = "inception"
    cnn: CNNConfig = field(default_factory=CNNConfig)
    n_channels: int = 0
    image_size: int = 0
    n_tabular: int = 0
    n_bins: int = 520
    latent_dim: int = 8
    extra_dim: int = 8
    decoder: bool = False
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    tabular_encoder: MLPConfig = field(default_factory=MLPConfig)
    image_decoder: ImageDecoderConfig = field(default_factory=ImageDecoderConfig)
    tabular_decoder: MLPConfig = field(default_factory=lambda: MLPConfig(n_layers=19, width=128))
    estimator_width: int = 128
    estimator_act: str = "leaky_relu"

    @property
    def has_images(self) -> bool:
        return self.n_channels > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        d["image_encoder"] = ImageEncoderConfig(
            **{**d.get("image_encoder", {}), "blocks": tuple(d.get("image_encoder", {}).get("blocks", (3, 2, 1)))}
        )
        cnn = d.get("cnn", {})
        d["cnn"] = CNNConfig(**{**cnn, "widths": tuple(cnn.get("widths", CNNConfig.widths)),
                                "apertures": tuple(cnn.get("apertures", CNNConfig.apertures))})
        d["tabular_encoder"] = MLPConfig(**d.get("tabular_encoder", {}))
        d["image_decoder"] = ImageDecoderConfig(**d.get("image_decoder", {}))
        d["tabular_decoder"] = MLPConfig(**d.get("tabular_decoder", {}))
        return cls(**d)


IMAGE_TRUNKS = ("inception", "cnn")

# ------------------------------------------------------------------------------------------------
# Registry (timm-style: a name maps to a function returning a config)
# ------------------------------------------------------------------------------------------------

_REGISTRY: dict[str, Callable[..., ModelConfig]] = {}


def register_model(fn: Callable[..., ModelConfig]) -> Callable[..., ModelConfig]:
    """Register a config factory under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names of the registered architectures."""
    return sorted(_REGISTRY)


def model_config(name: str, **overrides) -> ModelConfig:
    """The config of a registered architecture, with field overrides (e.g. ``n_tabular=6``)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model architecture {name!r}; known: {', '.join(list_models())}")
    cfg = _REGISTRY[name]()
    try:
        return replace(cfg, arch=name, **overrides)
    except TypeError as exc:
        raise ConfigError(f"bad override for model {name!r}: {exc}") from None


def create_model(name_or_config: str | ModelConfig, **overrides) -> GalaxyModel:
    """Build a :class:`GalaxyModel` from a registered name (plus overrides) or a config."""
    if isinstance(name_or_config, ModelConfig):
        cfg = replace(name_or_config, **overrides) if overrides else name_or_config
    else:
        cfg = model_config(name_or_config, **overrides)
    return GalaxyModel(cfg)


@register_model
def inception_paper() -> ModelConfig:
    """Paper-size image model: Treyer inception encoder (96 / k=156), latent 16 + 512, head 1024 ReLU."""
    return ModelConfig(
        latent_dim=16,
        extra_dim=512,
        image_encoder=ImageEncoderConfig(),
        image_decoder=ImageDecoderConfig(),
        estimator_width=1024,
        estimator_act="relu",
    )


@register_model
def inception_small() -> ModelConfig:
    """CPU-size image model with the same layout: conv width 16, k=12, one block per stage."""
    return ModelConfig(
        latent_dim=16,
        extra_dim=32,
        image_encoder=ImageEncoderConfig(width=16, k=12, blocks=(1, 1, 1), n_valid_convs=3, dense=128),
        image_decoder=ImageDecoderConfig(dense=128, seed_size=8, seed_channels=8, width=16),
        tabular_decoder=MLPConfig(n_layers=2, width=64),
        estimator_width=128,
        estimator_act="relu",
    )


@register_model
def inception_tiny() -> ModelConfig:
    """Test-size image model (seconds on CPU)."""
    return ModelConfig(
        latent_dim=16,
        extra_dim=8,
        image_encoder=ImageEncoderConfig(width=8, k=6, blocks=(1, 1, 1), n_valid_convs=1, dense=32),
        image_decoder=ImageDecoderConfig(dense=32, seed_size=4, seed_channels=4, width=8),
        tabular_decoder=MLPConfig(n_layers=1, width=16),
        estimator_width=32,
        estimator_act="relu",
    )


@register_model
def cnn_small() -> ModelConfig:
    """CPU-size image model: :class:`PlainCNN` (32-48-64-96 channels, dense 128), head 128 ReLU."""
    return ModelConfig(
        latent_dim=16,
        extra_dim=8,
        image_trunk="cnn",
        cnn=CNNConfig(),
        image_decoder=ImageDecoderConfig(dense=64, seed_size=8, seed_channels=8, width=16),
        estimator_width=128,
        estimator_act="relu",
    )


@register_model
def aperture_mlp() -> ModelConfig:
    """Fastest image model: aperture photometry only (no convolution), 5 dense layers of 192, S of 32."""
    return replace(cnn_small(), latent_dim=32, cnn=CNNConfig(widths=(), dense=192, dense_layers=5))


@register_model
def shape_cnn() -> ModelConfig:
    """Default CPU image model: the apertures of :func:`aperture_mlp` plus a learned, shape-aware
    convolutional path (24-32-48-64 channels) on the central 32 x 32 pixels; 4 dense layers of 192, S of 32."""
    return replace(cnn_small(), latent_dim=32, cnn=CNNConfig(widths=(24, 32, 48, 64), dense=192, dense_layers=4, crop=32))


@register_model
def cnn_tiny() -> ModelConfig:
    """Test-size :class:`PlainCNN`."""
    return ModelConfig(
        latent_dim=16,
        extra_dim=8,
        image_trunk="cnn",
        cnn=CNNConfig(widths=(8, 8, 8), dense=32),
        image_decoder=ImageDecoderConfig(dense=32, seed_size=4, seed_channels=4, width=8),
        tabular_decoder=MLPConfig(n_layers=1, width=16),
        estimator_width=32,
        estimator_act="relu",
    )


@register_model
def mlp_paper() -> ModelConfig:
    """Paper-size tabular model: 20 x 128 leaky-ReLU encoder, latent 8 + 8, 19 x 128 decoder."""
    return ModelConfig(latent_dim=8, extra_dim=8, tabular_encoder=MLPConfig(20, 128))


@register_model
def mlp_small() -> ModelConfig:
    """CPU-size tabular model: 6 x 128."""
    return ModelConfig(
        latent_dim=8,
        extra_dim=8,
        tabular_encoder=MLPConfig(6, 128),
        tabular_decoder=MLPConfig(4, 128),
    )


@register_model
def mlp_tiny() -> ModelConfig:
    """Test-size tabular model."""
    return ModelConfig(
        latent_dim=8,
        extra_dim=4,
        tabular_encoder=MLPConfig(2, 32),
        tabular_decoder=MLPConfig(1, 32),
        estimator_width=32,
    )


def default_arch(has_images: bool, preset: str) -> str:
    """Architecture name for an input kind and a preset (``paper``, ``cpu-small``, ``tiny``)."""
    size = {"paper": "paper", "cpu-small": "small", "tiny": "tiny"}.get(preset)
    if size is None:
        raise ConfigError(f"unknown preset {preset!r} for the architecture; use paper, cpu-small or tiny")
    if has_images and preset == "cpu-small":
        return "cnn_small"  # the plain CNN learns on a CPU; the small inception underfits (docs/models.md)
    return f"{'inception' if has_images else 'mlp'}_{size}"


# ------------------------------------------------------------------------------------------------
# Modules
# ------------------------------------------------------------------------------------------------


def _mlp(n_in: int, width: int, n_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers += [nn.Linear(n_in if i == 0 else width, width), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


class InceptionBlock(nn.Module):
    """Four branches, concatenated: 1x1->5x5 (k); 1x1->3x3 (k); 1x1 (0.65k)->2x2 avg pool; 1x1 (0.7k)."""

    def __init__(self, c_in: int, k: int) -> None:
        super().__init__()
        red = max(1, round(0.65 * k))
        self.b5_reduce = nn.Conv2d(c_in, red, 1)
        self.b5 = nn.Conv2d(red, k, 5, padding=2)
        self.b3_reduce = nn.Conv2d(c_in, red, 1)
        self.b3 = nn.Conv2d(red, k, 3, padding=1)
        self.bp_reduce = nn.Conv2d(c_in, red, 1)
        self.b1 = nn.Conv2d(c_in, max(1, round(0.7 * k)), 1)
        self.out_channels = 2 * k + red + max(1, round(0.7 * k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.b5(F.relu(self.b5_reduce(x))))
        b = F.relu(self.b3(F.relu(self.b3_reduce(x))))
        # 2x2 average pool, stride 1, 'same' size as in TensorFlow: windows start at every pixel and
        # average only the pixels inside the image (pad 1, crop the first row/column)
        c = F.avg_pool2d(F.relu(self.bp_reduce(x)), 2, stride=1, padding=1, count_include_pad=False)
        c = c[:, :, 1:, 1:]
        d = F.relu(self.b1(x))
        return torch.cat([a, b, c, d], dim=1)


class ImageEncoder(nn.Module):
    """Treyer-style inception encoder: (B, C, H, W) images [+ (B, T) tabular bias] -> (B, n_out)."""

    def __init__(self, n_channels: int, image_size: int, n_tabular: int, n_out: int, cfg: ImageEncoderConfig) -> None:
        super().__init__()
        w = cfg.width
        self.conv1 = nn.Conv2d(n_channels, w, 5, padding=2)
        self.bias = nn.Linear(n_tabular, w) if n_tabular > 0 else None
        self.conv2 = nn.Conv2d(w, w, 3, padding=1)
        stages: list[nn.Module] = []
        c = w
        for i, n_blocks in enumerate(cfg.blocks):
            if i > 0:
                stages.append(nn.AvgPool2d(2))
            for _ in range(n_blocks):
                block = InceptionBlock(c, cfg.k)
                stages.append(block)
                c = block.out_channels
        self.inception = nn.Sequential(*stages)
        # spatial size before the valid convolutions (one pool after conv2, one between stages);
        # on small images a convolution that no longer fits keeps 'same' padding instead
        size = image_size // 2 ** len(cfg.blocks)
        valid: list[nn.Module] = []
        for i in range(cfg.n_valid_convs):
            pad = 0 if size >= 3 else 1
            size -= 2 * (1 - pad)
            valid += [nn.Conv2d(c if i == 0 else w, w, 3, padding=pad), nn.ReLU()]
        self.valid = nn.Sequential(*valid)
        with torch.no_grad():
            n_flat = self._trunk(torch.zeros(1, n_channels, image_size, image_size), None).shape[1]
        self.dense = nn.Linear(n_flat, cfg.dense)
        self.out = nn.Linear(cfg.dense, n_out)

    def _trunk(self, x: torch.Tensor, tab: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(x)
        if self.bias is not None and tab is not None:
            h = h + self.bias(tab)[:, :, None, None]
        h = F.relu(h)
        h = torch.tanh(self.conv2(h))
        h = F.avg_pool2d(h, 2)
        h = self.inception(h)
        h = self.valid(h)
        if min(h.shape[-2:]) >= 2:
            h = F.avg_pool2d(h, 2, stride=1)
        return torch.flatten(h, 1)

    def forward(self, x: torch.Tensor, tab: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(F.relu(self.dense(self._trunk(x, tab))))


SIGNED_LOG_MAX = 30.0
"""Largest |sign(x) ln(1 + |x|)| an aperture layer takes (about 1e13 counts; cutouts are far below)."""


class ApertureFluxes(nn.Module):
    """Fixed aperture photometry: (B, C, H, W) signed-log pixels -> (B, C * R) arcsinh fluxes.

    Undoes the input transform (``sign(s) * (exp|s| - 1)``, back to nanomaggies/pixel, or to the
    normalised units of ``I_*_norm``), sums the pixels inside circles of ``R`` radii around the
    cutout centre (a pixel counts when its centre is inside), and returns ``arcsinh`` of the sums.
    It has no weights: the curve of growth of each band is read as a photometric pipeline would,
    and the layers after it learn what to make of it.
    """

    def __init__(self, image_size: int, radii: tuple[float, ...]) -> None:
        super().__init__()
        c = (image_size - 1) / 2
        yy, xx = torch.meshgrid(torch.arange(image_size) - c, torch.arange(image_size) - c, indexing="ij")
        r = torch.hypot(yy, xx)
        half = image_size / 2
        masks = torch.stack([(r <= max(0.5, f * half)).float() for f in radii])  # (R, H, W)
        self.register_buffer("masks", masks.reshape(len(radii), -1).T.contiguous(), persistent=False)
        # fixed standardisation of the outputs, set once from training images (fit_scaling)
        self.register_buffer("shift", torch.zeros(0))
        self.register_buffer("scale", torch.ones(0))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        # |x| is capped before the exponential: a reconstruction pass (scl) may feed decoded images
        # far outside the data's range, and exp(> 88) overflows float32 (then NaN downstream)
        if x.requires_grad:  # e.g. the decoded images of an scl reconstruction pass
            linear = torch.sign(x) * torch.expm1(torch.abs(x.float()).clamp_max(SIGNED_LOG_MAX))
        else:  # the same numbers in place, without temporaries (2.8x faster on a CPU)
            linear = x.float().abs().clamp_max_(SIGNED_LOG_MAX).expm1_().copysign_(x)
        return torch.asinh(linear.flatten(2) @ self.masks).flatten(1)  # (B, C * R)

    @torch.no_grad()
    def fit_scaling(self, x: torch.Tensor) -> None:
        """Set the fixed shift and scale from a sample of training images (then never changed)."""
        f = self.raw(x)
        self.shift = f.mean(dim=0)
        self.scale = f.std(dim=0).clamp_min(1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.raw(x)
        if self.shift.numel():
            f = (f - self.shift) / self.scale
            # a band that is exactly zero everywhere is a masked band of an amortised model: give
            # it the training mean (0) rather than (0 - shift) / scale, which for normalised images
            # is tens of standard deviations away and swamps the other inputs
            empty = x.flatten(2).abs().amax(dim=-1) == 0  # (B, C)
            f = torch.where(empty.repeat_interleave(len(self.masks.T), dim=1), torch.zeros_like(f), f)
        return f

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("shift", "scale"):  # sized by the checkpoint
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class PlainCNN(nn.Module):
    """Plain image encoder (see :class:`CNNConfig`): (B, C, H, W) [+ (B, T)] -> (B, n_out).

    Tabular inputs enter twice: as a bias of the first convolution (so that pixels are read in the
    light of, e.g., E(B-V)) and concatenated after global pooling (so that they reach the output
    without crossing the whole trunk).
    """

    def __init__(self, n_channels: int, image_size: int, n_tabular: int, n_out: int, cfg: CNNConfig) -> None:
        super().__init__()
        if not cfg.widths and not cfg.apertures:
            raise ConfigError("a cnn image encoder needs convolution widths or apertures")
        if cfg.crop and not 8 <= cfg.crop <= image_size:
            raise ConfigError(f"cnn crop={cfg.crop} must be 0 or between 8 and the image size {image_size}")
        self.crop = slice((image_size - cfg.crop) // 2, (image_size - cfg.crop) // 2 + cfg.crop) if cfg.crop else None
        w = cfg.widths
        self.conv1 = nn.Conv2d(n_channels, w[0], 5, stride=2, padding=2) if w else None
        self.bias = nn.Linear(n_tabular, w[0]) if (n_tabular > 0 and w) else None
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(w[:-1], w[1:], strict=True))
        self.apertures = ApertureFluxes(image_size, cfg.apertures) if cfg.apertures else None
        n_feat = (w[-1] if w else 0) + n_channels * len(cfg.apertures) + n_tabular
        layers: list[nn.Module] = [nn.Linear(n_feat, cfg.dense)]
        for _ in range(cfg.dense_layers - 1):
            layers += [nn.ReLU(), nn.Linear(cfg.dense, cfg.dense)]
        self.dense = nn.Sequential(*layers)
        self.out = nn.Linear(cfg.dense, n_out)

    def forward(self, x: torch.Tensor, tab: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.conv1 is not None:
            h = self.conv1(x if self.crop is None else x[:, :, self.crop, self.crop])
            if self.bias is not None and tab is not None:
                h = h + self.bias(tab)[:, :, None, None]
            h = F.relu(h)
            for i, conv in enumerate(self.convs):
                if i > 0 and min(h.shape[-2:]) >= 2:
                    h = F.avg_pool2d(h, 2)
                h = F.relu(conv(h))
            parts.append(h.mean(dim=(-2, -1)))
        if self.apertures is not None:
            parts.append(self.apertures(x))
        if tab is not None and tab.shape[1]:
            parts.append(tab)
        return self.out(F.relu(self.dense(torch.cat(parts, dim=1))))


class TabularEncoder(nn.Module):
    """Deep MLP: (B, T) standardised features -> (B, n_out)."""

    def __init__(self, n_in: int, n_out: int, cfg: MLPConfig) -> None:
        super().__init__()
        self.body = _mlp(n_in, cfg.width, cfg.n_layers)
        self.out = nn.Linear(cfg.width if cfg.n_layers else n_in, n_out)

    def forward(self, tab: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(tab))


class ImageDecoder(nn.Module):
    """Latent (B, L) -> images (B, C, H, W): dense -> seed map -> [bilinear x2, conv]* -> conv."""

    def __init__(self, n_latent: int, n_channels: int, image_size: int, cfg: ImageDecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_size = image_size
        self.dense = nn.Linear(n_latent, cfg.dense)
        self.seed = nn.Linear(cfg.dense, cfg.seed_size * cfg.seed_size * cfg.seed_channels)
        n_up = 0
        size = cfg.seed_size
        while size < image_size:
            size *= 2
            n_up += 1
        convs = []
        c = cfg.seed_channels
        for _ in range(n_up):
            convs.append(nn.Conv2d(c, cfg.width, 3, padding=1))
            c = cfg.width
        self.convs = nn.ModuleList(convs)
        self.final = nn.Conv2d(c, n_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        h = F.relu(self.seed(F.relu(self.dense(z))))
        h = h.view(-1, cfg.seed_channels, cfg.seed_size, cfg.seed_size)
        for conv in self.convs:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = F.relu(conv(h))
        if h.shape[-1] != self.image_size:
            h = F.interpolate(h, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return self.final(h)


class Estimator(nn.Module):
    """S (B, latent_dim) -> logits (B, n_bins)."""

    def __init__(self, latent_dim: int, width: int, n_bins: int, act: str) -> None:
        super().__init__()
        self.hidden = nn.Linear(latent_dim, width)
        self.act = nn.ReLU() if act == "relu" else nn.LeakyReLU(0.2)
        self.out = nn.Linear(width, n_bins)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.hidden(s)))


@dataclass
class ModelOutput:
    """One forward pass: full latent (S first), its S part, and the logits over the target bins."""

    latent: torch.Tensor
    s: torch.Tensor
    logits: torch.Tensor


class GalaxyModel(nn.Module):
    """Encoder + estimator (+ decoder when ``cfg.decoder``), for image, tabular or image+tabular inputs.

    ``forward(image, tab)`` takes preprocessed images (B, C, H, W) or None and standardised tabular
    features (B, T) or None, and returns a :class:`ModelOutput`. For image inputs the tabular
    features enter the image encoder as a bias of the first convolution.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.n_channels <= 0 and cfg.n_tabular <= 0:
            raise ConfigError("a model needs image channels or tabular features (both are 0)")
        if cfg.image_trunk not in IMAGE_TRUNKS:
            raise ConfigError(f"image_trunk {cfg.image_trunk!r} is not one of {', '.join(IMAGE_TRUNKS)}")
        if cfg.has_images and cfg.image_size < 8:
            raise ConfigError(f"image_size={cfg.image_size} is too small for the image encoder (>= 8)")
        self.cfg = cfg
        n_latent = cfg.latent_dim + (cfg.extra_dim if cfg.decoder else 0)
        if cfg.has_images and cfg.image_trunk == "cnn":
            self.encoder: nn.Module = PlainCNN(cfg.n_channels, cfg.image_size, cfg.n_tabular, n_latent, cfg.cnn)
        elif cfg.has_images:
            self.encoder = ImageEncoder(cfg.n_channels, cfg.image_size, cfg.n_tabular, n_latent, cfg.image_encoder)
        else:
            self.encoder = TabularEncoder(cfg.n_tabular, n_latent, cfg.tabular_encoder)
        self.estimator = Estimator(cfg.latent_dim, cfg.estimator_width, cfg.n_bins, cfg.estimator_act)
        self.decoder: nn.Module | None = None
        if cfg.decoder:
            if cfg.has_images:
                self.decoder = ImageDecoder(n_latent, cfg.n_channels, cfg.image_size, cfg.image_decoder)
            else:
                dec = cfg.tabular_decoder
                self.decoder = nn.Sequential(
                    _mlp(n_latent, dec.width, dec.n_layers), nn.Linear(dec.width if dec.n_layers else n_latent, cfg.n_tabular)
                )

    def encode(self, image: torch.Tensor | None, tab: torch.Tensor | None) -> torch.Tensor:
        if self.cfg.has_images:
            if image is None:
                raise ConfigError("this model needs images")
            return self.encoder(image, tab if self.cfg.n_tabular else None)
        if tab is None:
            raise ConfigError("this model needs tabular features")
        return self.encoder(tab)

    def forward(self, image: torch.Tensor | None = None, tab: torch.Tensor | None = None) -> ModelOutput:
        z = self.encode(image, tab)
        s = z[:, : self.cfg.latent_dim]
        return ModelOutput(latent=z, s=s, logits=self.estimator(s))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Reconstruction (images, or standardised tabular features) from the full latent."""
        if self.decoder is None:
            raise ConfigError("this model has no decoder (objective 'ce'); use objective 'scl'")
        return self.decoder(latent)

    @property
    def rotation_invariant(self) -> bool:
        """True when the output cannot change under the 90-degree rotations and flips of the
        augmentation (aperture photometry only), so augmenting would only cost time."""
        return self.cfg.has_images and self.cfg.image_trunk == "cnn" and not self.cfg.cnn.widths

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
