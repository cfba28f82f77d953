"""Hinge (contrastive) training of the hit-embedding MLP (metric-learning graph construction).

Loss of Ju et al. (arXiv:2103.06995, sec. 3.1), on squared embedding distances d_ij^2:

    L = sum_{true pairs} d_ij^2  +  sum_{fake pairs} max(0, m - d_ij^2)        (both averaged)

with m the hinge margin (``margin``, squared distance): true consecutive pairs are pulled together,
fake pairs pushed beyond sqrt(m). Training pairs per event and step:

- the true consecutive pairs (:func:`gnn4hep.graphs.truth.consecutive_pairs`);
- ``n_random`` random hit pairs (almost all fake);
- hard negatives: the ``k_hard`` nearest neighbours of a random subset of hits in the *current*
  embedding (:func:`gnn4hep.neighbors.knn_graph`), labelled by truth (true ones count as true).

Training (:func:`fit_embedding`): :class:`EmbeddingModule` through
:func:`gnn4hep.training.trainer.fit_resumable` (the ``trainer:`` section: CPU/GPU, DDP, precision,
threads; full checkpoints in ``<run_dir>/checkpoints/<name>/``), one event per step in the seeded
order of :mod:`gnn4hep.training.sampling`; the random and hard-negative pairs of a step are drawn
from (seed, epoch, event) only. Adam with a cosine schedule; logged: ``train_loss`` (mean over the
epoch's events).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from torch import Tensor, nn

from gnn4hep.neighbors import knn_graph
from gnn4hep.training.trainer import LossHistory, TrainerConfig


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
    """(pairs (2, P), is_true (P,)) for one step on ``event``: true + random + hard-negative pairs.

    ``generator`` is a CPU generator (the draws do not depend on the device); the pairs are on the
    device of ``event.features``.
    """
    n = event.features.shape[0]
    device = event.features.device
    random_pairs = torch.randint(0, n, (2, n_random), generator=generator).to(device)
    parts = [event.true_pairs, random_pairs]
    if k_hard > 0 and n > k_hard + 1:
        with torch.no_grad():
            embedding = model(event.features).float()
        edges = knn_graph(embedding, k=k_hard).to(device)
        centres = torch.randperm(n, generator=generator)[: min(n_hard_hits, n)].to(device)
        chosen = torch.zeros(n, dtype=torch.bool, device=device)
        chosen[centres] = True
        parts.append(edges[:, chosen[edges[1]]])
    pairs = torch.cat(parts, dim=1)
    pairs = pairs[:, pairs[0] != pairs[1]]
    return pairs, label_pairs(event, pairs)


class EmbeddingModule(LossHistory, L.LightningModule):
    """Train a hit-embedding model (``model(features (N, F)) -> (N, D)``) with
    :func:`hinge_embedding_loss` on one :class:`EmbeddingEvent` per step.

    A batch is ``(index, event)`` from :func:`gnn4hep.training.sampling.event_loader`; the step's
    random and hard-negative pairs come from :func:`gnn4hep.training.sampling.step_generator`
    (seed, epoch, index). Distances and loss in float32 whatever the precision. ``loss_history``
    (mean hinge loss per finished epoch) travels in the checkpoints.
    """

    history_label = "embedding"

    def __init__(self, model: nn.Module, learning_rate: float = 1e-3, margin: float = 0.1, n_random: int = 20000, k_hard: int = 8,
                 n_hard_hits: int = 4000, seed: int = 0, logger: logging.Logger | None = None):
        super().__init__()
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.save_hyperparameters(ignore=["model", "logger"])
        self.model = model
        self.loss_history: list[float] = []
        self._python_logger = logger

    def forward(self, features: Tensor) -> Tensor:
        return self.model(features)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        from gnn4hep.training.sampling import step_generator

        index, event = batch
        h = self.hparams
        generator = step_generator(h.seed, self.current_epoch, int(index))
        pairs, is_true = training_pairs(self.model, event, generator, h.n_random, h.k_hard, h.n_hard_hits)
        embedding = self(event.features).float()
        sq_distance = (embedding[pairs[0]] - embedding[pairs[1]]).pow(2).sum(dim=1)
        loss = hinge_embedding_loss(sq_distance, is_true, h.margin)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=1, sync_dist=True)
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(self.trainer.max_epochs or 1), 1))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def fit_embedding(
    model: nn.Module,
    events: list[EmbeddingEvent],
    trainer_config: TrainerConfig,
    run_dir: str | Path,
    name: str = "embedding",
    seed: int = 0,
    epochs: int | None = None,
    learning_rate: float = 1e-3,
    margin: float = 0.1,
    n_random: int = 20000,
    k_hard: int = 8,
    n_hard_hits: int = 4000,
    logger: logging.Logger | None = None,
    callbacks: list | None = None,
) -> list[float]:
    """Train ``model`` in place with Lightning; returns the mean hinge loss of each epoch.

    Args:
        events: training events, one per step.
        trainer_config: the ``trainer:`` section (accelerator, devices/strategy, precision, threads, ...);
            its ``learning_rate`` and ``batch_size`` belong to the edge classifier and are not used.
        run_dir: folder of ``checkpoints/<name>/{best,last}.ckpt`` and ``logs/<name>/metrics.csv``; a
            ``last.ckpt`` already there (an interrupted run) is continued.
        seed: event order and pair draws (:mod:`gnn4hep.training.sampling`); the caller seeds the
            model's initial weights.
        epochs: None: ``trainer_config.max_epochs``.
        margin, n_random, k_hard, n_hard_hits: loss and pairs (module docstring).
        callbacks: more Lightning callbacks.
    """
    from gnn4hep.training.sampling import event_loader
    from gnn4hep.training.trainer import checkpoint_loss_history, fit_resumable

    if not events:
        raise ValueError("fit_embedding needs at least one training event")
    config = trainer_config.model_copy(update={"max_epochs": epochs or trainer_config.max_epochs, "learning_rate": learning_rate,
                                               "monitor": "train_loss"})
    module = EmbeddingModule(model, learning_rate=learning_rate, margin=margin, n_random=n_random, k_hard=k_hard,
                             n_hard_hits=n_hard_hits, seed=seed, logger=logger)
    fit_resumable(module, event_loader(events, seed), config, run_dir, name, callbacks)
    model.cpu().eval()
    return checkpoint_loss_history(run_dir, name) or list(module.loss_history)
