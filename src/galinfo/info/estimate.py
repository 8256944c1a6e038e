"""Out-of-sample pointwise MI for plain arrays: a cross-fitted probabilistic classifier over bins.

Choice of classifier: a small multilayer perceptron (torch) with a softmax over equal-width bins of
``y``, trained with Adam on a Gaussian-smoothed ("ordinal") target (each label spread over
neighbouring bins with a kernel of ``smoothing`` bins) and early-stopped on the unsmoothed
cross-entropy of an inner validation split. Inputs are standardised by the median and the robust
sd (IQR / 1.349) of the training fold and clipped at +-10, so outliers and leftover sentinels do
not dominate. With K-fold cross-fitting every row gets
``i = ln q(bin | x) - ln p(bin)`` from a model that never saw it.

Biases (all downward): (1) any mismatch between q and the true conditional lowers
the mean (it is a variational lower bound); (2) binning keeps only I(X; bin(Y)) <= I(X; Y), which
matters once the conditional width approaches the bin width (high MI); (3) the smoothing kernel
widens q by ~``smoothing`` bins, costing about 1/2 ln(1 + h^2 / s^2) for a conditional of width s;
(4) early stopping and a finite training set under-fit sharp conditionals. The default prior is
the fold's own smoothed training histogram, so the cost of learning the marginal from finite data
(about (B - 1) / (2 N) nats) cancels between q and p; with ``prior="full"`` (in-sample histogram,
as the paper) it does not, and every value is lower by about that much. Measured sizes:
``benchmarks/mi_gaussian.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from galinfo.data.binning import Bins, EdgeBins, TargetBins
from galinfo.data.validate import require_finite
from galinfo.errors import ConfigError, DataValidationError
from galinfo.info.pointwise import PriorSource

log = logging.getLogger(__name__)


@dataclass
class CrossFitResult:
    """Details of :func:`estimate_pointwise_mi` (nats)."""

    pmi: np.ndarray
    """Out-of-sample pointwise MI per row."""
    log_q: np.ndarray
    """ln q(true bin | x) per row, from the model of the fold that held the row out."""
    log_p: np.ndarray
    """ln p(true bin) per row (the prior used)."""
    fold: np.ndarray
    """Fold index of each row (int64)."""
    bins: Bins
    """The bins of y that were used (their edges are the record of the binning)."""
    val_ce: list[float] = field(default_factory=list)
    """Best inner-validation cross-entropy per fold."""
    epochs: list[int] = field(default_factory=list)
    """Epoch count per fold (including patience)."""

    @property
    def mean(self) -> float:
        """Mean pointwise MI: a variational lower bound on I(X; bin(Y))."""
        return float(np.mean(self.pmi))


def _smoothing_matrix(n_bins: int, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return np.eye(n_bins)
    k = np.arange(n_bins)
    w = np.exp(-0.5 * ((k[None, :] - k[:, None]) / sigma) ** 2)
    return w / w.sum(axis=1, keepdims=True)


INPUT_CLIP = 10.0
"""Standardised inputs are clipped at this many robust standard deviations."""


def _robust_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust sd (IQR / 1.349, else the sd, else 1) of every column.

    With the clipping at :data:`INPUT_CLIP`, an outlier or a leftover sentinel (e.g. -9999) can
    neither squash the scale of the other galaxies nor make the network extrapolate wildly.
    """
    med = np.median(x, axis=0)
    q75, q25 = np.percentile(x, [75, 25], axis=0)
    sd = (q75 - q25) / 1.349
    fallback = x.std(axis=0)
    sd = np.where(sd > 0, sd, np.where(fallback > 0, fallback, 1.0))
    return med, sd


def _fold_prior(b: np.ndarray, n_bins: int, smoothing: float) -> np.ndarray:
    """Smoothed histogram of training labels: the minimiser of the smoothed cross-entropy for a
    constant input, floored at 0.01 counts per bin so that no bin has zero probability."""
    counts = np.bincount(b, minlength=n_bins) @ _smoothing_matrix(n_bins, smoothing) + 0.01
    return counts / counts.sum()


BINNINGS = ("quantile", "uniform")
"""How :func:`estimate_pointwise_mi` bins ``y`` when not given explicit bins."""


