"""galinfo.causal: conditional-independence tests in latent space and over catalogue variables.

- The CI-test family (:mod:`galinfo.causal.citest`): :class:`CITest` with one ``run`` /
  ``run_test`` path and pluggable nulls; members :class:`PaperLocalTest`,
  :class:`CalibratedLocalTest`, :class:`GCMTest`, :class:`KnnCMITest` (:data:`CI_TESTS`).
- :func:`cmi_knn_test`: KSG / Frenzel–Pompe kNN (conditional) mutual information, nats, with a
  (local) permutation null (:mod:`galinfo.causal.cmi`).
- :func:`paper_local_test`, :func:`calibrated_local_test`: local tests among latent-space
  neighbours (:mod:`galinfo.causal.local`).
- :func:`discover`, :func:`score_graph`: PC / FCI with the KNN-CMI test (:mod:`galinfo.causal.discovery`,
  imported lazily because it loads causal-learn).
"""

from galinfo.causal.citest import (
    CI_TESTS,
    INADEQUATE,
    CalibratedLocalTest,
    CIResult,
    CITest,
    GCMTest,
    KnnCMITest,
    LocalPermutationNull,
    NormalNull,
    PaperLocalTest,
    PermutationNull,
)
from galinfo.causal.cmi import CMIResult, cmi_knn, cmi_knn_test, restricted_permutation
from galinfo.causal.local import (
    CalibratedLocalResult,
    LocalTestResult,
    benjamini_hochberg,
    binned_summary,
    calibrated_local_test,
    latent_neighbours,
    paper_local_test,
)

__all__ = [
    "CITest",
    "CIResult",
    "CI_TESTS",
    "INADEQUATE",
    "PaperLocalTest",
    "CalibratedLocalTest",
    "GCMTest",
    "KnnCMITest",
    "PermutationNull",
    "LocalPermutationNull",
    "NormalNull",
    "CMIResult",
    "cmi_knn",
    "cmi_knn_test",
    "restricted_permutation",
    "LocalTestResult",
    "CalibratedLocalResult",
    "paper_local_test",
    "latent_neighbours",
    "calibrated_local_test",
    "benjamini_hochberg",
    "binned_summary",
    "discover",
    "score_graph",
]


def __getattr__(name: str):
    if name in ("discover", "score_graph", "DiscoveredGraph"):
        from galinfo.causal import discovery

        return getattr(discovery, name)
    raise AttributeError(f"module 'galinfo.causal' has no attribute {name!r}")
