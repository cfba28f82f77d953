"""The filter stages of the staged pipeline (experiments/trackml_gnn_small.yaml): files between stages,
filtered graphs inside the built ones, sections, and a filter trained with cluster shapes falling back
to its no-cells variant for events without cells."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.graphs.edge_filter import load_edge_filter
from gnn4hep.graphs.io import graph_files, load_graph
from gnn4hep.runner.run import run_experiment

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "experiments" / "trackml_gnn_small.yaml"
BASE = ["data.n_train=3", "data.n_test=1", "data.val_fraction=0.34"]


def _pairs(graph) -> set[tuple[int, int]]:
    hit_id = graph.hit_id.numpy()
    edges = graph.edge_index.numpy()
    return set(zip(hit_id[edges[0]].tolist(), hit_id[edges[1]].tolist()))


def test_filter_stages_write_their_files(tmp_path):
    run = run_experiment(SMALL, BASE, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    model = load_edge_filter(run / "filter" / "edge_filter.pt")
    assert model.threshold == metrics["filter_training"]["threshold"]
    assert metrics["filter_training"]["efficiency"] >= 0.99  # the target, on the validation event
    for split in ("train", "test"):
        built, filtered = graph_files(run / "graphs" / split), graph_files(run / "filtered_graphs" / split)
        assert [p.name for p in built] == [p.name for p in filtered] and built
        for before_path, after_path in zip(built, filtered):
            before, after = load_graph(before_path), load_graph(after_path)
            assert "edge_attr" not in before  # graphs that only feed the filter
            assert _pairs(after) <= _pairs(before)
            assert after.edge_attr.shape == (after.edge_index.shape[1], 4)  # the GNN's edge features
    assert metrics["filter_test"]["n_edges"] <= metrics["graph_test"]["n_edges"]
    assert "filter" in metrics["time_per_event"]
    assert metrics["training"]["n_train"] > 2  # the GNN trained on sections of the 2 training graphs
    scores = pd.read_parquet(next((run / "edge_scores" / "test").glob("*.parquet")))
    assert len(scores) == load_graph(graph_files(run / "filtered_graphs" / "test")[0]).edge_index.shape[1]


def test_cell_filter_falls_back_to_no_cells_variant(tmp_path):
    """Quick-gun events have cells; a copy of the test event without its cells file gets the no-cells filter."""
    overrides = ["data.source=quick", "data.n_train=2", "data.n_test=1", "data.val_fraction=0.5", "filter.cell_features=true",
                 "stages=[trackml_simulate,trackml_build_graphs,trackml_train_filter]"]
    first = run_experiment(SMALL, overrides, out=tmp_path / "first")
    with_cells = load_edge_filter(first / "filter" / "edge_filter.pt")
    without = load_edge_filter(first / "filter" / "edge_filter_no_cells.pt")
    assert with_cells.cell_features and not without.cell_features
    assert with_cells.in_features > without.in_features
    folder = tmp_path / "no_cells"
    folder.mkdir()
    for path in (first / "data" / "test").glob("*"):
        if "-cells" not in path.name and path.name.startswith("event"):
            shutil.copy(path, folder / path.name)
    with_cells_event = next((first / "data" / "test").glob("*-hits.csv*")).name.split("-")[0]
    second = run_experiment(SMALL, [*overrides[:-1], f"data.from_run={first}", f"data.test_dir={folder}",
                                    f"data.eval_events=[{first / 'data' / 'test' / with_cells_event}]",
                                    "stages=[trackml_build_graphs,trackml_filter]"], out=tmp_path / "second")
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics["filter_test"]["n_edges"] > 0 and np.isfinite(metrics["filter_test"]["efficiency"])
    # the test event lacks cells; the eval event has them but real-data events get the no-cells filter too
    assert metrics["filter_variant"] == {"test_no_cells_events": 1, "eval_no_cells_events": 1}


def test_no_cells_variant_focused_on_fast_particles(tmp_path):
    """filter.no_cells_pt_min=0.5, no_cells_target_efficiency=0.995, no_cells_target_pt_min=1: the no-cells filter's
    saved cut keeps >= 99.5 % of the validation event's true edges of pT > 1 GeV particles, counted edge by edge
    from its graph (an independent route to the stage's threshold); the cluster-shape filter is trained as
    without these options."""
    from gnn4hep.graphs.edge_filter import edge_filter_scores
    from gnn4hep.graphs.features import hit_table
    from gnn4hep.pipelines.trackml_data import read_available
    from gnn4hep.utils.torch_files import load_torch_file

    overrides = ["data.source=quick", "data.n_train=2", "data.n_test=1", "data.val_fraction=0.5", "filter.cell_features=true",
                 "stages=[trackml_simulate,trackml_build_graphs,trackml_train_filter]"]
    run = run_experiment(SMALL, [*overrides, "filter.no_cells_pt_min=0.5",
                                                 "filter.no_cells_target_efficiency=0.995",
                                                 "filter.no_cells_target_pt_min=1.0"], out=tmp_path / "focused")
    payload = load_torch_file(run / "filter" / "edge_filter_no_cells.pt", "edge filter file")
    assert payload["extra"]["focus_pt_min"] == 0.5 and payload["extra"]["target_pt_min"] == 1.0
    assert payload["extra"]["target_efficiency"] == 0.995
    main = load_torch_file(run / "filter" / "edge_filter.pt", "edge filter file")["extra"]
    assert main["focus_pt_min"] == 0.0 and main["target_pt_min"] == 0.0 and main["target_efficiency"] == 0.99
    model = load_edge_filter(run / "filter" / "edge_filter_no_cells.pt")
    prefix = sorted((run / "data" / "train").glob("*-hits.csv*"))[0]
    prefix = prefix.parent / prefix.name.split("-")[0]  # the first training event: the validation one
    table = hit_table(read_available(prefix))
    graph = load_graph(run / "graphs" / "train" / f"{prefix.name}.pt")
    edges, y = graph.edge_index.numpy(), graph.y.numpy() > 0.5
    scores = edge_filter_scores(model, table, edges)
    fast = [i for i in range(len(y)) if y[i] and table["pt"].iloc[edges[0, i]] > 1.0]
    assert len(fast) > 50
    assert sum(scores[i] >= model.threshold for i in fast) >= 0.995 * len(fast)
