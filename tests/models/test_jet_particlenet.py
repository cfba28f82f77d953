"""ParticleNet: parameter counts of the paper, shapes, permutation and padding invariance, kNN route."""

from __future__ import annotations

import torch

from gnn4hep.models.particlenet import ParticleNet
from gnn4hep.models.particlenet_edgeconv import EdgeConvBlock


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def inputs(B=3, M=20, F=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    points = torch.randn(B, M, 2, generator=gen) * 0.3
    features = torch.randn(B, M, F, generator=gen)
    mask = torch.arange(M)[None, :] < torch.tensor([M, 12, 4])[:, None]
    return points * mask[..., None], features * mask[..., None], mask


def test_parameter_counts_match_the_paper():
    # Qu & Gouskos, Table 2: ParticleNet 366k, ParticleNet-Lite 26k parameters (7 input features, 2 classes)
    assert abs(n_params(ParticleNet(input_dim=7)) - 366e3) / 366e3 < 0.02
    assert abs(n_params(ParticleNet.lite(input_dim=7)) - 26e3) / 26e3 < 0.05


def test_shapes_permutation_and_padding():
    torch.manual_seed(0)
    model = ParticleNet.lite(input_dim=7).eval()
    points, features, mask = inputs()
    out = model(points, features, mask)
    assert out.shape == (3, 2) and torch.isfinite(out).all()
    perm = torch.randperm(20)
    torch.testing.assert_close(model(points[:, perm], features[:, perm], mask[:, perm]), out, atol=1e-5, rtol=1e-5)
    # more padding changes nothing
    pad = lambda t: torch.cat([t, torch.zeros(3, 5, *t.shape[2:], dtype=t.dtype)], 1)
    torch.testing.assert_close(model(pad(points), pad(features), pad(mask)), out, atol=1e-5, rtol=1e-5)


def test_edgeconv_block_equals_a_loop_over_neighbours():
    torch.manual_seed(1)
    block = EdgeConvBlock(in_channels=3, channels=(4, 5), k=3).eval()
    points, features, mask = inputs(B=1, M=6, F=3)
    mask[:] = True
    out = block(points, features, mask)
    x = features[0]
    d = torch.cdist(points[0], points[0]) + torch.eye(6) * 1e9
    expected = []
    for i in range(6):
        nbrs = d[i].argsort()[:3]
        edges = torch.cat([x[i].expand(3, 3), x[nbrs] - x[i]], 1)  # (k, 2C) = [x_i, x_j - x_i]
        msg = block.edge_mlp(edges).mean(0)
        short = block.shortcut_norm(block.shortcut(x[i][None]))[0]
        expected.append(torch.relu(short + msg))
    torch.testing.assert_close(out[0], torch.stack(expected), atol=1e-5, rtol=1e-5)


def test_single_constituent_jet_is_finite():
    model = ParticleNet.lite(input_dim=7).eval()
    points, features, mask = inputs()
    mask = torch.zeros_like(mask)
    mask[:, 0] = True
    assert torch.isfinite(model(points, features, mask)).all()


def test_packed_edgeconv_equals_the_dense_route_in_training():
    """Same outputs, parameter and input gradients and BatchNorm running statistics, padding and jets
    with fewer than k constituents included (their self-filled neighbour slots enter the statistics)."""
    import copy

    torch.manual_seed(3)
    dense = EdgeConvBlock(in_channels=5, channels=(8, 8, 6), k=4, packed=False).double().train()
    packed = copy.deepcopy(dense)
    packed.packed = True
    points, features, mask = inputs(B=3, M=20, F=5, seed=4)  # multiplicities 20, 12, 4 (< k + 1)
    points, features = points.double(), features.double()  # float64: the routes agree to rounding
    features = features.requires_grad_()
    out_dense = dense(points, features, mask)
    (grad_dense,) = torch.autograd.grad((out_dense * torch.linspace(-1, 1, 6)).sum(), features, retain_graph=True)
    out_dense.sum().backward()
    features_packed = features.detach().clone().requires_grad_()
    out_packed = packed(points, features_packed, mask)
    (grad_packed,) = torch.autograd.grad((out_packed * torch.linspace(-1, 1, 6)).sum(), features_packed,
                                         retain_graph=True)
    out_packed.sum().backward()
    torch.testing.assert_close(out_packed, out_dense, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(grad_packed, grad_dense, atol=1e-10, rtol=1e-10)
    for (name, a), b in zip(dense.named_parameters(), packed.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-10, rtol=1e-10, msg=name)
    for a, b in zip(dense.buffers(), packed.buffers()):
        torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-12)
    dense.eval(), packed.eval()
    torch.testing.assert_close(packed(points, features, mask), dense(points, features, mask), atol=1e-10, rtol=1e-10)


def test_packed_particlenet_step_equals_the_dense_one():
    """A training step of ParticleNet: same loss, same gradients, same BatchNorm running statistics."""
    import copy

    torch.manual_seed(5)
    dense = ParticleNet(input_dim=7, dropout=0.0, packed=False).double().train()
    packed = copy.deepcopy(dense)
    for block in packed.blocks:
        block.packed = True
    points, features, mask = (t.double() if t.is_floating_point() else t for t in _varied_batch())
    labels = torch.tensor([0, 1, 1, 0])
    losses = []
    for model in (dense, packed):
        loss = torch.nn.functional.cross_entropy(model(points, features, mask), labels)
        loss.backward()
        losses.append(loss.item())
    assert abs(losses[0] - losses[1]) < 1e-12
    for (name, a), b in zip(dense.named_parameters(), packed.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-10, rtol=1e-9, msg=name)
    for (name, a), b in zip(dense.named_buffers(), packed.buffers()):
        torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-12, msg=name)


