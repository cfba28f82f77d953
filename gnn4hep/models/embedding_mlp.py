"""Per-hit embedding MLP for metric-learning graph construction (Exa.TrkX stage 1).

Ju et al., "Performance of a geometric deep learning pipeline for HL-LHC particle tracking",
Eur. Phys. J. C 81 (2021) 876, arXiv:2103.06995, sec. 3.1: an MLP maps each hit's features to a
point in a low-dimensional space where hits that are consecutive on a track lie close together;
the graph is then every pair within a radius r in that space.

    e_i = MLP(x_i)                        x_i: (F,) hit features,  e_i: (D,) embedding
    (optionally) e_i <- e_i / ||e_i||     (unit sphere, ``normalize=True``)

Shapes: (N, F) -> (N, D). Distances in the embedding space are dimensionless.
"""

from __future__ import annotations


from torch import Tensor, nn

from gnn4hep.nn.mlp import make_mlp


class EmbeddingMLP(nn.Module):
    """Hit features -> embedding coordinates.

    Args:
        in_features: F, hit features per node.
        hidden: width of the hidden layers.
        embedding_dim: D, dimension of the embedding space.
        n_layers: Linear layers (>= 1).
        layer_norm: LayerNorm before each hidden activation.
        normalize: project embeddings onto the unit sphere.
    """

    def __init__(
        self,
        *,
        in_features: int,
        hidden: int = 128,
        embedding_dim: int = 8,
        n_layers: int = 4,
        layer_norm: bool = True,
        normalize: bool = False,
    ) -> None:
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.in_features = in_features
        self.embedding_dim = embedding_dim
        self.normalize = normalize
        self.network = make_mlp(in_features, hidden, embedding_dim, n_layers=n_layers, layer_norm=layer_norm, activation=nn.Tanh)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_features) -> (N, embedding_dim)."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must be (N, {self.in_features}), got {tuple(x.shape)}")
        out = self.network(x)
        return nn.functional.normalize(out, dim=1) if self.normalize else out


def pairwise_squared_distance(embedding: Tensor, pairs: Tensor) -> Tensor:
    """||e_a - e_b||^2 (P,) of index pairs (2, P)."""
    return (embedding[pairs[0]] - embedding[pairs[1]]).pow(2).sum(dim=1)


__all__ = ["EmbeddingMLP", "pairwise_squared_distance"]
