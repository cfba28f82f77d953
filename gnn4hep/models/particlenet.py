"""ParticleNet (Qu & Gouskos, arXiv:1902.08570): a dynamic graph CNN on jet constituents.

    x⁰ = BN(features)
    x¹ = EdgeConv_k(coords = (Δη, Δφ), x⁰)          channels (64, 64, 64)
    x² = EdgeConv_k(coords = x¹, x¹)                channels (128, 128, 128)   kNN in feature space
    x³ = EdgeConv_k(coords = x², x²)                channels (256, 256, 256)
    logits = FC(256, ReLU, dropout 0.1) ∘ FC(classes) ( mean_i x³_i )

with k = 16 (ParticleNet) or, for ParticleNet-Lite, two blocks (32, 32, 32), (64, 64, 64) with
k = 7 and a 128-wide FC layer. Global average pooling runs over real constituents only.

``fusion=True`` adds the fusion block of weaver-core's implementation (its default, not in the paper): the
outputs of all EdgeConv blocks are concatenated per constituent and mapped by a linear layer (no bias),
BatchNorm and ReLU to W = clip(⌊ΣC / 128⌋ · 128, 128, 1024) channels before the pooling (ParticleNet:
448 → 384, ParticleNet-Lite: 96 → 128).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gnn4hep.models.jet_masking import masked_mean
from gnn4hep.models.particlenet_edgeconv import EdgeConvBlock

PARTICLENET = dict(blocks=((16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))), fc_size=256)
PARTICLENET_LITE = dict(blocks=((7, (32, 32, 32)), (7, (64, 64, 64))), fc_size=128)


class ParticleNet(nn.Module):
    """ParticleNet / ParticleNet-Lite.

    Args:
        input_dim: constituent features F.
        blocks: (k, channels) per EdgeConv block; default the paper's ParticleNet.
        fc_size: width of the fully connected layer.
        dropout: dropout after it (paper: 0.1).
        num_classes: output logits.
        packed: EdgeConv on real constituents only (see :class:`EdgeConvBlock`; same values, faster).
        fusion: the fusion block of weaver-core (module docstring); off in the paper's network.

    Shapes: ``points`` (B, M, 2) (Δη, Δφ), ``features`` (B, M, F), ``mask`` (B, M) -> (B, classes).
    """

    input_names = ("points", "features", "mask")

    def __init__(self, *, input_dim: int, blocks: tuple = PARTICLENET["blocks"], fc_size: int = 256,
                 dropout: float = 0.1, num_classes: int = 2, packed: bool = True, fusion: bool = False):
        super().__init__()
        self.input_norm = nn.BatchNorm1d(input_dim)
        convs = []
        previous = input_dim
        for k, channels in blocks:
            convs.append(EdgeConvBlock(in_channels=previous, channels=tuple(channels), k=k, packed=packed))
            previous = channels[-1]
        self.blocks = nn.ModuleList(convs)
        self.fusion = None
        if fusion:
            total = sum(channels[-1] for _, channels in blocks)
            width = min(max(total // 128 * 128, 128), 1024)
            self.fusion = nn.Sequential(nn.Linear(total, width, bias=False), nn.BatchNorm1d(width), nn.ReLU())
            previous = width
        self.head = nn.Sequential(nn.Linear(previous, fc_size), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(fc_size, num_classes))

    @classmethod
    def lite(cls, *, input_dim: int, num_classes: int = 2, dropout: float = 0.1, packed: bool = True,
             fusion: bool = False) -> "ParticleNet":
        """ParticleNet-Lite (two blocks, k = 7)."""
        return cls(input_dim=input_dim, num_classes=num_classes, dropout=dropout, packed=packed, fusion=fusion,
                   **PARTICLENET_LITE)

    def forward(self, points: Tensor, features: Tensor, mask: Tensor) -> Tensor:
        m = mask[..., None].to(features.dtype)
        x = self.input_norm(features.reshape(-1, features.shape[-1])).reshape(features.shape) * m
        coordinates, outputs = points, []
        for block in self.blocks:
            x = block(coordinates, x, mask)
            coordinates = x
            outputs.append(x)
        if self.fusion is not None:  # on real constituents only: padding never enters the BatchNorm statistics
            joined = torch.cat(outputs, dim=-1)
            fused = self.fusion(joined[mask])
            x = joined.new_zeros(*mask.shape, fused.shape[-1])
            x[mask] = fused
        return self.head(masked_mean(x, mask))
