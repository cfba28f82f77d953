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
cells / 10 and the cluster extent in cells along the two module axes (ch0, ch1: max - min + 1,
divided by 10). The summed charge is left out: its units differ between the simulator and the real
TrackML cells (real strip cells hold 1 each), so a filter that used it did not transfer. (Measured on
the real sample event's true pT > 1 GeV pairs: real pixel-barrel clusters are 0.55 times the
``expected1`` length below (correlation 0.99), simulated ones 0.98 times; filters trained on
simulated clusters therefore do not transfer to real events until the simulator matches.) The extent along a track's path grows with the
incidence angle, so together with the pair's direction it tells whether two clusters belong to one
track (the Exa.TrkX filter's cell features: Ju et al., arXiv:2103.06995). To make that comparison
explicit, ``expected0/1_a/_b`` give the extent a straight track along the pair's direction d would
leave on each hit's module: with d' = R^T d in the module frame (u, v, w) of ``detectors.csv``
(rotation R, half-thickness t, pitches p_u, p_v), expected0 = (1 + 2 t |d'_u / d'_w| / p_u) / 10
and expected1 = (1 + 2 t |d'_v / d'_w| / p_v) / 10, clipped at 10 (100 cells); 0 for hits on
modules unknown to the shipped geometry. Events without cells use the no-cells variant
(``BASE_PAIR_FEATURES`` only).
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
    "n_cells_a", "n_cells_b", "extent0_a", "extent0_b", "extent1_a", "extent1_b",
    "expected0_a", "expected0_b", "expected1_a", "expected1_b",
)  # fmt: skip
EXPECTED_CLIP = 100.0
_BARREL = (LAYER_TABLE["kind"].to_numpy() == "barrel").astype(np.float64)
CLIP = 20.0
Z0_CLIP_M = 5.0


def feature_names(cell_features: bool) -> list[str]:
    """The column names of :func:`pair_features` with or without cluster shapes."""
    return list(BASE_PAIR_FEATURES) + (list(CELL_PAIR_FEATURES) if cell_features else [])


def module_frames(table: pd.DataFrame) -> np.ndarray:
    """(N, 12) float64 per hit: its module's rotation R (local -> global, row-major), half-thickness t
    [mm] and pitches p_u, p_v [mm] from the shipped ``detectors.csv``; NaN for unknown modules."""
    modules = _detector_modules()
    key = table["module_key"].to_numpy(np.int64)
    index = modules.index.get_indexer(pd.Index(key))
    columns = ["rot_xu", "rot_xv", "rot_xw", "rot_yu", "rot_yv", "rot_yw", "rot_zu", "rot_zv", "rot_zw",
               "module_t", "pitch_u", "pitch_v"]
    values = modules[columns].to_numpy(np.float64)[np.maximum(index, 0)]
    values[index < 0] = np.nan
    return values


def _detector_modules() -> pd.DataFrame:
    global _MODULES
    if _MODULES is None:
        from gnn4hep.tracking.io import read_detector

        modules = read_detector().modules
        key = (modules["volume_id"].to_numpy(np.int64) * 10**7 + modules["layer_id"].to_numpy(np.int64) * 10**4
               + modules["module_id"].to_numpy(np.int64))
        _MODULES = modules.set_index(pd.Index(key))
    return _MODULES


_MODULES: pd.DataFrame | None = None


def cluster_shape(table: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """(N, 16) float64 per hit of ``table``: n_cells, summed charge, extent in ch0, extent in ch1 (cells),
    then :func:`module_frames`.

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
    shape = shape.reindex(table["hit_id"].to_numpy()).fillna(0.0).to_numpy(np.float64)
    return np.concatenate([shape, module_frames(table)], axis=1)


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
    names = feature_names(cell_features)
    out = np.empty((len(source), len(names)), dtype=np.float32)
    column = {name: i for i, name in enumerate(names)}

    def put(name: str, values) -> None:
        out[:, column[name]] = values

    hit = {key: table[key].to_numpy(np.float64) for key in ("x", "y", "r", "z", "phi", "eta")}
    layer = table["layer"].to_numpy(np.int64)
    r_a, r_b = hit["r"][source], hit["r"][target]
    z_a, z_b = hit["z"][source], hit["z"][target]
    put("r_a", r_a / 1000.0)
    put("z_a", z_a / 1000.0)
    put("r_b", r_b / 1000.0)
    put("z_b", z_b / 1000.0)
    put("eta_a", hit["eta"][source])
    put("deta", hit["eta"][target] - hit["eta"][source])
    dr = r_b - r_a
    dz = z_b - z_a
    put("dr", dr / 100.0)
    put("dz", dz / 100.0)
    dphi = wrap_phi(hit["phi"][target] - hit["phi"][source])
    put("dphi", dphi)
    safe_dr = np.where(dr < 0, -1.0, 1.0) * np.maximum(np.abs(dr), DR_MIN_MM)
    put("z0", np.clip((z_a - r_a * dz / safe_dr) / 1000.0, -Z0_CLIP_M, Z0_CLIP_M))
    put("phi_slope", np.clip(1000.0 * dphi / safe_dr, -CLIP, CLIP))
    x_a, y_a, x_b, y_b = hit["x"][source], hit["y"][source], hit["x"][target], hit["y"][target]
    chord = np.hypot(x_b - x_a, y_b - y_a)
    put("curvature", np.clip(2000.0 * (x_a * y_b - y_a * x_b) / np.maximum(r_a * r_b * chord, 1e-9), -CLIP, CLIP))
    layer_a, layer_b = layer[source], layer[target]
    put("layer_a", layer_a / N_LAYERS)
    put("layer_b", layer_b / N_LAYERS)
    put("barrel_a", _BARREL[layer_a])
    put("barrel_b", _BARREL[layer_b])
    put("same_layer", layer_a == layer_b)
    if cell_features:
        if shape is None:
            if cells is None:
                raise ValueError("cell features need the event's cells (cells.csv)")
            shape = cluster_shape(table, cells)
        n_cells, _, extent0, extent1 = shape[:, :4].T
        dx, dy = hit["x"][target] - hit["x"][source], hit["y"][target] - hit["y"][source]
        frame = [np.ascontiguousarray(shape[:, 4 + k]) for k in range(12)]  # R row-major, t, p_u, p_v
        for end, hits in (("a", source), ("b", target)):
            # d' = R^T d: component j = R_xj dx + R_yj dy + R_zj dz
            local = [frame[j][hits] * dx + frame[3 + j][hits] * dy + frame[6 + j][hits] * dz for j in range(3)]
            normal = np.maximum(np.abs(local[2]), 1e-12)
            thickness = 2.0 * frame[9][hits]
            for axis in (0, 1):
                expected = 1.0 + thickness * np.abs(local[axis]) / normal / frame[10 + axis][hits]
                put(f"expected{axis}_{end}", np.nan_to_num(np.minimum(expected, EXPECTED_CLIP), nan=0.0) / 10.0)
        for name, values, scale in (("n_cells", n_cells, 10.0), ("extent0", extent0, 10.0), ("extent1", extent1, 10.0)):
            put(f"{name}_a", values[source] / scale)
            put(f"{name}_b", values[target] / scale)
    return out
