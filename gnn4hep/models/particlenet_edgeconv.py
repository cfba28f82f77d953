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
    """

    def __init__(self, *, in_channels: int, channels: tuple[int, ...], k: int = 16):
        super().__init__()
        self.k = k
        layers: list[nn.Module] = []
        previous = 2 * in_channels
        for size in channels:
            layers += [nn.Conv2d(previous, size, kernel_size=1, bias=False), nn.BatchNorm2d(size), nn.ReLU()]
            previous = size
        self.edge_mlp = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.Conv1d(in_channels, channels[-1], kernel_size=1, bias=False),
                                      nn.BatchNorm1d(channels[-1]))

    def forward(self, coordinates: Tensor, features: Tensor, mask: Tensor) -> Tensor:
        B, M, C = features.shape
        with torch.no_grad():
            neighbours = knn_dense(coordinates.detach(), self.k, mask)  # (B, M, k)
            own = torch.arange(M, device=features.device)[None, :, None]
            valid = (neighbours != own) & mask[:, :, None]
        k = neighbours.shape[-1]
        gathered = torch.gather(features, 1, neighbours.reshape(B, M * k, 1).expand(B, M * k, C)).reshape(B, M, k, C)
        centre = features[:, :, None, :].expand(B, M, k, C)
        edges = torch.cat([centre, gathered - centre], dim=-1).permute(0, 3, 1, 2)  # (B, 2C, M, k)
        messages = self.edge_mlp(edges)  # (B, C', M, k)
        weight = valid[:, None].to(messages.dtype)
        aggregated = (messages * weight).sum(-1) / weight.sum(-1).clamp(min=1)  # (B, C', M)
        out = torch.relu(self.shortcut(features.transpose(1, 2)) + aggregated).transpose(1, 2)
        return out * mask[..., None].to(out.dtype)
