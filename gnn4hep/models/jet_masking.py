"""Masked pooling helpers shared by the jet models (padded constituents carry mask = False).

Pure functions on (B, M, C) tensors with a (B, M) bool mask.
"""

from __future__ import annotations

from torch import Tensor


def masked_sum(x: Tensor, mask: Tensor) -> Tensor:
    """Σ_i x_i over real constituents: (B, M, C) -> (B, C)."""
    return (x * mask[..., None].to(x.dtype)).sum(dim=1)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over real constituents (0 for an empty jet): (B, M, C) -> (B, C)."""
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
    return masked_sum(x, mask) / count
