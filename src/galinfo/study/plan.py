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

# Rough throughput of training, in samples per second, used only for --dry-run estimates:
# image encoders on one H200 (bf16, docs/performance.md) and on a 2-core CPU; tabular MLPs.
_THROUGHPUT = {
    ("paper", True, "gpu"): 8000.0,
    ("paper", False, "gpu"): 200000.0,
    ("cpu", True, "cpu"): 150.0,
    ("cpu", False, "cpu"): 20000.0,
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


def _training_steps(cfg: StudyConfig, has_images: bool) -> int:
    if has_images and cfg.image_max_steps:
        return int(cfg.image_max_steps)
    if cfg.max_steps:
        return int(cfg.max_steps)
    return _PAPER_STEPS if cfg.preset == "paper" else 3000


def _model_cost(cfg: StudyConfig, objective: str, inputs: str) -> tuple[float, str]:
    has_images = parse_inputs(inputs).has_images
    preset = (cfg.image_preset or cfg.preset) if has_images else cfg.preset
    device = "gpu" if preset == "paper" else "cpu"
    rate = _THROUGHPUT[("paper" if device == "gpu" else "cpu", has_images, device)]
    samples = _training_steps(cfg, has_images) * _BATCH[objective] * _PASSES[objective]
    return samples / rate, device


def plan_study(cfg: StudyConfig) -> list[Step]:
    """All steps of a study in an order that respects dependencies."""
    steps: list[Step] = [Step("dataset", "dataset", params={"spec": cfg.dataset.__dict__})]
    seen: set[str] = set()

    def add_model(objective: str, inputs: str) -> str:
        name = model_step_name(objective, inputs)
        if name not in seen and inputs in cfg.external_models:
            seen.add(name)
            params = {"inputs": inputs, "objective": objective, "run": cfg.external_models[inputs]}
            steps.append(Step("external", name, params, ("dataset",)))
        if name not in seen:
            seen.add(name)
            has_images = parse_inputs(inputs).has_images
            preset = (cfg.image_preset or cfg.preset) if has_images else cfg.preset
            cost, device = _model_cost(cfg, objective, inputs)
            params = {"inputs": inputs, "objective": objective, "preset": preset, "seed": cfg.seed,
                      "max_steps": _training_steps(cfg, has_images), "target": cfg.target,
                      "target_range": list(cfg.target_range), "n_bins": cfg.n_bins,
                      "overrides": cfg.overrides}
            if cfg.smooth != "none":  # only then, so that the keys of raw-softmax studies stay as they were
                params["smooth"] = cfg.smooth
            steps.append(Step("model", name, params, ("dataset",), cost, device))
        return name

    for latent in cfg.latent_models:
        m = add_model("scl", latent)
        steps.append(Step("knn", f"knn:{latent}", {"latent": latent}, (m,), 30.0))
        add_model("ce", latent)  # the sufficiency check of the latent: same inputs, cross-entropy only
    tuples = cfg.all_tuples
    if cfg.pid_estimator == "model":
        for inputs in plan_models(tuples):
            add_model("ce", inputs)
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
