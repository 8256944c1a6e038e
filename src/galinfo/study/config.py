"""Study configuration: YAML -> frozen dataclasses, validated before any work starts.

A study names a dataset, the latent (SCL) models to train, the causal questions asked of them, the
PID tuples (and band studies), a training preset and a seed. Every error is one line naming the
key and the value (:class:`~galinfo.errors.ConfigError`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from galinfo.data.inputs import parse_inputs
from galinfo.errors import ConfigError, GalinfoError
from galinfo.info.tuples import PAPER_TUPLES, TupleSpec, band_study_tuples

DATASET_KINDS = ("mock", "path", "na10", "lcs", "table")
PID_ESTIMATORS = ("model", "catalog")
PID_MODELS = ("amortised", "dedicated")
PRESETS = ("quickstart", "reproduce", "na10", "paper")


@dataclass(frozen=True)
class DatasetSpec:
    """Where the study's data come from: a mock to generate, a dataset folder, or an import."""

    kind: str = "mock"
    path: str | None = None
    n: int = 3000
    seed: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        if self.kind not in DATASET_KINDS:
            raise ConfigError(f"dataset.kind {self.kind!r} is not one of {', '.join(DATASET_KINDS)}")
        if self.kind != "mock" and not self.path:
            raise ConfigError(f"dataset.path is required for dataset.kind {self.kind!r}")
        if self.kind == "mock" and int(self.n) < 100:
            raise ConfigError(f"dataset.n={self.n} is too small for a mock study (>= 100)")


@dataclass(frozen=True)
class CausalQuestion:
    """Is ``query`` dependent on the target among neighbours in the latent space of ``latent``,
    (given ``given``)?"""

    latent: str
    query: str
    given: str | None = None
    k: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "latent", parse_inputs(self.latent).name)
        if int(self.k) < 5:
            raise ConfigError(f"causal k={self.k} must be at least 5")

    @property
    def label(self) -> str:
        return f"{self.query} | S({self.latent})" + (f", {self.given}" if self.given else "")


@dataclass(frozen=True)
class StudyConfig:
    """A whole study; see ``galinfo/presets/*.yaml`` for examples."""

    name: str
    dataset: DatasetSpec
    preset: str = "cpu-small"
    image_preset: str | None = None
    seed: int = 0
    target: str = "logmstar"
    target_range: tuple[float, float] = (6.0, 12.5)
    n_bins: int = 520
    latent_models: tuple[str, ...] = ()
    tuples: tuple[TupleSpec, ...] = ()
    band_studies: bool = False
    pid_estimator: str = "model"
    causal: tuple[CausalQuestion, ...] = ()
    discover_vars: tuple[str, ...] = ()
    max_steps: int | None = None
    image_max_steps: int | None = None
    bootstrap: int = 200
    overrides: dict[str, Any] = field(default_factory=dict)
    ce_overrides: dict[str, Any] = field(default_factory=dict)
    """Training fields for the cross-entropy (information) models only, on top of ``overrides``:
    e.g. ``label_sigma`` and ``weight_decay``."""
    audit_sets: tuple[str, ...] = ()
    """Input sets that get a dedicated ``ce`` model of their own for the tightness audit
    (:mod:`galinfo.study.tightness`)."""
    audit_max_steps: int | None = None
    smooth: str = "none"
    pid_models: str = "amortised"
    amortised_max_steps: int | None = None
    amortised_image_max_steps: int | None = None
    finetune_steps: int = 0
    """Steps of the per-input-set fine-tune of a tabular amortised network (0: predict as trained)."""
    image_finetune_steps: int = 0
    """The same for the image families."""
    image_arch: str | None = None
    external_models: dict[str, str] = field(default_factory=dict)
    """Run folders of models trained outside galinfo (``galinfo import predictions``), by input set:
    used wherever the study needs a model of that input set, instead of training one."""

    def __post_init__(self) -> None:
        from galinfo.models.smoothing import parse_smooth

        try:
            parse_smooth(self.smooth)
        except ConfigError:
            raise ConfigError(f"training.smooth {self.smooth!r} must be 'none', 'auto' or a width >= 0 "
                              "in target units") from None
        object.__setattr__(self, "smooth", str(self.smooth).strip().lower())
        _check_training(self.preset, self.image_preset, self.overrides)
        _check_training(self.preset, self.image_preset, {**self.overrides, **self.ce_overrides})
        if self.pid_models not in PID_MODELS:
            raise ConfigError(f"pid.models {self.pid_models!r} is not one of {', '.join(PID_MODELS)}")
        if self.image_arch is not None:
            from galinfo.models.networks import model_config

            if model_config(self.image_arch).arch.startswith("mlp"):  # unknown names raise here too
                raise ConfigError(f"training.image_arch {self.image_arch!r} is not an image architecture")
        if self.pid_estimator not in PID_ESTIMATORS:
            raise ConfigError(f"pid.estimator {self.pid_estimator!r} is not one of {', '.join(PID_ESTIMATORS)}")
        lo, hi = self.target_range
        if not hi > lo:
            raise ConfigError(f"target_range {self.target_range} must be increasing")
        latent = tuple(parse_inputs(m).name for m in self.latent_models)
        object.__setattr__(self, "latent_models", latent)
        object.__setattr__(self, "external_models",
                           {parse_inputs(k).name: str(v) for k, v in self.external_models.items()})
        for q in self.causal:
            if q.latent not in latent:
                raise ConfigError(
                    f"causal question {q.label} uses latent model {q.latent}, which latent_models lacks"
                )
        if self.pid_estimator == "catalog":
            for t in self.all_tuples:
                if not t.catalogue_only:
                    raise ConfigError(f"tuple {t.label} needs images: pid.estimator 'catalog' takes catalogue inputs only")

    def with_seed(self, seed: int) -> StudyConfig:
        """This study with another seed, for the models and for the dataset (mock or split)."""
        from dataclasses import replace

        return replace(self, seed=int(seed), dataset=replace(self.dataset, seed=int(seed)))

    @property
    def all_tuples(self) -> tuple[TupleSpec, ...]:
        return self.tuples + (band_study_tuples() if self.band_studies else ())


