"""The gnn4hep command line: info, score, run; --json output; one-line errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gnn4hep.tracking import degrade
from gnn4hep.tracking.io import write_event
from gnn4hep.tracking.toy import make_toy_event


def gnn4hep(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gnn4hep.cli.main", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def event_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    event = make_toy_event(n_particles=80, seed=5, event_id=3)
    write_event(event, folder / "event000000003")
    degrade.reassign_random(degrade.truth_submission(event.truth), 0.1, 0).to_csv(folder / "sub.csv", index=False)
    return folder


def test_info_json(event_files):
    result = gnn4hep("info", str(event_files / "event000000003"), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["event_id"] == 3 and info["n_hits"] > 0 and info["n_particles"] == 80


def test_score_json_and_table(event_files):
    result = gnn4hep("score", str(event_files / "event000000003"), str(event_files / "sub.csv"), "--json")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    from gnn4hep.tracking.io import read_event, read_submission
    from gnn4hep.tracking.scoring_reference import score_event_loop

    event = read_event(event_files / "event000000003", parts=("hits", "particles", "truth"))
    # the per-hit loop of the published definition, an independent route to the same score
    assert values["trackml_score"] == pytest.approx(score_event_loop(event.truth, read_submission(event_files / "sub.csv")), abs=1e-9)
    assert values["trackml_score"] < 1.0  # 10 % of the hits were reassigned
    assert {"efficiency", "fake_rate", "duplicate_rate", "efficiency_all"} <= set(values)
    table = gnn4hep("score", str(event_files / "event000000003"), str(event_files / "sub.csv"))
    assert "trackml_score" in table.stdout


def test_bad_inputs_give_one_line_errors(event_files, tmp_path):
    bad_sub = tmp_path / "bad.csv"
    bad_sub.write_text("hit_id,track\n1,2\n")
    cases = [
        (("score", str(event_files / "event000000003"), str(bad_sub)), "missing column(s) ['track_id']"),
        (("score", str(event_files / "event000000003"), str(tmp_path / "nope.csv")), "nope.csv: file not found"),
        (("info", str(tmp_path / "event000000001")), "event000000001: no event files"),
        (("score", str(event_files / "event000000003"), str(event_files / "sub.csv"), "--weights", "phase9"), "phase9"),
        (("run", str(tmp_path / "missing.yaml")), "config file not found"),
        (("simulate", "--out", str(tmp_path / "sim"), "--source", "pythia", "--beam-sigma-z", "5.5,wide"), "'5.5,wide'"),
        (("simulate", "--out", str(tmp_path / "sim"), "--beam-sigma-z", "55"), "--source pythia only"),
    ]
    for args, message in cases:
        result = gnn4hep(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr.replace("\n", " ") or message in result.stdout, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "sim").exists()


def test_run_with_override_and_out(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: cli\nstages: [score_demo]\ndemo: {n_particles: 40}\n")
    result = gnn4hep("run", str(config), "-o", "seed=4", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["trackml_score"] == pytest.approx(1.0)
    bad = gnn4hep("run", str(config), "-o", "demo.colour=red", "--out", str(tmp_path / "out2"))
    assert bad.returncode == 2 and "unknown key 'demo.colour'" in bad.stderr


def test_metrics_table_prints_brackets_as_text():
    from rich.console import Console

    from gnn4hep.cli.common import metrics_table

    console = Console(record=True, width=80)
    console.print(metrics_table("t", {"layers": "[/oops]", "score": 0.5}))
    text = console.export_text()
    assert "[/oops]" in text and "0.5" in text
