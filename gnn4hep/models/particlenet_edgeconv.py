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
        centre contributes one row standing for k to the statistics (in training mode only; in eval
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
        h = h.reshape(-1, h.shape[-1])  # (n k, C1)
        # padded centres: in the dense route each gives k identical rows W_a x_p (its neighbours are itself);
        # they only enter the BatchNorm statistics, so they are needed in training mode only
        padded_rows = None
        if self.training:
            padded_rows = flat[(~flat_mask).nonzero().squeeze(1)] @ first[:, :C].T  # (P, C1), weight k each
        for index, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            if index:
                h = linear(h)
                padded_rows = linear(padded_rows) if padded_rows is not None else None
            h, padded_rows = _batch_norm_with_repeats(norm, h, padded_rows, k)
            h = torch.relu(h)
            padded_rows = torch.relu(padded_rows) if padded_rows is not None else None
        h = h.reshape(-1, k, h.shape[-1])
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


def _batch_norm_with_repeats(norm: nn.BatchNorm1d, rows: Tensor, repeated: Tensor | None,
                             repeats: int) -> tuple[Tensor, Tensor | None]:
    """``norm`` applied to ``rows`` (R, C) plus ``repeated`` (P, C), each row of which stands for
    ``repeats`` identical rows, as if all N = R + repeats·P rows were normalised together.

    Training mode: batch mean and (biased) variance over the N rows, combined exactly from each
    group's own (pooled-variance formula), running statistics updated as ``nn.BatchNorm1d`` does
    (momentum, unbiased variance). Eval mode: the running statistics.
    """
    if not norm.training or repeated is None or repeated.shape[0] == 0:
        return norm(rows), (norm(repeated) if repeated is not None else None)
    with torch.no_grad():
        _, mean_rows, invstd_rows = torch.native_batch_norm(rows, None, None, None, None, True, 0.0, 0.0)
        var_rows = invstd_rows.pow(-2)
        var_repeated, mean_repeated = torch.var_mean(repeated, dim=0, correction=0)
        n_rows, n_repeated = rows.shape[0], repeats * repeated.shape[0]
        total = n_rows + n_repeated
        mean = (n_rows * mean_rows + n_repeated * mean_repeated) / total
        var = (n_rows * (var_rows + (mean_rows - mean) ** 2) + n_repeated * (var_repeated + (mean_repeated - mean) ** 2)) / total
        norm.running_mean.lerp_(mean, norm.momentum)
        norm.running_var.lerp_(var * total / max(total - 1, 1), norm.momentum)
        norm.num_batches_tracked += 1
    return _RepeatedRowsBatchNorm.apply(rows, repeated, norm.weight, norm.bias, mean, var, repeats, norm.eps)


class _RepeatedRowsBatchNorm(torch.autograd.Function):
    """γ (x − μ)/sqrt(σ² + ε) + β on two groups of rows with the batch statistics μ, σ² of all N rows
    (``repeated`` rows counted ``repeats`` times). Backward, the usual BatchNorm gradient over the N
    rows: with G_β = Σ g, G_γ = Σ g x̂ over all of them (a repeated row's g already sums its copies),

        dx = γ/σ (g − (G_β + x̂ G_γ)/N)  for plain rows,   dy = γ/σ (g − repeats (G_β + ŷ G_γ)/N).

    The plain rows use ATen's fused BatchNorm kernels; their own-statistics gradient is corrected to N rows.
    """

    @staticmethod
    def forward(ctx, rows, repeated, weight, bias, mean, var, repeats, eps):
        invstd = torch.rsqrt(var + eps)
        ctx.save_for_backward(rows, repeated, weight, mean, invstd)
        ctx.repeats, ctx.eps = repeats, eps
        out_rows = torch.nn.functional.batch_norm(rows, mean, var, weight, bias, False, 0.0, eps)
        out_repeated = torch.nn.functional.batch_norm(repeated, mean, var, weight, bias, False, 0.0, eps)
        return out_rows, out_repeated

    @staticmethod
    def backward(ctx, grad_rows, grad_repeated):
        rows, repeated, weight, mean, invstd = ctx.saved_tensors
        n_rows, n_repeated = rows.shape[0], ctx.repeats * repeated.shape[0]
        total = n_rows + n_repeated
        grad_rows, grad_repeated = grad_rows.contiguous(), grad_repeated.contiguous()
        d_rows, gamma_rows, beta_rows = torch.ops.aten.native_batch_norm_backward(
            grad_rows, rows, weight, None, None, mean, invstd, True, ctx.eps, [True, True, True])
        normed_repeated = (repeated - mean) * invstd
        grad_beta = beta_rows + grad_repeated.sum(0)
        grad_gamma = gamma_rows + (grad_repeated * normed_repeated).sum(0)
        scale = weight * invstd
        # d_rows = scale (g − G_β,rows/R − x̂ G_γ,rows/R): move the means from R rows to N rows
        shift = beta_rows / n_rows - grad_beta / total
        slope = gamma_rows / n_rows - grad_gamma / total
        d_rows = d_rows.add_(torch.addcmul(scale * (shift - slope * mean * invstd), rows, scale * slope * invstd))
        d_repeated = scale * (grad_repeated - ctx.repeats * (grad_beta + normed_repeated * grad_gamma) / total)
        return d_rows, d_repeated, grad_gamma, grad_beta, None, None, None, None
