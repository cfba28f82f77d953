"""Model and graph files are read with ``torch.load(weights_only=True)``: a file carrying a pickled
object that would run code when unpickled is refused with an error naming the file, and its code
never runs. Corrupt files get the same kind of error."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
import torch

from gnn4hep.errors import InputFileError
from gnn4hep.graphs.io import load_graph
from gnn4hep.graphs.metric_learning import load_metric_learning
from gnn4hep.pipelines.trackml_hdbscan import load_condensation_model
from gnn4hep.training.edge_training import load_edge_model


class Trap:
    """Unpickling this object creates the file ``marker`` (stands in for arbitrary code)."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _unsafe_file(tmp_path, name: str, payload: dict) -> tuple[pathlib.Path, pathlib.Path]:
    marker = tmp_path / f"{name}.executed"
    path = tmp_path / f"{name}.pt"
    torch.save({**payload, "extra": Trap(marker)}, path)
    return path, marker


LOADERS = {
    "edge_model": (load_edge_model, {"state_dict": {}, "model_config": {"type": "interaction_network"}}),
    "graph": (load_graph, {"x": torch.zeros(2, 3), "edge_index": torch.zeros(2, 1, dtype=torch.long)}),
    "metric_learning": (load_metric_learning, {"state_dict": {}, "embedding_hidden": 8, "embedding_dim": 2}),
    "condensation": (load_condensation_model, {"state_dict": {}, "config": {}, "in_features": 3}),
}


def test_the_trap_is_live(tmp_path):
    """Control: without weights_only the file does run its code (so the tests below can fail)."""
    path, marker = _unsafe_file(tmp_path, "control", {})
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_pickled_code_is_refused(tmp_path, name):
    loader, payload = LOADERS[name]
    path, marker = _unsafe_file(tmp_path, name, payload)
    with pytest.raises(InputFileError) as info:
        loader(path)
    assert str(path) in str(info.value) and "refused: " in str(info.value) and "pickled Python objects" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_corrupt_file_is_named(tmp_path, name):
    loader, payload = LOADERS[name]
    path = tmp_path / f"{name}.pt"
    torch.save(payload, path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputFileError) as info:
        loader(path)
    assert str(path) in str(info.value) and "not a readable" in str(info.value)


def test_cli_refuses_a_pickle_bearing_graph_file(tmp_path):
    """``gnn4hep qubo build --doublets graph.pt`` reads the graph with weights_only: one line, exit 2."""
    from gnn4hep.tracking.io import write_event
    from gnn4hep.tracking.toy import make_toy_event

    event = make_toy_event(n_particles=30, seed=1, event_id=2)
    write_event(event, tmp_path / event.name)
    path, marker = _unsafe_file(tmp_path, "doublets", LOADERS["graph"][1])
    result = subprocess.run([sys.executable, "-m", "gnn4hep.cli.main", "qubo", "build", str(tmp_path / event.name),
                             "--doublets", str(path), "-o", str(tmp_path / "q.json")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr.replace("\n", "") and "refused" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3  # one message (rich may wrap it), no torch essay
    assert not marker.exists()
