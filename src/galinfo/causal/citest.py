"""A family of conditional-independence tests of X ⟂ Y | Z with one shared path (tigramite-style).

:meth:`CITest.run` is the one path of every member: validate the arrays, fit what the statistic
needs (residuals, neighbourhoods), compute the statistic, then ask the test's pluggable null
(:class:`PermutationNull`, :class:`LocalPermutationNull`, :class:`NormalNull`) for a p-value.
:meth:`CITest.run_test` returns ``(statistic, pvalue)``; :meth:`CITest.run` the full
:class:`CIResult` (with the regression diagnostic of the residual tests and per-galaxy arrays of
the local tests).

Members (explicit; :data:`CI_TESTS` maps their names to them):

- :class:`PaperLocalTest`: mean local Pearson r(Y, X_q) among neighbours in S (the paper's test;
  not calibrated when X_q depends on S).
- :class:`CalibratedLocalTest`: cross-fitted residuals (two fits per target,
  :func:`galinfo.causal.regress.crossfit_repeats`) with stability weights
  (:func:`galinfo.causal.regress.stability_weights`), studentized local correlations with
  within-neighbourhood permutation p-values per galaxy, and their mean against a global
  permutation of the X_q residuals for the whole sample. ``local["residual_y"]`` and
  ``local["residual_xq"]`` are the weighted residuals sqrt(w) e the statistics see.
- :class:`GCMTest`: the generalised covariance measure of Shah & Peters (2020) on the same
  residuals, T = sqrt(n) mean(R) / sd(R) with R = e_Y e_X, against N(0, 1).
- :class:`KnnCMITest`: Frenzel–Pompe kNN conditional mutual information (nats) with a local
  permutation null; dispatches to :class:`GCMTest` (logged) when Z has more than ``max_dim`` columns.

Conventions: ``x`` is the query X_q, ``y`` the target Y (e.g. log10 M*/Msun), ``z`` the
conditioning block (n, d) (the latent S), all over the same reference rows; ``x_c`` optional extra
conditioning joins z in the regressions (not in the neighbour search); ``neighbours`` (n_query, k)
are reference rows (default: the k nearest reference rows of every reference row in z, itself
included). NaN rows of x, y or x_c are excluded from the residual tests (counted in ``n``).

Regression diagnostic (:func:`regression_diagnostic`): residual tests are valid only when the
regressions of Y and X_q on Z are good enough (Shah & Peters 2020). After residualisation the
held-out share of each residual's variance still predictable from Z (leave-self-out mean over its
nearest reference rows in Z) is measured, and so is the correlation of the two smoothed residuals
(a negative control: regression errors that line up). Above the thresholds the verdict is
"regression inadequate: not interpretable" instead of "dependent" / "independent".
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy import stats

from galinfo.causal.local import (
    _chunks,
    _mean_local_r,
    benjamini_hochberg,
    local_pearson,
    local_studentized,
    paper_local_test,
    quadratic_residuals,
    within_permutation_pvalues,
)
from galinfo.causal.regress import STABILITY_SCALE, crossfit_repeats, stability_weights
from galinfo.data.validate import defined_rows, require_finite
from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = [
    "CIData", "CIResult", "Diagnostic", "regression_diagnostic", "gcm_statistic",
    "PermutationNull", "LocalPermutationNull", "NormalNull",
    "CITest", "PaperLocalTest", "CalibratedLocalTest", "GCMTest", "KnnCMITest", "CI_TESTS",
    "INADEQUATE", "R2_MAX", "CROSS_MAX",
]

INADEQUATE = "regression inadequate: not interpretable"
#: held-out share of a residual's variance still predictable from Z above which a result is not interpretable
R2_MAX = 0.05
#: |correlation| of the two smoothed residuals (negative control) above which it is not interpretable
CROSS_MAX = 0.5


# ----------------------------------------------------------------------------- data and results
@dataclass(frozen=True)
class CIData:
    """Validated inputs: float64 (n,) x, y (NaN = missing), (n, d) z or None, (n,) x_c or None,
    (n_query, k) int64 neighbours or None, (n,) y_pred (E[Y | Z] given by the caller) or None."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray | None
    x_c: np.ndarray | None = None
    neighbours: np.ndarray | None = None
    y_pred: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Diagnostic:
    """How well the regressions on Z did (fractions; held out).

    r2_y, r2_x : share of the Y / X_q residual variance predicted by the leave-self-out mean of the
        residuals of the ``k`` nearest reference rows in Z (about -1/k when nothing is left)
    cross : correlation of the two residuals smoothed over disjoint neighbours (negative control:
        regression errors that line up)
    """

    r2_y: float
    r2_x: float
    cross: float
    k: int
    r2_max: float = R2_MAX
    cross_max: float = CROSS_MAX

    @property
    def adequate(self) -> bool:
        """False when a residual is still predictable from Z beyond ``r2_max``, or both are a bit
        predictable (> r2_max / 5) and line up (|cross| > ``cross_max``)."""
        worst = max(self.r2_y, self.r2_x)
        lined_up = min(self.r2_y, self.r2_x) > self.r2_max / 5 and abs(self.cross) > self.cross_max
        return bool(np.isfinite(worst) and worst <= self.r2_max and not lined_up)

    def to_dict(self) -> dict:
        return {"r2_y": self.r2_y, "r2_x": self.r2_x, "cross": self.cross, "k": self.k,
                "r2_max": self.r2_max, "cross_max": self.cross_max, "adequate": self.adequate}


