"""CLI (gnn4hep qubo build/solve/score) and the trackml_qubo experiment config."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gnn4hep.cli.main import app
from gnn4hep.quantum.doublets import make_doublets
from gnn4hep.runner.run import run_experiment
from gnn4hep.tracking.io import write_event
from gnn4hep.tracking.toy import make_toy_event

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


@pytest.fixture
def toy_prefix(tmp_path):
    event = make_toy_event(n_particles=120, seed=3, event_id=7)
    prefix = tmp_path / "in" / event.name
    write_event(event, prefix)
    return prefix


def test_build_solve_score_round_trip(toy_prefix, tmp_path):
    qubo = tmp_path / "q.json"
    result = _invoke("qubo", "build", toy_prefix, "--density", "0.5", "--seed", "1", "-o", qubo, "--all-volumes", "--json")
    assert result.exit_code == 0, result.output
    built = json.loads(result.stdout)
    assert built["n_variables"] > 0 and built["n_couplings"] > 0 and built["build_seconds"] > 0
    assert (tmp_path / "q_event" / "event000000007-hits.csv.gz").is_file()
    submission = tmp_path / "sub.csv"
    result = _invoke("qubo", "solve", qubo, "--sampler", "sa", "--seed", "2", "--reads", "4", "-o", submission, "--json")
    assert result.exit_code == 0, result.output
    solved = json.loads(result.stdout)
    assert solved["energy"] < 0 and solved["n_selected"] > 0
    table = pd.read_csv(submission)
    hits = pd.read_csv(tmp_path / "q_event" / "event000000007-hits.csv.gz")
    assert sorted(table["hit_id"]) == sorted(hits["hit_id"]) and (table["event_id"] == 7).all()
    result = _invoke("qubo", "score", qubo, submission, "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert {"purity", "efficiency", "trackml_score"} <= set(scored)
    assert scored["purity"] > 0.9 and scored["efficiency"] > 0.9 and scored["trackml_score"] > 0.8


def test_build_from_a_doublet_table(toy_prefix, tmp_path):
    from gnn4hep.tracking.io import read_event

    doublets = make_doublets(read_event(toy_prefix, parts=("hits",)).hits).assign(score=0.9)
    csv = tmp_path / "edges.csv"
    doublets.to_csv(csv, index=False)
    result = _invoke("qubo", "build", toy_prefix, "--density", "1", "-o", tmp_path / "g.json", "--all-volumes",
                     "--doublets", csv, "--json")  # fmt: skip
    geometric = _invoke("qubo", "build", toy_prefix, "--density", "1", "-o", tmp_path / "r.json", "--all-volumes", "--json")
    assert result.exit_code == 0 and geometric.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_variables"] == json.loads(geometric.stdout)["n_variables"]
    parquet = tmp_path / "edges.parquet"
    doublets.rename(columns={"hit_id_in": "target_hit_id", "hit_id_out": "source_hit_id", "score": "edge_score"}).to_parquet(parquet)
    result = _invoke("qubo", "build", toy_prefix, "--density", "1", "-o", tmp_path / "p.json", "--all-volumes",
                     "--doublets", parquet, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_variables"] == json.loads(geometric.stdout)["n_variables"]


def test_cli_input_errors_are_one_line(toy_prefix, tmp_path):
    result = _invoke("qubo", "build", toy_prefix, "--density", "1.5", "-o", tmp_path / "q.json")
    assert result.exit_code == 2 and "--density" in result.output
    result = _invoke("qubo", "solve", tmp_path / "absent.json", "-o", tmp_path / "s.csv")
    assert result.exit_code == 2 and "file not found" in result.output


def test_fake_token_never_printed_or_written(toy_prefix, tmp_path, monkeypatch):
    import socket

    token = "DEV-fake-token-0123456789abcdef"
    monkeypatch.setenv("DWAVE_API_TOKEN", token)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DWAVE_API_ENDPOINT", "http://127.0.0.1:9/sapi/v2/")  # no region look-up

    def no_network(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", no_network)
    qubo = tmp_path / "q.json"
    assert _invoke("qubo", "build", toy_prefix, "--density", "0.3", "-o", qubo, "--all-volumes").exit_code == 0
    result = _invoke("qubo", "solve", qubo, "--sampler", "qpu", "-o", tmp_path / "s.csv",
                     "--sampler-option", "http_retry_total=0")  # fmt: skip
    assert result.exit_code != 0
    assert token not in result.output and token not in str(result.exception)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_experiment_smoke(tmp_path):
    overrides = ["qubo_data.toy_particles=80", "qubo_data.densities=[0.5]", "qubo_solve.num_reads=2"]
    run_dir = run_experiment(REPO / "experiments" / "trackml_qubo.yaml", overrides, out=tmp_path / "run")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"purity", "efficiency", "trackml_score"} <= set(metrics)
    assert {"n_variables", "n_couplings", "build_seconds"} <= set(metrics["density_0.5"])
    assert {"energy", "solve_seconds"} <= set(metrics["density_0.5_sa"])
    assert (run_dir / "plots" / "qubo_metrics.png").is_file()


def test_build_set_overrides_config_and_rejects_unknown_keys(toy_prefix, tmp_path):
    qubo = tmp_path / "q.json"
    result = _invoke("qubo", "build", toy_prefix, "--density", "1", "-o", qubo, "--all-volumes",
                     "--set", "tplet_max_drz=0.05", "--set", "drz_weight=0.5")  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads(qubo.read_text())["config"]
    assert config["tplet_max_drz"] == 0.05 and config["drz_weight"] == 0.5
    result = _invoke("qubo", "build", toy_prefix, "-o", qubo, "--set", "tplet_max_drzz=1")
    assert result.exit_code == 2 and "tplet_max_drzz" in result.output


def test_solve_with_kalman_refit_on_the_real_sample_event(sample_event_prefix, tmp_path):
    qubo = tmp_path / "q.json"
    assert _invoke("qubo", "build", sample_event_prefix, "--density", "0.5", "-o", qubo).exit_code == 0
    plain, refitted = tmp_path / "plain.csv", tmp_path / "refit.csv"
    assert _invoke("qubo", "solve", qubo, "--min-hits", "5", "-o", plain).exit_code == 0
    result = _invoke("qubo", "solve", qubo, "--min-hits", "5", "--refit", "--refit-material", "trackml", "-o", refitted)
    assert result.exit_code == 0, result.output
    before, after = pd.read_csv(plain), pd.read_csv(refitted)
    assert sorted(before["hit_id"]) == sorted(after["hit_id"])
    # the refit removes outliers and attaches hits that were alone or on short (< 4 hits) tracks:
    # no refitted track holds hits of two plain tracks of >= 4 hits
    merged = before.merge(after, on="hit_id", suffixes=("_plain", "_refit"))
    merged["plain_size"] = merged.groupby("track_id_plain")["hit_id"].transform("size")
    long = merged[merged["plain_size"] >= 4]
    assert (long.groupby("track_id_refit")["track_id_plain"].nunique() == 1).all()
    scored = json.loads(_invoke("qubo", "score", qubo, refitted, "--json").stdout)
    plain_score = json.loads(_invoke("qubo", "score", qubo, plain, "--json").stdout)
    assert scored["trackml_score"] >= plain_score["trackml_score"] - 0.005 and scored["trackml_score"] > 0.8


def test_mock_qpu_solve_reports_the_qpu_figures(toy_prefix, tmp_path):
    qubo = tmp_path / "q.json"
    assert _invoke("qubo", "build", toy_prefix, "--density", "0.2", "-o", qubo, "--all-volumes").exit_code == 0
    result = _invoke("qubo", "solve", qubo, "--sampler", "mock-qpu", "--reads", "5", "-o", tmp_path / "s.csv", "--json")
    assert result.exit_code == 0, result.output
    solved = json.loads(result.stdout)
    for key in ("embedding_qubits", "embedding_max_chain", "embedding_mean_chain", "chain_strength", "chain_break_fraction",
                "qpu_access_time_ms", "qpu_num_reads", "anneal_schedule", "energy_gap_to_sa"):
        assert key in solved, key
    assert solved["qpu_topology"] == "pegasus [16]" and solved["qpu_num_reads"] == 5
    assert solved["embedding_qubits"] >= solved["n_variables"] and solved["qpu_access_time_ms"] > 15
    assert solved["energy_gap_to_sa"] == pytest.approx((solved["energy"] - solved["sa_energy"]) / abs(solved["sa_energy"]))


def test_unembeddable_qubo_exits_2_with_one_line(toy_prefix, tmp_path):
    import subprocess
    import sys

    qubo = tmp_path / "q.json"
    assert _invoke("qubo", "build", toy_prefix, "--density", "0.2", "-o", qubo, "--all-volumes").exit_code == 0
    code = "from gnn4hep.cli.main import main; main()"
    args = [sys.executable, "-c", code, "qubo", "solve", str(qubo), "--sampler", "mock-qpu", "--sampler-option",
            "topology=chimera", "--sampler-option", "shape=[1,1,4]", "-o", str(tmp_path / "s.csv")]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot be embedded on chimera [1, 1, 4]" in lines[0] and "Traceback" not in lines[0]
    assert not (tmp_path / "s.csv").exists()


def test_qallse_preset_and_tuned_default(toy_prefix, tmp_path):
    from gnn4hep.quantum.serialization import load_qubo

    for preset, drz, weight in (("tuned", 0.05, 0.5), ("qallse", 0.1, 0.0)):
        qubo = tmp_path / f"{preset}.json"
        extra = [] if preset == "tuned" else ["--preset", preset]
        assert _invoke("qubo", "build", toy_prefix, "-o", qubo, "--all-volumes", *extra).exit_code == 0
        config = load_qubo(qubo)[0].config
        assert (config.tplet_max_drz, config.drz_weight) == (drz, weight)
    result = _invoke("qubo", "build", toy_prefix, "-o", tmp_path / "x.json", "--preset", "qalse")
    assert result.exit_code == 2 and "--preset" in result.output
