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


def mirror_jets(batch: dict[str, Tensor], flip_eta: Tensor, flip_phi: Tensor,
                feature_offsets: tuple[float, float] = (0.0, 0.0)) -> dict[str, Tensor]:
    """The batch with jet b mirrored about its axis: Δη → −Δη where ``flip_eta[b]``, Δφ → −Δφ where ``flip_phi[b]``.

    Args:
        batch: per-jet tensors; ``points`` (B, M, 2) = (Δη, Δφ) and columns 0, 1 of ``features`` (B, M, F)
            (Δη, Δφ, :data:`gnn4hep.jets.features.KINEMATIC_FEATURES`) are mirrored.
        flip_eta, flip_phi: (B,) bool.
        feature_offsets: for a feature column scaled as z = (x − μ) / σ the mirrored value −x scales to
            −z − 2μ/σ; these are the two 2μ/σ (0 for the fixed scaling, which leaves Δη and Δφ unscaled).

    Padded constituents stay 0. ΔR, pT and energies do not change under the mirror; ``vectors`` are left as they
    are (the Particle Transformer reads them only through pair features, ΔR, kT, z and m², that the mirror
    keeps), and ``images`` too (their preprocessing already fixes the orientation, :mod:`gnn4hep.jets.images`).
    """
    flips = torch.stack([flip_eta, flip_phi], dim=-1)  # (B, 2)
    out = dict(batch)
    mask = batch["mask"][..., None]
    if "points" in batch:
        out["points"] = torch.where(flips[:, None, :], -batch["points"], batch["points"])
    if "features" in batch:
        features = batch["features"]
        offsets = torch.tensor(feature_offsets, dtype=features.dtype, device=features.device)
        mirrored = torch.where(mask, -features[..., :2] - offsets, features[..., :2])
        angles = torch.where(flips[:, None, :], mirrored, features[..., :2])
        out["features"] = torch.cat([angles, features[..., 2:]], dim=-1)
    return out


def mirror_offsets(settings: InputSettings) -> tuple[float, float]:
    """The ``feature_offsets`` of :func:`mirror_jets` for features made with ``settings``."""
    if settings.scaling == "fixed" or settings.stats is None:
        return (0.0, 0.0)
    mean, std = settings.stats
    return (float(2 * mean[0] / std[0]), float(2 * mean[1] / std[1]))


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
