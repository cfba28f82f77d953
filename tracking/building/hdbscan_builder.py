"""Track candidates by HDBSCAN on learned per-hit cluster coordinates (object condensation).

Lieret & DeZoort (arXiv:2309.16754) cluster the condensation space of an object-condensation
network; here HDBSCAN (Campello, Moulavi, Sander 2013; the ``hdbscan`` package, McInnes et al.,
about 5x faster than scikit-learn's on 1e5 points) does it. Hits with beta below ``beta_noise``
(the network's noise verdict) are left out of the clustering and become single-hit tracks, as do
HDBSCAN's noise points (label -1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.building.labels import labels_to_submission


def hdbscan_labels(
    coordinates: np.ndarray,
    min_cluster_size: int = 3,
    min_samples: int | None = 2,
    cluster_selection_epsilon: float = 0.0,
    cluster_selection_method: str = "eom",
) -> np.ndarray:
    """HDBSCAN cluster label (N,) of points (N, D); -1 = noise."""
    import hdbscan

    coordinates = np.ascontiguousarray(coordinates, dtype=np.float64)
    if coordinates.ndim != 2:
        raise ValueError(f"coordinates must be (N, D), got shape {coordinates.shape}")
    if len(coordinates) < max(2, min_cluster_size):
        return np.full(len(coordinates), -1, dtype=np.int64)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        cluster_selection_epsilon=cluster_selection_epsilon,
        cluster_selection_method=cluster_selection_method,
        core_dist_n_jobs=1,
    )
    return clusterer.fit_predict(coordinates).astype(np.int64)


def hdbscan_tracks(
    hit_ids: np.ndarray,
    coordinates: np.ndarray,
    beta: np.ndarray | None = None,
    beta_noise: float = 0.0,
    min_cluster_size: int = 3,
    min_samples: int | None = 2,
    cluster_selection_epsilon: float = 0.0,
    cluster_selection_method: str = "eom",
) -> pd.DataFrame:
    """The TrackML submission (``hit_id, track_id``, every hit once) of HDBSCAN clusters.

    Args:
        hit_ids: (N,) hit ids.
        coordinates: (N, D) learned cluster coordinates.
        beta: (N,) condensation strength, or None (no noise filter).
        beta_noise: hits with beta < beta_noise are not clustered (single-hit tracks).
        min_cluster_size, min_samples, cluster_selection_epsilon, cluster_selection_method:
            HDBSCAN's parameters.
    """
    hit_ids = np.asarray(hit_ids, dtype=np.int64)
    coordinates = np.asarray(coordinates)
    if coordinates.shape[0] != hit_ids.shape[0]:
        raise ValueError(f"coordinates have {coordinates.shape[0]} rows for {hit_ids.shape[0]} hits")
    if not np.isfinite(coordinates).all():
        raise ValueError("coordinates contain NaN or infinite values")
    keep = np.ones(len(hit_ids), dtype=bool) if beta is None else np.asarray(beta) >= beta_noise
    labels = np.full(len(hit_ids), -1, dtype=np.int64)
    labels[keep] = hdbscan_labels(coordinates[keep], min_cluster_size, min_samples, cluster_selection_epsilon, cluster_selection_method)
    return labels_to_submission(hit_ids, labels)
