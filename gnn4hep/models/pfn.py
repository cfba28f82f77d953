"""Particle Flow Network (Komiske, Metodiev, Thaler, arXiv:1810.05165), a deep set over constituents.

    O = F( Σ_i Φ(p_i) )

Φ: per-particle MLP on the constituent features p_i (kinematics, charge, PID) to a latent space of
size ℓ; the sum runs over real constituents; F: MLP to the class logits. Permutation invariant,
but *not* infrared-collinear safe: Φ(p) is not linear in the particle's energy and every particle,
however soft, adds a term (see tests/models/test_jet_deepsets.py).
"""

from __future__ import annotations

from torch import Tensor, nn

from gnn4hep.models.jet_masking import masked_sum
from gnn4hep.nn.mlp import mlp_from_widths


class ParticleFlowNetwork(nn.Module):
    """PFN.

    Args:
        input_dim: constituent features F.
        phi_sizes: hidden sizes of Φ; the last is the latent size ℓ (paper: (100, 100, 256)).
        f_sizes: hidden sizes of F (paper: (100, 100, 100)).
        num_classes: output logits (2 for binary tagging, as in the paper).
        dropout: dropout in F.

    Shapes: ``features`` (B, M, F), ``mask`` (B, M) bool -> logits (B, num_classes).
    """

    input_names = ("features", "mask")

    def __init__(self, *, input_dim: int, phi_sizes: tuple[int, ...] = (100, 100, 256),
                 f_sizes: tuple[int, ...] = (100, 100, 100), num_classes: int = 2, dropout: float = 0.0):
        super().__init__()
        self.phi = mlp_from_widths([input_dim, *phi_sizes])
        self.f = mlp_from_widths([phi_sizes[-1], *f_sizes], dropout=dropout)
        self.head = nn.Linear(f_sizes[-1], num_classes)

    def latent(self, features: Tensor, mask: Tensor) -> Tensor:
        """Σ_i Φ(p_i): (B, ℓ)."""
        return masked_sum(self.phi(features), mask)

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        return self.head(self.f(self.latent(features, mask)))
