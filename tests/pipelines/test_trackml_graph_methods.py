"""The TrackML GNN pipeline with the module-map and metric-learning graph builders (one step each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnn4hep.errors import ConfigError
from gnn4hep.runner.run import run_experiment
from tests.pipelines.recompute import assert_headline_metrics_recomputed, simulated_test_events

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "experiments" / "trackml_gnn_small.yaml"
BASE = ["data.n_train=2", "data.n_test=1", "data.val_fraction=0.0"]


@pytest.mark.parametrize(
    ("method", "builder_file", "extra"),
    [
        ("module_map", "module_map.csv", []),
        ("metric_learning", "embedding.pt", ["graph.embedding_epochs=1", "graph.embedding_hidden=16", "graph.radius=0.5"]),
    ],
)
def test_graph_method_runs_end_to_end(tmp_path, method, builder_file, extra):
    run = run_experiment(SMALL, [*BASE, f"graph.method={method}", *extra], out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert_headline_metrics_recomputed(run, simulated_test_events(run))  # loop oracle, brute-force matching
    assert metrics["graph_test"]["n_edges"] > 0
    assert (run / "graph_builder" / builder_file).exists()


def test_fit_extra_dir_must_hold_events(tmp_path):
    (tmp_path / "empty").mkdir()
    overrides = [*BASE, "graph.method=module_map", f"graph.fit_extra_dir={tmp_path / 'empty'}"]
    with pytest.raises(ConfigError, match="graph.fit_extra_dir"):
        run_experiment(SMALL, overrides, out=tmp_path / "run")
