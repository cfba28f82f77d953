"""One-step smoke test of experiments/trackml_demo.yaml, the README's main job."""

import json
from pathlib import Path

from gnn4hep.runner.run import run_experiment
from tests.pipelines.recompute import assert_headline_metrics_recomputed, simulated_test_events

CONFIG = Path(__file__).resolve().parents[2] / "experiments" / "trackml_demo.yaml"


def test_trackml_demo_runs_on_simulated_events(tmp_path):
    run_dir = run_experiment(
        CONFIG,
        ["data.n_train=3", "data.n_test=1", "trainer.max_epochs=1", "model.hidden=8", "model.n_iterations=1"],
        out=tmp_path / "run",
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert_headline_metrics_recomputed(run_dir, simulated_test_events(run_dir))  # loop oracle, brute-force matching
    assert 0.0 <= metrics["duplicate_rate"] <= 1.0
    assert metrics["graph_test"]["efficiency"] > 0.9  # the geometric graph keeps nearly every true pair
    assert (run_dir / "plots" / "test_event_display.png").exists()
    events = sorted((run_dir / "data" / "test").glob("event*-hits.csv.gz"))
    assert len(events) == 1


def test_same_seed_gives_identical_results(tmp_path):
    overrides = ["data.n_train=3", "data.n_test=1", "trainer.max_epochs=2", "model.hidden=8", "model.n_iterations=2"]
    results = []
    for name in ("a", "b"):
        run_dir = run_experiment(CONFIG, overrides, out=tmp_path / name)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        results.append({k: metrics[k] for k in ("trackml_score", "track_efficiency", "fake_rate", "duplicate_rate")})
        results[-1]["edge_auc"] = metrics["test"]["edges"]["edge_auc"] if "test" in metrics else None
    assert results[0] == results[1]
