"""galinfo.knn: exact nearest neighbours in a latent space and CLAP-style adaptive-k KNN pdfs.

Names are imported lazily so that ``galinfo --help`` (which imports ``galinfo.knn.commands``)
does not pay for scikit-learn and faiss.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY = {
    "CLAP_K_GRID": "galinfo.knn.adaptive",
    "AdaptiveKNN": "galinfo.knn.adaptive",
    "KNNResult": "galinfo.knn.adaptive",
    "ExactKNN": "galinfo.knn.search",
    "knn_search": "galinfo.knn.search",
}

__all__ = ["CLAP_K_GRID", "AdaptiveKNN", "ExactKNN", "KNNResult", "knn_search"]

if TYPE_CHECKING:  # pragma: no cover
    from galinfo.knn.adaptive import CLAP_K_GRID, AdaptiveKNN, KNNResult
    from galinfo.knn.search import ExactKNN, knn_search


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'galinfo.knn' has no attribute {name!r}")
