"""The field of a simulation: defaults per source, recorded in the event and the output folder, --field."""

import json

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking.field import TRACKML_SOLENOID, UniformField
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource, ReplaySource, SimulationConfig, simulate_event
from gnn4hep.tracking.simulation.batch import read_field


@pytest.fixture(scope="module")
def detector():
    return read_detector()


def _particles_file(path, n=40):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "particle_id": np.arange(1, n + 1) << 28, "vx": 0.0, "vy": 0.0, "vz": rng.normal(0, 50, n),
        "px": rng.normal(0, 1, n), "py": rng.normal(0, 1, n), "pz": rng.normal(0, 2, n),
        "q": rng.choice([-1, 1], n), "nhits": 10, "particle_type": 211,
    })  # fmt: skip
    table.to_csv(path, index=False)
    return path


def test_realistic_sources_default_to_the_solenoid(tmp_path, detector):
    replay = ReplaySource(_particles_file(tmp_path / "event000000005-particles.csv"))
    assert SimulationConfig().resolved_field(replay) == "solenoid"
    assert SimulationConfig().resolved_field(GunSource()) == "uniform"
    assert SimulationConfig(field="uniform").resolved_field(replay) == "uniform"
    event = simulate_event(replay, detector, seed=1)
    assert event.meta["field"] == TRACKML_SOLENOID.metadata()
    assert simulate_event(GunSource(n_particles=20), detector, seed=1).meta["field"] == UniformField(2.0).metadata()
    # the two fields give different hits for the same particles (B_z < 2 T in the end-caps, B_r != 0)
    uniform = simulate_event(replay, detector, seed=1, config=SimulationConfig(field="uniform"))
    assert len(event.hits) > 100
    assert not np.allclose(event.truth.sort_values("hit_id")[["tx", "ty"]].to_numpy()[:50],
                           uniform.truth.sort_values("hit_id")[["tx", "ty"]].to_numpy()[:50])


def test_cli_field_option_is_recorded(tmp_path):
    from typer.testing import CliRunner

    from gnn4hep.cli.main import app

    out = tmp_path / "sol"
    result = CliRunner().invoke(app, ["simulate", "--out", str(out), "--source", "quick", "--field", "solenoid",
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "simulation.json").read_text())
    assert settings["field"] == TRACKML_SOLENOID.metadata() and settings["config"]["field"] == "solenoid"
    assert read_field(out) == TRACKML_SOLENOID
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "uni"), "--source", "quick", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert read_field(tmp_path / "uni") == UniformField(2.0)
    assert read_field(tmp_path) is None
    bad = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "bad"), "--field", "dipole"])
    assert bad.exit_code == 2 and "--field" in bad.output
    assert not (tmp_path / "bad").exists()
