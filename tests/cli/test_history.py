"""``gnn4hep runs list`` / ``runs show``: finished, failed, killed and damaged run folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from gnn4hep.runner.history import list_runs, read_run
from gnn4hep.runner.run import run_experiment, staging_dir_for

DEMO = "name: demo\nseed: 2\nstages: [score_demo]\ndemo: {n_particles: 40, reassign_fraction: 0.3}\n"


def gnn4hep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gnn4hep.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def _set_started(folder, when: str) -> None:
    info = json.loads((folder / "run.json").read_text())
    info["started"] = when
    (folder / "run.json").write_text(json.dumps(info))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """runs/ with: ok (finished), broken (failed: missing event file), .killed.partial (no log of a
    failure), damaged (finished, truncated metrics.json), notes/ (not a run)."""
    folder = tmp_path_factory.mktemp("history")
    runs = folder / "runs"
    config = folder / "demo.yaml"
    config.write_text(DEMO)
    ok = run_experiment(config, ["demo.n_particles=50"], out=runs / "ok")
    _set_started(ok, "2026-01-02T10:00:00+00:00")
    with pytest.raises(Exception):
        run_experiment(config, [f"demo.event={folder / 'absent' / 'event000000001'}"], out=runs / "broken")
    _set_started(staging_dir_for(runs / "broken"), "2026-01-03T10:00:00+00:00")
    killed = staging_dir_for(runs / "killed")
    killed.mkdir()
    for name in ("config.yaml", "run.json"):
        shutil.copy(ok / name, killed / name)
    (killed / "state.json").write_text('{"completed": [], "stage_seconds": {}}')
    _set_started(killed, "2026-01-04T10:00:00+00:00")
    damaged = shutil.copytree(ok, runs / "damaged")
    _set_started(damaged, "2026-01-01T10:00:00+00:00")
    text = (damaged / "metrics.json").read_text()
    (damaged / "metrics.json").write_text(text[: len(text) // 2])
    (runs / "notes").mkdir()
    (runs / "notes" / "readme.txt").write_text("not a run")
    return runs


def test_list_finds_every_run_newest_first_with_status(root):
    result = gnn4hep("runs", "list", "--root", root, "--json")
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [r["name"] for r in runs] == ["killed", "broken", "ok", "damaged"]
    assert [r["status"] for r in runs] == ["partial", "failed", "finished", "finished"]
    metrics = json.loads((root / "ok" / "metrics.json").read_text())
    ok = runs[2]
    assert ok["key_metrics"] == {"trackml_score": metrics["trackml_score"]}
    assert ok["seed"] == 2 and ok["experiment"] == "demo" and ok["problems"] == []
    assert ok["seconds"] == pytest.approx(sum(json.loads((root / "ok" / "run.json").read_text())["stage_seconds"].values()))
    assert len(ok["commit"] or "") in (0, 40)
    assert runs[3]["problems"] and "metrics.json: not valid JSON" in runs[3]["problems"][0]
    table = gnn4hep("runs", "list", "--root", root)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    row = next(line for line in lines if line.strip().startswith("ok "))
    assert "finished" in row and f"trackml_score {metrics['trackml_score']:.4g}" in row and "2026-01-02 10:00" in row
    assert any(".broken.partial" in line and "failed" in line for line in lines)
    assert any("damaged" in line and "1 problem" in line for line in lines)
    assert "notes" not in table.stdout


def test_show_by_name_path_and_unfinished_name(root):
    by_name = gnn4hep("runs", "show", "ok", "--root", root, "--json")
    by_path = gnn4hep("runs", "show", root / "ok", "--json")
    assert by_name.returncode == 0 and by_path.returncode == 0, by_name.stderr + by_path.stderr
    shown = json.loads(by_name.stdout)
    assert shown == json.loads(by_path.stdout)
    assert shown["config"]["demo"]["n_particles"] == 50 and shown["overrides"] == ["demo.n_particles=50"]
    assert shown["metrics"] == json.loads((root / "ok" / "metrics.json").read_text())
    assert shown["packages"]["torch"] and "python" in shown["machine"]
    assert "plots/scores.png" in shown["files"]["plots"] and "summary.md" in shown["files"]["files"]
    killed = gnn4hep("runs", "show", "killed", "--root", root)
    assert killed.returncode == 0, killed.stderr
    assert "partial" in killed.stdout and f"gnn4hep run --resume {root / '.killed.partial'}" in killed.stdout
    text = gnn4hep("runs", "show", "ok", "--root", root)
    assert "n_particles=50" in text.stdout and "plots/scores.png" in text.stdout and "torch 2." in text.stdout


def test_damaged_and_missing_runs_give_clear_messages(root):
    damaged = gnn4hep("runs", "show", "damaged", "--root", root)
    assert damaged.returncode == 0 and "problem: metrics.json: not valid JSON" in damaged.stdout
    assert "Traceback" not in damaged.stderr
    cases = [
        (("runs", "show", "nothing", "--root", root), "nothing: no run folder of that name or path"),
        (("runs", "show", "o", "--root", root), "runs starting with 'o': ok"),
        (("runs", "show", root / "notes"), "not a run folder"),
    ]
    for args, message in cases:
        result = gnn4hep(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr.replace("\n", "") and "Traceback" not in result.stderr, (args, result.stderr)


def test_run_json_that_is_not_a_mapping_is_a_problem_not_a_crash(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "run.json").write_text("[1, 2]")
    (folder / "config.yaml").write_text("name: [unclosed\n")
    record = read_run(folder)
    assert record.status == "finished" and record.experiment is None
    assert any("run.json: expected a mapping" in p for p in record.problems)
    assert any("config.yaml: not valid YAML" in p for p in record.problems)
    assert [r.name for r in list_runs(tmp_path)] == ["odd"]
