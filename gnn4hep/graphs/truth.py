"""Edge truth: which hit pairs are consecutive along a particle.

Definition used everywhere in gnn4hep (graph truth ``y``, graph efficiency, module maps, learned
layer-pair cuts): the hits of a particle are ordered by the 3-D distance of their TRUE position
(tx, ty, tz) from the particle's production vertex (vx, vy, vz) (the ``distance`` column of
:func:`gnn4hep.graphs.features.hit_table`); two hits are *consecutive* when they belong to the same
non-noise particle and are neighbours in that order. Hits on the same layer (module overlaps) are
consecutive too, so every particle with n hits has exactly n - 1 consecutive pairs. This order is
exact for tracks that do not loop back (pT above ~0.3 GeV in the barrel); the TrackML score orders
by |tz - vz| instead, which is degenerate for tracks at eta ~ 0.

Truth is orientation-free: an edge i -> j is true when {i, j} is a consecutive pair, whichever way
the graph builder directed it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def hit_rank_along_particle(particle_id: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """0-based position of each hit along its particle (by ``distance``); -1 for noise."""
    particle_id = np.asarray(particle_id)
    distance = np.nan_to_num(np.asarray(distance, dtype=np.float64), nan=0.0)
    order = np.lexsort((distance, particle_id))
    sorted_pid = particle_id[order]
    start = np.ones(len(order), dtype=bool)
    start[1:] = sorted_pid[1:] != sorted_pid[:-1]
    positions = np.arange(len(order))
    first = np.maximum.accumulate(np.where(start, positions, 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = positions - first
    rank[particle_id == 0] = -1
    return rank


def consecutive_pairs(table: pd.DataFrame) -> np.ndarray:
    """All true consecutive pairs of an event, shape (2, P), as row positions in ``table``.

    Row 0 is the hit earlier along the particle. ``table`` needs ``particle_id`` and ``distance``.
    """
    particle_id = table["particle_id"].to_numpy()
    distance = np.nan_to_num(table["distance"].to_numpy(np.float64), nan=0.0)
    order = np.lexsort((distance, particle_id))
    pid = particle_id[order]
    same = (pid[1:] == pid[:-1]) & (pid[1:] != 0)
    return np.stack([order[:-1][same], order[1:][same]]).astype(np.int64)


def edge_truth(edge_index: np.ndarray, particle_id: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """y (E,) float32: 1 where the edge joins two consecutive hits of one particle (either way)."""
    source, target = np.asarray(edge_index)
    same = (particle_id[source] == particle_id[target]) & (particle_id[source] != 0)
    return (same & (np.abs(rank[source] - rank[target]) == 1)).astype(np.float32)


def same_particle(edge_index: np.ndarray, particle_id: np.ndarray) -> np.ndarray:
    """(E,) bool: both hits from the same non-noise particle (the looser HEP.TrkX truth)."""
    source, target = np.asarray(edge_index)
    return (particle_id[source] == particle_id[target]) & (particle_id[source] != 0)


def orient_pairs(pairs: np.ndarray, rank: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Direct pairs inner -> outer: lower layer rank first, ties by distance from the origin.

    Args:
        pairs: (2, P) hit positions.
        rank: (N,) layer rank of each hit (:data:`gnn4hep.graphs.layers.LAYER_RANK`).
        radius: (N,) distance of each hit from the origin (sqrt(r^2 + z^2)).
    """
    a, b = np.asarray(pairs)
    swap = (rank[a] > rank[b]) | ((rank[a] == rank[b]) & (radius[a] > radius[b]))
    return np.stack([np.where(swap, b, a), np.where(swap, a, b)])
