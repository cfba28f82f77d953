"""Lightning wrapper that trains any edge-classifier ``nn.Module`` with class-weighted BCE.

The model maps a PyG ``Data``/``Batch`` to edge logits (E,); the target is ``batch.y`` (E,). The loss is

    L = mean_e [ -w y_e log sigma(l_e) - (1 - y_e) log(1 - sigma(l_e)) ],   w = pos_weight

(``torch.nn.functional.binary_cross_entropy_with_logits``). With ``pos_weight="auto"``,
w = n_negative / n_positive counted over the training set when training starts (summed over the
processes under DDP), which balances the classes. Logged: train_loss, val_loss, val_auc, val_efficiency,
val_purity (at ``edge_cut``); under DDP each is the mean over the processes of its share's value.
Build the ``lightning.Trainer`` with :func:`gnn4hep.training.trainer.make_trainer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import lightning as L
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from gnn4hep.training.edge_metrics import edge_metrics


def count_edges(graphs: Iterable) -> tuple[float, float]:
    """(true edges, all edges) of graphs or batches (from ``y``)."""
    n_pos = n_all = 0.0
    for graph in graphs:
        n_pos += float(graph.y.sum())
        n_all += float(graph.y.numel())
    return n_pos, n_all


def count_pos_weight(graphs: Iterable) -> float:
    """n_negative / n_positive of the edges (``y``) of graphs or batches; 1.0 when there is no positive."""
    n_pos, n_all = count_edges(graphs)
    return (n_all - n_pos) / n_pos if n_pos > 0 else 1.0


class EdgeClassifierModule(L.LightningModule):
    """Train an edge classifier (``model(batch) -> logits (E,)``) with class-weighted BCE.

    Args:
        model: the ``nn.Module`` (e.g. :class:`gnn4hep.models.interaction_network.InteractionNetwork`).
        learning_rate: Adam learning rate.
        pos_weight: weight of true edges in the BCE, or ``"auto"`` (n_neg / n_pos of the training set).
        edge_cut: score cut for the logged validation efficiency and purity.
        weight_decay: Adam weight decay.
        scheduler: ``"cosine"`` anneals the learning rate to 0 over ``max_epochs``; ``"none"`` keeps it.
    """

    def __init__(
        self,
        model: nn.Module,
        learning_rate: float = 1e-3,
        pos_weight: float | Literal["auto"] = "auto",
        edge_cut: float = 0.5,
        weight_decay: float = 0.0,
        scheduler: Literal["none", "cosine"] = "none",
    ):
        super().__init__()
        if pos_weight != "auto" and not (isinstance(pos_weight, (int, float)) and pos_weight > 0):
            raise ValueError(f"pos_weight must be a positive number or 'auto', got {pos_weight!r}")
        if scheduler not in ("none", "cosine"):
            raise ValueError(f"scheduler must be 'none' or 'cosine', got {scheduler!r}")
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.register_buffer("pos_weight", torch.tensor(1.0 if pos_weight == "auto" else float(pos_weight)))
        self._auto_pos_weight = pos_weight == "auto"
        self._val_scores: list[Tensor] = []
        self._val_truth: list[Tensor] = []

    def forward(self, batch: Data) -> Tensor:
        """Edge logits (E,)."""
        return self.model(batch)

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        """Class-weighted BCE on logits."""
        return nn.functional.binary_cross_entropy_with_logits(logits, y.float(), pos_weight=self.pos_weight)

    def on_train_start(self) -> None:
        if self._auto_pos_weight:
            counts = torch.tensor(count_edges(self.trainer.train_dataloader), dtype=torch.float64, device=self.device)
            if self.trainer.world_size > 1:  # under DDP each process sees its share of the training set
                counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
            n_pos, n_all = counts.tolist()
            self.pos_weight.fill_((n_all - n_pos) / n_pos if n_pos > 0 else 1.0)
            self._auto_pos_weight = False

    def training_step(self, batch: Data, batch_idx: int) -> Tensor:
        loss = self.loss(self(batch), batch.y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=batch.num_graphs if hasattr(batch, "num_graphs") else 1, sync_dist=True)
        return loss

    def validation_step(self, batch: Data, batch_idx: int) -> None:
        logits = self(batch)
        self.log("val_loss", self.loss(logits, batch.y), on_step=False, on_epoch=True, batch_size=batch.num_graphs if hasattr(batch, "num_graphs") else 1, sync_dist=True)
        self._val_scores.append(torch.sigmoid(logits).detach().cpu())
        self._val_truth.append(batch.y.detach().cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_scores:
            return
        metrics = edge_metrics(torch.cat(self._val_scores), torch.cat(self._val_truth), self.hparams.edge_cut)
        self._val_scores, self._val_truth = [], []
        for name in ("auc", "efficiency", "purity"):
            value = metrics[f"edge_{name}"]
            if value == value:  # not NaN
                self.log(f"val_{name}", value, sync_dist=True)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate, weight_decay=self.hparams.weight_decay)
        if self.hparams.scheduler == "cosine" and self.trainer is not None and self.trainer.max_epochs:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.trainer.max_epochs)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
        return optimizer


@torch.no_grad()
def predict_edge_scores(model: nn.Module, graphs: Sequence[Data], batch_size: int = 16, device: str | torch.device | None = None) -> list[Tensor]:
    """Edge scores sigmoid(model(graph)) of every graph, each (E_g,) float32 on the CPU.

    ``graphs`` is any indexable sequence of ``Data`` (a list, a ``HeptrkxDataset``, ...).

    Graphs are run in batches of ``batch_size`` (results equal one-at-a-time inference up to float
    rounding: message passing never crosses graphs). The model is put in eval mode and restored.
    """
    if isinstance(model, EdgeClassifierModule):
        model = model.model
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    scores: list[Tensor] = []
    try:
        for start in range(0, len(graphs), batch_size):
            chunk = [graphs[index] for index in range(start, min(start + batch_size, len(graphs)))]
            batch = Batch.from_data_list(chunk).to(device)
            logits = model(batch).float().cpu()
            sizes = [int(graph.edge_index.shape[1]) for graph in chunk]
            scores.extend(torch.sigmoid(part) for part in torch.split(logits, sizes))
    finally:
        model.train(was_training)
    return scores
