"""``gnn4hep run CONFIG --data FOLDER``: one folder of TrackML events, split into training and test."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gnn4hep.cli.main import app
from gnn4hep.config.loading import data_override
from gnn4hep.errors import ConfigError
from gnn4hep.tracking.io import read_detector, write_event
from gnn4hep.tracking.simulation import GunSource, simulate_event

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"  # not the working directory
DEMO = str(EXPERIMENTS / "trackml_demo.yaml")
TINY = ["data.n_train=3", "data.n_test=1", "data.val_fraction=0.0", "trainer.max_epochs=1", "model.hidden=8",
        "model.n_iterations=1", "graph.quantile=1.0", "graph.min_count=1"]


@pytest.fixture(scope="module")
def event_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_5_events")
    detector = read_detector()
    for i in range(5):
        event = simulate_event(GunSource(n_particles=60), detector, seed=100 + i, event_index=i)
        event.event_id = 1000 + i
        write_event(event, folder / f"event{1000 + i:09d}")
    return folder


def test_data_folder_is_split_into_train_and_test(event_folder, tmp_path):
    args = ["run", DEMO, "--data", str(event_folder), "--out", str(tmp_path / "run")]
    for override in TINY:
        args += ["-o", override]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_events"]["train"] == 3 and metrics["n_events"]["test"] == 1
    assert not (tmp_path / "run" / "data").exists()  # nothing simulated
    # the test event is the fourth of the folder (event-id order), never one of the training events
    assert sorted(p.stem for p in (tmp_path / "run" / "submissions" / "test").glob("*.csv")) == ["event000001003"]


def test_data_folder_too_small_or_missing_is_named(event_folder, tmp_path):
    args = ["run", DEMO, "--data", str(event_folder), "-o", "data.n_train=5",
            "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ConfigError) and "data.n_train" in str(result.exception)
    result = CliRunner().invoke(app, ["run", DEMO, "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run2")])
    assert result.exit_code == 2 and "--data" in result.output
    assert not (tmp_path / "run2").exists()


def test_data_goes_to_the_section_the_config_has(tmp_path):
    assert data_override(EXPERIMENTS / "jets_top.yaml", "jets/top") == "data.path=jets/top"
    assert data_override(EXPERIMENTS / "trackml_qubo.yaml", "ev/event000000001") == "qubo_data.event=ev/event000000001"
    bare = tmp_path / "bare.yaml"
    bare.write_text("name: bare\nstages: [score_demo]\n")
    with pytest.raises(ConfigError, match="--data"):
        data_override(bare, "x")
