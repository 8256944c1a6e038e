"""Gaussian and Gaussian-copula information measures (closed forms; cross-checks). Nats.

For jointly Gaussian variables, ``I(A; B) = 1/2 [ln det S_AA + ln det S_BB - ln det S_(AB)]``.
With a scalar target, Barrett (2015, Phys. Rev. E 91, 052802) showed that the common PIDs reduce to
the minimum-mutual-information (MMI) PID: red = min(I1, I2), unq_k = I_k - red,
syn = I12 - max(I1, I2). The dependency-constraints PID I_dep (James et al. 2018; Kay & Ince 2018,
Entropy 20, 240) is a second closed form that does not depend on the pairwise marginals alone and
gives less redundancy than MMI. The Gaussian-copula (GC) versions first map every variable to a standard
normal through its ranks (Ince et al. 2017, Hum. Brain Mapp. 38, 1541), so they are invariant to
monotone transforms of each latent dimension and need no training: applied to the latent vectors
of two trained models, they give a quick, model-free cross-check of the decomposition. GC values
are a lower bound on the true MI when the copula is not Gaussian.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from galinfo.data.validate import require_finite
from galinfo.errors import DataValidationError, GalinfoWarning
from galinfo.info.pid import ATOMS, mmi_atoms, pid


def _idx(a: int | Sequence[int]) -> np.ndarray:
    return np.atleast_1d(np.asarray(a, dtype=np.int64))


def _logdet(m: np.ndarray) -> float:
    sign, ld = np.linalg.slogdet(m)
    if sign <= 0:
        raise DataValidationError("covariance matrix is not positive definite")
    return float(ld)


def gaussian_mi(cov: np.ndarray, a: int | Sequence[int], b: int | Sequence[int]) -> float:
    """Closed-form I(A; B) in nats for jointly Gaussian variables with covariance ``cov``.

    ``a`` and ``b`` are index lists of the two (disjoint) groups of variables.
    """
    cov = np.asarray(cov, dtype=np.float64)
    ia, ib = _idx(a), _idx(b)
    if np.intersect1d(ia, ib).size:
        raise DataValidationError("the two variable groups of gaussian_mi overlap")
    iab = np.concatenate([ia, ib])
    return 0.5 * (
        _logdet(cov[np.ix_(ia, ia)]) + _logdet(cov[np.ix_(ib, ib)]) - _logdet(cov[np.ix_(iab, iab)])
    )


def gaussian_mmi_pid(
    cov: np.ndarray, s1: int | Sequence[int], s2: int | Sequence[int], target: int | Sequence[int]
) -> dict[str, float]:
    """Closed-form MMI PID of a Gaussian system (Barrett 2015): atoms and ``i1``, ``i2``, ``i12``."""
    return mmi_atoms(gaussian_mi(cov, s1, target), gaussian_mi(cov, s2, target),
                     gaussian_mi(cov, np.concatenate([_idx(s1), _idx(s2)]), target))


def _mi_given_sources_independent_given_target(
    cov: np.ndarray, i1: np.ndarray, i2: np.ndarray, it: np.ndarray
) -> float:
    """I(S1 S2; T) in the maximum-entropy Gaussian with the same (S1, T) and (S2, T) marginals and
    S1 independent of S2 given T (the cross-covariance replaced by S1T T^-1 TS2)."""
    c = np.array(cov, dtype=np.float64, copy=True)
    s_1t, s_2t, s_tt = c[np.ix_(i1, it)], c[np.ix_(i2, it)], c[np.ix_(it, it)]
    cross = s_1t @ np.linalg.solve(s_tt, s_2t.T)
    c[np.ix_(i1, i2)] = cross
    c[np.ix_(i2, i1)] = cross.T
    return gaussian_mi(c, np.concatenate([i1, i2]), it)


def gaussian_dep_pid(
    cov: np.ndarray, s1: int | Sequence[int], s2: int | Sequence[int], target: int | Sequence[int]
) -> dict[str, float]:
    """Closed-form dependency-constraints PID (I_dep) of a Gaussian system: atoms and ``i1``, ``i2``, ``i12``.

    The unique information of S1 is the smallest increase of I(S1 S2; T) over the edges of the
    lattice of maximum-entropy Gaussian models on which the (S1, T) dependency is added. For
    Gaussians the four edges give ``unq1 = min(I1, I_ci - I2, I12 - I2)``, where ``I_ci`` is the
    joint information when S1 and S2 are made independent given T; hence
    ``red = max(0, I1 + I2 - I12, I1 + I2 - I_ci)`` and ``red <= min(I1, I2)`` (the MMI redundancy).
    Sources and target may be blocks of variables.
    """
    i1, i2, it = _idx(s1), _idx(s2), _idx(target)
    mi1 = gaussian_mi(cov, i1, it)
    mi2 = gaussian_mi(cov, i2, it)
    mi12 = gaussian_mi(cov, np.concatenate([i1, i2]), it)
    mi_ci = _mi_given_sources_independent_given_target(cov, i1, i2, it)
    red = max(0.0, mi1 + mi2 - mi12, mi1 + mi2 - mi_ci)
    return {"red": red, "unq1": mi1 - red, "unq2": mi2 - red, "syn": mi12 - mi1 - mi2 + red,
            "i1": mi1, "i2": mi2, "i12": mi12}


def gaussian_local_mi(
    x: np.ndarray, y: np.ndarray, *, mean: np.ndarray | None = None, cov: np.ndarray | None = None
) -> np.ndarray:
    """Local (pointwise) MI ``ln p(y|x) - ln p(y)`` per row under a Gaussian model of (x, y), nats.

    ``x``: (n, d) or (n,); ``y``: (n,). ``mean`` (d+1,) and ``cov`` (d+1, d+1), ordered (x..., y),
    default to the sample estimates. Its expectation under the model is :func:`gaussian_mi`.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise DataValidationError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    d = x.shape[1]
    z = np.column_stack([x, y])
    mean = z.mean(axis=0) if mean is None else np.asarray(mean, dtype=np.float64)
    cov = np.cov(z, rowvar=False) if cov is None else np.asarray(cov, dtype=np.float64)
    sxx, sxy, syy = cov[:d, :d], cov[:d, d], cov[d, d]
    beta = np.linalg.solve(sxx, sxy)
    var_c = syy - sxy @ beta
    if not var_c > 0:
        raise DataValidationError("y is a deterministic linear function of x: local MI is infinite")
    resid = y - mean[d] - (x - mean[:d]) @ beta
    return -0.5 * np.log(var_c / syy) - resid**2 / (2 * var_c) + (y - mean[d]) ** 2 / (2 * syy)


