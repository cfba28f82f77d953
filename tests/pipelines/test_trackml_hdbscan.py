"""One-step smoke test of experiments/trackml_hdbscan.yaml (toy events, module-map graph, 1 epoch)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gnn4hep.runner.run import run_experiment
from tests.pipelines.recompute import assert_headline_metrics_recomputed, simulated_test_events

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "experiments" / "trackml_hdbscan.yaml"
SMOKE = [
    "data.source=toy", "data.n_particles=40", "data.n_train=3", "data.n_test=1", "data.eval_events=[]",
    "condensation.epochs=1", "condensation.hidden=8", "condensation.n_layers=1",
]  # fmt: skip


def test_hdbscan_pipeline_one_step(tmp_path):
    run = run_experiment(CONFIG, SMOKE, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert_headline_metrics_recomputed(run, simulated_test_events(run))  # loop oracle, brute-force matching
    assert 0.0 <= metrics["duplicate_rate"] <= 1.0
    assert {"inference", "building"} <= set(metrics["time_per_event"])
    assert metrics["condensation_training"]["n_train"] == 3
    submission = pd.read_csv(next((run / "submissions" / "test").glob("*.csv")))
    hits = pd.read_csv(next((run / "data" / "test").glob("*-hits.csv*")))
    assert submission["hit_id"].is_unique and set(submission["hit_id"]) == set(hits["hit_id"])
    assert (run / "condensation_net.pt").exists()
