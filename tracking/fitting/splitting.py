"""Split candidates that no helix fits: keep the hits of the best seed helix, move the others out.

A connected-components candidate often merges two particles; its Kalman fit then fails or has a
large chi2, and removing one hit at a time cannot repair it. Here the robust three-point seed of the
candidate (:func:`~gnn4hep.tracking.fitting.seeding.robust_seed`: the triplet whose helix passes
closest, in median, to the candidate's hits) defines the main track; hits farther than
``tolerance_mm`` transversally or ``tolerance_z_mm`` in z from that helix form a second candidate.
Vectorised over candidates (padded arrays); the caller refits both parts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.fitting.seeding import helix_residuals, robust_seed


def seed_members(table: pd.DataFrame, b_tesla: float, tolerance_mm: float = 3.0,
                 tolerance_z_mm: float = 20.0) -> np.ndarray:
    """Boolean per row of ``table`` (``track_id, x, y, z``, rows of a track contiguous and in track
    order): True where the hit lies on its candidate's best seed helix."""
    codes = pd.factorize(table["track_id"])[0]
    lengths = np.bincount(codes)
    width = int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    index = starts[:, None] + np.minimum(np.arange(width)[None, :], lengths[:, None] - 1)
    points = table[["x", "y", "z"]].to_numpy(np.float64)[index]
    triplet, phi, theta, qop = robust_seed(points, lengths, b_tesla)
    first = points[np.arange(len(lengths)), triplet[:, 0]]
    eps, dz = helix_residuals(first, phi, theta, qop, points, b_tesla)
    member = (np.abs(eps) < tolerance_mm) & (np.abs(dz) < tolerance_z_mm)
    valid = np.arange(width)[None, :] < lengths[:, None]
    out = np.zeros(len(table), dtype=bool)
    out[index[valid]] = member[valid]
    return out