def _smooth_r2(r: np.ndarray, nb: np.ndarray) -> float:
    m = r[nb].mean(axis=1)
    var = np.var(r)
    return float(1.0 - np.mean((r - m) ** 2) / var) if var > 0 else float("nan")


def regression_diagnostic(ry: np.ndarray, rx: np.ndarray, nb_other: np.ndarray, *,
                          r2_max: float = R2_MAX, cross_max: float = CROSS_MAX) -> Diagnostic:
    """:class:`Diagnostic` of finite residuals ``ry``, ``rx`` (n,) given ``nb_other`` (n, k): each
    row's nearest other rows in Z (the row itself excluded).

    The negative control smooths ry over the even-ranked and rx over the odd-ranked neighbours:
    disjoint rows, so a true dependence of Y on X_q (noise shared row by row) does not correlate
    the two smooths, while regression errors that are functions of Z do.
    """
    r2y = _smooth_r2(ry, nb_other)
    r2x = _smooth_r2(rx, nb_other)
    my, mx = ry[nb_other[:, 0::2]].mean(axis=1), rx[nb_other[:, 1::2]].mean(axis=1)
    cross = float(np.corrcoef(my, mx)[0, 1]) if my.std() > 0 and mx.std() > 0 else float("nan")
    return Diagnostic(r2y, r2x, cross, int(nb_other.shape[1]), r2_max, cross_max)


@dataclass
class CIResult:
    """Outcome of :meth:`CITest.run`.

    statistic : the test's statistic (see the member); pvalue : from its null; null : the null
    samples (empty for an analytic null); n : rows used; diagnostic : regression diagnostic of the
    residual tests (None otherwise); local : per-galaxy arrays of the local tests; notes : what the
    test did that a reader should know (e.g. a dispatch).
    """

    test: str
    statistic: float
    pvalue: float
    n: int
    null: np.ndarray = field(repr=False)
    alpha: float = 0.05
    diagnostic: Diagnostic | None = None
    local: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    extra: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def effect_size(self) -> float:
        """(statistic - null mean) / null std of a resampled null (NaN for an analytic one)."""
        if self.null.size < 2 or not np.isfinite(self.statistic):
            return float("nan")
        sd = float(np.std(self.null, ddof=1))
        return float((self.statistic - np.mean(self.null)) / sd) if sd > 0 else float("nan")

    @property
    def interpretable(self) -> bool:
        return self.diagnostic is None or self.diagnostic.adequate

    @property
    def verdict(self) -> str:
        """"dependent" / "independent" at ``alpha``, or :data:`INADEQUATE`."""
        if not self.interpretable:
            return INADEQUATE
        if not np.isfinite(self.pvalue):
            return "untested"
        return "dependent" if self.pvalue <= self.alpha else "independent"

    def summary(self) -> dict:
        """Plain-Python numbers for JSON."""
        out = {"test": self.test, "statistic": self.statistic, "pvalue": self.pvalue, "n": self.n,
               "alpha": self.alpha, "verdict": self.verdict, "effect_size": self.effect_size,
               "diagnostic": self.diagnostic.to_dict() if self.diagnostic else None,
               "notes": list(self.notes), **self.extra}
        return out


