"""Graph-construction quality: efficiency, purity and size of a hit graph (pure functions).

- **efficiency**: the fraction of the event's true consecutive pairs
  (:func:`gnn4hep.graphs.truth.consecutive_pairs`) that are edges of the graph (either direction);
- **purity**: the fraction of edges that are true consecutive pairs (the mean of ``y``);
- the ``_pt1`` variants (pT > ``pt_min``, 1 GeV by default): efficiency over the pairs of particles
  above the threshold; purity = true edges of such particles / edges whose source hit belongs to
  such a particle (the Exa.TrkX convention of counting only the target particles' neighbourhoods);
- size: number of nodes and edges, and edges per node.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.graphs.truth import consecutive_pairs, hit_rank_along_particle


def graph_metrics(table: pd.DataFrame, edge_index: np.ndarray, pt_min: float = 1.0) -> dict[str, float]:
    """Efficiency, purity and size of ``edge_index`` (row positions of ``table``).

    Args:
        table: :func:`gnn4hep.graphs.features.hit_table` with truth (particle_id, distance, pt).
        edge_index: (2, E) edges.
        pt_min: threshold of the ``_pt1`` figures [GeV].
    """
    edge_index = np.asarray(edge_index, dtype=np.int64)
    pid = table["particle_id"].to_numpy()
    pt = table["pt"].to_numpy()
    n = len(table)
    true_pairs = consecutive_pairs(table)
    rank = hit_rank_along_particle(pid, table["distance"].to_numpy())
    source, target = edge_index
    same = (pid[source] == pid[target]) & (pid[source] != 0)
    is_true = same & (np.abs(rank[source] - rank[target]) == 1)
    # unique undirected true edges (a graph may hold both directions of a pair)
    lo = np.minimum(source, target)[is_true]
    hi = np.maximum(source, target)[is_true]
    found = np.unique(lo * n + hi)
    all_keys = np.minimum(true_pairs[0], true_pairs[1]) * n + np.maximum(true_pairs[0], true_pairs[1])
    pair_high = pt[true_pairs[0]] > pt_min
    found_pairs = np.isin(all_keys, found)
    source_high = pt[source] > pt_min
    n_edges = edge_index.shape[1]
    return {
        "efficiency": float(found_pairs.mean()) if len(all_keys) else float("nan"),
        "purity": float(is_true.mean()) if n_edges else float("nan"),
        "efficiency_pt1": float(found_pairs[pair_high].mean()) if pair_high.any() else float("nan"),
        "purity_pt1": float((is_true & source_high).sum() / source_high.sum()) if source_high.any() else float("nan"),
        "n_nodes": int(n),
        "n_edges": int(n_edges),
        "n_true_pairs": int(len(all_keys)),
        "edges_per_node": float(n_edges / n) if n else 0.0,
    }


def mean_metrics(per_event: list[dict[str, float]]) -> dict[str, float]:
    """Average of per-event metric dicts (NaNs ignored), keys of the first."""
    if not per_event:
        return {}
    return {key: float(np.nanmean([m[key] for m in per_event])) for key in per_event[0]}
