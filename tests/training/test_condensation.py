"""Condensation loss: known values on hand-made cases, noise handling, gradients; the network's shapes."""

from __future__ import annotations

import math

import pytest
import torch

from gnn4hep.models.condensation_net import CondensationNet
from gnn4hep.training.condensation import condensation_loss, condensation_targets


def test_targets_drop_noise_low_pt_and_short_particles():
    pid = torch.tensor([0, 5, 5, 5, 7, 7, 7, 9, 9])
    pt = torch.tensor([0.0, 2.0, 2.0, 2.0, 0.3, 0.3, 0.3, 2.0, 2.0])
    assert condensation_targets(pid, pt, pt_min=0.5, min_hits=3).tolist() == [-1, 0, 0, 0, -1, -1, -1, -1, -1]
    assert condensation_targets(pid, pt, pt_min=0.0, min_hits=2).tolist() == [-1, 0, 0, 0, 1, 1, 1, 2, 2]


def test_loss_matches_hand_computation():
    # object 0: hits 0 (beta .9, at origin), 1 (beta .5, at (0.5, 0)); object 1: hit 2 (beta .8, at (0.3, 0)); noise hit 3
    x = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.3, 0.0], [5.0, 5.0]])
    beta = torch.tensor([0.9, 0.5, 0.8, 0.2])
    obj = torch.tensor([0, 0, 1, -1])
    q = torch.atanh(beta) ** 2 + 0.01
    out = condensation_loss(x, beta, obj, q_min=0.01)
    n = 4
    attractive = (q[1] * 0.25 * q[0]) / n  # hits at their own condensation points contribute 0
    # repulsion: hit 0 from point of obj 1 (d .3), hit 1 from obj 1 (d .2), hit 2 from obj 0 (d .3); noise hit far away
    repulsive = (q[0] * 0.7 * q[2] + q[1] * 0.8 * q[2] + q[2] * 0.7 * q[0]) / n
    beta_term = ((1 - 0.9) + (1 - 0.8)) / 2 + 0.2
    assert math.isclose(float(out["attractive"]), float(attractive), rel_tol=1e-5)
    assert math.isclose(float(out["repulsive"]), float(repulsive), rel_tol=1e-5)
    assert math.isclose(float(out["beta"]), beta_term, rel_tol=1e-5)
    assert math.isclose(float(out["total"]), float(attractive + repulsive) + beta_term, rel_tol=1e-5)


def test_only_noise_gives_beta_term_and_gradients_flow():
    x = torch.randn(5, 3, requires_grad=True)
    beta = torch.full((5,), 0.3, requires_grad=True)
    out = condensation_loss(x, beta, torch.full((5,), -1))
    assert float(out["attractive"].detach()) == 0 and math.isclose(float(out["total"].detach()), 0.3, rel_tol=1e-6)
    out = condensation_loss(x, beta, torch.tensor([0, 0, 1, 1, -1]))
    out["total"].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and beta.grad.abs().sum() > 0


def test_network_shapes():
    """(Training through Lightning: tests/training/test_lightning_event_training.py.)"""
    torch.manual_seed(0)
    n = 60
    pid = torch.repeat_interleave(torch.arange(1, 7), 10)
    x = torch.randn(n, 4) + pid[:, None].float()
    edges = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
    model = CondensationNet(in_features=4, hidden=16, cluster_dim=3, n_layers=2)
    coordinates, beta = model(x, edges)
    assert coordinates.shape == (n, 3) and beta.shape == (n,) and bool(((beta > 0) & (beta < 1)).all())
    with pytest.raises(ValueError, match="edge_index"):
        model(x)