# ----------------------------------------------------------------------------- nulls
Recompute = Callable[[np.ndarray | None], float]


class Null(ABC):
    """A null distribution: turns an observed statistic into a p-value."""

    @abstractmethod
    def pvalue(self, stat: float, recompute: Recompute, rows: np.ndarray,
               perm_neighbours: np.ndarray | None, rng: np.random.Generator,
               two_sided: bool) -> tuple[float, np.ndarray]:
        """(p-value, null samples); ``recompute(perm)`` is the statistic with the x side of the
        rows ``rows`` reordered by the index array ``perm`` (into ``rows``)."""


def _perm_pvalue(stat: float, null: np.ndarray, two_sided: bool) -> float:
    if not np.isfinite(stat):
        return float("nan")
    if two_sided:
        centre = float(np.mean(null))
        hits = np.count_nonzero(np.abs(null - centre) >= abs(stat - centre) - 1e-12)
    else:
        hits = np.count_nonzero(null >= stat - 1e-15)
    return float((1 + hits) / (1 + null.size))


@dataclass(frozen=True)
class PermutationNull(Null):
    """``n_perm`` permutations of the x side over all rows; p = (1 + #{as extreme}) / (1 + n_perm)."""

    n_perm: int = 200

    def __post_init__(self):
        if isinstance(self.n_perm, bool) or not isinstance(self.n_perm, int | np.integer) or self.n_perm < 1:
            raise ConfigError(f"n_perm must be a positive integer, got {self.n_perm!r}")

    def draw(self, rows: np.ndarray, perm_neighbours, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(rows.size)

    def pvalue(self, stat, recompute, rows, perm_neighbours, rng, two_sided):
        null = np.array([recompute(self.draw(rows, perm_neighbours, rng)) for _ in range(self.n_perm)])
        return _perm_pvalue(stat, null, two_sided), null


@dataclass(frozen=True)
class LocalPermutationNull(PermutationNull):
    """Runge (2018) local permutation: each x moves to one of the ``k_perm`` nearest rows in Z."""

    k_perm: int = 5

    def draw(self, rows, perm_neighbours, rng):
        from galinfo.causal.cmi import restricted_permutation

        if perm_neighbours is None:
            raise ConfigError("LocalPermutationNull needs a conditioning block z")
        return restricted_permutation(perm_neighbours, rng)


@dataclass(frozen=True)
class NormalNull(Null):
    """Analytic N(0, 1) null of a standardised statistic (no resampling)."""

    def pvalue(self, stat, recompute, rows, perm_neighbours, rng, two_sided):
        p = 2 * stats.norm.sf(abs(stat)) if two_sided else stats.norm.sf(stat)
        return (float(p) if np.isfinite(stat) else float("nan")), np.empty(0)


# ----------------------------------------------------------------------------- the base class
def _vector(a, name: str, n: int | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.ma.filled(np.ma.asarray(a, dtype=np.float64), np.nan)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise DataValidationError(f"{name} must be 1-D, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise DataValidationError(f"{name} has {a.shape[0]} rows, x has {n}")
    return a


@dataclass
class _Fit:
    """What :meth:`CITest.fit` prepared: rows used, the statistic's inputs, and by-products."""

    rows: np.ndarray
    perm_neighbours: np.ndarray | None = None
    arrays: dict = field(default_factory=dict)
    diagnostic: Diagnostic | None = None
    local: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


class CITest(ABC):
    """Base of the CI-test family: one :meth:`run` path, pluggable ``null``.

    Subclasses set ``name``, ``default_null()`` and implement :meth:`fit` (everything the
    statistic needs) and :meth:`statistic` (the value with the x side permuted by ``perm``,
    ``None`` for the observed data). ``needs_z``: the member cannot run unconditionally.
    """

    name: ClassVar[str] = ""
    needs_z: ClassVar[bool] = False
    two_sided: ClassVar[bool] = True

    def __init__(self, *, null: Null | None = None, alpha: float = 0.05, seed: int = 0):
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
        self.null = null if null is not None else self.default_null()
        if not isinstance(self.null, Null):
            raise ConfigError(f"null must be a galinfo.causal.citest.Null, got {type(self.null).__name__}")
        self.alpha = alpha
        self.seed = seed

    def default_null(self) -> Null:
        return PermutationNull()

    def null_for(self, data: CIData) -> Null:
        """The null used on ``data`` (default: ``self.null``)."""
        return self.null

    def __repr__(self) -> str:
        return f"{type(self).__name__}(null={self.null!r}, alpha={self.alpha}, seed={self.seed})"

    # the one path ----------------------------------------------------------------------
    def validate(self, x, y, z=None, *, x_c=None, neighbours=None, y_pred=None) -> CIData:
        """Shapes, dtypes and index ranges; NaN stays (rows are masked by the members)."""
        xa = _vector(x, "x", None)
        n = xa.shape[0]
        ya = _vector(y, "y", n)
        za = None
        if z is not None:
            za = np.asarray(z, dtype=np.float64)
            za = za[:, None] if za.ndim == 1 else za
            if za.ndim != 2 or za.shape[0] != n:
                raise DataValidationError(f"z must be (n, d) with n={n}, got shape {za.shape}")
            require_finite(za, "z")  # the latent of every galaxy tested (callers leave out those without)
        elif self.needs_z:
            raise ConfigError(f"{self.name} needs a conditioning block z (the latent S)")
        nb = None
        if neighbours is not None:
            nb = np.asarray(neighbours)
            if nb.ndim != 2 or not np.issubdtype(nb.dtype, np.integer):
                raise DataValidationError(f"neighbours must be an (n, k) integer array, got {nb.dtype} {nb.shape}")
            if nb.size and (nb.min() < 0 or nb.max() >= n):
                raise DataValidationError(f"neighbours index outside the {n} reference rows "
                                          f"(range {nb.min()}..{nb.max()})")
            nb = nb.astype(np.int64, copy=False)
        return CIData(xa, ya, za, _vector(x_c, "x_c", n), nb, _vector(y_pred, "y_pred", n))

    def run(self, x, y, z=None, *, x_c=None, neighbours=None, y_pred=None) -> CIResult:
        """Validate -> fit -> statistic -> null; returns the :class:`CIResult`. A NaN statistic
        (nothing testable) gives a NaN p-value and the verdict "untested"."""
        data = self.validate(x, y, z, x_c=x_c, neighbours=neighbours, y_pred=y_pred)
        rng = np.random.default_rng(self.seed)
        fit = self.fit(data, rng)
        stat = float(self.statistic(fit, None))
        if np.isfinite(stat):
            pvalue, null = self.null_for(data).pvalue(stat, lambda perm: float(self.statistic(fit, perm)),
                                                      fit.rows, fit.perm_neighbours, rng, self.two_sided)
        else:  # nothing was testable (e.g. no neighbourhood with enough valid galaxies): NaN, not "dependent"
            pvalue, null = float("nan"), np.empty(0)
            fit.notes.append("statistic undefined: nothing was tested, p-value NaN")
        return CIResult(self.name, stat, pvalue, int(fit.rows.size), null, self.alpha,
                        fit.diagnostic, fit.local, fit.extra, fit.notes)

    def run_test(self, x, y, z=None, **kw) -> tuple[float, float]:
        """``(statistic, pvalue)`` of :meth:`run`."""
        res = self.run(x, y, z, **kw)
        return res.statistic, res.pvalue

    @abstractmethod
    def fit(self, data: CIData, rng: np.random.Generator) -> _Fit:
        """Everything the statistic needs, computed once."""

    @abstractmethod
    def statistic(self, fit: _Fit, perm: np.ndarray | None) -> float:
        """The statistic, with the x side of ``fit.rows`` reordered by ``perm`` (None: observed)."""


# ----------------------------------------------------------------------------- residual members
def _finite_rows(data: CIData) -> np.ndarray:
    """Reference rows where x, y (and x_c) are defined; the others take no part in the regressions
    and are not used as neighbours (galinfo's missing-value contract: skipped, not imputed)."""
    rows = np.flatnonzero(defined_rows(data.x, data.y, data.x_c))
    if rows.size < 20:
        raise DataValidationError(f"only {rows.size} rows have finite x, y and x_c")
    return rows


def _neighbours_of(z: np.ndarray, k: int, *, exclude_self: bool) -> np.ndarray:
    from galinfo.knn.search import knn_search

    zz = np.asarray(z, dtype=np.float32)
    return knn_search(zz, zz, k, exclude_self=exclude_self)[1].astype(np.int64)


class _ResidualTest(CITest):
    """Shared residualisation of the residual members (cross-fitted, on z and x_c)."""

    needs_z = True

    def __init__(self, *, folds: int = 5, repeats: int = 2, stability_scale: float | None = STABILITY_SCALE,
                 k_diag: int = 50, r2_max: float = R2_MAX, cross_max: float = CROSS_MAX, **kw):
        super().__init__(**kw)
        if folds < 2 or repeats < 1:
            raise ConfigError(f"need folds >= 2 and repeats >= 1, got folds={folds}, repeats={repeats}")
        if stability_scale is not None and stability_scale <= 0:
            raise ConfigError(f"stability_scale must be > 0 or None, got {stability_scale}")
        self.folds, self.repeats, self.stability_scale = folds, repeats, stability_scale
        self.k_diag, self.r2_max, self.cross_max = k_diag, r2_max, cross_max

    def residuals(self, data: CIData, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """Cross-fitted residuals of y and x on [z, x_c] over ``rows``, and the stability weights.

        Each target is cross-fitted ``repeats`` times with fold partitions of its own
        (:func:`galinfo.causal.regress.crossfit_repeats`); the residual is against the mean fit and
        the weight (:func:`galinfo.causal.regress.stability_weights`; 1 when ``stability_scale`` is
        None or ``repeats`` is 1) down-weights galaxies whose fits are unstable. A given ``y_pred``
        (and no x_c) is subtracted from y first, and what is left of y is regressed on z: the given
        E[Y | Z] is kept where it is right and corrected, out of fold, where it is not."""
        blocks = [b for b in (data.z, None if data.x_c is None else data.x_c[:, None]) if b is not None]
        if not blocks:  # unconditional: the residuals are the centred variables
            x, y = data.x[rows], data.y[rows]
            return y - y.mean(), x - x.mean(), np.ones(rows.size), "unconditional"
        feats = np.hstack([b[rows] for b in blocks])
        y, how = data.y[rows], "cross-fitted"
        if data.y_pred is not None and data.x_c is None:
            yp = data.y_pred[rows]
            if not np.isfinite(yp).all():
                raise DataValidationError("y_pred has NaN/inf on rows with finite x and y")
            # the given E[Y | Z] (e.g. a model's in-sample head) plus a cross-fitted correction on Z
            y, how = y - yp, "given y_pred + cross-fitted correction"
        fits = crossfit_repeats(feats, np.stack([y, data.x[rows]], axis=1), repeats=self.repeats,
                                folds=self.folds, seed=self.seed)
        pred = fits.mean(axis=0)
        weight = np.ones(rows.size) if self.stability_scale is None else stability_weights(fits, self.stability_scale)
        return y - pred[:, 0], data.x[rows] - pred[:, 1], weight, how

    def diagnose(self, data: CIData, rows: np.ndarray, ry: np.ndarray, rx: np.ndarray) -> Diagnostic | None:
        if data.z is None:
            return None
        k = min(self.k_diag, rows.size - 1)
        nb = _neighbours_of(data.z[rows], k, exclude_self=True)
        return regression_diagnostic(ry, rx, nb, r2_max=self.r2_max, cross_max=self.cross_max)


class GCMTest(_ResidualTest):
    """Generalised covariance measure (Shah & Peters 2020) on cross-fitted residuals.

    T = sqrt(n) mean(R) / sd(R), R_i = e_Y,i e_X,i: studentized by construction, N(0, 1) under
    the null when the product of the two regression errors is small (see the diagnostic).
    Default null: :class:`NormalNull`; a :class:`PermutationNull` permutes e_X.
    """

    name = "gcm"
    needs_z = False  # without z: the studentized covariance of the centred variables

    def default_null(self) -> Null:
        return NormalNull()

    def fit(self, data, rng):
        rows = _finite_rows(data)
        ry, rx, weight, how = self.residuals(data, rows)
        root = np.sqrt(weight)
        fit = _Fit(rows, arrays={"ry": root * ry, "rx": root * rx})
        fit.diagnostic = self.diagnose(data, rows, ry, rx)
        fit.extra = {"y_given_z": how, "mean_weight": float(weight.mean())}
        return fit

    def statistic(self, fit, perm):
        rx = fit.arrays["rx"]
        return gcm_statistic(fit.arrays["ry"], rx if perm is None else rx[perm])


def gcm_statistic(ry: np.ndarray, rx: np.ndarray) -> float:
    """GCM statistic sqrt(n) mean(R) / sd(R) of the residual products R = ry rx (finite rows)."""
    prod = ry * rx
    prod = prod[np.isfinite(prod)]
    sd = prod.std(ddof=1) if prod.size > 1 else 0.0
    return float(np.sqrt(prod.size) * prod.mean() / sd) if sd > 0 else float("nan")


class CalibratedLocalTest(_ResidualTest):
    """Studentized local test of Y ⟂ X_q | S among neighbours in S, on cross-fitted residuals.

    Per galaxy: the studentized correlation t of the residuals over its neighbours
    (:func:`galinfo.causal.local.local_studentized`) against ``n_perm_local`` within-neighbourhood
    permutations (two-sided), with Benjamini–Hochberg q-values. Whole sample: the mean t over
    galaxies, against the test's null (default: global permutations of the X_q residuals, one
    permutation shared by every neighbourhood, so their overlap is part of the null).
    """

    name = "calibrated_local"

    def __init__(self, *, k: int = 100, n_perm_local: int = 200, min_valid: int = 10,
                 chunk: int = 20_000, **kw):
        super().__init__(**kw)
        if k < 3 or n_perm_local < 1:
            raise ConfigError(f"need k >= 3 and n_perm_local >= 1, got k={k}, n_perm_local={n_perm_local}")
        self.k, self.n_perm_local, self.min_valid, self.chunk = k, n_perm_local, min_valid, chunk

    def fit(self, data, rng):
        rows = _finite_rows(data)
        ry_rows, rx_rows, weight, how = self.residuals(data, rows)
        ry, rx, w = np.full(data.n, np.nan), np.full(data.n, np.nan), np.full(data.n, np.nan)
        w[rows] = weight
        # the tests see the weighted residuals sqrt(w) e (products w e_Y e_X)
        ry[rows], rx[rows] = np.sqrt(weight) * ry_rows, np.sqrt(weight) * rx_rows
        nb = data.neighbours if data.neighbours is not None else _neighbours_of(data.z, self.k,
                                                                                exclude_self=False)
        t, r, p, n_valid = _local_studentized_pvalues(nb, ry, rx, self.n_perm_local, self.min_valid,
                                                      self.chunk, rng)
        reject, q = benjamini_hochberg(p, self.alpha)
        tested = np.isfinite(p)
        fit = _Fit(rows, arrays={"nb": nb, "ry": ry, "rx": rx})
        if isinstance(self.null, LocalPermutationNull):
            fit.perm_neighbours = _neighbours_of(data.z[rows], self.null.k_perm, exclude_self=True)
        fit.diagnostic = self.diagnose(data, rows, ry_rows, rx_rows)
        fit.local = {"t": t, "r": r, "pvalue": p, "qvalue": q, "reject_bh": reject, "n_valid": n_valid,
                     "residual_y": ry, "residual_xq": rx, "weight": w}
        fit.extra = {
            "y_given_z": how, "k": int(nb.shape[1]), "n_galaxies": int(nb.shape[0]),
            "mean_weight": float(weight.mean()),
            "mean_r": float(np.nanmean(r)) if np.isfinite(r).any() else float("nan"),
            "conditional": data.x_c is not None,
            "n_tested": int(tested.sum()),
            "frac_p_below_alpha": float(np.mean(p[tested] <= self.alpha)) if tested.any() else float("nan"),
            "n_reject_bh": int(reject.sum()),
        }
        return fit

    def statistic(self, fit, perm):
        rx = fit.arrays["rx"]
        if perm is not None:
            rx = rx.copy()
            rx[fit.rows] = rx[fit.rows[perm]]
        return _mean_local_t(fit.arrays["nb"], fit.arrays["ry"], rx, self.min_valid, self.chunk)


def _mean_local_t(nb, ry, rx, min_valid, chunk) -> float:
    return _mean_local_r(nb, ry, rx, min_valid, chunk, stat=local_studentized)


def _local_studentized_pvalues(nb, ry, rx, n_perm, min_valid, chunk, rng):
    """Per-galaxy studentized t, Pearson r, two-sided within-neighbourhood permutation p of t,
    and valid counts."""
    t, p, n_valid = within_permutation_pvalues(nb, ry, rx, n_perm, rng, stat=local_studentized,
                                               min_valid=min_valid, chunk=chunk)
    r = np.concatenate([local_pearson(ry[nb[sl]], rx[nb[sl]], np.isfinite(ry[nb[sl]]) & np.isfinite(rx[nb[sl]]))
                        for sl in _chunks(nb.shape[0], chunk)]) if nb.shape[0] else np.empty(0)
    r[~np.isfinite(t)] = np.nan
    return t, r, p, n_valid


# ----------------------------------------------------------------------------- other members
class PaperLocalTest(CITest):
    """The paper's local test: mean over galaxies of Pearson r(Y, X_q) among neighbours in S (of
    the local quadratic residuals on x_c when given), against global permutations of X_q.

    Not calibrated when X_q depends on S (docs/causal.md); kept as the reference. Per-galaxy
    arrays: :func:`galinfo.causal.local.paper_local_test`.
    """

    name = "paper_local"
    needs_z = True

    def __init__(self, *, k: int = 100, n_baseline: int = 1, min_valid: int = 10, chunk: int = 20_000,
                 null: Null | None = None, **kw):
        super().__init__(null=null if null is not None else PermutationNull(20), **kw)
        self.k, self.n_baseline, self.min_valid, self.chunk = k, n_baseline, min_valid, chunk

    def fit(self, data, rng):
        nb = data.neighbours if data.neighbours is not None else _neighbours_of(data.z, self.k,
                                                                                exclude_self=False)
        res = paper_local_test(nb, data.y, data.x, data.x_c, n_baseline=self.n_baseline,
                               seed=self.seed, min_valid=self.min_valid, chunk=self.chunk)
        rows = np.flatnonzero(np.isfinite(data.x))
        fit = _Fit(rows, arrays={"nb": nb, "data": data, "r": res.r})
        fit.local = {"r": res.r, "r_perm": res.r_perm, "efficiency": res.efficiency,
                     "efficiency_perm": res.efficiency_perm, "n_valid": res.n_valid}
        fit.extra = res.summary()
        return fit

    def statistic(self, fit, perm):
        if perm is None:
            r = fit.arrays["r"]
            return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")
        data = fit.arrays["data"]
        x = data.x.copy()
        x[fit.rows] = x[fit.rows[perm]]
        return _paper_mean_r(fit.arrays["nb"], data.y, x, data.x_c, self.min_valid, self.chunk)


def _paper_mean_r(nb, y, x, x_c, min_valid: int, chunk: int) -> float:
    """Mean over galaxies of the paper's local r (of local quadratic residuals on x_c when given)."""
    tot, cnt = 0.0, 0
    for sl in _chunks(nb.shape[0], chunk):
        yb, xb = y[nb[sl]], x[nb[sl]]
        w = np.isfinite(yb) & np.isfinite(xb)
        if x_c is not None:
            cb = x_c[nb[sl]]
            w &= np.isfinite(cb)
            yb, xb = quadratic_residuals(yb, cb, w), quadratic_residuals(xb, cb, w)
            w &= np.isfinite(yb).all(axis=1, keepdims=True)
        r = local_pearson(yb, xb, w)
        r = r[(w.sum(axis=1) >= min_valid) & np.isfinite(r)]
        tot, cnt = tot + r.sum(), cnt + r.size
    return tot / cnt if cnt else float("nan")


class KnnCMITest(CITest):
    """kNN (conditional) mutual information in nats (:mod:`galinfo.causal.cmi`), one-sided.

    Default null: :class:`LocalPermutationNull` with z, :class:`PermutationNull` without. With
    more than ``max_dim`` z columns the estimate and its local permutation are not calibrated: the
    test is answered by :class:`GCMTest` (a logged notice and a note in the result).
    """

    name = "knn_cmi"
    two_sided = False

    def __init__(self, *, k: int = 10, transform: str = "ranks", max_dim: int | None = None,
                 workers: int = -1, null: Null | None = None, **kw):
        from galinfo.causal.cmi import MAX_CMI_DIM

        super().__init__(null=null if null is not None else LocalPermutationNull(), **kw)
        self.k, self.transform, self.workers = k, transform, workers
        self.max_dim = MAX_CMI_DIM if max_dim is None else max_dim

    def run(self, x, y, z=None, **kw) -> CIResult:
        zb = None if z is None else np.asarray(z, dtype=np.float64)
        if zb is not None and zb.reshape(zb.shape[0], -1).shape[1] > self.max_dim:
            d = zb.reshape(zb.shape[0], -1).shape[1]
            log.info("knn_cmi: z has %d columns (> max_dim=%d), where the kNN CMI test is not calibrated; "
                     "dispatching to the cross-fitted residual (GCM) test", d, self.max_dim)
            res = GCMTest(alpha=self.alpha, seed=self.seed).run(x, y, z, **kw)
            res.notes.append(f"dispatched from knn_cmi: z has {d} columns (> max_dim={self.max_dim})")
            return res
        return super().run(x, y, z, **kw)

    def fit(self, data, rng):
        from galinfo.causal.cmi import _check_k, _prepare, cmi_statistic

        if not (np.isfinite(data.x).all() and np.isfinite(data.y).all()):
            raise DataValidationError("knn_cmi: x or y has NaN values; drop those rows first")
        x, y, z, n, _ = _prepare(data.x, data.y, data.z, self.transform, self.seed)
        k = _check_k(self.k, n, "k")
        k_perm = getattr(self.null, "k_perm", 5)
        stat, recompute, neigh, _ = cmi_statistic(x, y, z, k, k_perm=k_perm, workers=self.workers)
        return _Fit(np.arange(n), perm_neighbours=neigh, arrays={"stat": stat, "recompute": recompute})

    def null_for(self, data):
        if data.z is None and isinstance(self.null, LocalPermutationNull):
            return PermutationNull(self.null.n_perm)  # nothing to permute locally in
        return self.null

    def statistic(self, fit, perm):
        return fit.arrays["stat"] if perm is None else fit.arrays["recompute"](perm)[0]


#: the members by name (explicit; used by the CLI and the study)
CI_TESTS: dict[str, type[CITest]] = {
    PaperLocalTest.name: PaperLocalTest,
    CalibratedLocalTest.name: CalibratedLocalTest,
    GCMTest.name: GCMTest,
    KnnCMITest.name: KnnCMITest,
}