def _varied_batch(M=30):
    gen = torch.Generator().manual_seed(6)
    mask = torch.arange(M)[None, :] < torch.tensor([30, 21, 9, 17])[:, None]
    points = torch.randn(4, M, 2, generator=gen) * 0.3 * mask[..., None]
    features = torch.randn(4, M, 7, generator=gen) * mask[..., None]
    return points, features, mask


def test_fusion_block_widths_and_invariances():
    # weaver-core's fusion: concatenated block outputs -> clip(floor(sum / 128) * 128, 128, 1024) channels
    lite, full = ParticleNet.lite(input_dim=7, fusion=True), ParticleNet(input_dim=7, fusion=True)
    assert lite.fusion[0].weight.shape == (128, 32 + 64) and full.fusion[0].weight.shape == (384, 64 + 128 + 256)
    assert n_params(lite) == n_params(ParticleNet.lite(input_dim=7)) + 96 * 128 + 2 * 128 + (128 - 64) * 128
    torch.manual_seed(2)
    points, features, mask = inputs()
    pad = lambda t: torch.cat([t, torch.zeros(3, 5, *t.shape[2:], dtype=t.dtype)], 1)
    perm = torch.randperm(20)
    lite.eval()
    out = lite(points, features, mask)
    torch.testing.assert_close(lite(pad(points), pad(features), pad(mask)), out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lite(points[:, perm], features[:, perm], mask[:, perm]), out, atol=1e-5, rtol=1e-5)
    # the fusion BatchNorm's training statistics come from real constituents only
    lite.train()
    fusion_norm = lite.fusion[1]
    fusion_norm.reset_running_stats()
    fusion_norm.momentum = 1.0
    captured = {}
    hook = lite.fusion[0].register_forward_hook(lambda module, args, result: captured.update(h=result.detach()))
    lite(pad(points), pad(features), pad(mask))
    hook.remove()
    assert captured["h"].shape[0] == int(mask.sum())
    torch.testing.assert_close(fusion_norm.running_mean, captured["h"].mean(0))
