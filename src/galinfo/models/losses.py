"""Objectives, as pure functions on tensors (written from the CLAP / Zhang et al. descriptions).

``ce``: cross-entropy of the estimator's softmax at the true bin (the models used for the
information decomposition).

``scl`` (supervised contrastive learning, CLAP): the sum of

1. cross-entropy on the input pass and on the re-encoded reconstruction pass;
2. reconstruction mean squared error, weight 100 for images and 1 for tabular inputs;
3. a symmetric output-consistency term: CE between the stop-gradient softmax of one pass and the
   logits of the other, both ways;
4. a latent contrast ``-ln[P / (P + N)]`` with ``P = exp(-mean RMS latent distance of positive
   pairs)`` (a galaxy vs its reconstruction pass, a galaxy vs its rotated/flipped copy) and ``N`` the
   same for pairs of different galaxies. Written as ``softplus(d_pos - d_neg)``, which is equal and
   numerically stable.

All terms are in nats (or squared preprocessed units for the MSE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

IMAGE_RECON_WEIGHT = 100.0
TABULAR_RECON_WEIGHT = 1.0


def cross_entropy(logits: torch.Tensor, target_bin: torch.Tensor) -> torch.Tensor:
    """Mean of ``-ln softmax(logits)[true bin]`` over the batch, nats."""
    return F.cross_entropy(logits.float(), target_bin)


def gaussian_label_cross_entropy(logits: torch.Tensor, target_bin: torch.Tensor, sigma_bins: float) -> torch.Tensor:
    """Mean CE between a Gaussian of width ``sigma_bins`` (bins) around each true bin, cut at the
    bin range and renormalised, and ``softmax(logits)``, nats. A training loss only: what is
    evaluated (and bounds the information) is still ``ln q(true bin)``."""
    n_bins = logits.shape[-1]
    j = torch.arange(n_bins, device=logits.device, dtype=torch.float32)
    w = torch.exp(-0.5 * ((j[None, :] - target_bin[:, None].float()) / sigma_bins) ** 2)
    w = w / w.sum(-1, keepdim=True)
    return -(w * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


def soft_cross_entropy(target_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Mean CE between the stop-gradient softmax of ``target_logits`` and ``logits``, nats."""
    p = F.softmax(target_logits.detach().float(), dim=-1)
    return -(p * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


def consistency(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """Symmetric output consistency: CE(sg(softmax a), b) + CE(sg(softmax b), a)."""
    return soft_cross_entropy(logits_a, logits_b) + soft_cross_entropy(logits_b, logits_a)


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise root-mean-square distance between latent vectors (B, d) -> (B,)."""
    return torch.sqrt(((a.float() - b.float()) ** 2).mean(-1) + 1e-12)


def pairwise_rms(z: torch.Tensor) -> torch.Tensor:
    """(B, B) RMS distance between all rows of ``z``."""
    z = z.float()
    sq = ((z[:, None, :] - z[None, :, :]) ** 2).mean(-1)
    return torch.sqrt(sq + 1e-12)


def latent_contrast(positive_distances: torch.Tensor, negative_distances: torch.Tensor) -> torch.Tensor:
    """``-ln[P / (P + N)]`` with ``P = exp(-mean d_pos)``, ``N = exp(-mean d_neg)``, nats.

    Equals ``softplus(mean d_pos - mean d_neg)``: it falls as positives move together and as
    different galaxies move apart.
    """
    return F.softplus(positive_distances.mean() - negative_distances.mean())


def negative_pair_distances(latent: torch.Tensor, galaxy: torch.Tensor) -> torch.Tensor:
    """RMS distances of all pairs of rows that belong to different galaxies (``galaxy`` ids)."""
    d = pairwise_rms(latent)
    different = galaxy[:, None] != galaxy[None, :]
    return d[different]


@dataclass
class SCLTerms:
    """The SCL loss and its parts (each a scalar tensor)."""

    total: torch.Tensor
    ce: torch.Tensor
    ce_recon: torch.Tensor
    recon: torch.Tensor
    consistency: torch.Tensor
    contrast: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.__dict__.items()}


def scl_loss(
    *,
    s: torch.Tensor,
    logits: torch.Tensor,
    s_recon: torch.Tensor,
    logits_recon: torch.Tensor,
    target_bin: torch.Tensor,
    x: torch.Tensor,
    x_recon: torch.Tensor,
    galaxy: torch.Tensor,
    recon_weight: float,
    positive_index: torch.Tensor | None = None,
) -> SCLTerms:
    """SCL loss for one batch.

    ``s``/``logits``: input pass; ``s_recon``/``logits_recon``: re-encoded reconstruction pass;
    ``x``/``x_recon``: the (preprocessed) input and its reconstruction; ``galaxy``: an id per row
    (rows with the same id are copies of one galaxy, e.g. original and rotated copy);
    ``positive_index`` (P, 2): row pairs that are augmented copies of each other (may be None).
    """
    ce = cross_entropy(logits, target_bin)
    ce_r = cross_entropy(logits_recon, target_bin)
    recon = recon_weight * F.mse_loss(x_recon.float(), x.float())
    cons = consistency(logits, logits_recon)
    pos = [rms_distance(s, s_recon)]
    if positive_index is not None and len(positive_index):
        pos.append(rms_distance(s[positive_index[:, 0]], s[positive_index[:, 1]]))
    neg = negative_pair_distances(s, galaxy)
    contrast = latent_contrast(torch.cat(pos), neg)
    total = ce + ce_r + recon + cons + contrast
    return SCLTerms(total, ce, ce_r, recon, cons, contrast)
