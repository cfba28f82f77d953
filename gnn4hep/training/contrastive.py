"""Hinge (contrastive) training of the hit-embedding MLP (metric-learning graph construction).

Loss of Ju et al. (arXiv:2103.06995, sec. 3.1), on squared embedding distances d_ij^2:

    L = sum_{true pairs} d_ij^2  +  sum_{fake pairs} max(0, m - d_ij^2)        (both averaged)

with m the hinge margin (``margin``, squared distance): true consecutive pairs are pulled together,
fake pairs pushed beyond sqrt(m). Training pairs per event and step:

- the true consecutive pairs (:func:`gnn4hep.graphs.truth.consecutive_pairs`);
- ``n_random`` random hit pairs (almost all fake);
- hard negatives: the ``k_hard`` nearest neighbours of a random subset of hits in the *current*
  embedding (:func:`gnn4hep.neighbors.knn_graph`), labelled by truth (true ones count as true).

A plain PyTorch loop (Adam): the model is small and the batches are per-event pair lists, so the
Lightning machinery buys nothing here; ``torch.set_num_threads`` is left to the caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from gnn4hep.neighbors import knn_graph


def hinge_embedding_loss(sq_distance: Tensor, is_true: Tensor, margin: float) -> Tensor:
    """mean over true pairs of d^2 + mean over fake pairs of max(0, margin - d^2).

    Args:
        sq_distance: (P,) squared embedding distances.
        is_true: (P,) bool.
        margin: hinge margin m (squared distance, > 0).
    """
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    is_true = is_true.bool()
    zero = sq_distance.new_zeros(())
    pull = sq_distance[is_true].mean() if is_true.any() else zero
    push = torch.relu(margin - sq_distance[~is_true]).mean() if (~is_true).any() else zero
    return pull + push


@dataclass
class EmbeddingEvent:
    """One training event: features (N, F) float32, true pairs (2, P) long, particle id and rank (N,)."""

    features: Tensor
    true_pairs: Tensor
    particle_id: Tensor
    rank: Tensor


def label_pairs(event: EmbeddingEvent, pairs: Tensor) -> Tensor:
    """(P,) bool: the pair joins consecutive hits of one particle (either order)."""
    a, b = pairs
    pid = event.particle_id
    return (pid[a] == pid[b]) & (pid[a] != 0) & ((event.rank[a] - event.rank[b]).abs() == 1)


def training_pairs(model: nn.Module, event: EmbeddingEvent, generator: torch.Generator, n_random: int, k_hard: int, n_hard_hits: int) -> tuple[Tensor, Tensor]:
    """(pairs (2, P), is_true (P,)) for one step on ``event``: true + random + hard-negative pairs."""
    n = event.features.shape[0]
    random_pairs = torch.randint(0, n, (2, n_random), generator=generator)
    parts = [event.true_pairs, random_pairs]
    if k_hard > 0 and n > k_hard + 1:
        with torch.no_grad():
            embedding = model(event.features)
        edges = knn_graph(embedding, k=k_hard)
        centres = torch.randperm(n, generator=generator)[: min(n_hard_hits, n)]
        chosen = torch.zeros(n, dtype=torch.bool)
        chosen[centres] = True
        parts.append(edges[:, chosen[edges[1]]])
    pairs = torch.cat(parts, dim=1)
    pairs = pairs[:, pairs[0] != pairs[1]]
    return pairs, label_pairs(event, pairs)


def train_embedding(
    model: nn.Module,
    events: list[EmbeddingEvent],
    epochs: int = 20,
    learning_rate: float = 1e-3,
    margin: float = 0.1,
    n_random: int = 20000,
    k_hard: int = 8,
    n_hard_hits: int = 4000,
    seed: int = 0,
    logger: logging.Logger | None = None,
) -> list[float]:
    """Train ``model`` in place with :func:`hinge_embedding_loss`; returns the mean loss per epoch."""
    if not events:
        raise ValueError("train_embedding needs at least one training event")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    history = []
    for epoch in range(epochs):
        model.train()
        losses = []
        for index in torch.randperm(len(events), generator=generator).tolist():
            event = events[index]
            pairs, is_true = training_pairs(model, event, generator, n_random, k_hard, n_hard_hits)
            embedding = model(event.features)
            sq_distance = (embedding[pairs[0]] - embedding[pairs[1]]).pow(2).sum(dim=1)
            loss = hinge_embedding_loss(sq_distance, is_true, margin)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
        scheduler.step()
        history.append(float(np.mean(losses)))
        if logger is not None:
            logger.info(f"  embedding epoch {epoch + 1}/{epochs}: hinge loss {history[-1]:.4f}")
    model.eval()
    return history