def make_target_bins(y: np.ndarray, bins: Bins | int | None = None, binning: str = "quantile") -> Bins:
    """The bins of ``y``: ``bins`` itself when it is a bins object, else ``bins`` (default 100)
    equal-count bins (``binning="quantile"``) or equal-width bins over the range of ``y``
    (``"uniform"``)."""
    if isinstance(bins, TargetBins | EdgeBins):
        return bins
    if binning not in BINNINGS:
        raise ConfigError(f"unknown binning {binning!r}: use one of {', '.join(BINNINGS)}")
    n_bins = 100 if bins is None else int(bins)
    lo, hi = float(np.min(y)), float(np.max(y))
    if not hi > lo:
        raise DataValidationError("y is constant: no information to estimate")
    if binning == "quantile":
        return EdgeBins.from_quantiles(y, n_bins)
    return TargetBins(lo, hi, n_bins)


def _fold_ids(n: int, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    fold = np.empty(n, dtype=np.int64)
    fold[rng.permutation(n)] = np.arange(n) % n_folds
    return fold


def _fit_predict(
    x_tr: np.ndarray,
    b_tr: np.ndarray,
    x_te: np.ndarray,
    b_te: np.ndarray,
    n_bins: int,
    *,
    hidden: tuple[int, ...],
    smoothing: float,
    max_epochs: int,
    patience: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    val_fraction: float,
    seed: int,
) -> tuple[np.ndarray, float, int]:
    import torch
    from torch import nn

    rng = np.random.default_rng(seed)
    mu, sd = _robust_scale(x_tr)
    perm = rng.permutation(len(x_tr))
    n_val = max(1, int(round(val_fraction * len(x_tr))))
    va, tr = perm[:n_val], perm[n_val:]

    def tens(a: np.ndarray) -> torch.Tensor:
        z = np.clip((a - mu) / sd, -INPUT_CLIP, INPUT_CLIP)
        return torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))

    xt, xv, xe = tens(x_tr[tr]), tens(x_tr[va]), tens(x_te)
    bt = torch.from_numpy(b_tr[tr])
    bv = torch.from_numpy(b_tr[va])
    be = torch.from_numpy(b_te)
    smooth = torch.from_numpy(_smoothing_matrix(n_bins, smoothing).astype(np.float32))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        width = x_tr.shape[1]
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, n_bins))
        model = nn.Sequential(*layers)
        # Start from the fold prior (what this loss learns from an input without information).
        with torch.no_grad():
            layers[-1].bias.copy_(torch.from_numpy(np.log(_fold_prior(b_tr, n_bins, smoothing))))
            layers[-1].weight.mul_(0.1)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    def ce(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return -torch.log_softmax(model(x), dim=1).gather(1, b[:, None])[:, 0]

    best, best_state, since, epoch = np.inf, None, 0, 0
    n_tr = len(tr)
    for epoch in range(1, max_epochs + 1):  # noqa: B007 (epoch is reported)
        model.train()
        order = torch.from_numpy(rng.permutation(n_tr))
        for start in range(0, n_tr, batch_size):
            idx = order[start : start + batch_size]
            logp = torch.log_softmax(model(xt[idx]), dim=1)
            loss = -(smooth[bt[idx]] * logp).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            v = float(ce(xv, bv).mean())
        if v < best - 1e-5:
            best, since = v, 0
            best_state = {k: t.clone() for k, t in model.state_dict().items()}
        else:
            since += 1
            if since >= patience:
                break
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        log_q = (-ce(xe, be)).double().numpy()
    return log_q, best, epoch


def estimate_pointwise_mi(
    X: np.ndarray,
    y: np.ndarray,
    *,
    bins: Bins | int | None = None,
    binning: str = "quantile",
    n_folds: int = 5,
    prior: PriorSource = "train",
    hidden: tuple[int, ...] = (64, 64),
    smoothing: float | None = None,
    max_epochs: int = 200,
    patience: int = 12,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = False,
    return_details: bool = False,
) -> np.ndarray | CrossFitResult:
    """Out-of-sample pointwise MI ``ln q(bin|x) - ln p(bin)`` (nats), one value per row of ``X``.

    Parameters
    ----------
    X
        Features, (n, d) or (n,), finite.
    y
        Target, (n,). It is binned: ``bins`` is a :class:`TargetBins` (e.g. the paper's 520 bins of
        log M*) or :class:`EdgeBins`, an int (that many bins) or None (100 bins).
    binning
        How an int or None ``bins`` is laid out: ``"quantile"`` (default) puts the edges at
        quantiles of ``y``, so every bin holds about n / B rows and a heavy tail cannot squeeze
        almost all rows into one or two bins; ``"uniform"``: equal widths over the range of ``y``.
        The edges are fixed before the folds are drawn and returned in ``CrossFitResult.bins``;
        the prior is taken on the same bins.
    n_folds
        K of the K-fold cross-fitting (>= 2); every row is predicted by the model of the other folds.
    prior
        ``"train"`` (default): for each fold, the smoothed label histogram of the other folds,
        i.e. exactly what the classifier's loss learns from an input that carries no information
        (and where its output layer starts). The classifier and the prior then pay the same
        finite-sample cost for learning the marginal, which cancels: a pure-noise input gets
        ~0. ``"full"``: plain histogram of all of ``y`` (the paper's choice for trained models);
        it is in-sample, so each value comes out lower by about (B - 1) / (2 N_train) nats.
    smoothing
        Width (standard deviation, in bins) of the Gaussian kernel that spreads each training
        label over neighbouring bins. Default: 1 bin when there are at least 50 bins, else 0
        (with coarse bins a kernel would widen q by a large fraction of the range).
    hidden, max_epochs, patience, batch_size, lr, weight_decay, val_fraction
        The MLP (widths of hidden layers, SiLU activations; the output layer starts at the
        training prior) and the Adam / early-stopping settings (inner validation fraction of each
        training fold).
    seed
        Seeds the folds, the inner splits, the batches and the weights: same seed, same numbers
        (CPU).
    return_details
        Return a :class:`CrossFitResult` instead of the array.

    The mean of the result is a variational lower bound on I(X; bin(Y)); see the module docstring
    for the biases.
    """
    X = np.asarray(X, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise DataValidationError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
    for name, a in (("X", X), ("y", y)):
        require_finite(a, name)
    if int(n_folds) < 2:
        raise ConfigError(f"n_folds={n_folds} must be at least 2")
    if prior not in ("full", "train"):
        raise ConfigError(f"unknown prior {prior!r}: use 'full' or 'train'")
    n = len(y)
    if n < 10 * n_folds:
        raise DataValidationError(f"{n} rows are too few for {n_folds}-fold cross-fitting")
    tb = make_target_bins(y, bins, binning)
    if smoothing is None:
        smoothing = 1.0 if tb.n_bins >= 50 else 0.0
    b = tb.index(y, column="y")
    rng = np.random.default_rng(seed)
    fold = _fold_ids(n, int(n_folds), rng)
    fold_seeds = rng.integers(0, 2**31 - 1, size=n_folds)
    log_q = np.empty(n)
    log_p = np.empty(n)
    result = CrossFitResult(pmi=np.empty(n), log_q=log_q, log_p=log_p, fold=fold, bins=tb)
    if prior == "full":
        log_p[:] = np.log(tb.prior(y)[b])

    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("cross-fitting", total=n_folds)
    try:
        for k in range(n_folds):
            te = fold == k
            tr = ~te
            lq, vce, ep = _fit_predict(
                X[tr], b[tr], X[te], b[te], tb.n_bins,
                hidden=tuple(hidden), smoothing=smoothing, max_epochs=max_epochs,
                patience=patience, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                val_fraction=val_fraction, seed=int(fold_seeds[k]),
            )
            log_q[te] = lq
            if prior == "train":
                log_p[te] = np.log(_fold_prior(b[tr], tb.n_bins, smoothing))[b[te]]
            result.val_ce.append(vce)
            result.epochs.append(ep)
            log.info("fold %d/%d: inner-validation CE %.4f nats after %d epochs", k + 1, n_folds, vce, ep)
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    result.pmi[:] = log_q - log_p
    return result if return_details else result.pmi
