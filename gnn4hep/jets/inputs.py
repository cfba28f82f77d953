"""Model inputs from jets: tensors, a dataset of dicts and a collate that trims padding.

``make_inputs`` computes, once per jet set, the tensors the chosen models read:
``features`` (N, M, F) scaled as ``InputSettings.scaling`` says (weaver's fixed constants, or the
training set's statistics), ``points`` (N, M, 2)
(Δη, Δφ), ``vectors`` (N, M, 4) four-momenta (px, py, pz, E) in GeV, ``weights`` (N, M) momentum fractions z_i, ``mask`` (N, M), ``images``
(N, 1, S, S) (pT-normalised, then divided by the training set's pixel standard deviation) and ``labels`` (N,). Constituents are pT-ordered, so the collate function cuts each
batch at its largest multiplicity: a jet set padded to 128 costs what its real multiplicities cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from gnn4hep.jets import features as F
from gnn4hep.jets.constituents import Jets

PER_CONSTITUENT = ("features", "points", "vectors", "weights", "mask")


@dataclass
class InputSettings:
    """How inputs are built: PID features, image size and half-width, feature scaling and statistics."""

    use_pid: bool = True
    image_size: int = 40
    image_extent: float = 1.0
    stats: Optional[tuple[np.ndarray, np.ndarray]] = None
    scaling: str = "fixed"
    """"fixed" (weaver's constants, clipped to ±5) or "fitted" (z-score with ``stats``)."""
    image_scale: Optional[float] = None
    """images are divided by this (the training set's pixel standard deviation) so CNN inputs are O(1)."""


def make_inputs(jets: Jets, names: set[str], settings: InputSettings) -> dict[str, Tensor]:
    """The tensors in ``names`` (plus ``mask`` and ``labels``); fits ``settings.stats`` when unset."""
    out: dict[str, Tensor] = {"labels": torch.from_numpy(jets.labels), "mask": torch.from_numpy(jets.mask)}
    if "features" in names:
        raw = F.constituent_features(jets, settings.use_pid)
        scaled, settings.stats = F.scale_features(raw, F.feature_names(jets, settings.use_pid), jets.mask,
                                                  settings.scaling, settings.stats)
        out["features"] = torch.from_numpy(scaled)
    if "points" in names:
        out["points"] = torch.from_numpy(F.point_coordinates(jets))
    if "vectors" in names:
        out["vectors"] = torch.from_numpy(np.where(jets.mask[..., None], jets.p4, 0.0).astype(np.float32))
    if "weights" in names:
        out["weights"] = torch.from_numpy(F.momentum_fractions(jets))
    if "images" in names:
        from gnn4hep.jets.images import jet_images

        images = jet_images(jets, settings.image_size, settings.image_extent)
        if settings.image_scale is None:
            settings.image_scale = float(images.std()) or 1.0
        out["images"] = torch.from_numpy(images / np.float32(settings.image_scale))
    return out


class JetDataset(torch.utils.data.Dataset):
    """Index -> dict of per-jet tensors."""

    def __init__(self, tensors: dict[str, Tensor]):
        self.tensors = tensors
        self.length = len(tensors["labels"])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {name: value[index] for name, value in self.tensors.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        index = torch.as_tensor(indices)
        return {name: value[index] for name, value in self.tensors.items()}


def collate_trimmed(batch) -> dict[str, Tensor]:
    """Stack (if needed) and cut per-constituent tensors at the batch's largest multiplicity."""
    if isinstance(batch, list):
        batch = {name: torch.stack([item[name] for item in batch]) for name in batch[0]}
    longest = max(int(batch["mask"].sum(dim=1).max()), 1)
    return {name: value[:, :longest] if name in PER_CONSTITUENT else value for name, value in batch.items()}


def loader(tensors: dict[str, Tensor], batch_size: int, shuffle: bool, seed: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader over :class:`JetDataset` with :func:`collate_trimmed`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(JetDataset(tensors), batch_size=batch_size, shuffle=shuffle,
                                       collate_fn=collate_trimmed, generator=generator)
