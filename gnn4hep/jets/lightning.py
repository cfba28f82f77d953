"""Lightning wrapper that trains any jet model of :mod:`gnn4hep.models` as a classifier.

The wrapped model declares ``input_names`` (e.g. ``("points", "features", "mask")``); batches are
dicts holding those tensors plus ``labels``. Loss: cross entropy on the logits; score: the
softmax probability of class 1 (signal). Optimizer and learning-rate schedule: the shared training
recipe (:mod:`gnn4hep.jets.recipe`).
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor, nn

from gnn4hep.jets.inputs import mirror_jets
from gnn4hep.jets.recipe import RecipeConfig, make_optimizer, make_scheduler


class JetTaggerModule(L.LightningModule):
    """Train/validate/predict a jet tagger.

    Args:
        model: an ``nn.Module`` with ``input_names`` and ``forward(**inputs) -> logits (B, C)``.
        recipe: optimizer, learning rate and schedule (default: the recipe's defaults).
        max_epochs: the epochs the schedule spans (default: ``recipe.max_epochs``).
        mirror_offsets: ``feature_offsets`` of :func:`gnn4hep.jets.inputs.mirror_jets` for ``recipe.augment``
            "mirror" (0, 0 for the fixed feature scaling).
    """

    def __init__(self, model: nn.Module, recipe: RecipeConfig | None = None, max_epochs: int | None = None,
                 mirror_offsets: tuple[float, float] = (0.0, 0.0)):
        super().__init__()
        self.model = model
        self.recipe = recipe or RecipeConfig()
        self.max_epochs = max_epochs or self.recipe.max_epochs
        self.mirror_offsets = mirror_offsets

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
        if self.recipe.augment == "mirror":
            size = batch["labels"].shape[0]
            flips = torch.rand(2, size, device=batch["labels"].device) < 0.5
            batch = mirror_jets(batch, flips[0], flips[1], self.mirror_offsets)
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        return torch.softmax(self(batch), dim=-1)[:, 1]

    def configure_optimizers(self):
        optimizer = make_optimizer(self.parameters(), self.recipe)
        schedule = make_scheduler(optimizer, self.recipe, self.max_epochs)
        return optimizer if schedule is None else {"optimizer": optimizer, "lr_scheduler": schedule}
