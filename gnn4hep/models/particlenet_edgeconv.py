"""The EdgeConv block of ParticleNet (Qu & Gouskos, arXiv:1902.08570, Fig. 2), on padded jets.

For every constituent i with neighbours j ∈ kNN(i) in the given coordinates:

    e_ij = h_Θ(x_i, x_j − x_i)          (three 1×1 convolutions + BatchNorm + ReLU)
    x'_i = ReLU( shortcut(x_i) + mean_{j} e_ij )

The neighbours come from :func:`gnn4hep.neighbors.knn_dense` (self excluded, padding excluded);
missing neighbours (jets with ≤ k constituents) are left out of the mean. torch-geometric's
``DynamicEdgeConv`` would need torch-cluster/pyg-lib, which are not installable here, and works
on flat graphs rather than padded batches.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gnn4hep.neighbors import knn_dense


class EdgeConvBlock(nn.Module):
    """One ParticleNet EdgeConv block.

    Args:
        in_channels: C_in of the node features.
        channels: output sizes of the three edge-MLP layers, e.g. (64, 64, 64).
        k: neighbours per constituent.

    Shapes: ``coordinates`` (B, M, D) for the kNN, ``features`` (B, M, C_in), ``mask`` (B, M)
    -> (B, M, channels[-1]) with zeros at padded positions.

    The edge MLP's layers are linear maps over channels (the paper's 1×1 convolutions) with
    BatchNorm and ReLU. The first one is applied to nodes before the gather, which is exact:
    W [x_i, x_j − x_i] = (W_a − W_b) x_i + W_b x_j, and k times cheaper than on edges.
    """

    def __init__(self, *, in_channels: int, channels: tuple[int, ...], k: int = 16):
        super().__init__()
        self.k = k
        sizes = (2 * in_channels, *channels)
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(size) for size in channels)
        self.shortcut = nn.Linear(in_channels, channels[-1], bias=False)
        self.shortcut_norm = nn.BatchNorm1d(channels[-1])

    def edge_mlp(self, edges: Tensor) -> Tensor:
        """Reference edge function on explicit edge features [x_i, x_j − x_i]: (..., 2C) -> (..., C')."""
        h = edges
        for linear, norm in zip(self.linears, self.norms):
            h = torch.relu(self._norm(norm, linear(h)))
        return h

    @staticmethod
    def _norm(norm: nn.BatchNorm1d, h: Tensor) -> Tensor:
        return norm(h.reshape(-1, h.shape[-1])).reshape(h.shape)

    def forward(self, coordinates: Tensor, features: Tensor, mask: Tensor) -> Tensor:
        B, M, C = features.shape
        with torch.no_grad():
            neighbours = knn_dense(coordinates.detach(), self.k, mask)  # (B, M, k)
            own = torch.arange(M, device=features.device)[None, :, None]
            valid = (neighbours != own) & mask[:, :, None]
        k = neighbours.shape[-1]
        first = self.linears[0].weight  # (C1, 2C)
        centre_part = features @ (first[:, :C] - first[:, C:]).T  # (B, M, C1)
        neighbour_part = features @ first[:, C:].T  # (B, M, C1)
        c1 = neighbour_part.shape[-1]
        gathered = torch.gather(neighbour_part, 1, neighbours.reshape(B, M * k, 1).expand(B, M * k, c1))
        h = torch.relu(self._norm(self.norms[0], centre_part[:, :, None, :] + gathered.reshape(B, M, k, c1)))
        for linear, norm in zip(self.linears[1:], self.norms[1:]):
            h = torch.relu(self._norm(norm, linear(h)))  # (B, M, k, C')
        weight = valid[..., None].to(h.dtype)
        aggregated = (h * weight).sum(2) / weight.sum(2).clamp(min=1)  # (B, M, C')
        out = torch.relu(self._norm(self.shortcut_norm, self.shortcut(features)) + aggregated)
        return out * mask[..., None].to(out.dtype)
