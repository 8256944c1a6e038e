"""The training loop: seeded batches and augmentation, Adam with a step LR drop, early stopping on
validation cross-entropy, atomic checkpoints and exact resume.

Determinism: the model is initialised after ``torch.manual_seed(seed)``; the batch order of epoch
``e`` is a permutation drawn from a ``torch.Generator`` seeded by ``(seed, e)`` and the augmentation
of step ``s`` from one seeded by ``(seed, s)``. Batches are therefore a function of the step alone,
and resuming from a checkpoint of step ``s`` replays exactly what an uninterrupted run does
(verified on CPU by ``tests/models/test_train.py``).

On a GPU: bf16 autocast, channels_last, optional ``torch.compile``, and the preprocessed image cube
is kept on the device when it fits. With ``WORLD_SIZE > 1`` (torchrun) the loss module is wrapped in
DistributedDataParallel and each rank takes a slice of every batch; rank 0 evaluates and writes
checkpoints. The multi-GPU path has not been run (no multi-GPU machine was available).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from galinfo.data.inputs import InputSet, parse_inputs
from galinfo.errors import ConfigError, DataValidationError
from galinfo.models import losses
from galinfo.models.amortised import (
    AmortisedSpec,
    default_focus,
    is_amortised_spec,
    mask_generator,
    validation_masks,
)
from galinfo.models.checkpoint import BEST, LAST, load_checkpoint, save_checkpoint, write_json
from galinfo.models.config import TrainConfig, make_config, with_overrides
from galinfo.models.data import InputSpec, ModelData, model_data, usable_rows
from galinfo.models.networks import GalaxyModel, ModelConfig, create_model, default_arch
from galinfo.models.preprocess import augment

log = logging.getLogger(__name__)

_MIX = 1_000_003
# Fields that may change when a run is resumed; everything else must match the checkpoint.
RESUMABLE_FIELDS = ("max_steps", "patience", "eval_every", "checkpoint_every", "device", "bf16", "compile",
                    "channels_last", "max_image_memory_gb")


# ------------------------------------------------------------------------------------------------
# Small pure helpers
# ------------------------------------------------------------------------------------------------


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> the local CUDA device when present, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return dev


ONECYCLE_WARMUP = 0.25
ONECYCLE_FINAL = 0.02


def lr_factor(step: int, max_steps: int, drop_fraction: float, drop_factor: float, schedule: str = "step") -> float:
    """Multiplier of the base learning rate at ``step``.

    ``step``: one drop by ``drop_factor`` at ``drop_fraction`` of the run. ``onecycle``: linear
    warm-up from 0.1 over the first quarter, then cosine decay to ``ONECYCLE_FINAL``.
    """
    if schedule == "onecycle":
        warm = max(1, int(round(ONECYCLE_WARMUP * max_steps)))
        if step < warm:
            return 0.1 + 0.9 * step / warm
        t = min(1.0, (step - warm) / max(1, max_steps - warm))
        return ONECYCLE_FINAL + (1 - ONECYCLE_FINAL) * 0.5 * (1 + math.cos(math.pi * t))
    return 1.0 if step < int(round(drop_fraction * max_steps)) else 1.0 / drop_factor


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The batch order of one epoch (a permutation of ``n``), a function of ``(seed, epoch)``."""
    g = torch.Generator().manual_seed((seed * _MIX + epoch) % (2**63))
    return torch.randperm(n, generator=g)


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of the augmentation draws of one step."""
    return torch.Generator().manual_seed((seed * _MIX + 2**40 + step) % (2**63))


class BatchOrder:
    """Batch indices of every step: epochs of shuffled indices, last incomplete batch dropped."""

    def __init__(self, n: int, batch: int, seed: int) -> None:
        if n < batch:
            batch = n
        self.n, self.batch, self.seed = n, batch, seed
        self.per_epoch = max(1, n // batch)
        self._epoch = -1
        self._perm: torch.Tensor | None = None

    def __call__(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._perm, self._epoch = epoch_permutation(self.n, self.seed, epoch), epoch
        return self._perm[k * self.batch : (k + 1) * self.batch]


# ------------------------------------------------------------------------------------------------
# Loss module (wrapped by DDP / torch.compile as a whole)
# ------------------------------------------------------------------------------------------------


class LossModule(nn.Module):
    """Computes the objective of one batch; returns (loss, dict of parts)."""

    def __init__(self, model: GalaxyModel, objective: str, recon_scale: float = 1.0,
                 label_sigma: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.objective = objective
        self.label_sigma = label_sigma
        paper = losses.IMAGE_RECON_WEIGHT if model.cfg.has_images else losses.TABULAR_RECON_WEIGHT
        self.recon_weight = recon_scale * paper

    def forward(self, image: torch.Tensor | None, tab: torch.Tensor, y_bin: torch.Tensor,
                image2: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m = self.model
        tab_in = tab if tab.shape[1] else None
        if self.objective == "ce":
            out = m(image, tab_in)
            if self.label_sigma > 0:
                loss = losses.gaussian_label_cross_entropy(out.logits, y_bin, self.label_sigma)
                return loss, {"ce": losses.cross_entropy(out.logits.detach(), y_bin)}
            loss = losses.cross_entropy(out.logits, y_bin)
            return loss, {"ce": loss.detach()}
        n = len(y_bin)
        if m.cfg.has_images:
            # two rotated/flipped copies of each galaxy: rows i and i + n are positives (a
            # rotation-invariant model is not augmented: its two copies are the same image)
            x = torch.cat([image, image if image2 is None else image2])
            tab2 = torch.cat([tab, tab]) if tab_in is not None else None
            y2 = torch.cat([y_bin, y_bin])
            galaxy = torch.arange(n, device=y_bin.device).repeat(2)
            pos = torch.stack([torch.arange(n), torch.arange(n) + n], 1).to(y_bin.device)
            out = m(x, tab2)
            x_recon = m.decode(out.latent)
            out_r = m(x_recon, tab2)
        else:
            x, y2, pos = tab, y_bin, None
            galaxy = torch.arange(n, device=y_bin.device)
            out = m(None, tab)
            x_recon = m.decode(out.latent)
            out_r = m(None, x_recon)
        terms = losses.scl_loss(
            s=out.s, logits=out.logits, s_recon=out_r.s, logits_recon=out_r.logits, target_bin=y2,
            x=x, x_recon=x_recon, galaxy=galaxy, recon_weight=self.recon_weight, positive_index=pos,
        )
        parts = {k: v.detach() for k, v in terms.__dict__.items() if k != "total"}
        return terms.total, parts


# ------------------------------------------------------------------------------------------------
# Run state
# ------------------------------------------------------------------------------------------------


@dataclass
class RunState:
    """Counters that travel in the checkpoint besides weights and optimizer."""

    step: int = 0
    best_metric: float = math.inf
    best_step: int = -1
    evals_since_best: int = 0
    finished: bool = False
    stopped_early: bool = False
    loss_sum: float = 0.0
    loss_count: int = 0
    history: list | None = None


def _batch_inputs(data: ModelData, idx: torch.Tensor, device: torch.device, channels_last: bool,
                  gen: torch.Generator | None, objective: str, mask_gen: torch.Generator | None = None):
    y = data.y_bin[idx.to(data.y_bin.device)].to(device, non_blocking=True)
    image = image2 = None
    if data.images is not None:
        raw = data.images.get(idx).to(device, non_blocking=True)
        if gen is not None:
            image = augment(raw, gen)
            if objective == "scl":
                image2 = augment(raw, gen)
        else:
            image = raw
    image, tab = data.inputs(idx, image, device, mask_gen)
    if image is not None and channels_last:
        image = image.contiguous(memory_format=torch.channels_last)
        if image2 is not None:
            image2 = image2.contiguous(memory_format=torch.channels_last)
    return image, tab, y, image2


@torch.no_grad()
def validation_ce(model: GalaxyModel, data: ModelData, device: torch.device, *, batch: int = 1024,
                  bf16: bool = False, channels_last: bool = False) -> float:
    """Mean cross-entropy (nats) of the estimator on ``data`` (no augmentation)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(data), batch):
        idx = torch.arange(start, min(start + batch, len(data)))
        image, tab, y, _ = _batch_inputs(data, idx, device, channels_last, None, "ce")
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(image, tab if tab.shape[1] else None)
        ce = nn.functional.cross_entropy(out.logits.float(), y, reduction="sum")
        total += float(ce)
        count += len(y)
    model.train(was_training)
    return total / max(count, 1)


