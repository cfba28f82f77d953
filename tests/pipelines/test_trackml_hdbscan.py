"""One-step smoke test of experiments/trackml_hdbscan.yaml (toy events, module-map graph, 1 epoch),
with an extra evaluation event whose rows in summary.md match an independent recomputation."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pandas as pd

from gnn4hep.pipelines.trackml_data import write_toy_events
from gnn4hep.runner.report import format_value
from gnn4hep.runner.run import run_experiment
from gnn4hep.tracking.io import read_event
from gnn4hep.tracking.scoring_reference import score_event_loop
from tests.pipelines.recompute import _event_counts, assert_headline_metrics_recomputed, simulated_test_events

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "experiments" / "trackml_hdbscan.yaml"
SMOKE = [
    "data.source=toy", "data.n_particles=40", "data.n_train=3", "data.n_test=1", "data.workers=1",
    "trainer.max_epochs=1", "condensation.hidden=8", "condensation.n_layers=1",
]  # fmt: skip


def test_hdbscan_pipeline_one_step(tmp_path):
    write_toy_events(tmp_path / "extra", n_events=1, n_particles=40, seed=4242, first_id=900)
    eval_event = tmp_path / "extra" / "event000000900"
    run = run_experiment(CONFIG, SMOKE + [f"data.eval_events=[{eval_event}]"], out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert_headline_metrics_recomputed(run, simulated_test_events(run))  # loop oracle, brute-force matching
    assert 0.0 <= metrics["duplicate_rate"] <= 1.0
    assert {"inference", "building"} <= set(metrics["time_per_event"])
    assert metrics["condensation_training"]["n_train"] == 3
    submission = pd.read_csv(next((run / "submissions" / "test").glob("*.csv")))
    hits = pd.read_csv(next((run / "data" / "test").glob("*-hits.csv*")))
    assert submission["hit_id"].is_unique and set(submission["hit_id"]) == set(hits["hit_id"])
    assert (run / "condensation_net.pt").exists()
    assert (run / "checkpoints" / "condensation_net" / "last.ckpt").exists()

    # the eval event: its own metrics, headline rows and plots, equal to a loop recomputation
    event = read_event(eval_event, parts=("hits", "particles", "truth"))
    eval_submission = pd.read_csv(run / "submissions" / "eval" / "event000000900.csv")
    counts = _event_counts(event.truth, event.particles, eval_submission, pt_min=1.0, min_hits=3)
    assert counts["n_particles"] > 0
    expected = {
        "TrackML score": score_event_loop(event.truth, eval_submission),
        "track efficiency (pT > 1 GeV)": counts["n_matched"] / counts["n_particles"],
        "fake rate (pT > 1 GeV)": counts["n_fake"] / counts["n_tracks"] if counts["n_tracks"] else math.nan,
    }
    section = metrics["eval_event000000900"]
    logged = {"TrackML score": section["trackml_score"], "track efficiency (pT > 1 GeV)": section["pt_high"]["efficiency"],
              "fake rate (pT > 1 GeV)": section["pt_high"]["fake_rate"]}
    summary = (run / "summary.md").read_text()
    headline = summary.split("## All metrics")[0]
    for label, value in expected.items():
        assert math.isclose(logged[label], value, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(value) and math.isnan(logged[label]))
        assert f"| eval event000000900: {label} | {format_value(value)} |" in headline
    for plot in ("efficiency", "event_display"):
        assert (run / "plots" / f"eval_event000000900_{plot}.png").is_file()
        assert f"plots/eval_event000000900_{plot}.png" in summary
