"""Plan a study: the minimal set of steps, in dependency order, with cache keys and costs.

Steps are pure descriptions (kind, name, parameters, dependencies); :mod:`galinfo.study.runner`
executes them. A model shared by several questions (e.g. the union model of two tuples, or an input
set that is both a latent model and a PID source) appears once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from galinfo.data.inputs import parse_inputs
from galinfo.info.tuples import plan_models
from galinfo.study.config import StudyConfig


@dataclass(frozen=True)
class Throughput:
    """Training samples per second of one kind of model on one device, and where the figure comes from."""

    samples_per_s: float
    source: str

    @property
    def assumed(self) -> bool:
        return self.source.startswith("assumed")


# Used only for --dry-run estimates. Keys: (device, encoder). 'measured' figures name the run that
# measured them; 'assumed' ones were never measured on that hardware.
THROUGHPUT: dict[tuple[str, str], Throughput] = {
    ("gpu", "inception"): Throughput(8000.0, "assumed: paper inception, one H200, bf16 (never measured; "
                                             "benchmarks/gpu_train_speed.sh measures it)"),
    ("gpu", "cnn"): Throughput(30000.0, "assumed: plain CNN + apertures, one H200 (never measured)"),
    ("gpu", "mlp"): Throughput(200000.0, "assumed: tabular MLP, one H200 (never measured)"),
    ("cpu", "inception"): Throughput(45.0, "measured: inception_small, 2-core CPU, docs/performance.md"),
    ("cpu", "cnn"): Throughput(200.0, "measured: cnn_small, 2-core CPU, docs/performance.md"),
    ("cpu", "aperture"): Throughput(7000.0, "measured: aperture_mlp, 2-core CPU, docs/performance.md"),
    ("cpu", "mlp"): Throughput(20000.0, "measured: mlp_small, 2-core CPU, docs/performance.md"),
}
# Samples per step and passes per sample: SCL runs the encoder on the input, its reconstruction and
# an augmented copy (about 3 forward/backward passes) on batches of 64; the CE models on 128.
_BATCH = {"scl": 64, "ce": 128}
_PASSES = {"scl": 3.0, "ce": 1.0}
_PAPER_STEPS = 180_000


@dataclass(frozen=True)
class Step:
    """One unit of work of a study."""

    kind: str  # dataset | model | external | knn | pid | causal | discover | report
    name: str
    params: dict = field(default_factory=dict, hash=False, compare=False)
    deps: tuple[str, ...] = ()
    cost_s: float = 0.0  # estimated seconds on the target hardware
    device: str = "cpu"

    def key(self, upstream: dict[str, str] | None = None) -> str:
        """Cache key: hash of the step's parameters and the keys of the steps it depends on."""
        payload = {"kind": self.kind, "name": self.name, "params": self.params,
                   "deps": {d: (upstream or {}).get(d, "") for d in self.deps}}
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def model_step_name(objective: str, inputs: str) -> str:
    return f"model:{objective}:{inputs}"


def amortised_step_name(family: str) -> str:
    return f"model:amortised:{family}"


def _training_steps(cfg: StudyConfig, has_images: bool) -> int:
    if has_images and cfg.image_max_steps:
        return int(cfg.image_max_steps)
    if cfg.max_steps:
        return int(cfg.max_steps)
    return _PAPER_STEPS if cfg.preset == "paper" else 3000


def _encoder_kind(arch: str) -> str:
    from galinfo.models.networks import model_config

    mcfg = model_config(arch)
    if arch.startswith("mlp"):
        return "mlp"
    if mcfg.image_trunk == "cnn":
        return "cnn" if mcfg.cnn.widths else "aperture"
    return "inception"


def model_arch(cfg: StudyConfig, inputs: str) -> str:
    """The architecture a study trains for ``inputs`` (recorded in each run's config)."""
    from galinfo.models.networks import default_arch

    has_images = parse_inputs(inputs).has_images
    preset = (cfg.image_preset or cfg.preset) if has_images else cfg.preset
    if has_images and cfg.image_arch:
        return cfg.image_arch
    return default_arch(has_images, preset)


def _throughput(cfg: StudyConfig, inputs: str) -> tuple[Throughput, str]:
    has_images = parse_inputs(inputs).has_images
    preset = (cfg.image_preset or cfg.preset) if has_images else cfg.preset
    device = "gpu" if preset == "paper" else "cpu"
    kind = _encoder_kind(model_arch(cfg, inputs))
    if device == "gpu" and kind == "aperture":
        kind = "cnn"
    return THROUGHPUT[(device, kind)], device


