"""Partial information decomposition (PID) of two sources, per galaxy and on averages. Nats.

Pointwise minimum rule (the paper, Zhang, Lin, Ting et al. 2025)::

    red  = min(i1, i2)          unq1 = i1 - red        unq2 = i2 - red
    syn  = i12 - max(i1, i2)    so   red + unq1 + unq2 + syn = i12 for every galaxy.

Any value may be negative except ``unq1`` and ``unq2`` (one of them is always 0). Other measures
are cross-checks and are labelled as such: ``"ccs_pointwise"`` is a CCS-type rule (Ince 2017) that
counts local co-information as redundancy only where its sign agrees with the three local
informations, without CCS's maximum-entropy step; :func:`mmi_on_averages` is the classic minimum
mutual information PID (Barrett 2015) applied to the *mean* informations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from galinfo.data.validate import require_finite
from galinfo.errors import ConfigError, DataValidationError

ATOMS: tuple[str, ...] = ("red", "unq1", "unq2", "syn")
"""Names of the four PID atoms, in stacking order."""

Atoms = dict[str, np.ndarray]


def _as_arrays(i1, i2, i12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrs = tuple(np.asarray(a, dtype=np.float64) for a in (i1, i2, i12))
    shapes = {a.shape for a in arrs}
    if len(shapes) != 1:
        raise DataValidationError(f"i1, i2, i12 must have the same shape, got {[a.shape for a in arrs]}")
    for name, a in zip(("i1", "i2", "i12"), arrs, strict=True):
        require_finite(a, name)
    return arrs  # type: ignore[return-value]


def _mmi_pointwise(i1: np.ndarray, i2: np.ndarray, i12: np.ndarray) -> Atoms:
    red = np.minimum(i1, i2)
    return {"red": red, "unq1": i1 - red, "unq2": i2 - red, "syn": i12 - np.maximum(i1, i2)}


def _ccs_pointwise(i1: np.ndarray, i2: np.ndarray, i12: np.ndarray) -> Atoms:
    c = i1 + i2 - i12  # local co-information
    s = np.sign(c)
    agree = (np.sign(i1) == s) & (np.sign(i2) == s) & (np.sign(i12) == s)
    red = np.where(agree, c, 0.0)
    unq1 = i1 - red
    unq2 = i2 - red
    return {"red": red, "unq1": unq1, "unq2": unq2, "syn": i12 - red - unq1 - unq2}


PID_MEASURES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Atoms]] = {
    "mmi_pointwise": _mmi_pointwise,
    "ccs_pointwise": _ccs_pointwise,
}
"""Registry of per-galaxy PID rules: name -> f(i1, i2, i12) -> atoms."""


def pid(i1, i2, i12, measure: str = "mmi_pointwise") -> Atoms:
    """Per-galaxy PID atoms ``{"red", "unq1", "unq2", "syn"}`` (nats) from pointwise informations.

    ``i1``, ``i2``: pointwise MI of each source alone; ``i12``: of their union (same galaxies, same
    order). ``measure`` is a key of :data:`PID_MEASURES`; the default is the paper's pointwise
    minimum rule. For every measure ``red + unq1 + unq2 + syn == i12`` per galaxy.
    """
    try:
        rule = PID_MEASURES[measure]
    except KeyError:
        raise ConfigError(
            f"unknown PID measure {measure!r}: choose one of {', '.join(PID_MEASURES)}"
        ) from None
    return rule(*_as_arrays(i1, i2, i12))


def mmi_on_averages(
    i1, i2, i12, weights: np.ndarray | None = None
) -> dict[str, float]:
    """Classic I_MMI PID (cross-check) on the mean informations: red = min(<i1>, <i2>), ...

    Returns floats for the four atoms and ``i1``, ``i2``, ``i12`` (the means). Optional
    ``weights`` (e.g. probabilities of discrete outcomes) make the means weighted.
    """
    a1, a2, a12 = _as_arrays(i1, i2, i12)
    return mmi_atoms(*(float(np.average(a, weights=weights)) for a in (a1, a2, a12)))


def mmi_atoms(i1: float, i2: float, i12: float) -> dict[str, float]:
    """Classic I_MMI atoms from three (mutual) informations, plus ``i1``, ``i2``, ``i12`` themselves."""
    red = min(i1, i2)
    return {"red": red, "unq1": i1 - red, "unq2": i2 - red, "syn": i12 - max(i1, i2),
            "i1": i1, "i2": i2, "i12": i12}


def average_atoms(atoms: Mapping[str, np.ndarray], weights: np.ndarray | None = None) -> dict[str, float]:
    """Mean of each per-galaxy atom (optionally weighted)."""
    return {k: float(np.average(np.asarray(v, dtype=float), weights=weights)) for k, v in atoms.items()}
