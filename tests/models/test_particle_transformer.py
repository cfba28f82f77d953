"""Particle Transformer: the paper's parameter count, interaction features against a per-pair brute force,
attention against torch's MultiheadAttention, permutation invariance and masking (garbage in padded slots)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gnn4hep.models.particle_transformer import AttentionBlock, ParticleTransformer, pairwise_features


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def four_vectors(shape, seed=0):
    """Massless-ish constituents with pT 1-100 GeV, |y| < 2, φ anywhere (so Δφ wraps around π)."""
    gen = torch.Generator().manual_seed(seed)
    pt = 1 + 99 * torch.rand(shape, generator=gen, dtype=torch.float64)
    y = 4 * torch.rand(shape, generator=gen, dtype=torch.float64) - 2
    phi = 2 * math.pi * torch.rand(shape, generator=gen, dtype=torch.float64) - math.pi
    mass = 0.14 * torch.rand(shape, generator=gen, dtype=torch.float64)
    mt = torch.sqrt(pt**2 + mass**2)
    return torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), mt * torch.sinh(y), mt * torch.cosh(y)], -1)


def inputs(B=3, M=16, F=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(B, M, F, generator=gen)
    vectors = four_vectors((B, M), seed).float()
    mask = torch.arange(M)[None, :] < torch.tensor([M, 9, 1])[:, None]
    return features, vectors, mask


def small_model(**kwargs):
    torch.manual_seed(0)
    return ParticleTransformer(input_dim=7, embed_dims=(16, 32, 16), pair_embed_dims=(8, 8), num_heads=4,
                               num_layers=2, num_cls_layers=1, **kwargs)


def test_parameter_count_matches_the_paper():
    # Qu, Li, Qian, arXiv:2202.03772, Table 3 (JetClass: 17 features, 10 classes): ParT 2.14M parameters
    assert abs(n_params(ParticleTransformer(input_dim=17, num_classes=10)) - 2.14e6) / 2.14e6 < 0.02
    # our quark/gluon inputs (7 kinematic features, 2 classes) differ only in the first and last layers
    assert abs(n_params(ParticleTransformer(input_dim=7)) - 2.14e6) / 2.14e6 < 0.02


def brute_force_pair(a, b, eps=1e-8):
    """The paper's eq. (1) for one pair, in plain Python floats."""
    pt_a, pt_b = math.hypot(a[0], a[1]), math.hypot(b[0], b[1])
    y_a = 0.5 * math.log((a[3] + a[2]) / (a[3] - a[2]))
    y_b = 0.5 * math.log((b[3] + b[2]) / (b[3] - b[2]))
    dphi = math.atan2(a[1], a[0]) - math.atan2(b[1], b[0])
    while dphi > math.pi:
        dphi -= 2 * math.pi
    while dphi < -math.pi:
        dphi += 2 * math.pi
    delta = math.sqrt((y_a - y_b) ** 2 + dphi**2)
    m2 = (a[3] + b[3]) ** 2 - sum((a[k] + b[k]) ** 2 for k in range(3))
    return [math.log(max(min(pt_a, pt_b) * delta, eps)), math.log(max(min(pt_a, pt_b) / (pt_a + pt_b), eps)),
            math.log(max(delta, eps)), math.log(max(m2, eps))]


def test_interaction_features_against_brute_force():
    v = four_vectors((12,), seed=3)
    got = pairwise_features(v[:, None, :].expand(12, 12, 4), v[None, :, :].expand(12, 12, 4))
    expected = torch.tensor([[brute_force_pair(v[i].tolist(), v[j].tolist()) for j in range(12)] for i in range(12)],
                            dtype=torch.float64)
    torch.testing.assert_close(got, expected, atol=1e-9, rtol=1e-9)
    assert (got[..., 2].diagonal() == math.log(1e-8)).all()  # a particle with itself: Δ = 0 -> ln ε


def test_pair_embedding_is_the_per_pair_network_and_symmetric():
    model = small_model().eval()
    _, vectors, mask = inputs()
    bias = model.pair_embed(vectors, mask)  # (B, H, M, M)
    assert bias.shape == (3, 4, 16, 16)
    for b, i, j in [(0, 0, 5), (0, 7, 7), (1, 8, 2), (2, 0, 0)]:
        expected = model.pair_embed.net(pairwise_features(vectors[b, i], vectors[b, j])[None])[0]
        torch.testing.assert_close(bias[b, :, i, j], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bias, bias.transpose(2, 3))
    assert (bias[1, :, 9:, :] == 0).all() and (bias[2, :, 1:, :] == 0).all()  # padded pairs carry nothing


def test_particle_attention_equals_torch_multihead_attention_with_bias():
    torch.manual_seed(2)
    block = AttentionBlock(embed_dim=16, num_heads=4, dropout=0.0, attn_dropout=0.0, activation_dropout=0.0).eval()
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    reference.in_proj_weight.data.copy_(block.in_proj.weight)
    reference.in_proj_bias.data.copy_(block.in_proj.bias)
    reference.out_proj.weight.data.copy_(block.out_proj.weight)
    reference.out_proj.bias.data.copy_(block.out_proj.bias)
    x, bias = torch.randn(2, 6, 16), torch.randn(2, 4, 6, 6)
    key_mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    logit_bias = bias.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    ours = block.attention(x, x, logit_bias)  # head scales are 1 at initialisation
    theirs, _ = reference(x, x, x, attn_mask=logit_bias.reshape(8, 6, 6), need_weights=False)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_permutation_invariance():
    model = small_model().eval()
    features, vectors, mask = inputs()
    out = model(features, vectors, mask)
    assert out.shape == (3, 2) and torch.isfinite(out).all()
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(model(features[:, perm], vectors[:, perm], mask[:, perm]), out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("train_mode", [False, True])
def test_padding_with_garbage_changes_nothing(train_mode):
    model = small_model(dropout=0.0).train(train_mode)  # train mode: BatchNorm uses batch statistics
    features, vectors, mask = inputs()
    gen = torch.Generator().manual_seed(9)
    garbage_f = torch.where(mask[..., None], features, 1e6 * torch.randn(features.shape, generator=gen))
    garbage_v = torch.where(mask[..., None], vectors, 1e3 * torch.randn(vectors.shape, generator=gen))
    garbage_f[1, 10, 0], garbage_v[2, 3, 1] = float("nan"), float("inf")
    out = model(features, vectors, mask)
    torch.testing.assert_close(model(garbage_f, garbage_v, mask), out, atol=1e-5, rtol=1e-5)
    extra = lambda t, value: torch.cat([t, torch.full((3, 5, *t.shape[2:]), value, dtype=t.dtype)], 1)
    torch.testing.assert_close(model(extra(features, 7.0), extra(vectors, 3.0), extra(mask, False)), out,
                               atol=1e-5, rtol=1e-5)


def test_interactions_matter_and_gradients_are_finite():
    model = small_model()
    features, vectors, mask = inputs()
    out = model.eval()(features, vectors, mask)
    other = vectors.clone()
    other[0, :, :3] *= torch.linspace(0.5, 2.0, 16)[:, None]  # change the pair kinematics only
    other[0, :, 3] = other[0, :, :3].norm(dim=-1)
    assert not torch.allclose(model(features, other, mask)[0], out[0])
    model.train()
    loss = torch.nn.functional.cross_entropy(model(features, vectors, mask), torch.tensor([0, 1, 1]))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert np.isfinite(loss.item())
