import math

import numpy as np
import torch

from galinfo.models import losses


def test_cross_entropy_is_minus_log_softmax_at_true_bin():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 7, generator=g)
    target = torch.tensor([0, 3, 6, 2, 2])
    expected = -np.mean([np.log(np.exp(r) / np.exp(r).sum())[t] for r, t in zip(logits.numpy(), target.numpy(), strict=True)])
    assert math.isclose(float(losses.cross_entropy(logits, target)), expected, rel_tol=1e-6)


def test_soft_cross_entropy_matches_hand_formula_and_stops_gradient():
    a = torch.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    b = torch.tensor([[0.0, 1.0, 3.0]], requires_grad=True)
    val = losses.soft_cross_entropy(a, b)
    p = torch.softmax(a.detach(), -1)
    assert torch.allclose(val, -(p * torch.log_softmax(b.detach(), -1)).sum())
    val.backward()
    assert a.grad is None or torch.all(a.grad == 0)
    assert b.grad is not None and b.grad.abs().sum() > 0


def test_consistency_is_symmetric_and_minimal_entropy_when_equal():
    a = torch.tensor([[2.0, 0.0, -1.0]])
    b = torch.tensor([[0.0, 1.0, 0.5]])
    assert torch.allclose(losses.consistency(a, b), losses.consistency(b, a))
    p = torch.softmax(a, -1)
    entropy = -(p * p.log()).sum()
    assert torch.allclose(losses.consistency(a, a), 2 * entropy)
    assert losses.consistency(a, b) > losses.consistency(a, a)


def test_latent_contrast_matches_definition():
    dpos = torch.tensor([0.3, 0.5])
    dneg = torch.tensor([1.0, 2.0, 1.5])
    p, n = math.exp(-0.4), math.exp(-1.5)
    assert math.isclose(float(losses.latent_contrast(dpos, dneg)), -math.log(p / (p + n)), rel_tol=1e-6)


def test_contrast_decreases_when_positives_coincide():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(6, 4, generator=g)
    galaxy = torch.arange(6)
    neg = losses.negative_pair_distances(s, galaxy)
    far = losses.latent_contrast(losses.rms_distance(s, s + 0.5), neg)
    near = losses.latent_contrast(losses.rms_distance(s, s + 0.05), neg)
    same = losses.latent_contrast(losses.rms_distance(s, s.clone()), neg)
    assert far > near > same
    # and increases when different galaxies collapse together
    collapsed = losses.negative_pair_distances(s * 0.1, galaxy)
    assert losses.latent_contrast(losses.rms_distance(s, s + 0.05), collapsed) > near


def test_negative_pairs_exclude_copies_of_the_same_galaxy():
    s = torch.tensor([[0.0], [1.0], [0.0], [1.0]])
    galaxy = torch.tensor([0, 1, 0, 1])
    neg = losses.negative_pair_distances(s, galaxy)
    assert len(neg) == 8  # 4 x 4 pairs minus 8 same-galaxy pairs (incl. diagonal)
    assert torch.allclose(neg, torch.ones(8), atol=1e-5)


def test_scl_total_is_sum_of_terms_and_recon_weight_applies():
    g = torch.Generator().manual_seed(2)
    kw = dict(
        s=torch.randn(4, 3, generator=g), logits=torch.randn(4, 5, generator=g),
        s_recon=torch.randn(4, 3, generator=g), logits_recon=torch.randn(4, 5, generator=g),
        target_bin=torch.tensor([0, 1, 2, 3]), x=torch.zeros(4, 2), x_recon=torch.ones(4, 2),
        galaxy=torch.tensor([0, 1, 0, 1]), positive_index=torch.tensor([[0, 2], [1, 3]]),
    )
    t1 = losses.scl_loss(recon_weight=1.0, **kw)
    t100 = losses.scl_loss(recon_weight=100.0, **kw)
    parts = t1.ce + t1.ce_recon + t1.recon + t1.consistency + t1.contrast
    assert torch.allclose(t1.total, parts)
    assert torch.allclose(t1.recon, torch.tensor(1.0))
    assert torch.allclose(t100.recon, torch.tensor(100.0))
    assert set(t1.as_floats()) == {"total", "ce", "ce_recon", "recon", "consistency", "contrast"}
