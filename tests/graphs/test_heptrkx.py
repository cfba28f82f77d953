"""HEP.TrkX .npz loader: edge direction, errors naming the file and array, event split, real files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gnn4hep.errors import InputFileError
from gnn4hep.graphs.heptrkx import (
    HeptrkxDataset,
    event_number,
    geometric_edge_features,
    load_heptrkx_graph,
    split_by_event,
    write_heptrkx_graph,
)
from gnn4hep.graphs.schema import validate_graph
from tests.graphs.toy_graphs import toy_graph_arrays, write_toy_folder


def _write_raw(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_edge_direction_follows_incidence_matrices(tmp_path):
    # 3 hits, 2 edges given in shuffled incidence order: edge 0 = 1 -> 2, edge 1 = 0 -> 1
    x = np.array([[0.03, 0.1, 0.0], [0.07, 0.11, 0.01], [0.11, 0.12, 0.02]], dtype=np.float32)
    path = _write_raw(
        tmp_path / "event000001000_g003.npz",
        X=x,
        Ro_rows=np.array([0, 1]), Ro_cols=np.array([1, 0]),
        Ri_rows=np.array([1, 2]), Ri_cols=np.array([1, 0]),
        y=np.array([1.0, 0.0], dtype=np.float32),
    )
    data = load_heptrkx_graph(path)
    validate_graph(data)
    assert data.edge_index.tolist() == [[1, 0], [2, 1]]
    assert data.y.tolist() == [1.0, 0.0]
    assert data.event_id == 1000
    assert data.feature_names == ["r", "phi", "z"]


def test_write_then_load_round_trip(tmp_path):
    x, edge_index, y = toy_graph_arrays(5, seed=3)
    data = load_heptrkx_graph(write_heptrkx_graph(tmp_path / "g.npz", x, edge_index, y), edge_features=True)
    assert torch.equal(data.edge_index, torch.from_numpy(edge_index))
    assert torch.allclose(data.x, torch.from_numpy(x))
    assert data.edge_attr.shape == (edge_index.shape[1], 4)
    assert data.event_id == -1
    validate_graph(data)


def test_geometric_edge_features_known_values_and_phi_wrap():
    # hit 0 at phi = 0.99 pi, hit 1 at phi = -0.99 pi: the short way round is +0.02 pi
    x = torch.tensor([[0.1, 0.99, 0.0], [0.2, -0.99, 0.1]])
    features = geometric_edge_features(x, torch.tensor([[0], [1]]))
    dr, dphi, dz, d_big_r = features[0].tolist()
    assert dr == pytest.approx(0.1)
    assert dphi == pytest.approx(0.02, abs=1e-6)
    assert dz == pytest.approx(0.1)
    deta = math.asinh(0.1 / 0.2) - 0.0
    assert d_big_r == pytest.approx(math.hypot(deta, 0.02 * math.pi), rel=1e-5)


def test_missing_array_names_file_and_array(tmp_path):
    path = _write_raw(tmp_path / "bad.npz", X=np.zeros((2, 3), np.float32), y=np.zeros(1, np.float32))
    with pytest.raises(InputFileError, match=r"bad\.npz.*Ri_rows"):
        load_heptrkx_graph(path)


def test_mismatched_shapes_name_the_array(tmp_path):
    path = _write_raw(
        tmp_path / "bad.npz",
        X=np.zeros((3, 3), np.float32),
        Ro_rows=np.array([0, 1]), Ro_cols=np.array([0, 1]),
        Ri_rows=np.array([1]), Ri_cols=np.array([0]),
        y=np.zeros(2, np.float32),
    )
    with pytest.raises(InputFileError, match=r"bad\.npz.*Ri_rows"):
        load_heptrkx_graph(path)


def test_hit_index_out_of_range_and_bad_x(tmp_path):
    arrays = dict(Ro_rows=np.array([0]), Ro_cols=np.array([0]), Ri_rows=np.array([5]), Ri_cols=np.array([0]), y=np.ones(1, np.float32))
    with pytest.raises(InputFileError, match="Ri_rows.*outside"):
        load_heptrkx_graph(_write_raw(tmp_path / "a.npz", X=np.zeros((3, 3), np.float32), **arrays))
    with pytest.raises(InputFileError, match="column 'X'"):
        load_heptrkx_graph(_write_raw(tmp_path / "b.npz", X=np.zeros((3, 2), np.float32), **arrays))
    with pytest.raises(InputFileError, match="no such"):
        load_heptrkx_graph(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(InputFileError, match="junk.npz"):
        load_heptrkx_graph(tmp_path / "junk.npz")


def test_dataset_is_lazy_and_complete(tmp_path):
    files = write_toy_folder(tmp_path / "graphs", range(3), sectors=2)
    dataset = HeptrkxDataset(tmp_path / "graphs", edge_features=True)
    assert len(dataset) == len(files) == 6
    assert [f.name for f in dataset.files] == sorted(f.name for f in files)
    assert dataset[0].edge_attr.shape[1] == 4
    assert len(HeptrkxDataset(tmp_path / "graphs", max_graphs=2)) == 2
    with pytest.raises(InputFileError, match="no such folder"):
        HeptrkxDataset(tmp_path / "graphs" / "sub")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="empty: folder holds no .npz"):
        HeptrkxDataset(tmp_path / "empty")


def test_split_by_event_keeps_sectors_together(tmp_path):
    files = write_toy_folder(tmp_path, range(10), sectors=3, n_tracks=2)
    train, test = split_by_event(files, 0.2, seed=1)
    train_events, test_events = {event_number(f) for f in train}, {event_number(f) for f in test}
    assert not train_events & test_events
    assert len(test_events) == 2 and len(train_events) == 8
    assert len(train) + len(test) == len(files)
    assert split_by_event(files, 0.2, seed=1) == (train, test)
    assert split_by_event(files, 0.0)[1] == []
    assert len({event_number(f) for f in split_by_event(files[:6], 0.01)[1]}) == 1  # at least one event
    with pytest.raises(InputFileError, match="event<number>"):
        split_by_event([tmp_path / "other.npz"], 0.1)


def test_real_heptrkx_files(shared_data, tmp_path):
    import tarfile

    archive = shared_data / "heptrkx" / "train.tar.gz"
    if not archive.exists():
        pytest.skip(f"HEP.TrkX archive not found at {archive}")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.endswith(".npz")][:3]
        tar.extractall(tmp_path, members=members, filter="data")
    for path in sorted(tmp_path.rglob("*.npz")):
        data = load_heptrkx_graph(path, edge_features=True)
        validate_graph(data)
        r = data.x[:, 0]
        # every edge goes outwards (inner hit -> outer hit) on the barrel layers
        assert bool((r[data.edge_index[1]] > r[data.edge_index[0]]).all())
        assert 0.0 < float(data.y.mean()) < 1.0
