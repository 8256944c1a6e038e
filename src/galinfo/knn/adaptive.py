"""CLAP's adaptive-k KNN pdfs in a latent space, with PIT-based recalibration.

For a galaxy with sorted training neighbours n_1, n_2, ... (kmax of them):

1. raw pdf at k: histogram of the neighbours' target bins, p_b = #{j <= k: bin(n_j) = b} / k
   (piecewise constant inside each bin, as in :mod:`galinfo.metrics`);
2. every training galaxy t gets, for each candidate k, the PIT of its own target under the raw
   pdf of its own first k neighbours (itself excluded): ``pit_train_[c, t]``;
3. for a galaxy, the local PIT histogram at candidate k is the 100-bin histogram of
   ``pit_train_[c, n_j]`` over its first k neighbours; the chosen k minimises the 1-Wasserstein
   distance of that histogram to U(0, 1);
4. recalibration: a quadratic h(u) = a + b u + c u² is least-squares fitted to the local PIT
   density at the chosen k; the pdf is multiplied by max(h(F), 0) with F the pdf's CDF at each
   bin centre, and renormalised. If the local PITs have density h, the calibrated CDF is H(F)
   with H' = h, whose density is h(F) f: this is the step the multiplication takes.

Every step uses cumulative counts over the sorted neighbour labels, so all candidate k cost one
pass. Units: targets in target units (log10 Msun), PIT in [0, 1], W1 in PIT units.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

from galinfo import metrics
from galinfo.data.binning import TargetBins
from galinfo.errors import ConfigError, DataValidationError
from galinfo.knn.search import ExactKNN
from galinfo.metrics import hist_wasserstein_uniform

log = logging.getLogger(__name__)

#: CLAP's candidate k (120 values).
CLAP_K_GRID: np.ndarray = np.concatenate(
    [
        np.arange(5, 201, 5),
        np.arange(210, 601, 10),
        np.arange(620, 1001, 20),
        np.arange(1050, 2001, 50),
    ]
).astype(np.int64)


def candidate_ks(kmax: int, grid: np.ndarray | None = None) -> np.ndarray:
    """Candidate k values <= ``kmax`` (CLAP's grid by default), sorted, int64."""
    grid = CLAP_K_GRID if grid is None else np.asarray(grid)
    if grid.ndim != 1 or grid.size == 0 or not np.issubdtype(grid.dtype, np.integer):
        raise ConfigError(f"k grid must be a non-empty 1-D integer array, got {grid!r}")
    ks = np.unique(grid[(grid >= 1) & (grid <= kmax)]).astype(np.int64)
    if ks.size == 0:
        raise ConfigError(f"no candidate k in the grid is between 1 and kmax={kmax}")
    return ks


# ---------------------------------------------------------------- pure functions
def bin_position(y: np.ndarray, bins: TargetBins) -> tuple[np.ndarray, np.ndarray]:
    """Bin index (int64) and position inside the bin in [0, 1] of each target value."""
    idx = bins.index(y)
    frac = np.clip((np.asarray(y, dtype=np.float64) - bins.low) / bins.width - idx, 0.0, 1.0)
    return idx, frac


def neighbor_pit(
    neighbor_bins: np.ndarray, true_bin: np.ndarray, true_frac: np.ndarray, ks: np.ndarray
) -> np.ndarray:
    """PIT of each galaxy's truth under the histogram pdf of its first k neighbours, per k.

    neighbor_bins: (n, kmax) target bins of the sorted neighbours; true_bin, true_frac: (n,)
    bin and position in the bin of each galaxy's truth. Returns (n, len(ks)) float64.
    """
    nb = np.asarray(neighbor_bins)
    tb = np.asarray(true_bin)[:, None]
    below = np.cumsum(nb < tb, axis=1, dtype=np.int32)[:, ks - 1]
    same = np.cumsum(nb == tb, axis=1, dtype=np.int32)[:, ks - 1]
    return (below + same * np.asarray(true_frac)[:, None]) / ks[None, :]


def pit_bin(pit_values: np.ndarray, n_hist: int = 100) -> np.ndarray:
    """Bin (int16) of each PIT value on ``n_hist`` equal bins of [0, 1] (1.0 in the last bin)."""
    return np.minimum((np.asarray(pit_values) * n_hist).astype(np.int16), n_hist - 1)


def local_pit_counts(
    pit_bins: np.ndarray, k: np.ndarray | int, n_hist: int = 100
) -> np.ndarray:
    """Histogram counts (n, n_hist) of the first ``k`` (per row) PIT bins of each row.

    ``pit_bins`` (n, m) integer bins from :func:`pit_bin`.
    """
    pit_bins = np.asarray(pit_bins)
    n, m = pit_bins.shape
    b = pit_bins + (np.arange(n, dtype=np.int64) * n_hist)[:, None]
    k = np.broadcast_to(np.asarray(k), (n,))
    if (k == m).all():
        return np.bincount(b.ravel(), minlength=n * n_hist).reshape(n, n_hist)
    keep = np.arange(m)[None, :] < k[:, None]
    return np.bincount(b[keep], minlength=n * n_hist).reshape(n, n_hist)


def choose_k(
    neighbor_idx: np.ndarray, pit_bin_train: np.ndarray, ks: np.ndarray, n_hist: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``ks`` of the best k per galaxy, and the W1 of every candidate, (n, len(ks)).

    neighbor_idx: (n, >= ks[-1]) sorted training neighbours; pit_bin_train: (len(ks), n_train)
    PIT bin (:func:`pit_bin`) of every training galaxy at every candidate k. The W1 is that of
    the histogram of the first k neighbours' PITs at that k. Ties go to the smaller k.
    """
    n = neighbor_idx.shape[0]
    w1 = np.empty((n, ks.size))
    for c, k in enumerate(ks):
        counts = local_pit_counts(pit_bin_train[c][neighbor_idx[:, :k]], int(k), n_hist)
        w1[:, c] = hist_wasserstein_uniform(counts)
    return np.argmin(w1, axis=1), w1


def knn_histogram(neighbor_bins: np.ndarray, k: np.ndarray, n_bins: int) -> np.ndarray:
    """Histogram pdf (n, n_bins) of the first k[i] neighbour bins of each row (rows sum to 1)."""
    neighbor_bins = np.asarray(neighbor_bins, dtype=np.int64)
    n, m = neighbor_bins.shape
    keep = np.arange(m)[None, :] < np.asarray(k)[:, None]
    flat = (neighbor_bins + (np.arange(n, dtype=np.int64) * n_bins)[:, None])[keep]
    counts = np.bincount(flat, minlength=n * n_bins).reshape(n, n_bins)
    return counts / counts.sum(axis=1, keepdims=True)


def fit_pit_quadratic(counts: np.ndarray) -> np.ndarray:
    """Least-squares quadratic (a, b, c) of each row's PIT density on its bin centres, (n, 3).

    ``counts`` (n, n_hist) histogram counts on equal bins of [0, 1]; the density is
    counts · n_hist / total, so a uniform histogram gives (1, 0, 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_hist = counts.shape[1]
    density = counts * n_hist / counts.sum(axis=1, keepdims=True)
    u = (np.arange(n_hist) + 0.5) / n_hist
    design = np.stack([np.ones_like(u), u, u * u], axis=1)
    return density @ np.linalg.pinv(design).T


def recalibrate_pdf(pdf: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """pdf · max(h(F_mid), 0), renormalised; h(u) = a + b u + c u², F_mid the CDF at bin centres.

    Rows where the product vanishes everywhere keep the raw pdf.
    """
    pdf = np.asarray(pdf, dtype=np.float64)
    f_mid = np.cumsum(pdf, axis=1) - 0.5 * pdf
    a, b, c = (coeffs[:, i : i + 1] for i in range(3))
    out = pdf * np.maximum(a + b * f_mid + c * f_mid**2, 0.0)
    s = out.sum(axis=1, keepdims=True)
    ok = s[:, 0] > 0
    out[ok] /= s[ok]
    out[~ok] = pdf[~ok]
    return out


# ---------------------------------------------------------------- estimator
@dataclass
class KNNResult:
    """Per-galaxy output of :meth:`AdaptiveKNN.predict` (pdf only when asked for)."""

    k: np.ndarray  # (n,) chosen k
    w1: np.ndarray  # (n,) W1 of the local PIT histogram at the chosen k
    pdf: np.ndarray | None  # (n, n_bins) recalibrated pdf (float32), or None
    raw_pdf: np.ndarray | None  # (n, n_bins) raw histogram pdf at the chosen k (float32), or None
    mean: np.ndarray  # (n,) pdf mean, target units
    median: np.ndarray  # (n,) pdf median
    mode: np.ndarray  # (n,) centre of the most probable bin
    pit: np.ndarray | None  # (n,) PIT of the truth (if truth given)
    raw_pit: np.ndarray | None  # (n,) PIT of the truth under the raw pdf
    q_true: np.ndarray | None  # (n,) probability of the true bin (recalibrated pdf)
    crps: np.ndarray | None  # (n,) CRPS of the recalibrated pdf vs the truth, target units
    neighbors: np.ndarray | None  # (n, kmax) training rows, if asked for


class AdaptiveKNN(BaseEstimator):
    """CLAP's adaptive-k KNN pdfs in a latent space (module docstring has the method).

    Parameters
    ----------
    kmax : neighbours per galaxy (paper: 2000); candidate k are ``k_grid`` values <= kmax.
    k_grid : candidate k (default CLAP's 120 values, :data:`CLAP_K_GRID`).
    bins : target bins (default :class:`TargetBins` 520 bins on [6, 12.5]).
    n_pit_bins : bins of the local PIT histograms (paper: 100).
    recalibrate : apply the quadratic PIT recalibration.
    batch_size : galaxies per block (memory ~ batch_size · kmax · 40 bytes).
    use_gpu : passed to :class:`galinfo.knn.search.ExactKNN`.

    Attributes (after fit)
    ----------------------
    ks_ : candidate k used; pit_train_ : (len(ks_), n_train) float32 PIT of each training galaxy
    at each candidate k; pit_bin_ : the same as bins of the local PIT histograms (int16);
    y_train_, bin_train_ : training targets and target bins; latent_train_; n_train_.
    """

    def __init__(
        self,
        kmax: int = 2000,
        *,
        k_grid: np.ndarray | None = None,
        bins: TargetBins | None = None,
        n_pit_bins: int = 100,
        recalibrate: bool = True,
        batch_size: int = 1024,
        use_gpu: bool | str = "auto",
    ) -> None:
        self.kmax = kmax
        self.k_grid = k_grid
        self.bins = bins
        self.n_pit_bins = n_pit_bins
        self.recalibrate = recalibrate
        self.batch_size = batch_size
        self.use_gpu = use_gpu

    # ------------------------------------------------------------ helpers
    def _check_params(self, n_train: int) -> None:
        if isinstance(self.kmax, bool) or not isinstance(self.kmax, int | np.integer):
            raise ConfigError(f"kmax must be an integer, got {self.kmax!r}")
        if not 1 <= self.kmax <= n_train - 1:
            raise ConfigError(
                f"kmax={self.kmax} must be between 1 and n_train - 1 = {n_train - 1}"
            )
        if not 2 <= int(self.n_pit_bins) <= 10_000:
            raise ConfigError(f"n_pit_bins={self.n_pit_bins} must be between 2 and 10000")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size={self.batch_size} must be at least 1")

    def _bins(self) -> TargetBins:
        return self.bins if self.bins is not None else TargetBins()

    def _check_fitted(self) -> None:
        if not hasattr(self, "pit_train_"):
            raise ConfigError("AdaptiveKNN is not fitted; call fit(latent_train, y_train) first")

    # ------------------------------------------------------------ API
    def fit(
        self,
        latent_train: np.ndarray,
        y_train: np.ndarray,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> AdaptiveKNN:
        """Find every training galaxy's kmax neighbours (itself excluded) and its PIT per k."""
        latent_train = np.asarray(latent_train)
        y_train = np.asarray(y_train, dtype=np.float64)
        if latent_train.ndim != 2 or y_train.shape != (latent_train.shape[0],):
            raise DataValidationError(
                f"latent_train {latent_train.shape} and y_train {y_train.shape} do not match"
            )
        self._check_params(latent_train.shape[0])
        bins = self._bins()
        ks = candidate_ks(int(self.kmax), self.k_grid)
        kmax = int(self.kmax)
        true_bin, true_frac = bin_position(y_train, bins)
        searcher = ExactKNN(latent_train, use_gpu=self.use_gpu)
        n = latent_train.shape[0]
        pit_train = np.empty((ks.size, n), dtype=np.float32)
        bs = int(self.batch_size)
        for start in range(0, n, bs):
            rows = np.arange(start, min(start + bs, n), dtype=np.int64)
            _, idx = searcher.search(latent_train[rows], kmax, self_rows=rows, batch_size=bs)
            pit = neighbor_pit(true_bin[idx], true_bin[rows], true_frac[rows], ks)
            pit_train[:, rows] = pit.T
            if progress is not None:
                progress(rows.size)
        self.ks_ = ks
        self.pit_train_ = pit_train
        self.pit_bin_ = pit_bin(pit_train, int(self.n_pit_bins))
        self.y_train_ = y_train
        self.bin_train_ = true_bin
        self.n_train_ = n
        self.latent_train_ = latent_train
        self._searcher = searcher
        return self

    def _get_searcher(self) -> ExactKNN:
        if getattr(self, "_searcher", None) is None:  # e.g. after unpickling
            self._searcher = ExactKNN(self.latent_train_, use_gpu=self.use_gpu)
        return self._searcher

    def __getstate__(self) -> dict:
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state.pop("_searcher", None)  # faiss indexes do not pickle; rebuilt on demand
        return state

    def predict(
        self,
        latent: np.ndarray,
        y_true: np.ndarray | None = None,
        *,
        self_rows: np.ndarray | None = None,
        return_pdf: bool = False,
        return_neighbors: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> KNNResult:
        """Adaptive-k (recalibrated) KNN pdf summaries of each galaxy, in blocks.

        self_rows: training row of each query to leave out of its own neighbours (-1: none),
        e.g. ``np.arange(n_train)`` to predict the training galaxies themselves.
        y_true: truths, for PIT and the probability of the true bin.
        """
        self._check_fitted()
        latent = np.asarray(latent)
        if latent.ndim != 2 or latent.shape[1] != self.latent_train_.shape[1]:
            raise DataValidationError(
                f"latent must be (n, {self.latent_train_.shape[1]}), got shape {latent.shape}"
            )
        n = latent.shape[0]
        if self_rows is not None and np.shape(self_rows) != (n,):
            raise DataValidationError(f"self_rows must have {n} values, got {np.shape(self_rows)}")
        if y_true is not None:
            y_true = np.asarray(y_true, dtype=np.float64)
            if y_true.shape != (n,):
                raise DataValidationError(
                    f"y_true has shape {y_true.shape}, latent has {n} rows"
                )
        bins = self._bins()
        centers = bins.centers
        kmax, ks, bs = int(self.kmax), self.ks_, int(self.batch_size)
        out_k = np.empty(n, dtype=np.int64)
        out_w1 = np.empty(n)
        mean, median, mode = np.empty(n), np.empty(n), np.empty(n)
        pdfs = np.empty((n, bins.n_bins), np.float32) if return_pdf else None
        raw_pdfs = np.empty((n, bins.n_bins), np.float32) if return_pdf else None
        pits = np.empty(n) if y_true is not None else None
        raw_pits = np.empty(n) if y_true is not None else None
        q_true = np.empty(n) if y_true is not None else None
        crps = np.empty(n) if y_true is not None else None
        neigh = np.empty((n, kmax), np.int64) if return_neighbors else None


        for start in range(0, n, bs):
            sl = slice(start, min(start + bs, n))
            sr = None if self_rows is None else np.asarray(self_rows)[sl]
            _, idx = self._get_searcher().search(latent[sl], kmax, self_rows=sr, batch_size=bs)
            best, w1 = choose_k(idx, self.pit_bin_, ks, int(self.n_pit_bins))
            k = ks[best]
            raw = knn_histogram(self.bin_train_[idx], k, bins.n_bins)
            pdf = raw
            if self.recalibrate:
                local = self.pit_bin_[best[:, None], idx]
                counts = local_pit_counts(local, k, int(self.n_pit_bins))
                pdf = recalibrate_pdf(raw, fit_pit_quadratic(counts))
            out_k[sl] = k
            out_w1[sl] = w1[np.arange(best.size), best]
            mean[sl] = pdf @ centers
            median[sl] = metrics.binned_median(pdf, bins)
            mode[sl] = centers[np.argmax(pdf, axis=1)]
            if return_pdf:
                pdfs[sl] = pdf
                raw_pdfs[sl] = raw
            if y_true is not None:
                # truths outside the bins (e.g. log M* < 6) get PIT and CRPS but no q(true bin)
                yt = y_true[sl]
                fin = np.flatnonzero(np.isfinite(yt))
                inside = fin[(yt[fin] >= bins.low) & (yt[fin] <= bins.high)]
                for arr, value in ((pits, metrics.pit(pdf[fin], bins, yt[fin])),
                                   (raw_pits, metrics.pit(raw[fin], bins, yt[fin])),
                                   (crps, metrics.crps(pdf[fin], bins, yt[fin]))):
                    block = np.full(yt.size, np.nan)
                    block[fin] = value
                    arr[sl] = block
                q = np.full(yt.size, np.nan)
                q[inside] = pdf[inside, bins.index(yt[inside], column="y_true")]
                q_true[sl] = q
            if return_neighbors:
                neigh[sl] = idx
            if progress is not None:
                progress(sl.stop - sl.start)
        return KNNResult(
            k=out_k, w1=out_w1, pdf=pdfs, raw_pdf=raw_pdfs, mean=mean, median=median,
            mode=mode, pit=pits, raw_pit=raw_pits, q_true=q_true, crps=crps,
            neighbors=neigh,
        )

    def predict_pdf(
        self, latent: np.ndarray, *, self_rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Recalibrated adaptive-k KNN pdfs, (n, n_bins) float32 bin probabilities."""
        return self.predict(latent, self_rows=self_rows, return_pdf=True).pdf
