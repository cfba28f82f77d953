"""Assemble a hit graph (PyG ``Data`` in the :mod:`gnn4hep.graphs.schema` schema) from a hit table
and an edge list, with edge truth and evaluation attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from gnn4hep.graphs.features import node_features
from gnn4hep.graphs.heptrkx import geometric_edge_features
from gnn4hep.graphs.truth import edge_truth, hit_rank_along_particle


def make_hit_graph(
    table: pd.DataFrame,
    edge_index: np.ndarray,
    event_id: int = 0,
    cell_features: bool = False,
    edge_features: bool = True,
) -> Data:
    """A hit graph of the schema: x, edge_index, y, hit_id, particle_id, pt, layer, event_id.

    Args:
        table: :func:`gnn4hep.graphs.features.hit_table` of the event.
        edge_index: (2, E) row positions, inner -> outer.
        event_id: the event number.
        cell_features: append cluster-shape features (n_cells, charge) to ``x``.
        edge_features: add ``edge_attr`` = (dr, dphi, dz, dR) of
            :func:`gnn4hep.graphs.heptrkx.geometric_edge_features`.

    ``y`` is the consecutive-pair truth of :mod:`gnn4hep.graphs.truth` (all zeros without truth).
    ``layer`` (N,) int64 carries the global layer index for the walkthrough builder.
    """
    features, names = node_features(table, cell_features=cell_features)
    edge_index = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    pid = table["particle_id"].to_numpy(np.int64)
    rank = hit_rank_along_particle(pid, table["distance"].to_numpy())
    data = Data(
        x=torch.from_numpy(features),
        edge_index=torch.from_numpy(edge_index.copy()),
        y=torch.from_numpy(edge_truth(edge_index, pid, rank)),
    )
    data.feature_names = names
    data.hit_id = torch.from_numpy(table["hit_id"].to_numpy(np.int64).copy())
    data.particle_id = torch.from_numpy(pid.copy())
    data.pt = torch.from_numpy(table["pt"].to_numpy(np.float32).copy())
    data.layer = torch.from_numpy(table["layer"].to_numpy(np.int64).copy())
    data.event_id = int(event_id)
    if edge_features:
        data.edge_attr = geometric_edge_features(data.x, data.edge_index).to(torch.float32)
    return data
