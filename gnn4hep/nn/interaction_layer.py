"""One interaction-network message-passing step on a directed hit graph.

Battaglia et al. (arXiv:1612.00222), as used for track finding by DeZoort et al. (arXiv:2103.16701)
and Exa.TrkX (Ju et al., arXiv:2103.06995). For an edge j -> i (source j = inner hit, target i =
outer hit) with hidden node features x (N, H) and edge features e (E, H):

    e'_ji = e_ji + phi_R([x_i, x_j, e_ji])                                  (edge update, residual)
    m_i^in  = sum_{j: j->i} e'_ji,   m_i^out = sum_{k: i->k} e'_ik          (aggregation, both directions)
    x'_i = x_i + phi_O([x_i, m_i^in, m_i^out])                              (node update, residual)

phi_R and phi_O are MLPs (:func:`gnn4hep.nn.mlp.make_mlp`). Aggregating over both the incoming and the
outgoing edges lets information travel inwards as well as outwards along a track (Exa.TrkX); with
``bidirectional=False`` only incoming edges are summed, as in DeZoort et al.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing

from gnn4hep.nn.mlp import make_mlp
from gnn4hep.nn.row_chunks import in_row_chunks


class InteractionLayer(MessagePassing):
    """Residual interaction-network layer (edge MLP phi_R, node MLP phi_O, sum aggregation).

    Args:
        hidden: width H of node and edge features (in and out).
        n_mlp_layers: Linear layers in each MLP.
        layer_norm: LayerNorm in the MLPs.
        bidirectional: aggregate outgoing as well as incoming edge messages.

    Shapes:
        forward(x (N, H), edge_index (2, E) int64, edge_attr (E, H)) -> (x' (N, H), edge_attr' (E, H)).
    """

    def __init__(self, hidden: int = 64, n_mlp_layers: int = 2, layer_norm: bool = True, bidirectional: bool = True):
        super().__init__(aggr="add")
        self.hidden = hidden
        self.bidirectional = bidirectional
        self.edge_mlp = make_mlp(3 * hidden, hidden, hidden, n_mlp_layers, layer_norm)
        n_inputs = 3 if bidirectional else 2
        self.node_mlp = make_mlp(n_inputs * hidden, hidden, hidden, n_mlp_layers, layer_norm)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        if torch.is_grad_enabled() or x.device.type != "cpu":
            edge_attr = edge_attr + self.edge_updater(edge_index, x=x, edge_attr=edge_attr)
        else:  # CPU inference: the same edge update, a cache-sized block of edges at a time (gnn4hep.nn.row_chunks)
            source, target = edge_index
            old = edge_attr
            edge_attr = in_row_chunks(
                lambda rows: old[rows] + self.edge_update(x[target[rows]], x[source[rows]], old[rows]),
                old.shape[0], old.device)
        incoming = self.propagate(edge_index, edge_attr=edge_attr, size=(x.shape[0], x.shape[0]))
        parts = [x, incoming]
        if self.bidirectional:
            parts.append(self.propagate(edge_index.flip(0), edge_attr=edge_attr, size=(x.shape[0], x.shape[0])))
        x = in_row_chunks(lambda rows: x[rows] + self.node_mlp(torch.cat([part[rows] for part in parts], dim=1)),
                          x.shape[0], x.device)
        return x, edge_attr

    def edge_update(self, x_i: Tensor, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        """phi_R([x_i (target), x_j (source), e_ji]) -> (E, H)."""
        return self.edge_mlp(torch.cat([x_i, x_j, edge_attr], dim=1))

    def message(self, edge_attr: Tensor) -> Tensor:
        """The message along an edge is its updated edge feature."""
        return edge_attr

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(hidden={self.hidden}, bidirectional={self.bidirectional})"
