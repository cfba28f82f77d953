"""One-step smoke test of experiments/trackml_hdbscan.yaml (toy events, module-map graph, 1 epoch),
with an extra evaluation event whose rows in summary.md match an independent recomputation; and a run
stopped in mid-training and resumed, which ends with the uninterrupted run's weights."""

from __future__ import annotations

import json
import math
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


def test_condensation_training_killed_mid_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """A run stopped after two of four epochs and continued with --resume ends with the weights and
    loss history of the uninterrupted run (the stage continues from checkpoints/condensation_net/last.ckpt)."""
    import torch

    import gnn4hep.training.trainer as trainer_module
    from tests.training.test_lightning_event_training import Interrupt, StopAtEpoch

    overrides = SMOKE + ["data.eval_events=[]", "trainer.max_epochs=4",
                         "stages=[trackml_simulate,trackml_build_graphs,trackml_condensation_train]"]  # fmt: skip
    reference = run_experiment(CONFIG, overrides, out=tmp_path / "reference")
    make_trainer = trainer_module.make_trainer
    monkeypatch.setattr(trainer_module, "make_trainer", lambda *a, callbacks=None, **k: make_trainer(*a, callbacks=[StopAtEpoch(2)], **k))
    try:
        run_experiment(CONFIG, overrides, out=tmp_path / "cut")
    except Interrupt:
        pass
    monkeypatch.setattr(trainer_module, "make_trainer", make_trainer)
    staging = tmp_path / ".cut.partial"
    assert torch.load(staging / "checkpoints" / "condensation_net" / "last.ckpt", weights_only=True)["epoch"] == 1
    resumed = run_experiment(resume=staging)
    a, b = (torch.load(run / "condensation_net.pt", weights_only=True) for run in (reference, resumed))
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert torch.equal(a["loss_history"], b["loss_history"]) and len(a["loss_history"]) == 4
