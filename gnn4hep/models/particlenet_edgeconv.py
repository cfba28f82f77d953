"""The EdgeConv block of ParticleNet (Qu & Gouskos, arXiv:1902.08570, Fig. 2), on padded jets.

For every constituent i with neighbours j ∈ kNN(i) in the given coordinates:

    e_ij = h_Θ(x_i, x_j − x_i)          (three 1×1 convolutions + BatchNorm + ReLU)
    x'_i = ReLU( shortcut(x_i) + mean_{j} e_ij )

The neighbours come from :func:`gnn4hep.neighbors.knn_dense` (self excluded, padding excluded);
missing neighbours (jets with ≤ k constituents) are left out of the mean. The edge MLP runs on the
edges of real constituents only (padded slots are typically more than half of a trimmed batch), with
BatchNorm statistics equal to those of the padded computation (:meth:`EdgeConvBlock.dense_forward`). torch-geometric's
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
        packed: run the edge MLP on real constituents' edges only (:meth:`packed_forward`, default)
            rather than on the padded edge tensor (:meth:`dense_forward`); both give the same values.

    Shapes: ``coordinates`` (B, M, D) for the kNN, ``features`` (B, M, C_in), ``mask`` (B, M)
    -> (B, M, channels[-1]) with zeros at padded positions.

    The edge MLP's layers are linear maps over channels (the paper's 1×1 convolutions) with
    BatchNorm and ReLU. The first one is applied to nodes before the gather, which is exact:
    W [x_i, x_j − x_i] = (W_a − W_b) x_i + W_b x_j, and k times cheaper than on edges.
    """

    def __init__(self, *, in_channels: int, channels: tuple[int, ...], k: int = 16, packed: bool = True):
        super().__init__()
        self.k, self.packed = k, packed
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
        route = self.packed_forward if self.packed else self.dense_forward
        return route(coordinates, features, mask)

    def packed_forward(self, coordinates: Tensor, features: Tensor, mask: Tensor) -> Tensor:
        """Packed route (the default): the edge MLP runs on the k edges of real constituents only.

        It gives what :meth:`dense_forward` gives, BatchNorm statistics included: there every padded
        centre contributes k identical edge rows (its neighbours are itself), so here each padded
        centre contributes one row with weight k to the statistics (in training mode only; in eval
        mode BatchNorm uses its running statistics and the padded rows are skipped).
        """
        B, M, C = features.shape
        with torch.no_grad():
            neighbours = knn_dense(coordinates.detach(), self.k, mask)  # (B, M, k)
            k = neighbours.shape[-1]
            flat_mask = mask.reshape(-1).bool()
            real = flat_mask.nonzero().squeeze(1)  # flat positions b * M + m of real constituents
            offsets = (torch.arange(B, device=features.device) * M)[:, None, None]
            neighbour_flat = (neighbours + offsets).reshape(B * M, k)[real]  # (n, k), real centres' neighbours
            valid = neighbour_flat != real[:, None]
            packed = torch.full((B * M,), -1, dtype=torch.long, device=features.device)
            packed[real] = torch.arange(real.numel(), device=features.device)
            neighbour_packed = packed[neighbour_flat]  # neighbours of a real centre are real (or itself)
        flat = features.reshape(B * M, C)
        own = flat[real]
        first = self.linears[0].weight  # (C1, 2C)
        neighbour_part = own @ first[:, C:].T  # (n, C1)
        h = (own @ (first[:, :C] - first[:, C:]).T)[:, None, :] + neighbour_part[neighbour_packed]  # (n, k, C1)
        n_edges = h.shape[0] * k
        h = h.reshape(n_edges, -1)
        weights = None
        if self.training:  # padded centres enter the batch statistics: one row W_a x_p each, weight k
            padded = (~flat_mask).nonzero().squeeze(1)
            h = torch.cat([h, flat[padded] @ first[:, :C].T])
            weights = torch.cat([h.new_ones(n_edges), h.new_full((padded.numel(),), float(k))])
        for index, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            if index:
                h = linear(h)
            h = torch.relu(_weighted_batch_norm(norm, h, weights))
        h = h[:n_edges].reshape(-1, k, h.shape[-1])
        weight = valid[..., None].to(h.dtype)
        aggregated_real = (h * weight).sum(1) / weight.sum(1).clamp(min=1)  # (n, C')
        aggregated = h.new_zeros(B * M, h.shape[-1]).index_copy(0, real, aggregated_real).reshape(B, M, -1)
        out = torch.relu(self._norm(self.shortcut_norm, self.shortcut(features)) + aggregated)
        return out * mask[..., None].to(out.dtype)

    def dense_forward(self, coordinates: Tensor, features: Tensor, mask: Tensor) -> Tensor:
        """Reference route on the padded (B, M, k) edge tensor, padded centres included (slower)."""
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


def _weighted_batch_norm(norm: nn.BatchNorm1d, h: Tensor, weights: Tensor | None) -> Tensor:
    """``norm`` applied to rows ``h`` (R, C) where row r stands for ``weights[r]`` identical rows.

    Training mode: batch mean and (biased) variance over the weighted rows, running statistics
    updated as ``nn.BatchNorm1d`` does (momentum, unbiased variance); eval mode (or ``weights`` None
    with the module in eval mode): the running statistics. ``weights`` None in training mode: plain BatchNorm.
    """
    if not norm.training or weights is None:
        return norm(h)
    total = weights.sum()
    mean = (weights @ h) / total
    centred = h - mean
    var = (weights @ centred.square()) / total
    with torch.no_grad():
        norm.running_mean.lerp_(mean, norm.momentum)
        norm.running_var.lerp_(var * total / (total - 1), norm.momentum)
        norm.num_batches_tracked += 1
    return centred * (norm.weight * torch.rsqrt(var + norm.eps)) + norm.bias