def _model_cost(cfg: StudyConfig, objective: str, inputs: str, steps: int | None = None,
                batch: int | None = None) -> tuple[float, str]:
    rate, device = _throughput(cfg, inputs)
    steps = steps if steps is not None else _training_steps(cfg, parse_inputs(inputs).has_images)
    samples = steps * (batch or _BATCH[objective]) * _PASSES[objective]
    return samples / rate.samples_per_s, device


AMORTISED_TABULAR_LATENT = {"cpu-small": 32, "paper": 32}
"""S of an amortised catalogue network, by training preset (test-size networks keep theirs): 8
dimensions (a dedicated photometry model's) left the unions of many groups 0.16-0.35 nats looser
than dedicated models on the 20k mock."""
AMORTISED_BATCH = {"cpu": 256, "gpu": 128}
"""Batch of an amortised network: larger on a CPU (where steps, not samples, cost the time); on a GPU
the paper's batch, so that a family gets the sample budget of one dedicated paper model."""


FINETUNE_LR = 1e-3
"""Peak learning rate of a per-input-set fine-tune (one-cycle warm-up from a tenth of it): on the
10k mock, 3,000 steps at 1e-3 took the amortised M_ugriz from -3.951 to -3.864 nats (its latent
model: -3.865); 1,500 steps at 3e-4 reached -3.920."""
FINETUNE_PATIENCE = 10
"""Evaluations without improvement before a fine-tune stops (after its rate has decayed)."""


def _finetune_steps(cfg: StudyConfig, has_images: bool) -> int:
    """Steps of the per-input-set fine-tune of a family (0: its predictions are used as trained)."""
    return int(cfg.image_finetune_steps if has_images else cfg.finetune_steps)


def _amortised_steps(cfg: StudyConfig, has_images: bool) -> int:
    if has_images and cfg.amortised_image_max_steps:
        return int(cfg.amortised_image_max_steps)
    if cfg.amortised_max_steps:
        return int(cfg.amortised_max_steps)
    return _training_steps(cfg, has_images)


def assumptions(steps: list[Step], cfg: StudyConfig) -> list[str]:
    """One line per throughput figure the cost estimate of ``steps`` rests on."""
    seen: dict[str, None] = {}
    for s in steps:
        if s.kind == "model" and s.params.get("inputs"):
            rate, device = _throughput(cfg, s.params["inputs"])
            seen.setdefault(f"{device}: {rate.samples_per_s:g} samples/s ({rate.source})", None)
    return list(seen)


