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


def _brute_force_edges(table, module_map, margin, tolerance):
    """Every ordered hit pair tested against its module pair's row, one pair at a time (independent route)."""
    from gnn4hep.graphs.geometric import pair_variables
    from gnn4hep.graphs.module_map import TOLERANCE_SCALE, VARIABLES, statistical_padding

    rows = {(a, b): i for i, (a, b) in enumerate(zip(module_map["module_a"], module_map["module_b"]))}
    pads = {name: statistical_padding(module_map, name) for name in VARIABLES}
    keys = table["module_key"].to_numpy()
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    source, target = np.meshgrid(np.arange(len(table)), np.arange(len(table)), indexing="ij")
    source, target = source.ravel(), target.ravel()
    values = pair_variables(table, source, target)
    low = {name: module_map[f"{name}_min"].to_numpy() for name in VARIABLES}
    high = {name: module_map[f"{name}_max"].to_numpy() for name in VARIABLES}
    edges = set()
    for k, (i, j) in enumerate(zip(source.tolist(), target.tolist())):
        row = rows.get((keys[i], keys[j]))
        if i == j or row is None or (keys[i] == keys[j] and not radius[i] < radius[j]):
            continue
        accepted = True
        for name in VARIABLES:
            width = margin * (high[name][row] - low[name][row]) + tolerance * TOLERANCE_SCALE[name] + pads[name][row]
            if values[name][k] < low[name][row] - width or values[name][k] > high[name][row] + width:
                accepted = False
        if accepted:
            edges.add((i, j))
    return edges


@pytest.mark.parametrize("max_pairs", [1, 50, 10**9])
def test_sort_based_edges_equal_brute_force_pairs(tables, max_pairs):
    module_map = fit_module_map(tables[:20])
    table = tables[20].iloc[:400].reset_index(drop=True)
    edges = build_module_map_edges(table, module_map, margin=0.1, tolerance=0.01, max_pairs=max_pairs)
    got = list(map(tuple, edges.T.tolist()))
    assert len(got) == len(set(got))  # each pair once, whatever the chunking
    assert set(got) == _brute_force_edges(table, module_map, 0.1, 0.01)
    assert len(got) > 0
