"""A small MLP that scores hit pairs from their pair features: the edge filter of the staged
TrackML pipeline (graph -> filter -> GNN; the Exa.TrkX "filter" stage, Ju et al., arXiv:2103.06995).

    logit = MLP((features - mean) / std)

``mean`` and ``std`` are buffers (saved in the state dict) set from the training features, so the
model takes the raw features of :func:`gnn4hep.graphs.pair_features.pair_features`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gnn4hep.nn.mlp import mlp_from_widths


class EdgeFilterMLP(nn.Module):
    """Edge filter: standardised pair features -> hidden layers (LayerNorm + ReLU) -> one logit.

    Args:
        in_features: F, number of pair features.
        hidden: widths of the hidden layers (e.g. (64, 64)).
        layer_norm: LayerNorm before each hidden activation.

    Shapes: (E, F) float32 -> (E,) logits.
    """

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (64, 64), layer_norm: bool = True):
        super().__init__()
        if not hidden:
            raise ValueError("EdgeFilterMLP needs at least one hidden layer")
        self.in_features = int(in_features)
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("std", torch.ones(in_features))
        self.net = mlp_from_widths([in_features, *hidden], layer_norm=layer_norm, output_activation=True)
        self.head = nn.Linear(hidden[-1], 1)

    @torch.no_grad()
    def set_normalisation(self, features: Tensor) -> None:
        """Set ``mean``/``std`` from a (n, F) sample of training features (std floored at 1e-6)."""
        self.mean.copy_(features.mean(dim=0))
        self.std.copy_(features.std(dim=0).clamp_min(1e-6))

    def forward(self, features: Tensor) -> Tensor:
        return self.head(self.net((features - self.mean) / self.std)).squeeze(-1)
