"""Perturbed submissions built from the truth: to test the score and to show what it rewards.

Every function returns a TrackML submission table (``hit_id``, ``track_id``) covering every hit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def truth_submission(truth: pd.DataFrame) -> pd.DataFrame:
    """One track per particle; every noise hit in its own track."""
    pid = truth["particle_id"].to_numpy()
    track = pd.factorize(pid)[0].astype(np.int64)
    noise = pid == 0
    track[noise] = track.max(initial=0) + 1 + np.arange(int(noise.sum()))
    return pd.DataFrame({"hit_id": truth["hit_id"].to_numpy(), "track_id": track})


def reassign_random(submission: pd.DataFrame, fraction: float, seed: int = 0) -> pd.DataFrame:
    """Move ``fraction`` of the hits to tracks drawn at random among the existing ones."""
    rng = np.random.default_rng(seed)
    track = submission["track_id"].to_numpy().copy()
    moved = rng.random(len(track)) < fraction
    track[moved] = rng.choice(np.unique(track), int(moved.sum()))
    return submission.assign(track_id=track)


def split_tracks(truth: pd.DataFrame, submission: pd.DataFrame) -> pd.DataFrame:
    """Split every track in two halves along |tz| order (the second half gets a new track id)."""
    frame = pd.DataFrame(
        {"track_id": submission["track_id"].to_numpy(), "tz": np.abs(truth.set_index("hit_id").loc[submission["hit_id"], "tz"].to_numpy())}
    )
    rank = frame.groupby("track_id")["tz"].rank(method="first").to_numpy()
    size = frame.groupby("track_id")["tz"].transform("size").to_numpy()
    second = rank > size / 2
    offset = submission["track_id"].max() + 1
    track = np.where(second, submission["track_id"].to_numpy() + offset, submission["track_id"].to_numpy())
    return submission.assign(track_id=track)


def merge_tracks_pairwise(submission: pd.DataFrame) -> pd.DataFrame:
    """Merge tracks two by two (track ids sorted: 0 with 1, 2 with 3, ...)."""
    codes, _ = pd.factorize(submission["track_id"], sort=True)
    return submission.assign(track_id=(codes // 2).astype(np.int64))
