"""Decode a QUBO solution: selected triplets → doublets → chains → TrackML submission.

1. The doublets of the selected triplets (each triplet (a, b, c) gives (a, b) and (b, c)).
2. Branches left by the solver (a hit with several selected outgoing, or incoming, doublets,
   i.e. unresolved conflicts) are cut: per hit we keep the outgoing doublet supported by the
   most selected triplets, then likewise the incoming one (ties: the shorter doublet in 3D).
3. Chains are the connected components of the remaining doublets
   (:func:`gnn4hep.tracking.building.components.component_labels`). A chain with fewer than
   ``min_hits`` hits is dropped. Every hit not on a chain becomes a one-hit track, so the
   submission assigns every hit of the event exactly once, as TrackML requires.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gnn4hep.tracking.building.components import component_labels
from gnn4hep.tracking.building.labels import labels_to_submission


def selected_variables(sample: Mapping | np.ndarray, n_variables: int) -> np.ndarray:
    """Rows (variable labels 0..n-1) set to 1 in a sample (dict, SampleView or 0/1 array)."""
    if isinstance(sample, np.ndarray):
        values = sample.astype(np.int64)
    else:
        values = np.zeros(n_variables, np.int64)
        for label, value in sample.items():
            values[int(label)] = int(value)
    if len(values) != n_variables:
        raise ValueError(f"sample has {len(values)} variables, the QUBO has {n_variables}")
    return np.flatnonzero(values == 1)


def selected_doublets(triplets: np.ndarray, selected: np.ndarray) -> pd.DataFrame:
    """Doublets of the selected triplets: ``hit_id_in, hit_id_out, support`` (number of triplets)."""
    chosen = triplets[selected]
    pairs = np.concatenate([chosen[:, :2], chosen[:, 1:]])
    table = pd.DataFrame({"hit_id_in": pairs[:, 0], "hit_id_out": pairs[:, 1]})
    return table.groupby(["hit_id_in", "hit_id_out"], as_index=False).size().rename(columns={"size": "support"})


def resolve_branches(doublets: pd.DataFrame, hits: pd.DataFrame) -> pd.DataFrame:
    """Keep at most one outgoing and one incoming doublet per hit (see the module docstring)."""
    if doublets.empty:
        return doublets
    xyz = hits.set_index("hit_id")[["x", "y", "z"]].astype(np.float64)
    length = np.linalg.norm(
        xyz.loc[doublets["hit_id_out"]].to_numpy() - xyz.loc[doublets["hit_id_in"]].to_numpy(), axis=1
    )
    table = doublets.assign(length=length).sort_values(["support", "length"], ascending=[False, True], kind="stable")
    table = table.drop_duplicates("hit_id_in", keep="first").drop_duplicates("hit_id_out", keep="first")
    return table.drop(columns="length").sort_index().reset_index(drop=True)


def chains_to_submission(doublets: pd.DataFrame, hit_ids: np.ndarray, min_hits: int = 3) -> pd.DataFrame:
    """Track ids from the connected components of ``doublets``; other hits get one-hit tracks.

    Returns:
        DataFrame ``hit_id, track_id`` with one row per entry of ``hit_ids`` (track ids from 1).
    """
    hit_ids = np.asarray(hit_ids, np.int64)
    position = pd.Series(np.arange(len(hit_ids)), index=hit_ids)
    edges = np.stack(
        [position.loc[doublets[c].to_numpy(np.int64)].to_numpy(np.int64) for c in ("hit_id_in", "hit_id_out")]
    ).reshape(2, -1)
    labels = component_labels(len(hit_ids), edges)
    return labels_to_submission(hit_ids, labels, min_hits=max(min_hits, 2))


def decode_sample(
    triplets: np.ndarray, sample: Mapping | np.ndarray, hits: pd.DataFrame, min_hits: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Submission and selected doublets (before branch resolution) of one QUBO sample.

    Args:
        triplets: (T, 3) hit ids of the QUBO variables.
        sample: the solution (variable label → 0/1).
        hits: the hits of the (reduced) event the QUBO was built from.
        min_hits: shortest chain kept as a track.

    Returns:
        (submission ``hit_id, track_id`` for every hit, doublets ``hit_id_in, hit_id_out, support``).
    """
    selected = selected_variables(sample, len(triplets))
    doublets = selected_doublets(triplets, selected)
    chains = resolve_branches(doublets, hits)
    return chains_to_submission(chains, hits["hit_id"].to_numpy(), min_hits=min_hits), doublets
