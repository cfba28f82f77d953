"""QUBO files: JSON/COO round trip, dimod native round trip, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gnn4hep.errors import InputFileError
from gnn4hep.quantum.dataset import reduce_event
from gnn4hep.quantum.doublets import make_doublets
from gnn4hep.quantum.model import QuboConfig, build_bqm
from gnn4hep.quantum.serialization import load_qubo, save_qubo
from gnn4hep.tracking.toy import make_toy_event


@pytest.fixture(scope="module")
def model():
    event = reduce_event(make_toy_event(n_particles=60, seed=5), density=1.0, volumes=None)
    config = QuboConfig(conflict_strength=0.7, strength_bounds=(-0.9, 0.0))
    return build_bqm(event.hits, make_doublets(event.hits), config)


def test_json_round_trip_is_exact(model, tmp_path):
    path = save_qubo(model, tmp_path / "q.json", event=tmp_path / "ev" / "event000000000", meta={"density": 1.0})
    doc = json.loads(path.read_text())
    assert doc["event"] == "ev/event000000000"  # relative to the QUBO's folder
    assert len(doc["linear"]) == doc["num_variables"] == model.n_variables
    assert len(doc["quadratic"]["row"]) == model.n_couplings
    loaded, info = load_qubo(path)
    assert loaded.bqm == model.bqm
    assert np.array_equal(loaded.triplets, model.triplets)
    assert loaded.config == model.config
    assert info["event"] == str((tmp_path / "ev" / "event000000000").resolve())
    assert info["meta"]["density"] == 1.0


def test_dimod_file_round_trip_keeps_triplet_names(model, tmp_path):
    path = save_qubo(model, tmp_path / "q.bqm")
    loaded, info = load_qubo(path)
    assert info["event"] is None
    assert np.array_equal(loaded.triplets, model.triplets)
    assert loaded.bqm == model.bqm


def test_bad_files_are_named(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        load_qubo(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(InputFileError, match="bad.json.*format"):
        load_qubo(bad)
    bad.write_text('{"format": "gnn4hep-qubo", "num_variables": 2, "linear": [0, 0], "triplets": [[1, 2, 3], [2, 3, 4]],'
                   ' "quadratic": {"row": [0], "col": [5], "value": [1.0]}}')
    with pytest.raises(InputFileError, match="indices outside"):
        load_qubo(bad)
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON"):
        load_qubo(bad)
