"""One-step smoke test of experiments/trackml_gnn_small.yaml and stage-file contracts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from gnn4hep.errors import ConfigError
from gnn4hep.runner.run import run_experiment
from tests.pipelines.recompute import assert_headline_metrics_recomputed, simulated_test_events

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "experiments" / "trackml_gnn_small.yaml"


def test_small_pipeline_runs_end_to_end(tmp_path):
    run = run_experiment(SMALL, ["data.n_train=2", "data.n_test=1", "data.val_fraction=0.0"], out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert_headline_metrics_recomputed(run, simulated_test_events(run))  # loop oracle, brute-force matching
    assert 0.0 <= metrics["duplicate_rate"] <= 1.0
    assert {"graph", "inference", "building"} <= set(metrics["time_per_event"])
    assert metrics["graph_test"]["efficiency"] > 0.9
    graph_file = next((run / "graphs" / "test").glob("*.pt"))
    content = torch.load(graph_file, weights_only=True)
    assert {"x", "edge_index", "y", "hit_id", "particle_id", "pt"} <= set(content)
    submission = pd.read_csv(next((run / "submissions" / "test").glob("*.csv")))
    assert submission["hit_id"].is_unique and list(submission.columns) == ["hit_id", "track_id"]
    hits = pd.read_csv(next((run / "data" / "test").glob("*-hits.csv*")))
    assert set(submission["hit_id"]) == set(hits["hit_id"])
    scores = pd.read_parquet(next((run / "edge_scores" / "test").glob("*.parquet")))
    assert scores["edge_score"].between(0, 1).all()
    for name in ("test_efficiency", "test_edge_roc", "test_event_display"):
        assert (run / "plots" / f"{name}.png").exists()


def test_bad_graph_method_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="graph.method"):
        run_experiment(SMALL, ["graph.method=triplets"], out=tmp_path / "run")


def test_missing_train_dir_is_named(tmp_path):  # every stage accepts the whole config
    with pytest.raises(ConfigError, match="data.train_dir"):
        run_experiment(SMALL, [f"data.train_dir={tmp_path / 'nowhere'}", "stages=[trackml_build_graphs]"], out=tmp_path / "run")


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A finished small run (2 training events, 1 test event) that later runs reuse through data.from_run."""
    out = tmp_path_factory.mktemp("earlier") / "first"
    return run_experiment(SMALL, ["data.n_train=2", "data.n_test=1", "data.val_fraction=0.0"], out=out)


def rerun(earlier: Path, test_dir: Path, stages: str, out: Path) -> Path:
    """Run only ``stages`` (a YAML list) on ``test_dir``, taking everything else from ``earlier``."""
    return run_experiment(SMALL, [f"data.from_run={earlier}", f"data.test_dir={test_dir}", f"stages={stages}"], out=out)


def test_stages_one_by_one_reuse_an_earlier_run(tmp_path, earlier_run, sample_event_prefix):
    stages = "[trackml_build_graphs,trackml_filter,trackml_infer,trackml_build_tracks,trackml_evaluate]"
    second = rerun(earlier_run, sample_event_prefix.parent, stages, tmp_path / "second")
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics["test"]["n_events"] == 1
    assert_headline_metrics_recomputed(second, [sample_event_prefix])  # the real event, scored independently
    assert not (second / "graphs" / "train").exists()
    assert (second / "submissions" / "test" / f"{sample_event_prefix.name}.csv").exists()


def test_inference_alone_reads_the_earlier_runs_graphs(tmp_path, earlier_run):
    second = rerun(earlier_run, earlier_run / "data" / "test", "[trackml_infer,trackml_build_tracks]", tmp_path / "second")
    assert not any(second.rglob("*.pt"))  # no graphs of its own: the earlier run's are read
    for earlier in sorted((earlier_run / "edge_scores" / "test").glob("*.parquet")):
        again = pd.read_parquet(second / "edge_scores" / "test" / earlier.name)
        pd.testing.assert_frame_equal(again, pd.read_parquet(earlier))  # same graphs, same model
        assert (second / "submissions" / "test" / f"{earlier.stem}.csv").exists()
    assert any((second / "edge_scores" / "test").glob("*.parquet"))


def test_from_run_finds_the_training_events_that_run_read_from_train_dir(tmp_path, earlier_run):
    # a run that read its training events from data.train_dir has no data/train of its own; a later run
    # from it finds them through its config.yaml (before: "data.train_dir: <run>/data/train is not a folder")
    events = earlier_run / "data"
    reader = run_experiment(SMALL, [f"data.train_dir={events / 'train'}", f"data.test_dir={events / 'test'}",
                                    f"data.from_run={earlier_run}", "stages=[trackml_build_graphs]"], out=tmp_path / "reader")
    assert not (reader / "data" / "train").exists() and not (reader / "graph_builder").exists()
    later = rerun(reader, events / "test", "[trackml_build_graphs]", tmp_path / "later")
    assert (later / "graph_builder").is_dir()  # fitted anew on the reader's training events
    assert sorted(p.name for p in (later / "graphs" / "train").glob("*.pt")) == \
        sorted(f"{p.name.split('-')[0]}.pt" for p in (events / "train").glob("*-hits.csv*"))


def test_refit_and_evaluation_alone_read_the_earlier_runs_candidates(tmp_path, earlier_run, sample_event_prefix):
    # before: the refit read submissions/ of its own run only ("No such file or directory")
    stages = "[trackml_build_graphs,trackml_filter,trackml_infer,trackml_build_tracks,trackml_evaluate]"
    built = rerun(earlier_run, sample_event_prefix.parent, stages, tmp_path / "built")  # candidates of the real event
    refitted = rerun(built, sample_event_prefix.parent, "[trackml_refit,trackml_evaluate]", tmp_path / "refitted")
    assert not (refitted / "submissions").exists() and not (refitted / "edge_scores").exists()
    name = f"{sample_event_prefix.name}.csv"
    assert sorted(p.name for p in (refitted / "refitted" / "test").glob("*.csv")) == [name]
    candidates = pd.read_csv(built / "submissions" / "test" / name)
    cleaned = pd.read_csv(refitted / "refitted" / "test" / name)
    assert sorted(cleaned["hit_id"]) == sorted(candidates["hit_id"])
    earlier, metrics = (json.loads((run / "metrics.json").read_text()) for run in (built, refitted))
    # the candidates scored before the refit are the earlier run's, with the earlier run's edge scores
    assert metrics["test_before_refit"]["trackml_score"] == earlier["test"]["trackml_score"]
    assert metrics["test"]["edges"] == earlier["test"]["edges"]
    assert_headline_metrics_recomputed(refitted, [sample_event_prefix])
