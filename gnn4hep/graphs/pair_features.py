"""Per-edge (hit-pair) features for the edge filter (:mod:`gnn4hep.graphs.edge_filter`).

For an edge a -> b (a the inner hit, b the outer one, row positions of a
:func:`gnn4hep.graphs.features.hit_table`), with cylindrical r, phi, z [mm, rad] of each hit:

==============  ======================================================================  ==========
name            definition                                                              unit
==============  ======================================================================  ==========
r_a, r_b        radius of each hit / 1000                                               m
z_a, z_b        z of each hit / 1000                                                    m
eta_a           pseudorapidity of hit a seen from the origin
dr, dz          (r_b - r_a) / 100, (z_b - z_a) / 100                                    100 mm
dphi            wrap(phi_b - phi_a), in [-pi, pi)                                       rad
deta            eta_b - eta_a
z0              (z_a - r_a dz / dr') / 1000, the r-z line's intercept at r = 0,         m
                clipped to +-5 m
phi_slope       1000 dphi / dr', clipped to +-20                                        rad/m
curvature       1000 * 2 (x_a y_b - y_a x_b) / (|a| |b| |a - b|): signed curvature     1/m
                of the circle through the origin, a and b (transverse plane; pT ~
                0.3 B / |curvature| in GeV for B in T); clipped to +-20
layer_a/_b      global layer index / 48 (:mod:`gnn4hep.graphs.layers`)
barrel_a/_b     1 for a barrel layer, 0 for a disk
same_layer      1 when both hits are on one layer (module overlap)
==============  ======================================================================  ==========

dr' = sign(dr) * max(|dr|, DR_MIN_MM) (5 mm) keeps z0 and phi_slope finite for disk-to-disk pairs.

Cluster-shape features (``CELL_PAIR_FEATURES``, only with cells.csv): for each hit the number of
cells / 10, the summed charge, and the cluster extent in cells along the two module axes
(ch0, ch1: max - min + 1, divided by 10). The extent along a track's path grows with the
incidence angle, so together with the pair's direction it tells whether two clusters belong to one
track (the Exa.TrkX filter's cell features: Ju et al., arXiv:2103.06995). Events without cells use
the no-cells variant (``BASE_PAIR_FEATURES`` only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.graphs.geometric import DR_MIN_MM
from gnn4hep.graphs.layers import LAYER_TABLE, N_LAYERS
from gnn4hep.utils.angles import wrap_phi

BASE_PAIR_FEATURES: tuple[str, ...] = (
    "r_a", "z_a", "r_b", "z_b", "eta_a", "dr", "dz", "dphi", "deta", "z0", "phi_slope", "curvature",
    "layer_a", "layer_b", "barrel_a", "barrel_b", "same_layer",
)  # fmt: skip
CELL_PAIR_FEATURES: tuple[str, ...] = (
    "n_cells_a", "n_cells_b", "charge_a", "charge_b", "extent0_a", "extent0_b", "extent1_a", "extent1_b",
)  # fmt: skip
_BARREL = (LAYER_TABLE["kind"].to_numpy() == "barrel").astype(np.float64)
CLIP = 20.0
Z0_CLIP_M = 5.0


def feature_names(cell_features: bool) -> list[str]:
    """The column names of :func:`pair_features` with or without cluster shapes."""
    return list(BASE_PAIR_FEATURES) + (list(CELL_PAIR_FEATURES) if cell_features else [])


def cluster_shape(table: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """(N, 4) float64 per hit of ``table``: n_cells, summed charge, extent in ch0, extent in ch1 (cells).

    Hits without cells get zeros. ``cells`` is the TrackML cells table (hit_id, ch0, ch1, value).
    """
    missing = [c for c in ("hit_id", "ch0", "ch1", "value") if c not in cells]
    if missing:
        raise ValueError(f"cells table lacks column '{missing[0]}'")
    grouped = cells.groupby("hit_id")
    shape = pd.DataFrame({
        "n": grouped.size(),
        "charge": grouped["value"].sum(),
        "extent0": grouped["ch0"].max() - grouped["ch0"].min() + 1,
        "extent1": grouped["ch1"].max() - grouped["ch1"].min() + 1,
    })
    return shape.reindex(table["hit_id"].to_numpy()).fillna(0.0).to_numpy(np.float64)


def pair_features(table: pd.DataFrame, edge_index: np.ndarray, cells: pd.DataFrame | None = None,
                  cell_features: bool = False, shape: np.ndarray | None = None) -> np.ndarray:
    """(E, F) float32 features of the edges (module docstring; columns :func:`feature_names`).

    Args:
        table: hit table with x, y, z, r, phi, eta, layer (rows = the node positions of ``edge_index``).
        edge_index: (2, E) int row positions, source (inner) first.
        cells: the event's cells table; needed when ``cell_features``.
        cell_features: append the cluster-shape columns.
        shape: precomputed :func:`cluster_shape` of ``table`` (saves the groupby when called in chunks).
    """
    source, target = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    x, y = table["x"].to_numpy(np.float64), table["y"].to_numpy(np.float64)
    r, z = table["r"].to_numpy(np.float64), table["z"].to_numpy(np.float64)
    phi, eta = table["phi"].to_numpy(np.float64), table["eta"].to_numpy(np.float64)
    layer = table["layer"].to_numpy(np.int64)
    dr = r[target] - r[source]
    dz = z[target] - z[source]
    dphi = wrap_phi(phi[target] - phi[source])
    safe_dr = np.where(dr < 0, -1.0, 1.0) * np.maximum(np.abs(dr), DR_MIN_MM)
    z0 = np.clip((z[source] - r[source] * dz / safe_dr) / 1000.0, -Z0_CLIP_M, Z0_CLIP_M)
    cross = x[source] * y[target] - y[source] * x[target]
    chord = np.hypot(x[target] - x[source], y[target] - y[source])
    curvature = 2000.0 * cross / np.maximum(r[source] * r[target] * chord, 1e-9)
    columns = [
        r[source] / 1000.0, z[source] / 1000.0, r[target] / 1000.0, z[target] / 1000.0, eta[source],
        dr / 100.0, dz / 100.0, dphi, eta[target] - eta[source], z0,
        np.clip(1000.0 * dphi / safe_dr, -CLIP, CLIP), np.clip(curvature, -CLIP, CLIP),
        layer[source] / N_LAYERS, layer[target] / N_LAYERS, _BARREL[layer[source]], _BARREL[layer[target]],
        (layer[source] == layer[target]).astype(np.float64),
    ]
    if cell_features:
        if shape is None:
            if cells is None:
                raise ValueError("cell features need the event's cells (cells.csv)")
            shape = cluster_shape(table, cells)
        n_cells, charge, extent0, extent1 = shape.T
        columns += [n_cells[source] / 10.0, n_cells[target] / 10.0, charge[source], charge[target],
                    extent0[source] / 10.0, extent0[target] / 10.0, extent1[source] / 10.0, extent1[target] / 10.0]
    return np.stack(columns, axis=1).astype(np.float32)
