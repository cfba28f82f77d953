"""Track building by an edge-score cut and connected components (Exa.TrkX, arXiv:2103.06995).

Edges with ``score > score_cut`` are kept and the connected components of the resulting undirected
graph (``scipy.sparse.csgraph.connected_components``) are the track candidates. Components with
fewer than ``min_hits`` hits are split into single-hit tracks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gnn4hep.tracking.building.labels import labels_to_submission


def check_graph_inputs(hit_ids: np.ndarray, edge_index: np.ndarray, edge_scores: np.ndarray) -> tuple:
    """Validate shapes and ranges; returns numpy arrays (hit_ids int64, edge_index (2, E), scores)."""
    hit_ids = np.asarray(hit_ids, dtype=np.int64)
    edge_index = np.asarray(edge_index, dtype=np.int64)
    edge_scores = np.asarray(edge_scores, dtype=np.float64)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {edge_index.shape}")
    if edge_scores.shape != (edge_index.shape[1],):
        raise ValueError(f"edge_scores must have shape ({edge_index.shape[1]},), got {edge_scores.shape}")
    if edge_index.size and (edge_index.min() < 0 or edge_index.max() >= len(hit_ids)):
        raise ValueError(f"edge_index has node indices outside [0, {len(hit_ids)})")
    if not np.isfinite(edge_scores).all():
        raise ValueError("edge_scores has NaN or infinite values")
    return hit_ids, edge_index, edge_scores


def component_labels(n_nodes: int, edge_index: np.ndarray) -> np.ndarray:
    """Connected-component label of each node of the undirected graph ``edge_index``."""
    adjacency = sp.coo_matrix(
        (np.ones(edge_index.shape[1], dtype=np.int8), (edge_index[0], edge_index[1])), shape=(n_nodes, n_nodes)
    )
    return connected_components(adjacency, directed=False)[1]


def components_tracks(
    hit_ids: np.ndarray,
    edge_index: np.ndarray,
    edge_scores: np.ndarray,
    score_cut: float = 0.5,
    min_hits: int = 1,
) -> pd.DataFrame:
    """``hit_id, track_id`` for every hit from the components of the edges above ``score_cut``.

    Args:
        hit_ids: (N,) TrackML hit ids of the graph's nodes.
        edge_index: (2, E) node indices.
        edge_scores: (E,) edge-classifier probabilities.
        score_cut: edges with a score strictly above it are kept.
        min_hits: smaller components become single-hit tracks.
    """
    hit_ids, edge_index, edge_scores = check_graph_inputs(hit_ids, edge_index, edge_scores)
    kept = edge_index[:, edge_scores > score_cut]
    labels = component_labels(len(hit_ids), kept)
    return labels_to_submission(hit_ids, labels, min_hits=min_hits)
