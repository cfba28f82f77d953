"""Object-condensation network: per-hit cluster coordinates and condensation strength beta.

Lieret & DeZoort, "High pileup particle tracking with object condensation", arXiv:2309.16754 (the
gnn_tracking project), after Kieseler, "Object condensation", Eur. Phys. J. C 80 (2020) 886,
arXiv:2002.03605. A node encoder, ``n_layers`` residual message-passing layers over the hit graph
(PyG ``SAGEConv`` with mean aggregation, edges used in both directions), then two heads:

    h_i^0 = MLP_enc(x_i)
    h_i^{l+1} = h_i^l + ReLU(LayerNorm(SAGE(h^l)_i))       SAGE(h)_i = W1 h_i + W2 mean_{j in N(i)} h_j
    x_i^cluster = MLP_x(h_i^L)                              (N, D) cluster coordinates
    beta_i = sigmoid(MLP_beta(h_i^L)) clamped to [eps, 1 - eps]    (N,)

Shapes: x (N, F), edge_index (2, E) -> (coordinates (N, D), beta (N,)). ``n_layers=0`` gives a plain
MLP on the hit features (no graph needed).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv
from torch_geometric.utils import to_undirected

from gnn4hep.nn.mlp import make_mlp

BETA_EPS = 1e-4


class CondensationNet(nn.Module):
    """Hit features (+ graph) -> (cluster coordinates, beta).

    Args:
        in_features: F, node features.
        hidden: width of node representations.
        cluster_dim: D, dimension of the clustering space.
        n_layers: residual SAGEConv layers (0: MLP only).
        n_mlp_layers: Linear layers of the encoder and heads.
    """

    def __init__(self, *, in_features: int, hidden: int = 64, cluster_dim: int = 8, n_layers: int = 3, n_mlp_layers: int = 2) -> None:
        super().__init__()
        self.in_features = in_features
        self.cluster_dim = cluster_dim
        self.encoder = make_mlp(in_features, hidden, hidden, n_layers=n_mlp_layers, output_activation=True)
        self.convs = nn.ModuleList(SAGEConv(hidden, hidden, aggr="mean") for _ in range(n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(n_layers))
        self.cluster_head = make_mlp(hidden, hidden, cluster_dim, n_layers=n_mlp_layers)
        self.beta_head = make_mlp(hidden, hidden, 1, n_layers=n_mlp_layers)

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(N, F), (2, E) -> ((N, D) coordinates, (N,) beta in [eps, 1 - eps])."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must be (N, {self.in_features}), got {tuple(x.shape)}")
        h = self.encoder(x)
        if len(self.convs):
            if edge_index is None:
                raise ValueError("edge_index is required when n_layers > 0")
            edges = to_undirected(edge_index, num_nodes=x.shape[0])
            for conv, norm in zip(self.convs, self.norms):
                h = h + torch.relu(norm(conv(h, edges)))
        beta = torch.sigmoid(self.beta_head(h).squeeze(-1)).clamp(BETA_EPS, 1 - BETA_EPS)
        return self.cluster_head(h), beta
