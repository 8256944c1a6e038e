"""Binning of the target (log M* on 520 bins over [6, 12.5] by default) and the binned prior."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galinfo.data.validate import plain
from galinfo.errors import DataValidationError


@dataclass(frozen=True)
class TargetBins:
    """Equal-width bins of a target column, e.g. log10 M*/Msun on [6, 12.5] in 520 bins."""

    low: float = 6.0
    high: float = 12.5
    n_bins: int = 520

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.high > self.low):
            raise DataValidationError(f"target range [{self.low}, {self.high}] is not increasing")
        if int(self.n_bins) < 2:
            raise DataValidationError(f"n_bins={self.n_bins} must be at least 2")

    @property
    def width(self) -> float:
        return (self.high - self.low) / self.n_bins

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.low, self.high, self.n_bins + 1)

    @property
    def centers(self) -> np.ndarray:
        e = self.edges
        return 0.5 * (e[:-1] + e[1:])

    def index(self, y: np.ndarray, *, column: str = "target") -> np.ndarray:
        """Bin index (int64) of each value; values outside [low, high] raise, naming the count."""
        y = np.asarray(y, dtype=float)
        bad = ~np.isfinite(y) | (y < self.low) | (y > self.high)
        if bad.any():
            raise DataValidationError(
                f"{int(bad.sum())} value(s) of {column} are non-finite or outside "
                f"[{plain(self.low)}, {plain(self.high)}] (first: {plain(y[bad][0])})"
            )
        idx = np.floor((y - self.low) / self.width).astype(np.int64)
        return np.clip(idx, 0, self.n_bins - 1)

    def prior(self, y: np.ndarray, *, pseudocount: float = 0.0) -> np.ndarray:
        """Histogram probabilities p(bin) of ``y`` on these bins (sums to 1).

        ``pseudocount`` is added to every bin (0 reproduces the paper's plain histogram).
        """
        counts = np.bincount(self.index(y), minlength=self.n_bins).astype(float) + pseudocount
        return counts / counts.sum()
