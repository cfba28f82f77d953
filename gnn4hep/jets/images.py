"""Jet images with the DeepTop pre-processing (Kasieczka, Plehn, Russell, Schell, arXiv:1701.08784).

Each constituent deposits its pT into a pixel of a (Δη, Δφ) grid of ``size × size`` pixels covering
[−extent, extent]² after pre-processing:

1. centring: shift (Δη, Δφ) so that the pT-weighted centroid is at the origin;
2. rotation: rotate so that the principal axis of the pT-weighted (Δη, Δφ) distribution (the
   direction of the second prong, for two-prong jets) is vertical;
3. flip: reflect so that at least half of the pT lies at Δη ≥ 0 and at Δφ ≥ 0 (more activity up and right);
4. normalisation: divide by the total pT in the image.

DeepTop centres on the leading subjet and rotates to the second; the moments used here do the same
job without a reclustering and are defined for every jet.
"""

from __future__ import annotations

import numpy as np

from gnn4hep.jets.constituents import Jets, pt_eta_phi, relative_coordinates


def preprocess_coordinates(deta: np.ndarray, dphi: np.ndarray, weights: np.ndarray, mask: np.ndarray,
                           rotate: bool = True, flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Centre, rotate and flip (N, M) coordinates with (N, M) pT weights; returns new (Δη, Δφ)."""
    w = np.where(mask, weights, 0.0).astype(np.float64)
    total = np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    x = deta - (w * deta).sum(axis=1, keepdims=True) / total
    y = dphi - (w * dphi).sum(axis=1, keepdims=True) / total
    if rotate:
        cxx = (w * x * x).sum(1) / total[:, 0]
        cyy = (w * y * y).sum(1) / total[:, 0]
        cxy = (w * x * y).sum(1) / total[:, 0]
        # angle of the principal (largest-variance) axis, measured from the Δη axis
        theta = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
        # rotate by (π/2 − θ): the principal axis becomes vertical
        alpha = (np.pi / 2 - theta)[:, None]
        x, y = x * np.cos(alpha) - y * np.sin(alpha), x * np.sin(alpha) + y * np.cos(alpha)
    if flip:
        x = np.where((w * np.sign(x)).sum(1, keepdims=True) < 0, -x, x)
        y = np.where((w * np.sign(y)).sum(1, keepdims=True) < 0, -y, y)
    return np.where(mask, x, 0.0), np.where(mask, y, 0.0)


def jet_images(jets: Jets, size: int = 40, extent: float = 1.0, rotate: bool = True, flip: bool = True,
               normalise: bool = True) -> np.ndarray:
    """(N, 1, size, size) float32 pT images; pixel [row, column] = (Δφ bin, Δη bin).

    Args:
        size: pixels per side (DeepTop: 40).
        extent: half-width of the image in Δη and Δφ (about the jet radius R).
        rotate, flip: DeepTop pre-processing steps (centring is always done).
        normalise: divide each image by its total pT.

    Constituents outside the window are dropped.
    """
    pt, _, _ = pt_eta_phi(jets.p4)
    deta, dphi = relative_coordinates(jets)
    x, y = preprocess_coordinates(deta, dphi, pt, jets.mask, rotate, flip)
    column = np.floor((x + extent) / (2 * extent) * size).astype(np.int64)
    row = np.floor((y + extent) / (2 * extent) * size).astype(np.int64)
    inside = jets.mask & (column >= 0) & (column < size) & (row >= 0) & (row < size)
    jet_index = np.broadcast_to(np.arange(len(jets))[:, None], pt.shape)
    flat = (jet_index * size + row) * size + column
    images = np.bincount(flat[inside], weights=pt[inside], minlength=len(jets) * size * size)
    images = images.reshape(len(jets), 1, size, size)
    if normalise:
        images = images / np.maximum(images.sum(axis=(1, 2, 3), keepdims=True), 1e-12)
    return images.astype(np.float32)
