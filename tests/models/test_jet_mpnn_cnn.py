"""The learned-adjacency MPNN and the DeepTop jet-image CNN."""

from __future__ import annotations

import torch

from gnn4hep.models.jet_cnn import JetImageCNN
from gnn4hep.models.mpnn_jet import JetMPNN


def test_mpnn_adjacency_is_a_softmax_over_real_constituents():
    torch.manual_seed(0)
    model = JetMPNN(input_dim=5, hidden=8, iterations=2).eval()
    h = torch.randn(2, 7, 8)
    mask = torch.arange(7)[None] < torch.tensor([7, 3])[:, None]
    a = model.adjacency(h, mask)
    assert a.shape == (2, 7, 7)
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 7))
    assert (a[1, :, 3:] == 0).all()
    # row i is softmax_j of wᵀ ReLU(U h_i + V h_j)
    i, j = 2, 1
    score = lambda a_, b_: model.w(torch.relu(model.u(h[0, a_]) + model.v(h[0, b_])))
    logits = torch.stack([score(i, jj) for jj in range(7)]).squeeze(-1)
    torch.testing.assert_close(a[0, i], torch.softmax(logits, 0))


def test_mpnn_output_permutation_and_padding():
    torch.manual_seed(0)
    model = JetMPNN(input_dim=5, hidden=8, iterations=3).eval()
    x = torch.randn(2, 7, 5)
    mask = torch.arange(7)[None] < torch.tensor([7, 3])[:, None]
    out = model(x * mask[..., None], mask)
    assert out.shape == (2, 2)
    perm = torch.tensor([2, 0, 1])
    torch.testing.assert_close(model(x[1:2, perm], mask[1:2, :3]), out[1:2], atol=1e-5, rtol=1e-5)


def test_cnn_shapes():
    model = JetImageCNN()
    assert model(torch.rand(4, 1, 40, 40)).shape == (4, 2)
    assert JetImageCNN(image_size=20)(torch.rand(2, 1, 20, 20)).shape == (2, 2)