# ------------------------------------------------------------------------------------------------
# Public entry point
# ------------------------------------------------------------------------------------------------


def _best_or_last(run: Path) -> Path:
    """The best-validation checkpoint of a finished run, else its last one."""
    return run / BEST if (run / BEST).exists() else run / LAST


def _open(dataset):
    from galinfo.data.dataset import Dataset

    return dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)


def _resolve_config(out: Path, cfg: TrainConfig | None, inputs, objective, preset, overrides) -> tuple[TrainConfig, dict | None]:
    ckpt = load_checkpoint(out / LAST) if (out / LAST).exists() else None
    if ckpt is None:
        if cfg is None:
            if inputs is None:
                raise ConfigError("train needs an input set (inputs=...) for a new run")
            cfg = make_config(inputs, objective or "ce", preset or "cpu-small", **overrides)
        elif overrides:
            cfg = with_overrides(cfg, **overrides)
        return cfg, None
    saved = TrainConfig.from_dict(ckpt["train_config"])
    if cfg is None:
        requested = {"inputs": inputs, "objective": objective, "preset": preset, **overrides}
    else:
        requested = {**cfg.to_dict(), **overrides}
    requested = {k: v for k, v in requested.items() if v is not None}
    fixed = {k: v for k, v in requested.items() if k not in RESUMABLE_FIELDS}
    clash = [k for k, v in fixed.items() if k in saved.to_dict() and saved.to_dict()[k] != v
             and not (isinstance(v, tuple | list) and list(v) == list(saved.to_dict()[k]))]
    if clash:
        k = clash[0]
        raise ConfigError(
            f"{out} holds a run with {k}={saved.to_dict()[k]!r}, not {fixed[k]!r}; "
            "use another --out folder to start a new run"
        )
    return with_overrides(saved, **{k: v for k, v in requested.items() if k in RESUMABLE_FIELDS}), ckpt


