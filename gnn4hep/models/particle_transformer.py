"""Particle Transformer (ParT; Qu, Li, Qian, arXiv:2202.03772) for jet tagging.

    x⁰_i  = Embed(BN(features_i))                          MLP (LN, Linear, GELU) × 3: dims (128, 512, 128)
    U_ij  = PairEmbed(BN(ln kT, ln z, ln ΔR, ln m²)_ij)     pointwise MLP (64, 64, 64) -> one value per head (8)
    x^l   = P-MHA block(x^{l-1}, U)      × 8               softmax(QKᵀ/√d + U) V  (U added to the logits)
    c     = class-attention block(c, x⁸) × 2               a class token attends to the particles (CaiT)
    logits = Linear(LN(c))

Pairwise interaction features (paper, eq. 1), for particles a, b with transverse momenta p_T,
rapidities y and azimuths φ:

    Δ = sqrt((y_a − y_b)² + (φ_a − φ_b)²),   kT = min(p_T,a, p_T,b) Δ,
    z = min(p_T,a, p_T,b) / (p_T,a + p_T,b),  m² = (E_a + E_b)² − |p_a + p_b|²,

each taken as ln(max(·, ε)) with ε = 1e-8 (the diagonal pairs a = b are kept, as in the paper's code).

Blocks are pre-LayerNorm with the NormFormer extras the paper uses (arXiv:2110.09456): a LayerNorm
after the attention and after the first feed-forward layer, a learned scale per attention head
(applied to each head's output before the output projection) and a learned scale of the
feed-forward residual. Particle blocks use dropout 0.1 (attention, activation, output), class
blocks none. The default configuration is the paper's: with 17 input features and 10 classes it
has 2,143,470 parameters (the paper's table: 2.14M).

Why written here: the reference code lives inside weaver-core, which is a training framework rather
than a model library (and pins its own dependencies); this module is a plain ``nn.Module`` on the
project's padded (B, M, ·) tensors.

Masking: embeddings and pair features are computed on real constituents and real pairs only (their
BatchNorm statistics never see padding), padded keys are removed from every softmax, and padded
positions are reset to zero after every block, so whatever the padded slots hold changes nothing.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

PAIR_FEATURES = ("ln_kt", "ln_z", "ln_delta", "ln_m2")


def pairwise_features(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """ParT's interaction features of particle pairs: (..., 4) four-vectors (px, py, pz, E) in GeV
    -> (..., 4) = (ln kT, ln z, ln Δ, ln m²), with kT in GeV and m² in GeV²; see the module docstring."""
    pt_a, pt_b = torch.hypot(a[..., 0], a[..., 1]), torch.hypot(b[..., 0], b[..., 1])
    y_a, y_b = _rapidity(a), _rapidity(b)
    dphi = torch.remainder(torch.atan2(a[..., 1], a[..., 0]) - torch.atan2(b[..., 1], b[..., 0]) + math.pi,
                           2 * math.pi) - math.pi
    delta = torch.sqrt((y_a - y_b) ** 2 + dphi ** 2)
    pt_min = torch.minimum(pt_a, pt_b)
    total = a + b
    m2 = total[..., 3] ** 2 - (total[..., :3] ** 2).sum(-1)
    return torch.stack([torch.log((pt_min * delta).clamp(min=eps)),
                        torch.log((pt_min / (pt_a + pt_b).clamp(min=eps)).clamp(min=eps)),
                        torch.log(delta.clamp(min=eps)),
                        torch.log(m2.clamp(min=eps))], dim=-1)


def _rapidity(v: Tensor) -> Tensor:
    """y = ½ ln((E + pz) / (E − pz)), clamped so that E ≤ |pz| (rounding) stays finite."""
    energy, pz = v[..., 3], v[..., 2]
    return 0.5 * torch.log((energy + pz).clamp(min=1e-20) / (energy - pz).clamp(min=1e-20))


class PairEmbedding(nn.Module):
    """U: BN of the 4 pair features, then pointwise (1×1 convolution) layers Linear + BN + GELU, and a
    last Linear to one value per attention head. Runs on the (P, 4) features of real pairs only."""

    def __init__(self, dims: tuple[int, ...] = (64, 64, 64), num_heads: int = 8):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(len(PAIR_FEATURES))]
        previous = len(PAIR_FEATURES)
        for dim in dims:
            layers += [nn.Linear(previous, dim), nn.BatchNorm1d(dim), nn.GELU()]
            previous = dim
        layers.append(nn.Linear(previous, num_heads))
        self.net = nn.Sequential(*layers)

    def forward(self, vectors: Tensor, mask: Tensor) -> Tensor:
        """(B, M, 4) four-vectors, (B, M) mask -> U (B, H, M, M), symmetric, zero for padded pairs."""
        B, M, _ = vectors.shape
        i, j = torch.triu_indices(M, M, device=vectors.device)  # pairs i <= j
        real = mask[:, i] & mask[:, j]  # (B, P)
        batch, pair = real.nonzero(as_tuple=True)
        features = pairwise_features(vectors[batch, i[pair]], vectors[batch, j[pair]])
        values = self.net(features)  # (P_real, H)
        bias = vectors.new_zeros(B, M, M, values.shape[-1])
        bias = bias.index_put((batch, i[pair], j[pair]), values).index_put((batch, j[pair], i[pair]), values)
        return bias.permute(0, 3, 1, 2)


class AttentionBlock(nn.Module):
    """A pre-LN transformer block (NormFormer variant). Particle attention when ``cls`` is None
    (queries = keys = the particles, ``bias`` U added to the logits); class attention otherwise
    (the query is the class token, keys are [class token, particles]).

    Shapes: ``x`` (B, M, C), ``key_mask`` (B, M) bool, ``bias`` (B, H, M, M), ``cls`` (B, 1, C).
    """

    def __init__(self, embed_dim: int = 128, num_heads: int = 8, ffn_ratio: int = 4, dropout: float = 0.1,
                 attn_dropout: float = 0.1, activation_dropout: float = 0.1):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not a multiple of num_heads {num_heads}")
        self.num_heads, self.attn_dropout = num_heads, attn_dropout
        self.pre_attn_norm = nn.LayerNorm(embed_dim)
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.head_scale = nn.Parameter(torch.ones(num_heads))
        self.post_attn_norm = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.pre_fc_norm = nn.LayerNorm(embed_dim)
        self.fc1 = nn.Linear(embed_dim, ffn_ratio * embed_dim)
        self.post_fc_norm = nn.LayerNorm(ffn_ratio * embed_dim)
        self.activation_dropout = nn.Dropout(activation_dropout)
        self.fc2 = nn.Linear(ffn_ratio * embed_dim, embed_dim)
        self.residual_scale = nn.Parameter(torch.ones(embed_dim))
        nn.init.xavier_uniform_(self.in_proj.weight)
        nn.init.zeros_(self.in_proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, t: Tensor) -> Tensor:
        B, L, C = t.shape
        return t.reshape(B, L, self.num_heads, C // self.num_heads).transpose(1, 2)  # (B, H, L, d)

    def attention(self, queries: Tensor, keys: Tensor, logit_bias: Tensor) -> Tensor:
        """softmax(q kᵀ/√d + bias) v per head, heads scaled, merged and projected: (B, Q, C)."""
        C = queries.shape[-1]
        q = F.linear(queries, self.in_proj.weight[:C], self.in_proj.bias[:C])
        k, v = F.linear(keys, self.in_proj.weight[C:], self.in_proj.bias[C:]).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v), attn_mask=logit_bias,
                                             dropout_p=self.attn_dropout if self.training else 0.0)
        out = out * self.head_scale[None, :, None, None]
        return self.out_proj(out.transpose(1, 2).reshape(queries.shape))

    def forward(self, x: Tensor, key_mask: Tensor, bias: Tensor | None = None, cls: Tensor | None = None) -> Tensor:
        blocked = torch.finfo(x.dtype).min  # finite: a row with no real key stays finite
        if cls is None:
            residual = x
            h = self.pre_attn_norm(x)
            logit_bias = (bias if bias is not None else x.new_zeros(1, 1, 1, 1)).masked_fill(
                ~key_mask[:, None, None, :], blocked)
            h = self.attention(h, h, logit_bias)
        else:
            residual = cls
            u = self.pre_attn_norm(torch.cat([cls, x], dim=1))
            keys_real = torch.cat([key_mask.new_ones(key_mask.shape[0], 1), key_mask], dim=1)
            logit_bias = x.new_zeros(keys_real.shape).masked_fill(~keys_real, blocked)[:, None, None, :]
            h = self.attention(u[:, :1], u, logit_bias)
        h = self.dropout(self.post_attn_norm(h)) + residual
        residual = h
        h = self.post_fc_norm(F.gelu(self.fc1(self.pre_fc_norm(h))))
        h = self.dropout(self.fc2(self.activation_dropout(h)))
        return h + self.residual_scale * residual


class ParticleTransformer(nn.Module):
    """ParT.

    Args:
        input_dim: constituent features F (the paper: 17 on JetClass; here the 7 kinematic features,
            plus charge and 5 PID flags when the jets carry them).
        embed_dims: particle-embedding MLP widths; the last is the transformer width C.
        pair_embed_dims: hidden widths of the pair embedding (its output is one value per head).
        num_heads, num_layers, num_cls_layers: heads, particle-attention and class-attention blocks.
        ffn_ratio: feed-forward width / C.
        dropout: dropout of the particle blocks (the class blocks have none).
        num_classes: output logits.

    Shapes: ``features`` (B, M, F), ``vectors`` (B, M, 4) (px, py, pz, E) in GeV, ``mask`` (B, M) bool
    -> logits (B, num_classes).
    """

    input_names = ("features", "vectors", "mask")

    def __init__(self, *, input_dim: int, embed_dims: tuple[int, ...] = (128, 512, 128),
                 pair_embed_dims: tuple[int, ...] = (64, 64, 64), num_heads: int = 8, num_layers: int = 8,
                 num_cls_layers: int = 2, ffn_ratio: int = 4, dropout: float = 0.1, num_classes: int = 2):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(input_dim)]
        previous = input_dim
        for dim in embed_dims:
            layers += [nn.LayerNorm(previous), nn.Linear(previous, dim), nn.GELU()]
            previous = dim
        self.embed = nn.Sequential(*layers)
        self.pair_embed = PairEmbedding(tuple(pair_embed_dims), num_heads)
        C = embed_dims[-1]
        self.blocks = nn.ModuleList(AttentionBlock(C, num_heads, ffn_ratio, dropout, dropout, dropout)
                                    for _ in range(num_layers))
        self.cls_blocks = nn.ModuleList(AttentionBlock(C, num_heads, ffn_ratio, 0.0, 0.0, 0.0)
                                        for _ in range(num_cls_layers))
        self.cls_token = nn.Parameter(torch.empty(1, 1, C))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.norm = nn.LayerNorm(C)
        self.head = nn.Linear(C, num_classes)

    def forward(self, features: Tensor, vectors: Tensor, mask: Tensor) -> Tensor:
        mask = mask.bool()
        B, M, _ = features.shape
        keep = mask[..., None]
        embedded = self.embed(features[mask])  # real constituents only
        x = features.new_zeros(B, M, embedded.shape[-1]).masked_scatter(keep, embedded)
        bias = self.pair_embed(torch.where(keep, vectors, 0.0), mask)
        for block in self.blocks:
            x = torch.where(keep, block(x, mask, bias), 0.0)
        cls = self.cls_token.expand(B, 1, -1)
        for block in self.cls_blocks:
            cls = block(x, mask, cls=cls)
        return self.head(self.norm(cls[:, 0]))
