"""Pointwise (per-galaxy) mutual information from model likelihoods, in nats.

For galaxy n with true target bin b_n, a model k that outputs q_k(b | x_n) gives

    i_k(n) = ln q_k(b_n | x_n) - ln p(b_n),

where p is the marginal histogram of the target on the same bins. The sample mean of i_k over
held-out galaxies is a variational (Barber-Agakov) lower bound on I(X_k; Y_binned), up to the
sampling noise of p: any imperfect q can only lower it. Single values can be negative
("misinformation"): the model put less probability on the true bin than the prior did.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from galinfo.data.binning import TargetBins
from galinfo.data.validate import plain
from galinfo.errors import ConfigError, DataValidationError

PriorSource = Literal["full", "train"]

DEFAULT_TRAIN_PSEUDOCOUNT = 0.5
"""Pseudocount per bin of the training-split prior (a held-out galaxy may fall in an empty bin)."""


def binned_prior(
    y: np.ndarray,
    bins: TargetBins | None = None,
    *,
    prior: PriorSource | np.ndarray = "full",
    split: np.ndarray | None = None,
    pseudocount: float | None = None,
) -> np.ndarray:
    """The marginal p(bin) of the target, shape ``(bins.n_bins,)``, summing to 1.

    ``prior="full"`` (the paper's choice, default): histogram of all values of ``y`` passed, no
    pseudocount. ``prior="train"``: histogram of the rows with ``split == "train"`` only, with
    :data:`DEFAULT_TRAIN_PSEUDOCOUNT` per bin unless ``pseudocount`` says otherwise. An array is
    taken as the prior itself (validated and renormalised).
    """
    bins = bins or TargetBins()
    if isinstance(prior, np.ndarray) or not isinstance(prior, str):
        p = np.asarray(prior, dtype=float)
        if p.shape != (bins.n_bins,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise DataValidationError(
                f"explicit prior must be {bins.n_bins} finite non-negative numbers with a positive sum"
            )
        return p / p.sum()
    if prior == "full":
        return bins.prior(y, pseudocount=0.0 if pseudocount is None else pseudocount)
    if prior == "train":
        if split is None:
            raise ConfigError("prior='train' needs the split of every row (split=...)")
        split = np.asarray(split).astype(str)
        train = split == "train"
        if not train.any():
            raise DataValidationError("prior='train' but no row has split == 'train'")
        pc = DEFAULT_TRAIN_PSEUDOCOUNT if pseudocount is None else pseudocount
        return bins.prior(np.asarray(y)[train], pseudocount=pc)
    raise ConfigError(f"unknown prior {prior!r}: use 'full', 'train' or an array of bin probabilities")


def pointwise_mi(
    log_q_true: np.ndarray,
    y: np.ndarray,
    bins: TargetBins | None = None,
    prior: PriorSource | np.ndarray = "full",
    *,
    split: np.ndarray | None = None,
    pseudocount: float | None = None,
    column: str = "target",
) -> np.ndarray:
    """Pointwise MI ``i = ln q(true bin | x) - ln p(true bin)`` in nats, one value per row.

    Parameters
    ----------
    log_q_true
        ``ln q(true bin | x)`` per galaxy (nats), e.g. ``Predictions.log_q_true``.
    y
        True target values (e.g. log10 M*/Msun), same length; they define the true bin.
    bins
        Target bins (default: 520 bins on [6, 12.5], as in the paper).
    prior
        ``"full"`` (default, paper), ``"train"`` (needs ``split``) or explicit bin probabilities;
        see :func:`binned_prior`.

    Returns every row; select held-out galaxies afterwards (e.g. ``split == "test"``).
    """
    bins = bins or TargetBins()
    log_q = np.asarray(log_q_true, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if log_q.ndim != 1 or log_q.shape != y.shape:
        raise DataValidationError(
            f"log_q_true has shape {log_q.shape} but {column} has shape {y.shape}; both must be (n,)"
        )
    bad = ~np.isfinite(log_q) | (log_q > 1e-9)
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} value(s) of log_q_true are not finite log-probabilities <= 0 "
            f"(first: {plain(log_q[bad][0])})"
        )
    p = binned_prior(y, bins, prior=prior, split=split, pseudocount=pseudocount)
    p_true = p[bins.index(y, column=column)]
    if np.any(p_true <= 0):
        raise DataValidationError(
            f"{int(np.sum(p_true <= 0))} galaxies fall in bins of {column} that are empty in the "
            "prior; use prior='full' or a pseudocount > 0"
        )
    return log_q - np.log(p_true)
