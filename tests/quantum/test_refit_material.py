"""QUBO refit physics: ``--refit-material auto`` follows the event's simulation record kept in the QUBO file."""

import json

import pytest
from typer.testing import CliRunner

from gnn4hep.cli.main import app
from gnn4hep.quantum.pipeline import build_qubo, refit_config
from gnn4hep.quantum.serialization import load_qubo
from gnn4hep.tracking.simulation import simulate_events
from gnn4hep.tracking.simulation.batch import read_settings


def test_auto_refit_uses_the_simulation_record_and_real_events_get_the_real_detector(tmp_path):
    # no record (real TrackML data, or QUBO files written before records were kept): the real detector
    real = refit_config({"event": None, "meta": {}})
    assert (real.material_model, real.field, real.hit_errors) == ("trackml", "trackml", "trackml")
    pythia = {"simulation": {"field": {"field": "solenoid"}, "config": {"trackml_material": True}}}
    simulated = refit_config({"meta": pythia})
    assert (simulated.material_model, simulated.field, simulated.hit_errors) == ("simulator", "solenoid", "simulated")
    assert refit_config({"meta": pythia}, "sensors").material_model == "sensors"  # an explicit choice wins
    assert refit_config({"meta": {}}).mass_gev == pytest.approx(0.13957)
    with pytest.raises(ValueError, match="refit material 'lead'"):
        refit_config({"meta": {}}, "lead")

    prefix = simulate_events(tmp_path / "ev", 1, source="gun", seed=2, progress=False)[0]
    build_qubo(prefix, tmp_path / "q.json", density=0.3, volumes=None)
    _, loaded = load_qubo(tmp_path / "q.json")
    assert loaded["meta"]["simulation"] == read_settings(tmp_path / "ev")  # kept in the QUBO file
    gun = refit_config(loaded)
    assert (gun.material_model, gun.field, gun.hit_errors) == ("sensors", "uniform", "trackml")
    result = CliRunner().invoke(app, ["qubo", "solve", str(tmp_path / "q.json"), "--reads", "1", "--min-hits", "3",
                                      "--refit", "-o", str(tmp_path / "s.csv"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_tracks"] >= 0 and (tmp_path / "s.csv").is_file()