def plan_study(cfg: StudyConfig) -> list[Step]:
    """All steps of a study in an order that respects dependencies."""
    steps: list[Step] = [Step("dataset", "dataset", params={"spec": cfg.dataset.__dict__})]
    seen: set[str] = set()

    def overrides_for(objective: str) -> dict:
        return {**cfg.overrides, **cfg.ce_overrides} if objective == "ce" else cfg.overrides

    def model_params(objective: str, inputs: str, max_steps: int | None = None) -> dict:
        has_images = parse_inputs(inputs).has_images
        preset = (cfg.image_preset or cfg.preset) if has_images else cfg.preset
        params = {"inputs": inputs, "objective": objective, "preset": preset, "seed": cfg.seed,
                  "max_steps": max_steps or _training_steps(cfg, has_images), "target": cfg.target,
                  "target_range": list(cfg.target_range), "n_bins": cfg.n_bins,
                  "overrides": overrides_for(objective)}
        if has_images and cfg.image_arch:  # only then, so that the keys of older studies stay as they were
            params["arch"] = cfg.image_arch
        if cfg.smooth != "none":
            params["smooth"] = cfg.smooth
        return params

    def add_model(objective: str, inputs: str) -> str:
        name = model_step_name(objective, inputs)
        if name not in seen and inputs in cfg.external_models:
            seen.add(name)
            params = {"inputs": inputs, "objective": objective, "run": cfg.external_models[inputs]}
            steps.append(Step("external", name, params, ("dataset",)))
        if name not in seen:
            seen.add(name)
            cost, device = _model_cost(cfg, objective, inputs)
            steps.append(Step("model", name, model_params(objective, inputs), ("dataset",), cost, device))
        return name

    def add_amortised(needed: tuple[str, ...]) -> None:
        """One amortised network per modality family, and a cheap prediction step per input set."""
        from galinfo.models.amortised import plan_families

        own = [m for m in needed if m not in cfg.external_models and model_step_name("ce", m) not in seen]
        families = plan_families(own)
        for family in dict.fromkeys(families.values()):
            subsets = sorted(m for m, f in families.items() if f == family)
            has_images = parse_inputs(family).has_images
            preset = (cfg.image_preset or cfg.preset) if has_images else cfg.preset
            n_steps = _amortised_steps(cfg, has_images)
            batch = AMORTISED_BATCH[_throughput(cfg, family)[1]]
            cost, device = _model_cost(cfg, "ce", family, n_steps, batch)
            params = {"inputs": family, "objective": "ce", "amortised": True, "subsets": subsets,
                      "preset": preset, "arch": model_arch(cfg, family), "seed": cfg.seed, "max_steps": n_steps,
                      "batch_size": batch, "target": cfg.target,
                      "target_range": list(cfg.target_range), "n_bins": cfg.n_bins,
                      "overrides": overrides_for("ce")}
            if not has_images and preset in AMORTISED_TABULAR_LATENT:  # one S for every union of up to
                params["arch_overrides"] = {"latent_dim": AMORTISED_TABULAR_LATENT[preset]}  # 13 groups
            fam_step = amortised_step_name(family)
            steps.append(Step("model", fam_step, params, ("dataset",), cost, device))
            tune = _finetune_steps(cfg, has_images)
            for m in subsets:
                seen.add(model_step_name("ce", m))
                sub = {"inputs": m, "family": family, "smooth": cfg.smooth}
                tune_cost = 0.0
                if tune:  # a short fine-tune of the family's network on this input set alone
                    sub["finetune"] = {"max_steps": tune, "batch_size": batch, "seed": cfg.seed,
                                       "lr": FINETUNE_LR, "patience": FINETUNE_PATIENCE}
                    tune_cost = _model_cost(cfg, "ce", family, tune, batch)[0]
                steps.append(Step("subset", model_step_name("ce", m), sub, (fam_step,), 5.0 + tune_cost, device))

    for latent in cfg.latent_models:
        m = add_model("scl", latent)
        steps.append(Step("knn", f"knn:{latent}", {"latent": latent}, (m,), 30.0))
    tuples = cfg.all_tuples
    if cfg.pid_estimator == "model":
        if cfg.pid_models == "amortised":
            # where a family's input sets are fine-tuned, the sufficiency comparators of the latents
            # join it too: a fine-tune is as tight as a dedicated model (docs/models.md) and far cheaper
            tuned = [m for m in cfg.latent_models if _finetune_steps(cfg, parse_inputs(m).has_images)]
            add_amortised(tuple(dict.fromkeys([*plan_models(tuples), *tuned])))
        for inputs in plan_models(tuples):
            add_model("ce", inputs)
    # The sufficiency check of each latent: a cross-entropy model of the same inputs. Planned after
    # the information models, so that an input set an amortised network already predicts (a
    # 'subset' step named model:ce:INPUTS) is reused rather than trained again.
    for latent in cfg.latent_models:
        add_model("ce", latent)
    for inputs in cfg.audit_sets:  # dedicated models of their own, for the tightness audit only
        params = {**model_params("ce", inputs, cfg.audit_max_steps), "role": "audit"}
        cost, device = _model_cost(cfg, "ce", inputs, params["max_steps"])
        steps.append(Step("audit", f"model:audit:{inputs}", params, ("dataset",), cost, device))
    for t in tuples:
        deps = ("dataset",)
        if cfg.pid_estimator == "model":
            deps = tuple(model_step_name("ce", m) for m in t.models)
        params = {"source1": t.source1, "source2": t.source2, "estimator": cfg.pid_estimator,
                  "bootstrap": cfg.bootstrap, "seed": cfg.seed}
        steps.append(Step("pid", f"pid:{t.source1},{t.source2}", params, deps, 20.0))
    for q in cfg.causal:
        params = {"latent": q.latent, "query": q.query, "given": q.given, "k": q.k, "seed": cfg.seed}
        steps.append(Step("causal", f"causal:{q.label}", params, (model_step_name("scl", q.latent),), 30.0))
    if cfg.discover_vars:
        steps.append(Step("discover", "discover", {"vars": list(cfg.discover_vars), "seed": cfg.seed},
                          ("dataset",), 60.0))
    steps.append(Step("report", "report", {}, tuple(s.name for s in steps), 10.0))
    return steps


def gpu_hours(steps: list[Step]) -> float:
    """Estimated GPU-hours of the steps that belong on a GPU."""
    return sum(s.cost_s for s in steps if s.device == "gpu") / 3600.0
