"""Interaction-network edge classifier for hit graphs (Exa.TrkX / DeZoort et al.).

Ju et al., "Performance of a geometric deep learning pipeline for HL-LHC particle tracking"
(arXiv:2103.06995); DeZoort et al., "Charged particle tracking via edge-classifying interaction
networks" (arXiv:2103.16701). The network is

    h_i^0 = phi_node([x_i])                       node encoder, (N, F) -> (N, H)
    e_ji^0 = phi_edge([x_i, x_j, a_ji])           edge encoder, (E, 2F + A) -> (E, H)
    (h^t, e^t) = InteractionLayer_t(h^{t-1}, e^{t-1}),  t = 1..T      (residual message passing)
    logit_ji = phi_out([h_i^T, h_j^T, e_ji^T])    edge head, (E, 3H) -> (E,)

with x the node features (first three (r/1000, phi/pi, z/1000)), a the optional edge features
(e.g. dr, dphi, dz, dR) and i the target (outer) hit, j the source (inner) hit. It returns logits;
the edge score is sigmoid(logit).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnn4hep.nn.interaction_layer import InteractionLayer
from gnn4hep.nn.mlp import make_mlp
from gnn4hep.nn.row_chunks import in_row_chunks


class InteractionNetwork(nn.Module):
    """Edge classifier: node/edge encoders, ``n_iterations`` residual interaction layers, edge head.

    Args:
        node_features: F, columns of ``x``.
        edge_features: A, columns of ``edge_attr`` (0: none used).
        hidden: H, width of the hidden node and edge features.
        n_iterations: T, message-passing steps.
        n_mlp_layers: Linear layers in every MLP.
        layer_norm: LayerNorm in the MLPs.
        bidirectional: interaction layers also aggregate outgoing edges.
        shared_weights: use one interaction layer T times (recurrent, as DeZoort et al.) instead of T layers.

    Shapes:
        forward(x (N, F), edge_index (2, E) int64, edge_attr (E, A) or None) -> logits (E,).
        ``forward(data)`` with a PyG ``Data``/``Batch`` reads ``data.x``, ``data.edge_index`` and
        ``data.edge_attr``.
    """

    def __init__(
        self,
        node_features: int = 3,
        edge_features: int = 0,
        hidden: int = 64,
        n_iterations: int = 4,
        n_mlp_layers: int = 2,
        layer_norm: bool = True,
        bidirectional: bool = True,
        shared_weights: bool = False,
    ):
        super().__init__()
        if n_iterations < 1:
            raise ValueError(f"n_iterations must be >= 1, got {n_iterations}")
        self.node_features = node_features
        self.edge_features = edge_features
        self.node_encoder = make_mlp(node_features, hidden, hidden, n_mlp_layers, layer_norm, output_activation=True)
        self.edge_encoder = make_mlp(2 * node_features + edge_features, hidden, hidden, n_mlp_layers, layer_norm, output_activation=True)
        n_layers = 1 if shared_weights else n_iterations
        self.layers = nn.ModuleList(InteractionLayer(hidden, n_mlp_layers, layer_norm, bidirectional) for _ in range(n_layers))
        self.n_iterations = n_iterations
        self.edge_head = make_mlp(3 * hidden, hidden, 1, n_mlp_layers, layer_norm)

    def forward(self, x: Tensor | Data, edge_index: Tensor | None = None, edge_attr: Tensor | None = None) -> Tensor:
        if isinstance(x, Data):
            x, edge_index, edge_attr = x.x, x.edge_index, getattr(x, "edge_attr", None)
        if edge_index is None:
            raise ValueError("InteractionNetwork.forward needs edge_index")
        if x.shape[-1] != self.node_features:
            raise ValueError(f"x has {x.shape[-1]} features, the model expects node_features={self.node_features}")
        source, target = edge_index
        if self.edge_features and (edge_attr is None or edge_attr.shape[-1] != self.edge_features):
            got = None if edge_attr is None else tuple(edge_attr.shape)
            raise ValueError(f"the model expects edge_attr of shape (E, {self.edge_features}), got {got}")

        def encode(rows: slice) -> Tensor:
            inputs = [x[target[rows]], x[source[rows]]] + ([edge_attr[rows]] if self.edge_features else [])
            return self.edge_encoder(torch.cat(inputs, dim=1))

        # edge-wise maps run a cache-sized block of edges at a time in CPU inference (gnn4hep.nn.row_chunks)
        n_edges = edge_index.shape[1]
        h = self.node_encoder(x)
        e = in_row_chunks(encode, n_edges, x.device)
        for step in range(self.n_iterations):
            layer = self.layers[step if len(self.layers) > 1 else 0]
            h, e = layer(h, edge_index, e)
        return in_row_chunks(lambda rows: self.edge_head(torch.cat([h[target[rows]], h[source[rows]], e[rows]], dim=1)),
                             n_edges, x.device).squeeze(-1)
