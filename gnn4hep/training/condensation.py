"""Object-condensation loss (Kieseler, arXiv:2002.03605; as used for tracking by Lieret & DeZoort,
arXiv:2309.16754) and its Lightning training of :class:`~gnn4hep.models.condensation_net.CondensationNet`.

For hits i = 1..N with cluster coordinates x_i and beta_i in (0, 1), charge

    q_i = arctanh(beta_i)^2 + q_min.

Each object alpha (a particle that counts: pT > pt_min and at least ``min_hits`` hits; every other
hit is *noise*) has its condensation point alpha' = argmax_{i in alpha} beta_i, with x_alpha, q_alpha.
With M_{i alpha} = 1 when hit i belongs to alpha:

    V_att(i, alpha) = ||x_i - x_alpha||^2 q_alpha
    V_rep(i, alpha) = max(0, 1 - ||x_i - x_alpha||) q_alpha
    L_att = 1/N sum_i q_i sum_alpha M_{i alpha} V_att(i, alpha)
    L_rep = 1/N sum_i q_i sum_alpha (1 - M_{i alpha}) V_rep(i, alpha)
    L_beta = 1/K sum_alpha (1 - beta_alpha)  +  s_B / N_B sum_{i noise} beta_i

(K objects, N_B noise hits). Noise hits are not attracted anywhere; they are repelled from every
condensation point and their beta is pushed to 0, so they can be dropped before clustering
(beta < beta_noise). Total: L = L_att + w_rep L_rep + w_beta L_beta.

The repulsive sum over (hit, object) pairs is evaluated only where ||x_i - x_alpha|| < 1 (the
hinge is zero elsewhere), found with k-d trees per step (:func:`hits_near_points`): memory O(N + pairs within 1).

Training (:func:`fit_condensation`): :class:`CondensationModule` through
:func:`gnn4hep.training.trainer.fit_resumable` (the ``trainer:`` section: CPU/GPU, DDP, precision,
threads; full checkpoints in ``<run_dir>/checkpoints/<name>/``), one event per step in the seeded
order of :mod:`gnn4hep.training.sampling`, Adam with a cosine schedule, gradient norm clipped (1.0
unless ``trainer.gradient_clip`` says otherwise). Logged: ``train_loss`` (mean over the epoch's
events) and its three terms.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from gnn4hep.models.condensation_net import BETA_EPS
from gnn4hep.training.trainer import LossHistory, TrainerConfig


def hits_near_points(hits: Tensor, points: Tensor, radius: float = 1.0) -> tuple[Tensor, Tensor]:
    """All (hit i, point alpha) with ||hits_i - points_alpha|| < radius: two k-d trees
    (``scipy.spatial.cKDTree.sparse_distance_matrix``), never the hit-hit pairs."""
    from scipy.spatial import cKDTree

    if len(hits) == 0 or len(points) == 0:
        empty = torch.empty(0, dtype=torch.long, device=hits.device)
        return empty, empty
    pairs = cKDTree(hits.cpu().numpy()).sparse_distance_matrix(cKDTree(points.cpu().numpy()), radius, output_type="ndarray")
    device = hits.device
    return torch.from_numpy(pairs["i"].astype(np.int64)).to(device), torch.from_numpy(pairs["j"].astype(np.int64)).to(device)


def condensation_targets(particle_id: Tensor, pt: Tensor, pt_min: float, min_hits: int) -> Tensor:
    """(N,) long object index of each hit (0..K-1), -1 for noise / objects that do not count."""
    pid = particle_id.long()
    unique, inverse, counts = torch.unique(pid, return_inverse=True, return_counts=True)
    counts_per_hit = counts[inverse]
    good = (pid != 0) & (pt > pt_min) & (counts_per_hit >= min_hits)
    kept = torch.unique(inverse[good])
    remap = torch.full((len(unique),), -1, dtype=torch.long)
    remap[kept] = torch.arange(len(kept))
    return torch.where(good, remap[inverse], torch.full_like(inverse, -1))


def condensation_loss(
    coordinates: Tensor,
    beta: Tensor,
    object_id: Tensor,
    q_min: float = 0.01,
    noise_weight: float = 1.0,
    repulsion_weight: float = 1.0,
    beta_weight: float = 1.0,
) -> dict[str, Tensor]:
    """The loss terms of the module docstring: {"attractive", "repulsive", "beta", "total"}.

    Args:
        coordinates: (N, D) cluster coordinates.
        beta: (N,) in (0, 1).
        object_id: (N,) from :func:`condensation_targets` (-1 = noise).
        q_min: minimal charge; noise_weight: s_B; repulsion_weight, beta_weight: term weights.
    """
    n = coordinates.shape[0]
    q = torch.atanh(beta) ** 2 + q_min
    is_object = object_id >= 0
    n_objects = int(object_id.max()) + 1 if bool(is_object.any()) else 0
    zero = coordinates.new_zeros(())
    if n_objects == 0:
        noise_term = beta.mean() * noise_weight if n else zero
        return {"attractive": zero, "repulsive": zero, "beta": noise_term, "total": beta_weight * noise_term}
    # condensation point of each object: its hit of largest beta
    hits = torch.nonzero(is_object).squeeze(1)
    best_beta = torch.full((n_objects,), -1.0, dtype=beta.dtype, device=beta.device).scatter_reduce(0, object_id[hits], beta[hits].detach(), reduce="amax")
    is_best = is_object & (beta.detach() == best_beta[object_id.clamp(min=0)])
    condensation_hit = torch.zeros(n_objects, dtype=torch.long, device=beta.device)
    condensation_hit[object_id[is_best]] = torch.nonzero(is_best).squeeze(1)
    x_alpha, q_alpha, beta_alpha = coordinates[condensation_hit], q[condensation_hit], beta[condensation_hit]
    # attraction of each object's hits to its condensation point
    sq = (coordinates[hits] - x_alpha[object_id[hits]]).pow(2).sum(dim=1)
    attractive = (q[hits] * sq * q_alpha[object_id[hits]]).sum() / n
    # repulsion of every hit from the other objects' condensation points within distance 1
    i, alpha = hits_near_points(coordinates.detach(), x_alpha.detach(), radius=1.0)
    other = object_id[i] != alpha
    i, alpha = i[other], alpha[other]
    distance = (coordinates[i] - x_alpha[alpha]).pow(2).sum(dim=1).add(1e-12).sqrt()
    repulsive = (q[i] * torch.relu(1.0 - distance) * q_alpha[alpha]).sum() / n
    beta_term = (1.0 - beta_alpha).mean()
    noise = ~is_object
    if bool(noise.any()):
        beta_term = beta_term + noise_weight * beta[noise].mean()
    total = attractive + repulsion_weight * repulsive + beta_weight * beta_term
    return {"attractive": attractive, "repulsive": repulsive, "beta": beta_term, "total": total}


class CondensationModule(LossHistory, L.LightningModule):
    """Train a condensation network (``model(x, edge_index) -> (coordinates (N, D), beta (N,))``)
    with :func:`condensation_loss` on one event per step.

    A batch is ``(index, graph)`` from :func:`gnn4hep.training.sampling.event_loader`, the graph with
    ``x``, ``edge_index`` and ``object_id`` (:func:`condensation_targets`). The loss runs in float32
    whatever the precision (beta re-clamped to [eps, 1 - eps] so that arctanh stays finite).
    ``loss_history`` (mean training loss per finished epoch) travels in the checkpoints; ``seed`` (of
    the event order) is recorded with the hyperparameters, so that a checkpoint of another seed is
    never continued.
    """

    history_label = "condensation"

    def __init__(self, model: nn.Module, learning_rate: float = 1e-3, q_min: float = 0.01, noise_weight: float = 1.0,
                 repulsion_weight: float = 1.0, beta_weight: float = 1.0, seed: int = 0, logger: logging.Logger | None = None):
        super().__init__()
        self.save_hyperparameters(ignore=["model", "logger"])
        self.model = model
        self.loss_history: list[float] = []
        self._python_logger = logger

    def forward(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        return self.model(x, edge_index)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        _, graph = batch
        coordinates, beta = self(graph.x, graph.edge_index)
        terms = condensation_loss(
            coordinates.float(), beta.float().clamp(BETA_EPS, 1 - BETA_EPS), graph.object_id, q_min=self.hparams.q_min,
            noise_weight=self.hparams.noise_weight, repulsion_weight=self.hparams.repulsion_weight, beta_weight=self.hparams.beta_weight,
        )  # fmt: skip
        for key in ("attractive", "repulsive", "beta"):
            self.log(f"train_{key}", terms[key], on_step=False, on_epoch=True, batch_size=1, sync_dist=True)
        self.log("train_loss", terms["total"], on_step=False, on_epoch=True, batch_size=1, sync_dist=True)
        return terms["total"]

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(self.trainer.max_epochs or 1), 1))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def condensation_events(graphs: list, pt_min: float, min_hits: int) -> list:
    """Training items of hit graphs (``x``, ``edge_index``, ``particle_id``, ``pt``): graphs with
    ``x``, ``edge_index`` and ``object_id`` only (:func:`condensation_targets`)."""
    from torch_geometric.data import Data

    return [Data(x=g.x, edge_index=g.edge_index, object_id=condensation_targets(g.particle_id, g.pt, pt_min, min_hits), num_nodes=g.x.shape[0])
            for g in graphs]


def fit_condensation(
    model: nn.Module,
    graphs: list,
    trainer_config: TrainerConfig,
    run_dir: str | Path,
    name: str = "condensation_net",
    seed: int = 0,
    epochs: int | None = None,
    learning_rate: float | None = None,
    pt_min: float = 0.0,
    min_hits: int = 3,
    q_min: float = 0.01,
    noise_weight: float = 1.0,
    repulsion_weight: float = 1.0,
    logger: logging.Logger | None = None,
    callbacks: list | None = None,
) -> list[float]:
    """Train ``model`` in place with Lightning; returns the mean training loss of each epoch.

    Args:
        graphs: training hit graphs (``x``, ``edge_index``, ``particle_id``, ``pt``), one per step.
        trainer_config: the ``trainer:`` section (accelerator, devices/strategy, precision, threads, ...).
        run_dir: folder of ``checkpoints/<name>/{best,last}.ckpt`` and ``logs/<name>/metrics.csv``; a
            ``last.ckpt`` already there (an interrupted run) is continued.
        seed: order of the events per epoch (:mod:`gnn4hep.training.sampling`); the caller seeds the
            model's initial weights.
        epochs, learning_rate: None: ``trainer_config.max_epochs`` / ``learning_rate``.
        pt_min (GeV), min_hits: objects that count (:func:`condensation_targets`).
        callbacks: more Lightning callbacks.
    """
    from gnn4hep.training.sampling import event_loader
    from gnn4hep.training.trainer import checkpoint_loss_history, fit_resumable

    if not graphs:
        raise ValueError("fit_condensation needs at least one training graph")
    config = trainer_config.model_copy(update={
        "max_epochs": epochs or trainer_config.max_epochs, "learning_rate": learning_rate or trainer_config.learning_rate,
        "monitor": "train_loss", "gradient_clip": trainer_config.gradient_clip or 1.0,
    })  # fmt: skip
    module = CondensationModule(model, learning_rate=config.learning_rate, q_min=q_min, noise_weight=noise_weight,
                                repulsion_weight=repulsion_weight, seed=seed, logger=logger)
    fit_resumable(module, event_loader(condensation_events(graphs, pt_min, min_hits), seed), config, run_dir, name, callbacks)
    model.cpu().eval()
    return checkpoint_loss_history(run_dir, name) or list(module.loss_history)

