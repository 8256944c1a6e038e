"""Binning of the target (log M* on 520 bins over [6, 12.5] by default) and the binned prior."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galinfo.data.validate import plain
from galinfo.errors import DataValidationError


def _in_range(y: np.ndarray, low: float, high: float, column: str) -> np.ndarray:
    """``y`` as float64; non-finite values or values outside [low, high] raise, naming the count."""
    y = np.asarray(y, dtype=float)
    bad = ~np.isfinite(y) | (y < low) | (y > high)
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} value(s) of {column} are non-finite or outside "
            f"[{plain(low)}, {plain(high)}] (first: {plain(y[bad][0])})"
        )
    return y


class _BinsBase:
    """What both kinds of bins share; subclasses give ``edges``, ``n_bins`` and ``index``."""

    def index(self, y: np.ndarray, *, column: str = "target") -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @property
    def centers(self) -> np.ndarray:
        e = self.edges
        return 0.5 * (e[:-1] + e[1:])

    def prior(self, y: np.ndarray, *, pseudocount: float = 0.0) -> np.ndarray:
        """Histogram probabilities p(bin) of ``y`` on these bins (sums to 1).

        ``pseudocount`` is added to every bin (0 reproduces the paper's plain histogram).
        """
        counts = np.bincount(self.index(y), minlength=self.n_bins).astype(float) + pseudocount
        return counts / counts.sum()


@dataclass(frozen=True)
class TargetBins(_BinsBase):
    """Equal-width bins of a target column, e.g. log10 M*/Msun on [6, 12.5] in 520 bins."""

    low: float = 6.0
    high: float = 12.5
    n_bins: int = 520

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.high > self.low):
            raise DataValidationError(
                f"target range [{plain(self.low)}, {plain(self.high)}] is not increasing"
            )
        if int(self.n_bins) < 2:
            raise DataValidationError(f"n_bins={self.n_bins} must be at least 2")

    @property
    def width(self) -> float:
        return (self.high - self.low) / self.n_bins

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.low, self.high, self.n_bins + 1)

    def index(self, y: np.ndarray, *, column: str = "target") -> np.ndarray:
        """Bin index (int64) of each value; values outside [low, high] raise, naming the count."""
        y = _in_range(y, self.low, self.high, column)
        idx = np.floor((y - self.low) / self.width).astype(np.int64)
        return np.clip(idx, 0, self.n_bins - 1)


@dataclass(frozen=True)
class EdgeBins(_BinsBase):
    """Bins of a target given by explicit increasing edges, e.g. at quantiles of the target.

    Same interface as :class:`TargetBins` (``edges``, ``centers``, ``n_bins``, ``index``,
    ``prior``), for estimators that only need bin membership. ``edges``: (B + 1,) floats, target
    units; values outside [edges[0], edges[-1]] raise.
    """

    edges_: tuple[float, ...]

    def __post_init__(self) -> None:
        e = np.asarray(self.edges_, dtype=float)
        if e.ndim != 1 or e.size < 3 or not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0):
            raise DataValidationError(
                f"bin edges must be at least 3 finite, strictly increasing values, got {e.size}"
            )

    @classmethod
    def from_quantiles(cls, y: np.ndarray, n_bins: int) -> EdgeBins:
        """Equal-count bins: edges at the 0, 1/B, ..., 1 quantiles of ``y``.

        Tied quantiles (a target with repeated values) are merged, so there may be fewer than
        ``n_bins`` bins; every bin then holds about len(y) / B values or one repeated value.
        """
        y = np.asarray(y, dtype=float)
        if int(n_bins) < 2:
            raise DataValidationError(f"n_bins={n_bins} must be at least 2")
        if not np.all(np.isfinite(y)):
            raise DataValidationError(f"{int(np.sum(~np.isfinite(y)))} non-finite target value(s)")
        edges = np.unique(np.quantile(y, np.linspace(0.0, 1.0, int(n_bins) + 1)))
        if edges.size < 3:
            raise DataValidationError("the target takes fewer than 2 distinct values: nothing to bin")
        return cls(tuple(float(v) for v in edges))

    @property
    def low(self) -> float:
        return self.edges_[0]

    @property
    def high(self) -> float:
        return self.edges_[-1]

    @property
    def n_bins(self) -> int:
        return len(self.edges_) - 1

    @property
    def edges(self) -> np.ndarray:
        return np.asarray(self.edges_, dtype=float)

    def index(self, y: np.ndarray, *, column: str = "target") -> np.ndarray:
        """Bin index (int64) of each value; values outside the edges raise, naming the count."""
        y = _in_range(y, self.low, self.high, column)
        idx = np.searchsorted(self.edges, y, side="right") - 1
        return np.clip(idx, 0, self.n_bins - 1).astype(np.int64)


Bins = TargetBins | EdgeBins
"""Either kind of target bins."""
