"""Pair features of the edge filter against a brute-force loop over edges written from the definitions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.layers import LAYER_TABLE
from gnn4hep.graphs.pair_features import CELL_PAIR_FEATURES, cluster_shape, feature_names, pair_features
from gnn4hep.tracking.io import read_detector
from tests.graphs.trackml_toy import trackml_toy_event

MODULES = read_detector().modules


def _toy_cells(table: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Random clusters: 0-6 cells per hit with random channels and values."""
    rng = np.random.default_rng(seed)
    rows = []
    for hit_id in table["hit_id"].to_numpy()[::1]:
        for _ in range(rng.integers(0, 7)):
            rows.append((hit_id, rng.integers(0, 300), rng.integers(0, 300), rng.random()))
    return pd.DataFrame(rows, columns=["hit_id", "ch0", "ch1", "value"])


def _brute_force(table: pd.DataFrame, cells: pd.DataFrame, a: int, b: int) -> list[float]:
    """One edge's features with plain Python (the module docstring's formulas)."""
    ra, rb = table["r"].iloc[a], table["r"].iloc[b]
    za, zb = table["z"].iloc[a], table["z"].iloc[b]
    xa, ya, xb, yb = table["x"].iloc[a], table["y"].iloc[a], table["x"].iloc[b], table["y"].iloc[b]
    dphi = math.atan2(math.sin(table["phi"].iloc[b] - table["phi"].iloc[a]), math.cos(table["phi"].iloc[b] - table["phi"].iloc[a]))
    dr, dz = rb - ra, zb - za
    safe = math.copysign(max(abs(dr), 5.0), dr if dr != 0 else 1.0)
    z0 = max(-5.0, min(5.0, (za - ra * dz / safe) / 1000))
    # curvature of the circle through (0, 0), a and b: 4 * area / (product of the sides)
    area = 0.5 * (xa * yb - ya * xb)
    curvature = 1000 * 4 * area / (math.hypot(xa, ya) * math.hypot(xb, yb) * math.hypot(xb - xa, yb - ya))
    la, lb = int(table["layer"].iloc[a]), int(table["layer"].iloc[b])
    barrel = lambda layer: float(LAYER_TABLE["kind"].iloc[layer] == "barrel")  # noqa: E731
    values = [ra / 1000, za / 1000, rb / 1000, zb / 1000, table["eta"].iloc[a], dr / 100, dz / 100, dphi,
              table["eta"].iloc[b] - table["eta"].iloc[a], z0, max(-20, min(20, 1000 * dphi / safe)),
              max(-20, min(20, curvature)), la / 48, lb / 48, barrel(la), barrel(lb), float(la == lb)]
    for hit in (a, b):
        mine = cells[cells["hit_id"] == table["hit_id"].iloc[hit]]
        values.append(len(mine) / 10)
    for channel in ("ch0", "ch1"):
        for hit in (a, b):
            mine = cells[cells["hit_id"] == table["hit_id"].iloc[hit]]
            values.append((mine[channel].max() - mine[channel].min() + 1) / 10 if len(mine) else 0.0)
    direction = [xb - xa, yb - ya, zb - za]
    for axis, pitch_column in ((0, "pitch_u"), (1, "pitch_v")):
        for hit in (a, b):
            key = int(table["module_key"].iloc[hit])
            module = MODULES[(MODULES["volume_id"] == key // 10**7) & (MODULES["layer_id"] == key // 10**4 % 1000)
                             & (MODULES["module_id"] == key % 10**4)]
            if len(module) == 0:
                values.append(0.0)
                continue
            row = module.iloc[0]
            local = [sum(row[f"rot_{'xyz'[i]}{'uvw'[j]}"] * direction[i] for i in range(3)) for j in range(3)]
            expected = 1 + 2 * row["module_t"] * abs(local[axis] / local[2]) / row[pitch_column]
            values.append(min(expected, 100.0) / 10)
    return values


def test_features_match_a_per_edge_loop():
    table = hit_table(trackml_toy_event(n_particles=40, seed=3))
    cells = _toy_cells(table)
    rng = np.random.default_rng(1)
    edges = rng.integers(0, len(table), size=(2, 300))
    edges = edges[:, edges[0] != edges[1]]
    edges[:, 0] = [5, 5 + 1]  # neighbours in the table: often one layer, tiny |dr|
    names = feature_names(cell_features=True)
    # column order of the brute force: base, n_cells (a, b), extent0 (a, b), extent1 (a, b), expected0/1 (a, b)
    assert names[-len(CELL_PAIR_FEATURES):] == ["n_cells_a", "n_cells_b", "extent0_a", "extent0_b", "extent1_a", "extent1_b",
                                                "expected0_a", "expected0_b", "expected1_a", "expected1_b"]
    fast = pair_features(table, edges, cells=cells, cell_features=True)
    assert fast.shape == (edges.shape[1], len(names)) and fast.dtype == np.float32
    slow = np.array([_brute_force(table, cells, a, b) for a, b in edges.T])
    assert (slow[:, -4:] > 0).mean() > 0.5  # the toy's module ids exist in the detector: most frames known
    np.testing.assert_allclose(fast, slow, rtol=2e-5, atol=2e-6)
    base = pair_features(table, edges)
    np.testing.assert_array_equal(base, fast[:, : len(feature_names(False))])  # the no-cells variant


def test_disk_pairs_stay_finite_and_cells_are_required():
    table = hit_table(trackml_toy_event(n_particles=20, seed=0))
    same_radius = np.array([[0], [0]])
    assert np.isfinite(pair_features(table, same_radius)).all()  # a pair with dr = 0 and a zero-length chord
    with pytest.raises(ValueError, match="cells"):
        pair_features(table, same_radius, cell_features=True)
    with pytest.raises(ValueError, match="ch1"):
        cluster_shape(table, pd.DataFrame({"hit_id": [1], "ch0": [0], "value": [1.0]}))
