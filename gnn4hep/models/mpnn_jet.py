"""Message-passing network with a learned adjacency for jets (after Henrion et al., "Neural message
passing for jet physics", NeurIPS DLPS 2017).

    h⁰_i = ReLU(W_in p_i)
    for t = 1..T:
        A_ij = softmax_j φ(h_i, h_j),   φ(h_i, h_j) = wᵀ ReLU(U h_i + V h_j + b)   (j real constituents)
        m_i  = tanh( Σ_j A_ij h_j )
        h_i  ← GRU(m_i, h_i)
    logits = MLP( mean_i h^T_i )

The adjacency is dense over the jet (B × M × M), recomputed every iteration from the current states.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gnn4hep.models.jet_masking import masked_mean
from gnn4hep.nn.mlp import mlp_from_widths


class JetMPNN(nn.Module):
    """Learned-adjacency MPNN.

    Args:
        input_dim: constituent features F.
        hidden: state size H.
        iterations: message-passing iterations T.
        edge_hidden: hidden width of φ.
        num_classes: output logits.

    Shapes: ``features`` (B, M, F), ``mask`` (B, M) -> logits (B, classes).
    """

    input_names = ("features", "mask")

    def __init__(self, *, input_dim: int, hidden: int = 64, iterations: int = 3, edge_hidden: int = 16,
                 num_classes: int = 2):
        super().__init__()
        self.iterations = iterations
        self.embed = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU())
        self.u = nn.Linear(hidden, edge_hidden)
        self.v = nn.Linear(hidden, edge_hidden, bias=False)
        self.w = nn.Linear(edge_hidden, 1, bias=False)
        self.gru = nn.GRUCell(hidden, hidden)
        self.readout = nn.Sequential(mlp_from_widths([hidden, hidden, hidden]), nn.Linear(hidden, num_classes))

    def adjacency(self, h: Tensor, mask: Tensor) -> Tensor:
        """A (B, M, M): row i is a softmax over the real constituents j."""
        scores = self.w(torch.relu(self.u(h)[:, :, None, :] + self.v(h)[:, None, :, :])).squeeze(-1)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        adjacency = torch.softmax(scores, dim=-1)
        return torch.nan_to_num(adjacency, nan=0.0)  # empty jets: all -inf rows

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        B, M, _ = features.shape
        m = mask[..., None].to(features.dtype)
        h = self.embed(features) * m
        for _ in range(self.iterations):
            messages = torch.tanh(self.adjacency(h, mask) @ h)
            h = self.gru(messages.reshape(B * M, -1), h.reshape(B * M, -1)).reshape(B, M, -1) * m
        return self.readout(masked_mean(h, mask))
