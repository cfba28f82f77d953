"""Cluster labels -> TrackML submission table."""

from __future__ import annotations

import numpy as np
import pandas as pd


def labels_to_submission(hit_ids: np.ndarray, labels: np.ndarray, min_hits: int = 1) -> pd.DataFrame:
    """``hit_id, track_id`` for every hit: one track per label >= 0; label -1 (unassigned) and
    labels with fewer than ``min_hits`` hits give each hit a track of its own.

    Track ids are 1..n_tracks (consecutive, in order of first appearance of the label).
    """
    hit_ids = np.asarray(hit_ids, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if hit_ids.shape != labels.shape:
        raise ValueError(f"hit_ids {hit_ids.shape} and labels {labels.shape} must have the same shape")
    if len(np.unique(hit_ids)) != len(hit_ids):
        raise ValueError("hit_ids must be unique")
    labels = labels.copy()
    if min_hits > 1 and (labels >= 0).any():
        counts = np.bincount(labels[labels >= 0])
        small = (labels >= 0) & (counts[np.maximum(labels, 0)] < min_hits)
        labels[small] = -1
    lonely = labels < 0
    offset = int(labels.max(initial=-1)) + 1
    labels[lonely] = offset + np.arange(int(lonely.sum()))
    _, track_id = np.unique(labels, return_inverse=True)
    return pd.DataFrame({"hit_id": hit_ids, "track_id": track_id.astype(np.int64) + 1})
