"""Experiment runner: config validation, run folders, provenance, atomic outputs, resume."""

from __future__ import annotations

import json

import pytest
import yaml

from gnn4hep.config.loading import apply_overrides, parse_override
from gnn4hep.errors import ConfigError
from gnn4hep.runner import RunContext, stage
from gnn4hep.runner.run import run_experiment, staging_dir_for


def _write(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


DEMO = "name: demo\nseed: 3\nstages: [score_demo]\ndemo:\n  n_particles: 60\n"


def test_run_folder_contents_and_provenance(tmp_path):
    run_dir = run_experiment(_write(tmp_path, DEMO), ["demo.reassign_fraction=0.2"], out=tmp_path / "run")
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "metrics.json", "run.json", "summary.md", "log.txt", "plots"} <= names
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["demo"]["reassign_fraction"] == 0.2 and config["seed"] == 3
    info = json.loads((run_dir / "run.json").read_text())
    assert info["seed"] == 3 and "numpy" in info["packages"] and "commit" in info["git"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["trackml_score"] == pytest.approx(1.0)
    assert metrics["reassign_0.2"]["trackml_score"] < 1.0
    assert (run_dir / "plots" / "scores.png").stat().st_size > 1000
    assert not staging_dir_for(run_dir).exists()
    assert not [p for p in run_dir.rglob("*.tmp")]


def test_same_seed_same_metrics(tmp_path):
    a = run_experiment(_write(tmp_path, DEMO), out=tmp_path / "a")
    b = run_experiment(_write(tmp_path, DEMO), out=tmp_path / "b")
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()


@pytest.mark.parametrize(
    "text, message",
    [
        (DEMO + "bogus: 1\n", "unknown key 'bogus'"),
        (DEMO.replace("n_particles: 60", "n_particle: 60"), "unknown key 'demo.n_particle'; allowed here: event, n_particles"),
        (DEMO.replace("n_particles: 60", "n_particles: many"), "key 'demo.n_particles'"),
        (DEMO.replace("seed: 3", "seed: -1"), "key 'seed'"),
        ("seed: 1\nstages: [score_demo]\n", "missing required key 'name'"),
        (DEMO.replace("[score_demo]", "[no_such_stage]"), "unknown stage 'no_such_stage'"),
        (DEMO.replace("stages: [score_demo]", "stages: score_demo"), "'stages' must be a non-empty list"),
        ("name: [unclosed\n", "invalid YAML (line"),
        ("", "the config file is empty"),
        ("- a\n- b\n", "must be a mapping"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        run_experiment(_write(tmp_path, text), out=tmp_path / "run")
    assert message in str(info.value)
    assert not (tmp_path / "run").exists()


def test_overrides_parse_yaml_values():
    assert parse_override("models=[pfn,efn]") == (["models"], ["pfn", "efn"])
    assert parse_override("trainer.max_epochs=3") == (["trainer", "max_epochs"], 3)
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x"]) == {"a": {"b": 1, "c": "x"}}
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("trainer.max_epochs")
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_existing_run_folder_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        run_experiment(_write(tmp_path, DEMO), out=tmp_path / "run")


_CALLS: list[str] = []


@stage("test_fail_once")
def _fail_once(ctx: RunContext) -> None:
    _CALLS.append("fail_once")
    ctx.log_metrics({"partial": 1})
    if _CALLS.count("fail_once") == 1:
        raise RuntimeError("killed")


def test_failed_run_leaves_only_staging_folder_and_resumes(tmp_path):
    from gnn4hep.runner import registry

    config = _write(tmp_path, "name: r\nstages: [score_demo, test_fail_once]\ndemo: {n_particles: 30}\n")
    registry.STAGE_MODULES  # the test stage is registered by import of this module
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment(config, out=tmp_path / "run")
    staging = staging_dir_for(tmp_path / "run")
    assert not (tmp_path / "run").exists() and staging.is_dir()
    assert "run failed" in (staging / "log.txt").read_text()
    started = json.loads((staging / "run.json").read_text())["started"]
    run_dir = run_experiment(resume=staging)
    assert run_dir == tmp_path / "run" and not staging.exists()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["started"] == started and len(info["resumed"]) == 1 and info["finished"] >= started
    assert "score_demo: already done, skipped" in (run_dir / "log.txt").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["partial"] == 1 and metrics["trackml_score"] == pytest.approx(1.0)
