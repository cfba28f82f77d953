"""``gnn4hep fit`` on a simulated event written to disk."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from gnn4hep.cli.main import app
from gnn4hep.tracking.io import read_detector, write_event
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event


def test_cli_fit_writes_parameters_and_names_bad_files(tmp_path):
    event = simulate_event(GunSource(n_particles=30, pt_gev=(1.0, 20.0), eta=(-2.0, 2.0)), read_detector(), seed=5,
                           config=SimulationConfig(digitisation="smear"))
    prefix = tmp_path / "event000000001"
    write_event(event, prefix)
    candidates = tmp_path / "cands.csv"
    pd.DataFrame({"hit_id": event.truth["hit_id"], "track_id": event.truth["particle_id"].astype(np.int64)}).to_csv(candidates, index=False)
    out, cleaned = tmp_path / "params.csv", tmp_path / "cleaned.csv"
    # the simulated event's physics: uniform 2 T, bare sensors, pitch / sqrt(12) smearing
    simulated = ["--field", "uniform", "--material", "sensors", "--hit-errors", "pitch"]
    result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), "--cleaned", str(cleaned),
                                      "--json", *simulated])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    params = pd.read_csv(out)
    assert summary["n_tracks"] == len(params) == event.truth["particle_id"].nunique()
    assert summary["n_fitted"] == params["fitted"].sum() > 0
    assert {"d0", "z0", "phi", "theta", "qop", "pt", "eta", "chi2", "ndf", "n_outliers", "sigma_qop", "cov_44"} <= set(params.columns)
    assert len(pd.read_csv(cleaned)) == len(event.hits)

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"hit_id": [1, 2]}).to_csv(bad, index=False)
    result = CliRunner().invoke(app, ["fit", str(prefix), str(bad), "--out", str(out)])
    assert result.exit_code != 0
    assert "bad.csv" in str(result.exception) + result.output and "track_id" in str(result.exception) + result.output

    result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), "--material", "trackml", "--json",
                                      "--field", "uniform", "--hit-errors", "pitch"])
    assert result.exit_code == 0, result.output
    heavier = pd.read_csv(out)
    # more material in the model: larger q/p uncertainties on the same tracks
    assert (heavier["sigma_qop"] > params["sigma_qop"]).mean() > 0.9
    result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), "--material", "lead"])
    assert result.exit_code != 0 and "--material" in result.output
    for option in ("--field", "--hit-errors"):
        result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), option, "lead"])
        assert result.exit_code == 2 and option in result.output


def test_fit_defaults_follow_the_events_simulation_record(tmp_path, capsys):
    """Events with a simulation.json are fitted with the physics they were simulated with; a damaged record
    is one error naming it; events without one are treated as real TrackML data."""
    import json

    from gnn4hep.tracking.simulation import simulate_events

    prefix = simulate_events(tmp_path / "ev", 1, source="gun", seed=3, progress=False)[0]
    candidates = tmp_path / "truth.csv"
    truth = pd.read_csv(f"{prefix}-truth.csv.gz")
    pd.DataFrame({"hit_id": truth["hit_id"], "track_id": truth["particle_id"].astype(np.int64)}).to_csv(candidates, index=False)
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["field"], figures["material_model"], figures["hit_errors"]) == ("uniform", "sensors", "trackml")
    result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), "--json", "--field", "solenoid"])
    assert json.loads(result.stdout)["field"] == "solenoid"
    (tmp_path / "ev" / "simulation.json").write_text("{not json")
    from gnn4hep.cli.errors import run_app

    assert run_app(app, ["fit", str(prefix), str(candidates), "--out", str(tmp_path / "q.csv")]) == 2
    assert "simulation.json: not a simulation record" in capsys.readouterr().err
    assert not (tmp_path / "q.csv").exists()
    (tmp_path / "ev" / "simulation.json").unlink()
    result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), "--json"])
    figures = json.loads(result.stdout)
    assert (figures["field"], figures["material_model"], figures["hit_errors"]) == ("trackml", "trackml", "trackml")
    result = CliRunner().invoke(app, ["fit", str(prefix), str(candidates), "--out", str(out), "--json", "--hit-errors", "simulated"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hit_errors"] == "simulated"
