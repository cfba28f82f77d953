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