def _mi_with(a: np.ndarray, y: np.ndarray) -> float:
    """Gaussian I(A; y) from the sample covariance of the columns of ``a`` (n, d) and ``y`` (n,)."""
    d = a.shape[1]
    return gaussian_mi(np.cov(np.column_stack([a, y]), rowvar=False), np.arange(d), [d])


def copula_normalize(a: np.ndarray) -> np.ndarray:
    """Map every column to a standard normal through its ranks (ties share the average rank)."""
    a = np.asarray(a, dtype=np.float64)
    squeeze = a.ndim == 1
    a2 = a[:, None] if squeeze else a
    require_finite(a2, "the latents")
    n = a2.shape[0]
    out = ndtri(rankdata(a2, axis=0) / (n + 1.0))
    return out[:, 0] if squeeze else out


def _drop_constant(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    keep = np.ptp(a, axis=0) > 0
    if not keep.all():
        warnings.warn(
            f"{int((~keep).sum())} constant dimension(s) of {name} dropped from the Gaussian-copula PID",
            GalinfoWarning,
            stacklevel=3,
        )
    if not keep.any():
        raise DataValidationError(f"every dimension of {name} is constant")
    return a[:, keep]


@dataclass(frozen=True)
class GaussianCopulaPID:
    """Result of :func:`gaussian_copula_pid` (nats).

    ``mmi``: closed-form MMI PID on the copula-Gaussian informations (plus ``i1``, ``i2``, ``i12``).
    ``dep``: closed-form I_dep PID of the same copula-Gaussian system (:func:`gaussian_dep_pid`);
    only with the default union (the concatenation of the two sources).
    ``local``: per-galaxy Gaussian local informations ``i1``, ``i2``, ``i12`` under the fitted
    Gaussian copula; ``pointwise``: the paper's pointwise minimum rule applied to them (per galaxy);
    ``ccs``: the CCS-type pointwise rule on the same local values.
    """

    mmi: dict[str, float]
    dep: dict[str, float] | None
    local: dict[str, np.ndarray]
    pointwise: dict[str, np.ndarray]
    ccs: dict[str, np.ndarray]

    def averages(self, which: str = "pointwise") -> dict[str, float]:
        """Mean of each atom of ``"pointwise"`` or ``"ccs"``."""
        atoms = getattr(self, which)
        return {k: float(np.mean(atoms[k])) for k in ATOMS}


def gaussian_copula_pid(
    s1: np.ndarray, s2: np.ndarray, y: np.ndarray, s12: np.ndarray | None = None
) -> GaussianCopulaPID:
    """Gaussian-copula PID of sources ``s1``, ``s2`` (n, d_k) about a scalar target ``y`` (n,).

    ``s12`` is the union source; by default the concatenation ``[s1, s2]`` (no extra model
    needed). With latents of a trained union model instead, ``i12`` may fall below
    ``max(i1, i2)`` (negative synergy). Constant dimensions are dropped with a warning.
    """
    y = np.asarray(y, dtype=np.float64)
    a1 = copula_normalize(_drop_constant(s1, "source 1"))
    a2 = copula_normalize(_drop_constant(s2, "source 2"))
    a12 = np.column_stack([a1, a2]) if s12 is None else copula_normalize(_drop_constant(s12, "union"))
    gy = copula_normalize(y)
    n = gy.shape[0]
    if not (a1.shape[0] == a2.shape[0] == a12.shape[0] == n):
        raise DataValidationError(
            f"sources and target have different lengths: {a1.shape[0]}, {a2.shape[0]}, "
            f"{a12.shape[0]}, {n}"
        )
    local = {
        "i1": gaussian_local_mi(a1, gy),
        "i2": gaussian_local_mi(a2, gy),
        "i12": gaussian_local_mi(a12, gy),
    }
    if s12 is None:  # one joint covariance gives every information
        d1, d2 = a1.shape[1], a2.shape[1]
        cov = np.cov(np.column_stack([a1, a2, gy]), rowvar=False)
        blocks = (np.arange(d1), np.arange(d1, d1 + d2), [d1 + d2])
        mmi, dep = gaussian_mmi_pid(cov, *blocks), gaussian_dep_pid(cov, *blocks)
    else:
        mmi = mmi_atoms(*(_mi_with(a, gy) for a in (a1, a2, a12)))
        dep = None
    return GaussianCopulaPID(
        mmi=mmi,
        dep=dep,
        local=local,
        pointwise=pid(local["i1"], local["i2"], local["i12"], "mmi_pointwise"),
        ccs=pid(local["i1"], local["i2"], local["i12"], "ccs_pointwise"),
    )