def _check_training(preset: str, image_preset: str | None, overrides: dict[str, Any]) -> None:
    """Presets and overrides must name a training configuration, before any work starts."""
    from galinfo.models.config import PRESETS as TRAIN_PRESETS
    from galinfo.models.config import make_config

    for key, name in (("training.preset", preset), ("training.image_preset", image_preset)):
        if name is not None and name not in TRAIN_PRESETS:
            raise ConfigError(f"{key} {name!r} is not one of {', '.join(TRAIN_PRESETS)}")
    try:
        make_config("M_ugriz", "ce", preset, **overrides)
    except ConfigError as exc:
        raise ConfigError(f"training.overrides: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"training.overrides: {str(exc).splitlines()[0]}") from None


_TOP_KEYS = {"name", "dataset", "training", "tightness", "target", "latent_models", "pid", "causal", "discover",
             "seed", "external_models"}


def _as_mapping(value: Any, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}")
    return value


def _check_keys(d: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) in {where}: {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def config_from_dict(raw: dict, *, base_dir: Path | None = None) -> StudyConfig:
    """Build a :class:`StudyConfig` from a parsed YAML mapping."""
    raw = _as_mapping(raw, "study config")
    _check_keys(raw, _TOP_KEYS, "study config")
    try:
        ds_raw = _as_mapping(raw.get("dataset"), "dataset")
        _check_keys(ds_raw, {"kind", "path", "n", "seed", "workers"}, "dataset")
        if ds_raw.get("path") and base_dir is not None and ds_raw.get("kind", "mock") != "mock":
            p = Path(os.path.expandvars(str(ds_raw["path"])))
            ds_raw = {**ds_raw, "path": str(p if p.is_absolute() else (base_dir / p))}
        dataset = DatasetSpec(**ds_raw)
        train = _as_mapping(raw.get("training"), "training")
        _check_keys(train, {"preset", "image_preset", "max_steps", "image_max_steps", "overrides", "ce_overrides",
                            "smooth",
                            "image_arch"}, "training")
        target = _as_mapping(raw.get("target"), "target")
        _check_keys(target, {"column", "range", "bins"}, "target")
        pid = _as_mapping(raw.get("pid"), "pid")
        _check_keys(pid, {"tuples", "band_studies", "estimator", "bootstrap", "models", "amortised"}, "pid")
        amortised = _as_mapping(pid.get("amortised"), "pid.amortised")
        _check_keys(amortised, {"max_steps", "image_max_steps", "finetune_steps", "image_finetune_steps"},
                    "pid.amortised")
        tuples_raw = pid.get("tuples", [])
        if tuples_raw == "paper":
            tuples = PAPER_TUPLES
        else:
            if not isinstance(tuples_raw, list):
                raise ConfigError("pid.tuples must be 'paper' or a list like ['M_ugriz,Morph']")
            tuples = tuple(TupleSpec.parse(t) if isinstance(t, str) else TupleSpec(*t) for t in tuples_raw)
        causal_raw = raw.get("causal") or []
        if not isinstance(causal_raw, list):
            raise ConfigError("causal must be a list of {latent, query, given} mappings")
        causal = []
        for i, q in enumerate(causal_raw):
            q = _as_mapping(q, f"causal[{i}]")
            _check_keys(q, {"latent", "query", "given", "k"}, f"causal[{i}]")
            if "latent" not in q or "query" not in q:
                raise ConfigError(f"causal[{i}] needs 'latent' and 'query'")
            causal.append(CausalQuestion(**q))
        tightness = _as_mapping(raw.get("tightness"), "tightness")
        _check_keys(tightness, {"audit", "max_steps"}, "tightness")
        audit = tightness.get("audit") or []
        if audit == "auto":
            from galinfo.study.tightness import default_audit_sets

            audit = list(default_audit_sets(tuples))
        if not isinstance(audit, list):
            raise ConfigError(f"tightness.audit must be 'auto' or a list of input sets, got {audit!r}")
        discover = _as_mapping(raw.get("discover"), "discover")
        _check_keys(discover, {"vars"}, "discover")
        external = {}
        for name, run in _as_mapping(raw.get("external_models"), "external_models").items():
            p = Path(os.path.expandvars(str(run)))
            external[str(name)] = str(p if p.is_absolute() or base_dir is None else base_dir / p)
        rng = target.get("range", [6.0, 12.5])
        if not (isinstance(rng, list | tuple) and len(rng) == 2):
            raise ConfigError(f"target.range must be [low, high], got {rng!r}")
        return StudyConfig(
            name=str(raw.get("name", "study")),
            dataset=dataset,
            preset=str(train.get("preset", "cpu-small")),
            image_preset=train.get("image_preset"),
            seed=int(raw.get("seed", 0)),
            target=str(target.get("column", "logmstar")),
            target_range=(float(rng[0]), float(rng[1])),
            n_bins=int(target.get("bins", 520)),
            latent_models=tuple(raw.get("latent_models") or ()),
            tuples=tuple(tuples),
            band_studies=bool(pid.get("band_studies", False)),
            pid_estimator=str(pid.get("estimator", "model")),
            causal=tuple(causal),
            discover_vars=tuple(discover.get("vars") or ()),
            max_steps=train.get("max_steps"),
            image_max_steps=train.get("image_max_steps"),
            bootstrap=int(pid.get("bootstrap", 200)),
            overrides=dict(train.get("overrides") or {}),
            ce_overrides=dict(train.get("ce_overrides") or {}),
            audit_sets=tuple(parse_inputs(a).name for a in audit),
            audit_max_steps=tightness.get("max_steps"),
            smooth=str(train.get("smooth", "none")),
            pid_models=str(pid.get("models", "amortised")),
            amortised_max_steps=amortised.get("max_steps"),
            amortised_image_max_steps=amortised.get("image_max_steps"),
            finetune_steps=int(amortised.get("finetune_steps", 0)),
            image_finetune_steps=int(amortised.get("image_finetune_steps", 0)),
            image_arch=train.get("image_arch"),
            external_models=external,
        )
    except GalinfoError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid study config: {exc}") from None


def load_config(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study YAML file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"study config {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise ConfigError(f"study config {path} is not valid YAML: {first}") from None
    return config_from_dict(raw, base_dir=path.parent)


def load_preset(name: str) -> StudyConfig:
    """A study preset shipped with galinfo: quickstart, reproduce, na10 or paper."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
    text = resources.files("galinfo").joinpath("presets", f"{name}.yaml").read_text()
    return config_from_dict(yaml.safe_load(text), base_dir=Path.cwd())
