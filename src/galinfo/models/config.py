"""Training configuration and presets (``cpu-small``, ``paper``, ``tiny``) as dataclasses.

``make_config(inputs, objective, preset, **overrides)`` starts from a preset and replaces fields;
unknown fields raise :class:`~galinfo.errors.ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from galinfo.data.binning import TargetBins
from galinfo.data.inputs import parse_inputs
from galinfo.errors import ConfigError

OBJECTIVES = ("ce", "scl")
LR_SCHEDULES = ("step", "onecycle")


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    ``batch_size`` counts rows per step; for the ``scl`` objective with images half of them are
    rotated/flipped copies (paper: 64 = two sets of 32). The learning rate drops by
    ``lr_drop_factor`` at ``lr_drop_fraction`` of ``max_steps`` (paper: 1e-4, /5 at 60k of 180k).
    Early stopping: validation cross-entropy (nats) every ``eval_every`` steps; training stops after
    ``patience`` evaluations without improvement (0: never) and the best weights are kept.
    ``max_image_memory_gb``: preprocessed image cubes up to this size are held in memory (0: 40% of
    the physical memory); larger ones are read from HDF5 batch by batch. ``lr_schedule``: ``step``
    (the paper's drop) or ``onecycle`` (warm-up over the first quarter, then cosine decay; learns
    faster on short CPU budgets). ``amortised``: one network for every union of the input groups of
    ``inputs`` (see :mod:`galinfo.models.amortised`), trained with random group masks; ``subsets``
    are the focus input sets drawn with probability ``p_focus`` (default: those the paper needs).
    ``recon_scale`` multiplies the paper's reconstruction weight of the ``scl`` loss (100 for images,
    1 for photometry): below 1 the latent spends less of itself on reconstructing the inputs and
    stays closer to sufficient for the target (docs/models.md).
    ``finetune_from`` / ``finetune_subset``: start from the best weights of the amortised run
    ``finetune_from`` (same ``inputs`` family) and train on the one input set ``finetune_subset``
    with its fixed group mask, on the galaxies that have it. The prediction stays a function of that
    subset's inputs alone (a valid bound), and validation is that subset's cross-entropy; the starting
    weights count as the first evaluation, so the result is never worse on validation.
    ``label_sigma`` (bins; ``ce`` only): train against a Gaussian of that width around the true bin
    instead of the bin alone (validation and every information measure still use ln q(true bin)).
    ``weight_decay``: decoupled weight decay (AdamW); 0 keeps Adam.
    """

    inputs: str
    objective: str = "ce"
    preset: str = "cpu-small"
    arch: str = ""
    arch_overrides: dict = field(default_factory=dict)
    target: str = "logmstar"
    target_low: float = 6.0
    target_high: float = 12.5
    n_bins: int = 520
    seed: int = 0
    max_steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-3
    lr_drop_fraction: float = 1 / 3
    lr_drop_factor: float = 5.0
    eval_every: int = 100
    patience: int = 10
    checkpoint_every: int = 100
    max_val: int = 20000
    device: str = "auto"
    bf16: bool = True
    channels_last: bool = True
    compile: bool = False
    max_image_memory_gb: float = 0.0
    lr_schedule: str = "step"
    amortised: bool = False
    subsets: tuple[str, ...] = ()
    p_focus: float = 0.5
    recon_scale: float = 1.0
    finetune_from: str = ""
    finetune_subset: str = ""
    label_sigma: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        iset = parse_inputs(self.inputs)
        object.__setattr__(self, "inputs", iset.name)
        object.__setattr__(self, "subsets", tuple(parse_inputs(s).name for s in self.subsets))
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule {self.lr_schedule!r} is not one of {', '.join(LR_SCHEDULES)}")
        if self.amortised and self.objective != "ce":
            raise ConfigError("amortised models use the 'ce' objective (latent models stay dedicated)")
        if self.subsets and not self.amortised:
            raise ConfigError("subsets (focus input sets) apply to amortised models only")
        if bool(self.finetune_from) != bool(self.finetune_subset):
            raise ConfigError("a fine-tune needs both finetune_from (an amortised run) and finetune_subset")
        if self.finetune_subset:
            if not self.amortised:
                raise ConfigError("finetune_subset fine-tunes an amortised network: set amortised=True")
            object.__setattr__(self, "finetune_subset", parse_inputs(self.finetune_subset).name)
        if not (math.isfinite(self.recon_scale) and self.recon_scale >= 0):
            raise ConfigError(f"recon_scale={self.recon_scale} must be a finite number >= 0")
        for name in ("label_sigma", "weight_decay"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(f"{name}={getattr(self, name)} must be a finite number >= 0")
        if self.label_sigma and self.objective != "ce":
            raise ConfigError("label_sigma (Gaussian label smoothing) applies to the 'ce' objective")
        if not 0.0 <= self.p_focus <= 1.0:
            raise ConfigError(f"p_focus={self.p_focus} must be in [0, 1]")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}")
        for name in ("max_steps", "batch_size", "eval_every", "checkpoint_every", "max_val"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 1")
        if self.objective == "scl" and iset.has_images and self.batch_size < 4:
            raise ConfigError(f"batch_size={self.batch_size} is too small for scl with images (>= 4)")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size={self.batch_size} must be at least 2")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr} must be positive")
        if self.patience < 0:
            raise ConfigError(f"patience={self.patience} must be >= 0")
        _ = self.bins  # validates the range

    @property
    def bins(self) -> TargetBins:
        try:
            return TargetBins(float(self.target_low), float(self.target_high), int(self.n_bins))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


PRESETS: dict[str, dict] = {
    # Minutes on a laptop CPU: small networks, few thousand steps, larger learning rate.
    "cpu-small": dict(max_steps=3000, lr=1e-3, eval_every=100, checkpoint_every=100, patience=10),
    # The paper: paper-size networks, 180k iterations, lr 1e-4 divided by 5 at 60k; keep the best
    # validation weights but do not stop early.
    "paper": dict(max_steps=180_000, lr=1e-4, eval_every=2000, checkpoint_every=2000, patience=0),
    # Tests: seconds.
    "tiny": dict(max_steps=20, lr=1e-3, eval_every=5, checkpoint_every=5, patience=0, max_val=256),
}

_BATCH = {"ce": 128, "scl": 64}


def make_config(inputs: str, objective: str = "ce", preset: str = "cpu-small", **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from a preset, with overrides (None values are ignored)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    known = {f.name for f in fields(TrainConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise ConfigError(f"unknown training option(s): {', '.join(bad)}")
    values = {"batch_size": _BATCH.get(objective, 128), **PRESETS[preset]}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(inputs=inputs, objective=objective, preset=preset, **values)


def with_overrides(cfg: TrainConfig, **overrides) -> TrainConfig:
    """``cfg`` with the non-None overrides replaced."""
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
