"""HDBSCAN track builder: separated blobs become tracks, low-beta hits stay alone, bad input named."""

from __future__ import annotations

import numpy as np
import pytest

from gnn4hep.tracking.building import hdbscan_tracks


def _blobs(seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(6, 3))
    labels = np.repeat(np.arange(6), 8)
    points = centres[labels] + rng.normal(0, 0.02, size=(len(labels), 3))
    return points, labels


def test_blobs_are_recovered_exactly():
    points, labels = _blobs()
    hit_ids = np.arange(100, 100 + len(points))
    submission = hdbscan_tracks(hit_ids, points, min_cluster_size=3, min_samples=2)
    assert list(submission["hit_id"]) == list(hit_ids)
    found = submission["track_id"].to_numpy()
    # same partition: every true cluster maps to exactly one track and vice versa
    pairs = set(zip(labels.tolist(), found.tolist()))
    assert len(pairs) == 6 == len(set(found))


def test_low_beta_hits_become_single_tracks():
    points, _ = _blobs()
    beta = np.full(len(points), 0.9)
    beta[:8] = 0.01  # the whole first blob is "noise"
    submission = hdbscan_tracks(np.arange(len(points)), points, beta, beta_noise=0.1)
    first = submission["track_id"].to_numpy()[:8]
    assert len(set(first)) == 8
    assert submission["track_id"].nunique() == 5 + 8


def test_bad_coordinates_are_errors():
    with pytest.raises(ValueError, match="rows"):
        hdbscan_tracks(np.arange(3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        hdbscan_tracks(np.arange(3), np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 1.0]]))