def train(
    dataset,
    out: str | os.PathLike,
    cfg: TrainConfig | None = None,
    *,
    inputs: InputSet | str | None = None,
    objective: str | None = None,
    preset: str | None = None,
    progress: bool = False,
    callback=None,
    **overrides,
) -> Path:
    """Train (or resume) a model on ``dataset`` (a :class:`Dataset` or its folder) into run folder ``out``.

    Give either ``cfg`` or ``inputs``/``objective``/``preset`` plus :class:`TrainConfig` field
    overrides (e.g. ``max_steps=500``). When ``out`` holds ``last.pt`` the run resumes from it (only
    fields in ``RESUMABLE_FIELDS`` may differ). ``callback(step, info)`` is called after every step
    (raising ``KeyboardInterrupt`` from it simulates an interruption). Returns ``out``.
    """
    out = Path(out)
    requested = parse_inputs(inputs) if inputs is not None else None  # the one parse, at the edge
    cfg, ckpt = _resolve_config(out, cfg, requested.name if requested else None, objective, preset, overrides)
    ds = _open(dataset)
    if ckpt is not None and ckpt.get("data_checksum") not in (None, ds.checksum):
        raise DataValidationError(f"{out} was trained on another dataset (checksum differs from {ds.path})")

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = 0
    device = select_device(cfg.device)
    if world > 1:  # pragma: no cover - needs torchrun and several devices
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    is_main = rank == 0
    on_gpu = device.type == "cuda"
    bf16 = cfg.bf16 and on_gpu
    iset = requested if requested is not None and requested.name == cfg.inputs else parse_inputs(cfg.inputs)
    spec_cls = AmortisedSpec if cfg.amortised else InputSpec
    channels_last = cfg.channels_last and on_gpu and iset.has_images

    # -- data --------------------------------------------------------------------------------
    init = None
    if cfg.finetune_subset and ckpt is None:
        init = load_checkpoint(_best_or_last(Path(cfg.finetune_from)))
        if not is_amortised_spec(init["input_spec"]) or init["input_spec"]["layout"]["family"] != iset.name:
            raise ConfigError(f"{cfg.finetune_from} is not an amortised run of {iset.name}")
        if init.get("data_checksum") != ds.checksum:
            raise DataValidationError(f"{cfg.finetune_from} was trained on another dataset than {ds.path}")
    rows = AmortisedSpec.usable_rows_of(ds, iset) if cfg.amortised else usable_rows(ds, iset)[0]
    split = ds.split[rows]
    train_rows, val_rows = rows[split == "train"], rows[split == "val"]
    if len(train_rows) < 2:
        raise DataValidationError(f"dataset {ds.path} has {len(train_rows)} usable training galaxies for {iset.name}")
    if len(val_rows) == 0:
        raise DataValidationError(f"dataset {ds.path} has no usable validation galaxies for {iset.name}")
    if len(val_rows) > cfg.max_val:
        val_rows = np.sort(np.random.default_rng(cfg.seed).choice(val_rows, cfg.max_val, replace=False))
    bins = cfg.bins
    if ckpt or init:
        spec = spec_cls.from_dict((ckpt or init)["input_spec"])
    elif cfg.amortised:
        spec = AmortisedSpec.fit(ds, iset, train_rows, cfg.subsets or default_focus(iset))
    else:
        spec = InputSpec.fit(ds, iset, train_rows)
    if cfg.finetune_subset:  # one input set: its fixed mask, on the galaxies that have all of it
        tr, va = (spec.model_data(ds, r, cfg.target, bins, max_memory_gb=cfg.max_image_memory_gb,
                                  subset=cfg.finetune_subset) for r in (train_rows, val_rows))
        tr, va = (d.subset((d.avail | ~d.fixed_mask).all(dim=1).numpy()) for d in (tr, va))
    elif cfg.amortised:
        tr = spec.model_data(ds, train_rows, cfg.target, bins, max_memory_gb=cfg.max_image_memory_gb,
                             p_focus=cfg.p_focus)
        va = spec.model_data(ds, val_rows, cfg.target, bins, max_memory_gb=cfg.max_image_memory_gb)
        va.fixed_mask = validation_masks(spec, va.avail, cfg.seed)
    else:
        tr = model_data(ds, spec, train_rows, cfg.target, bins, max_memory_gb=cfg.max_image_memory_gb)
        va = model_data(ds, spec, val_rows, cfg.target, bins, max_memory_gb=cfg.max_image_memory_gb)
    for name, d in (("training", tr), ("validation", va)):
        bad = (d.y_bin < 0).numpy()
        if bad.any():
            log.warning("%d %s galaxies have %s outside [%g, %g] or missing: left out",
                        int(bad.sum()), name, cfg.target, bins.low, bins.high)
    tr, va = tr.subset((tr.y_bin >= 0).numpy()), va.subset((va.y_bin >= 0).numpy())
    if len(tr) < 2 or len(va) == 0:
        raise DataValidationError(f"too few galaxies with {cfg.target} in [{bins.low}, {bins.high}]")
    for d in (tr, va):
        d.tab = d.tab.to(device)
        if d.images is not None:
            d.images.to(device)

    # -- model, optimizer ----------------------------------------------------------------------
    if ckpt is not None or init is not None:
        mcfg = ModelConfig.from_dict((ckpt or init)["model_config"])
    else:
        arch = cfg.arch or default_arch(iset.has_images, cfg.preset)
        base = {
            **create_model_config_dict(arch),
            "n_channels": len(spec.image_bands), "image_size": spec.image_size,
            "n_tabular": spec.n_model_tabular, "n_bins": bins.n_bins,
            "decoder": cfg.objective == "scl",
        }
        for key, value in cfg.arch_overrides.items():  # nested configs are merged, not replaced
            if key not in base:
                raise ConfigError(f"unknown architecture field {key!r} in arch_overrides")
            base[key] = {**base[key], **value} if isinstance(base[key], dict) else value
        try:
            mcfg = ModelConfig.from_dict(base)
        except TypeError as exc:
            raise ConfigError(f"bad arch_overrides {cfg.arch_overrides}: {exc}") from None
    torch.manual_seed(cfg.seed)
    model = create_model(mcfg)
    if init is not None:
        model.load_state_dict(init["model"])
    elif ckpt is None:
        fit_input_scaling(model, tr)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = (torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay) if cfg.weight_decay
           else torch.optim.Adam(model.parameters(), lr=cfg.lr))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, cfg.max_steps, cfg.lr_drop_fraction, cfg.lr_drop_factor, cfg.lr_schedule)
    )
    state = RunState(history=[])
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state = RunState(**ckpt["run_state"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if on_gpu and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], device)
        if state.finished and (state.stopped_early or state.step >= cfg.max_steps):
            log.info("run %s already finished at step %d", out, state.step)
            return out
        state.finished = False
    loss_module: nn.Module = LossModule(model, cfg.objective, cfg.recon_scale, cfg.label_sigma)
    if world > 1:  # pragma: no cover
        from torch.nn.parallel import DistributedDataParallel

        loss_module = DistributedDataParallel(loss_module, device_ids=[device.index] if on_gpu else None)
    step_fn = torch.compile(loss_module) if cfg.compile else loss_module

    meta = {
        "train_config": cfg.to_dict(), "model_config": mcfg.to_dict(), "input_spec": spec.to_dict(),
        "target": {"column": cfg.target, "low": bins.low, "high": bins.high, "n_bins": bins.n_bins},
        "data_checksum": ds.checksum, "dataset_path": str(Path(ds.path).resolve()),
        "n_train": len(tr), "n_val": len(va),
    }

    def snapshot() -> dict:
        return {
            **meta, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "run_state": state.__dict__.copy(),
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state(device) if on_gpu else None},
        }

    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", {k: meta[k] for k in ("train_config", "model_config", "input_spec",
                                                              "target", "data_checksum", "dataset_path")})

    if init is not None and is_main:  # the starting weights are the first evaluation: never worse
        _evaluate_and_track(model, va, device, bf16, channels_last, cfg, state, out, snapshot, is_main,
                            opt.param_groups[0]["lr"])
        save_checkpoint(out / LAST, snapshot())
    augmenting = iset.has_images and not model.rotation_invariant
    order = BatchOrder(len(tr), cfg.batch_size if not (cfg.objective == "scl" and iset.has_images)
                       else cfg.batch_size // 2, cfg.seed)
    per_rank = slice(rank, None, world)
    model.train()
    t0, n_images, start_step = time.perf_counter(), 0, state.step
    bar = _progress(progress and is_main, cfg.max_steps, state.step, out.name)
    try:
        while state.step < cfg.max_steps:
            step = state.step
            idx = order(step)[per_rank]
            gen = step_generator(cfg.seed, step) if augmenting else None
            mask_gen = mask_generator(cfg.seed, step) if cfg.amortised else None
            image, tab, y, image2 = _batch_inputs(tr, idx, device, channels_last, gen, cfg.objective, mask_gen)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
                loss, parts = step_fn(image, tab, y, image2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            lr_used = opt.param_groups[0]["lr"]
            sched.step()
            state.step += 1
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise DataValidationError(f"training loss became {loss_value} at step {state.step}; lower the learning rate")
            state.loss_sum += loss_value
            state.loss_count += 1
            n_images += len(idx) * (2 if image2 is not None else 1)
            stop = False
            if state.step % cfg.eval_every == 0 or state.step == cfg.max_steps:
                stop = _evaluate_and_track(model, va, device, bf16, channels_last, cfg, state, out, snapshot, is_main, lr_used)
                if world > 1:  # pragma: no cover
                    import torch.distributed as dist

                    flag = torch.tensor([int(stop)], device=device)
                    dist.broadcast(flag, 0)
                    stop = bool(flag.item())
            if stop or state.step == cfg.max_steps:
                state.finished = True
                state.stopped_early = stop and state.step < cfg.max_steps
            if is_main and (state.finished or state.step % cfg.checkpoint_every == 0):
                save_checkpoint(out / LAST, snapshot())
                write_json(out / "history.json", state.history)
            if bar is not None:
                rate = n_images / max(time.perf_counter() - t0, 1e-9)
                bar[0].update(bar[1], completed=state.step, loss=loss_value, rate=rate)
            if callback is not None:
                callback(state.step, {"loss": loss_value, **{k: float(v) for k, v in parts.items()}})
            if state.finished:
                break
    finally:
        if bar is not None:
            bar[0].stop()
    elapsed = time.perf_counter() - t0
    log.info("trained %s steps %d->%d in %.1f s (%.0f images/s); best val CE %.4f at step %d",
             out, start_step, state.step, elapsed, n_images / max(elapsed, 1e-9), state.best_metric, state.best_step)
    return out


def fit_input_scaling(model: GalaxyModel, data: ModelData, n: int = 2048) -> None:
    """Set the fixed standardisation of weight-free feature layers (aperture fluxes) from the first
    ``n`` training galaxies (unaugmented, unmasked): deterministic, and stored with the weights."""
    from galinfo.models.networks import ApertureFluxes

    layers = [m for m in model.modules() if isinstance(m, ApertureFluxes)]
    if not layers or data.images is None:
        return
    idx = torch.arange(min(n, len(data)))
    image = data.images.get(idx).cpu()
    for layer in layers:
        layer.fit_scaling(image)


def create_model_config_dict(arch: str) -> dict:
    from galinfo.models.networks import model_config

    return model_config(arch).to_dict()


def _evaluate_and_track(model, va, device, bf16, channels_last, cfg, state: RunState, out: Path, snapshot,
                        is_main: bool, lr_used: float) -> bool:
    """Validation CE, history, best checkpoint; returns True when early stopping triggers."""
    if not is_main:
        return False
    val = validation_ce(model, va, device, bf16=bf16, channels_last=channels_last)
    train_loss = state.loss_sum / max(state.loss_count, 1)
    state.loss_sum, state.loss_count = 0.0, 0
    state.history.append({"step": state.step, "train_loss": train_loss, "val_ce": val,
                          "lr": lr_used})
    if val < state.best_metric:
        state.best_metric, state.best_step, state.evals_since_best = val, state.step, 0
        best = snapshot()
        best.pop("optimizer")
        best.pop("scheduler")
        save_checkpoint(out / BEST, best)
    else:
        state.evals_since_best += 1
    return cfg.patience > 0 and state.evals_since_best >= cfg.patience and may_stop_early(state.step, cfg)


def may_stop_early(step: int, cfg: TrainConfig) -> bool:
    """Early stopping waits for the learning rate to come down: a run stopped while the rate is
    still high keeps weights far from what the decay would reach. ``step``: after the drop;
    ``onecycle``: once the factor has decayed to half of its peak."""
    factor = lr_factor(step, cfg.max_steps, cfg.lr_drop_fraction, cfg.lr_drop_factor, cfg.lr_schedule)
    if cfg.lr_schedule == "onecycle":
        return step > ONECYCLE_WARMUP * cfg.max_steps and factor <= 0.5
    return factor < 1.0


def _progress(enabled: bool, total: int, done: int, name: str):
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    prog = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:.0f} img/s"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )
    task = prog.add_task(f"train {name}", total=total, completed=done, loss=float("nan"), rate=0.0)
    prog.start()
    return prog, task
