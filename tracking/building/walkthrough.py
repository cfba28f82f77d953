"""Track building by Exa.TrkX's "CC and walk" (Ju et al., arXiv:2103.06995; acorn ``CCandWalk``).

1. Keep edges with ``score > score_cut``; take the connected components.
2. Components that are simple paths (every node has at most one incoming and one outgoing kept
   edge) are tracks as they are.
3. The other components are resolved by a walk: nodes are visited in ``node_order`` (inner to
   outer, a topological order of the inner -> outer graph); from each node not yet used, the walk
   follows, at every step, the highest-score outgoing edge (score > ``walk_cut``) whose target is
   not used yet, until there is none. The path becomes a track and its hits are used.

Hits left in no track (and tracks shorter than ``min_hits``) become single-hit tracks. Steps 1-2
are vectorised; the walk is a loop over the hits of branching components only (a few percent of the
hits after a good classifier).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.building.components import check_graph_inputs, component_labels
from gnn4hep.tracking.building.labels import labels_to_submission


def _walk(nodes: np.ndarray, source: np.ndarray, target: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """Labels (N,) of the walked paths over ``nodes`` (visit order); -1 elsewhere."""
    order = np.lexsort((-scores, source))
    source, target = source[order], target[order]
    starts = np.searchsorted(source, np.arange(n + 1))
    targets = target.tolist()
    starts = starts.tolist()
    used = np.zeros(n, dtype=bool)
    labels = np.full(n, -1, dtype=np.int64)
    next_label = 0
    for node in nodes.tolist():
        if used[node]:
            continue
        current = node
        used[current] = True
        labels[current] = next_label
        while True:
            step = -1
            for k in range(starts[current], starts[current + 1]):
                if not used[targets[k]]:
                    step = targets[k]
                    break
            if step < 0:
                break
            used[step] = True
            labels[step] = next_label
            current = step
        next_label += 1
    return labels


def walkthrough_tracks(
    hit_ids: np.ndarray,
    edge_index: np.ndarray,
    edge_scores: np.ndarray,
    score_cut: float = 0.5,
    walk_cut: float | None = None,
    node_order: np.ndarray | None = None,
    min_hits: int = 1,
) -> pd.DataFrame:
    """``hit_id, track_id`` for every hit by CC-and-walk (module docstring).

    Args:
        hit_ids: (N,) TrackML hit ids.
        edge_index: (2, E) inner -> outer node indices.
        edge_scores: (E,) edge probabilities.
        score_cut: edges kept for the components.
        walk_cut: edges the walk may follow (default ``score_cut``).
        node_order: (N,) sort key giving the visit order (e.g. layer rank then distance from the
            origin); default: node index.
        min_hits: shorter tracks become single-hit tracks.
    """
    hit_ids, edge_index, edge_scores = check_graph_inputs(hit_ids, edge_index, edge_scores)
    n = len(hit_ids)
    walk_cut = score_cut if walk_cut is None else walk_cut
    kept = edge_scores > min(score_cut, walk_cut)
    cc_edges = edge_index[:, edge_scores > score_cut]
    labels = component_labels(n, cc_edges)
    in_degree = np.bincount(cc_edges[1], minlength=n)
    out_degree = np.bincount(cc_edges[0], minlength=n)
    branching = np.zeros(labels.max(initial=-1) + 1, dtype=bool)
    branching[labels[(in_degree > 1) | (out_degree > 1)]] = True
    ambiguous = branching[labels]
    final = np.where(ambiguous, -1, labels)
    if ambiguous.any():
        walk_edges = kept & (edge_scores > walk_cut) & ambiguous[edge_index[0]] & ambiguous[edge_index[1]]
        key = np.arange(n) if node_order is None else np.asarray(node_order)
        nodes = np.flatnonzero(ambiguous)
        nodes = nodes[np.argsort(key[nodes], kind="stable")]
        walked = _walk(nodes, edge_index[0, walk_edges], edge_index[1, walk_edges], edge_scores[walk_edges], n)
        offset = int(labels.max(initial=-1)) + 1
        final[ambiguous] = walked[ambiguous] + offset
    return labels_to_submission(hit_ids, final, min_hits=min_hits)
