"""EdgeConv edge classifier with a dynamic kNN graph in feature space (DGCNN-style).

Wang et al., "Dynamic Graph CNN for Learning on Point Clouds" (arXiv:1801.07829), as applied to hit
graphs in the Exa.TrkX studies. Node features are refined by L EdgeConv layers, each on a kNN graph
recomputed in the current feature space (layer 1: the input features x, so kNN in (r, phi, z) for
hit graphs), then a head classifies the GIVEN edges:

    h^0 = phi_enc(x)                                              (N, F) -> (N, H)
    G^l = kNN_k(h^{l-1} or x for l = 1)                           gnn4hep.neighbors.knn_graph
    h^l = h^{l-1} + max_{j in G^l(i)} phi_l([h_i^{l-1}, h_j^{l-1} - h_i^{l-1}])   (PyG EdgeConv, residual)
    logit_ji = phi_out([h_i^L, h_j^L, a_ji])                      (E, 2H + A) -> (E,)

for each edge j -> i of ``edge_index`` (a = optional edge features). The kNN indices carry no
gradient (they are a discrete choice); gradients flow through the features gathered along them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import EdgeConv

from gnn4hep.neighbors import knn_graph
from gnn4hep.nn.mlp import make_mlp


class EdgeConvClassifier(nn.Module):
    """Dynamic-kNN EdgeConv encoder plus an edge head giving logits for the given edges.

    Args:
        node_features: F, columns of ``x``.
        edge_features: A, columns of ``edge_attr`` fed to the head (0: none).
        hidden: H, width of node features.
        n_layers: L, EdgeConv layers (each with its own kNN graph).
        k: neighbours per node of the dynamic graphs.
        n_mlp_layers: Linear layers per MLP.
        layer_norm: LayerNorm in the MLPs.
        aggr: EdgeConv aggregation ("max" as in DGCNN, or "mean"/"add").

    Shapes:
        forward(x (N, F), edge_index (2, E) int64, edge_attr (E, A) or None, batch (N,) or None) -> logits (E,).
        ``forward(data)`` reads ``x``, ``edge_index``, ``edge_attr`` and ``batch`` from a PyG ``Data``/``Batch``.
        Nodes of different ``batch`` values are never kNN neighbours.
    """

    def __init__(
        self,
        node_features: int = 3,
        edge_features: int = 0,
        hidden: int = 64,
        n_layers: int = 3,
        k: int = 8,
        n_mlp_layers: int = 2,
        layer_norm: bool = True,
        aggr: str = "max",
    ):
        super().__init__()
        if n_layers < 1 or k < 1:
            raise ValueError(f"n_layers and k must be >= 1, got n_layers={n_layers}, k={k}")
        self.node_features = node_features
        self.edge_features = edge_features
        self.k = k
        self.encoder = make_mlp(node_features, hidden, hidden, n_mlp_layers, layer_norm, output_activation=True)
        self.convs = nn.ModuleList(
            EdgeConv(make_mlp(2 * hidden, hidden, hidden, n_mlp_layers, layer_norm, output_activation=True), aggr=aggr)
            for _ in range(n_layers)
        )
        self.edge_head = make_mlp(2 * hidden + edge_features, hidden, 1, n_mlp_layers, layer_norm)

    def knn_graphs(self, x: Tensor, batch: Tensor | None = None) -> list[Tensor]:
        """The L dynamic kNN graphs (2, N*k) the layers use, for inspection."""
        graphs = []
        self._forward_nodes(x, batch, graphs)
        return graphs

    def _forward_nodes(self, x: Tensor, batch: Tensor | None, graphs: list[Tensor] | None = None) -> Tensor:
        h = self.encoder(x)
        space = x
        for conv in self.convs:
            neighbours = knn_graph(space.detach(), self.k, batch=batch, loop=False)
            if graphs is not None:
                graphs.append(neighbours)
            h = h + conv(h, neighbours)
            space = h
        return h

    def forward(
        self, x: Tensor | Data, edge_index: Tensor | None = None, edge_attr: Tensor | None = None, batch: Tensor | None = None
    ) -> Tensor:
        if isinstance(x, Data):
            x, edge_index, edge_attr, batch = x.x, x.edge_index, getattr(x, "edge_attr", None), getattr(x, "batch", None)
        if edge_index is None:
            raise ValueError("EdgeConvClassifier.forward needs edge_index")
        if x.shape[-1] != self.node_features:
            raise ValueError(f"x has {x.shape[-1]} features, the model expects node_features={self.node_features}")
        h = self._forward_nodes(x, batch)
        source, target = edge_index
        parts = [h[target], h[source]]
        if self.edge_features:
            if edge_attr is None or edge_attr.shape[-1] != self.edge_features:
                got = None if edge_attr is None else tuple(edge_attr.shape)
                raise ValueError(f"the model expects edge_attr of shape (E, {self.edge_features}), got {got}")
            parts.append(edge_attr)
        return self.edge_head(torch.cat(parts, dim=1)).squeeze(-1)
