"""Ring maps: edges equal a brute-force scan of all hit pairs; own events fully efficient; pruning."""

from __future__ import annotations

import numpy as np
import pytest

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.geometric import pair_variables
from gnn4hep.graphs.graph_metrics import graph_metrics
from gnn4hep.graphs.module_map import TOLERANCE_SCALE, VARIABLES, statistical_padding
from gnn4hep.graphs.ring_map import build_ring_map_edges, fit_ring_map, prune_ring_map, ring_keys
from tests.graphs.trackml_toy import trackml_toy_event


@pytest.fixture(scope="module")
def tables():
    return [hit_table(trackml_toy_event(n_particles=200, seed=seed)) for seed in range(8)]


def _brute_force(table, ring_map, margin, tolerance, ring_split):
    """Every ordered hit pair (a, b), kept when a map row has their ring keys and all variables pass."""
    keys = ring_keys(table, ring_split)
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    n = len(table)
    a, b = np.divmod(np.arange(n * n), n)
    a, b = a[a != b], b[a != b]
    rows = {(ka, kb): i for i, (ka, kb) in enumerate(zip(ring_map["module_a"], ring_map["module_b"]))}
    row = np.array([rows.get((ka, kb), -1) for ka, kb in zip(keys[a], keys[b])])
    a, b, row = a[row >= 0], b[row >= 0], row[row >= 0]
    same = keys[a] == keys[b]
    keep = ~same | (radius[a] < radius[b])
    a, b, row = a[keep], b[keep], row[keep]
    values = pair_variables(table, a, b)
    keep = np.ones(len(a), dtype=bool)
    for name in VARIABLES:
        lo = ring_map[f"{name}_min"].to_numpy()
        hi = ring_map[f"{name}_max"].to_numpy()
        width = margin * (hi - lo) + tolerance * TOLERANCE_SCALE[name] + statistical_padding(ring_map, name)
        keep &= ~((values[name] < (lo - width)[row]) | (values[name] > (hi + width)[row]))
    return set(zip(a[keep].tolist(), b[keep].tolist()))


@pytest.mark.parametrize("ring_split", [1, 2])
def test_edges_equal_brute_force(tables, ring_split):
    ring_map = fit_ring_map(tables[:4], quantile=0.01, min_count=2, ring_split=ring_split)
    small = tables[7].iloc[:700].reset_index(drop=True)  # every pair of 700 hits: 490k candidates
    edges = build_ring_map_edges(small, ring_map, margin=0.05, tolerance=0.002, ring_split=ring_split, max_pairs=5000)
    found = list(zip(edges[0].tolist(), edges[1].tolist()))
    assert len(found) == len(set(found))  # no pair twice (the phi window never wraps onto itself)
    assert set(found) == _brute_force(small, ring_map, 0.05, 0.002, ring_split)


def test_own_events_fully_efficient_and_held_out_efficient(tables):
    ring_map = fit_ring_map(tables[:7])
    for table in tables[:2]:  # min/max ranges: every true pair of the fit events is inside
        edges = build_ring_map_edges(table, ring_map, margin=0.0, tolerance=0.0, statistical=False)
        assert graph_metrics(table, edges)["efficiency"] == 1.0
    held_out = graph_metrics(tables[7], build_ring_map_edges(tables[7], ring_map))
    assert held_out["efficiency"] > 0.97 and held_out["purity"] > 0.2


def test_pruning_keeps_the_loss_budget(tables):
    ring_map = fit_ring_map(tables[:7], min_count=1)
    pruned = prune_ring_map(ring_map, tables[:2], max_loss=0.02)
    assert len(pruned) < len(ring_map)
    assert ring_map["n_true"].sum() - pruned["n_true"].sum() <= 0.02 * ring_map["n_true"].sum()
    full = build_ring_map_edges(tables[7], ring_map).shape[1]
    assert build_ring_map_edges(tables[7], pruned).shape[1] < full
    assert prune_ring_map(ring_map, tables[:2], max_loss=0.0) is ring_map


def test_ring_keys_follow_the_detector_rings(tables):
    table = tables[0]
    keys = ring_keys(table)
    np.testing.assert_array_equal(keys // 10**4, table["module_key"].to_numpy() // 10**4)  # volume and layer kept
    # in the barrel, a ring is a range of z: sorting the hits of one layer by z sorts their rings
    layer = table["module_key"].to_numpy() // 10**4 == 8 * 1000 + 2
    z, ring = table["z"].to_numpy()[layer], keys[layer] % 10**4
    assert (np.diff(ring[np.argsort(z)]) >= 0).all() and len(np.unique(ring)) > 3
