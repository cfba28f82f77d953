"""Energy Flow Network (Komiske, Metodiev, Thaler, arXiv:1810.05165): an IRC-safe deep set.

    O = F( Σ_i z_i Φ(η̂_i) ),   z_i = pT_i / Σ_j pT_j,   η̂_i = (Δη_i, Δφ_i)

Φ sees only the angles, and the energy enters linearly through z_i, so the latent sum is
infrared safe (a particle with z → 0 adds nothing) and collinear safe (splitting z_i into
z_a + z_b at the same angle leaves the sum unchanged). Tested in tests/models/test_jet_deepsets.py.
"""

from __future__ import annotations

from torch import Tensor, nn

from gnn4hep.nn.mlp import mlp_from_widths


class EnergyFlowNetwork(nn.Module):
    """EFN.

    Args:
        angle_dim: angular inputs per particle (2: Δη, Δφ).
        phi_sizes: hidden sizes of Φ, last = latent size ℓ (paper: (100, 100, 256)).
        f_sizes: hidden sizes of F (paper: (100, 100, 100)).
        num_classes: output logits.
        dropout: dropout in F.
        angle_scale: Φ sees η̂ / angle_scale (use the jet radius R so its inputs are O(1); a fixed
            rescaling of the angles keeps IRC safety).

    Shapes: ``weights`` z (B, M), ``points`` (B, M, 2), ``mask`` (B, M) -> logits (B, num_classes).
    """

    input_names = ("weights", "points", "mask")

    def __init__(self, *, angle_dim: int = 2, phi_sizes: tuple[int, ...] = (100, 100, 256),
                 f_sizes: tuple[int, ...] = (100, 100, 100), num_classes: int = 2, dropout: float = 0.0,
                 angle_scale: float = 1.0):
        super().__init__()
        self.angle_scale = angle_scale
        self.phi = mlp_from_widths([angle_dim, *phi_sizes])
        self.f = mlp_from_widths([phi_sizes[-1], *f_sizes], dropout=dropout)
        self.head = nn.Linear(f_sizes[-1], num_classes)

    def latent(self, weights: Tensor, points: Tensor, mask: Tensor) -> Tensor:
        """Σ_i z_i Φ(η̂_i): (B, ℓ); padded particles get weight 0."""
        z = weights * mask.to(weights.dtype)
        return (z[..., None] * self.phi(points / self.angle_scale)).sum(dim=1)

    def forward(self, weights: Tensor, points: Tensor, mask: Tensor) -> Tensor:
        return self.head(self.f(self.latent(weights, points, mask)))
