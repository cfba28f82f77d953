"""Module-map graphs: the fitted map contains its events' true pairs; held-out efficiency and purity."""

from __future__ import annotations

import numpy as np
import pytest

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.geometric import build_geometric_edges, fit_layer_pair_cuts, true_pair_table
from gnn4hep.graphs.graph_metrics import graph_metrics
from gnn4hep.graphs.module_map import MAP_COLUMNS, build_module_map_edges, fit_module_map, merge_module_maps
from tests.graphs.trackml_toy import trackml_toy_event


@pytest.fixture(scope="module")
def tables():
    return [hit_table(trackml_toy_event(n_particles=300, seed=seed)) for seed in range(21)]


def test_map_contains_every_true_pair_of_its_events(tables):
    module_map = fit_module_map(tables[:3])
    assert list(module_map.columns) == list(MAP_COLUMNS)
    mapped = set(zip(module_map["module_a"], module_map["module_b"]))
    for table in tables[:3]:
        pairs = true_pair_table(table)
        assert set(zip(pairs["module_a"], pairs["module_b"])) <= mapped
        # with zero widening the map's own events are still fully efficient (ranges are min/max)
        edges = build_module_map_edges(table, module_map, margin=0.0, tolerance=1e-9)
        assert graph_metrics(table, edges)["efficiency"] == 1.0
    assert module_map["n_true"].sum() == sum(len(true_pair_table(t)) for t in tables[:3])


def test_merge_equals_fit_on_all(tables):
    merged = merge_module_maps([fit_module_map(tables[:2]), fit_module_map(tables[2:4])])
    direct = fit_module_map(tables[:4])
    merged = merged.sort_values(["module_a", "module_b"]).reset_index(drop=True)
    direct = direct.sort_values(["module_a", "module_b"]).reset_index(drop=True)
    np.testing.assert_allclose(merged.to_numpy(float), direct.to_numpy(float), equal_nan=True)


def test_held_out_event_efficient_and_purer_than_loose_geometric(tables):
    module_map = fit_module_map(tables[:20])
    held_out = tables[20]
    edges = build_module_map_edges(held_out, module_map, margin=0.1, tolerance=0.01)
    metrics = graph_metrics(held_out, edges)
    assert metrics["efficiency"] > 0.95
    loose = build_geometric_edges(held_out, fit_layer_pair_cuts(tables[:20], quantile=1.0, margin=1.5, min_count=1))
    loose_metrics = graph_metrics(held_out, loose)
    assert loose_metrics["efficiency"] > 0.95
    assert metrics["purity"] > loose_metrics["purity"]


def test_range_cuts_remove_edges(tables):
    module_map = fit_module_map(tables[:20])
    only_modules = build_module_map_edges(tables[20], module_map, variables=())
    with_cuts = build_module_map_edges(tables[20], module_map)
    assert with_cuts.shape[1] < only_modules.shape[1]
    kept = set(map(tuple, with_cuts.T))
    assert kept <= set(map(tuple, only_modules.T))


def test_empty_training_set_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        fit_module_map([])
