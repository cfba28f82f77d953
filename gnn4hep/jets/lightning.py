"""Lightning wrapper that trains any jet model of :mod:`gnn4hep.models` as a classifier.

The wrapped model declares ``input_names`` (e.g. ``("points", "features", "mask")``); batches are
dicts holding those tensors plus ``labels``. Loss: cross entropy on the logits; score: the
softmax probability of class 1 (signal).
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor, nn


class JetTaggerModule(L.LightningModule):
    """Train/validate/predict a jet tagger.

    Args:
        model: an ``nn.Module`` with ``input_names`` and ``forward(**inputs) -> logits (B, C)``.
        learning_rate: Adam learning rate.
        weight_decay: Adam weight decay.
        epochs: for the cosine learning-rate schedule (None: constant rate).
    """

    def __init__(self, model: nn.Module, learning_rate: float = 1e-3, weight_decay: float = 0.0,
                 epochs: int | None = None):
        super().__init__()
        self.model = model
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.model(**{name: batch[name] for name in self.model.input_names})

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        logits = self(batch)
        loss = nn.functional.cross_entropy(logits, batch["labels"])
        accuracy = (logits.argmax(-1) == batch["labels"]).float().mean()
        size = batch["labels"].shape[0]
        self.log(f"{stage}_loss", loss, prog_bar=True, on_epoch=True, on_step=False, batch_size=size)
        self.log(f"{stage}_accuracy", accuracy, on_epoch=True, on_step=False, batch_size=size)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        return torch.softmax(self(batch), dim=-1)[:, 1]

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        if not self.epochs:
            return optimizer
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.epochs)
        return {"optimizer": optimizer, "lr_scheduler": schedule}
