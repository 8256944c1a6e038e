"""galinfo.models: SCL latent models and cross-entropy models for any input set.

``train(dataset, out, inputs=..., objective="scl"|"ce", preset="cpu-small"|"paper")`` trains or
resumes a run folder; ``predict(run)`` writes ``RUN/predictions.h5``; ``evaluate(run)`` writes
``RUN/metrics.json``; ``from_arrays`` and ``import_predictions`` write the same run folder for a
model trained elsewhere (:mod:`galinfo.models.external`). Torch is imported only when one of
these is used, so ``galinfo --help`` stays
fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["train", "predict", "evaluate", "make_config", "TrainConfig", "create_model", "list_models",
           "from_arrays", "import_predictions"]

_LAZY = {
    "train": "galinfo.models.training",
    "predict": "galinfo.models.inference",
    "evaluate": "galinfo.models.inference",
    "make_config": "galinfo.models.config",
    "TrainConfig": "galinfo.models.config",
    "create_model": "galinfo.models.networks",
    "list_models": "galinfo.models.networks",
    "from_arrays": "galinfo.models.external",
    "import_predictions": "galinfo.models.external",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'galinfo.models' has no attribute {name!r}")
