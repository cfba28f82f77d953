"""Loaders of the public jet layouts, each tested on a small file written in the real format."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from gnn4hep.errors import InputFileError
from gnn4hep.jets import io
from gnn4hep.jets.constituents import pt_eta_phi

from .conftest import make_jets


def assert_same_jets(a, b, atol=1e-3):
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.mask, b.mask[:, : a.max_constituents])
    np.testing.assert_allclose(a.p4, b.p4[:, : a.max_constituents], atol=atol, rtol=1e-5)


def test_top_tagging_round_trip(tmp_path, jets):
    path = tmp_path / "train.h5"
    io.write_top_tagging(jets, path)
    back = io.read_top_tagging(path)
    assert_same_jets(jets, back)
    assert back.pid is None
    assert io.read_jets(path).labels.tolist() == jets.labels.tolist()


def test_top_tagging_missing_label_column(tmp_path, jets):
    import h5py

    path = tmp_path / "bad.h5"
    io.write_top_tagging(jets, path)
    with h5py.File(path, "r+") as handle:
        del handle["table/block1_items"]
        handle["table/block1_items"] = np.array([b"ttv", b"label"])
    with pytest.raises(InputFileError, match="is_signal_new"):
        io.read_top_tagging(path)


def test_energyflow_npz(tmp_path):
    rng = np.random.default_rng(1)
    n, m = 6, 10
    pt = rng.uniform(1, 50, (n, m))
    pt[:, 7:] = 0.0  # padding
    y = rng.normal(0, 1, (n, m))
    phi = rng.uniform(0, 2 * np.pi, (n, m))
    pid = rng.choice([22, 211, -211, 2112], (n, m)).astype(float)
    x = np.stack([pt, y, phi, np.where(pt > 0, pid, 0)], axis=-1)
    path = tmp_path / "QG_jets.npz"
    np.savez(path, X=x, y=np.arange(n) % 2)
    jets = io.read_energyflow(path)
    assert jets.max_constituents == m and jets.multiplicity.tolist() == [7] * n
    got_pt, _, got_phi = pt_eta_phi(jets.p4)
    np.testing.assert_allclose(np.sort(got_pt, axis=1)[:, ::-1][:, :7], np.sort(pt, axis=1)[:, ::-1][:, :7], rtol=1e-5)
    e, pz = jets.p4[0, 0, 3].astype(np.float64), jets.p4[0, 0, 2].astype(np.float64)
    first = np.argmax(pt[0])
    assert 0.5 * np.log((e + pz) / (e - pz)) == pytest.approx(y[0, first], abs=1e-3)
    assert jets.charge[0, 0] == {22: 0, 211: 1, -211: -1, 2112: 0}[int(pid[0, first])]
    # E² − p² = m²(pid): neutrons are massive, photons are not (float32 rounding ~1e-6 E²)
    p4 = jets.p4.astype(np.float64)
    m2 = p4[..., 3] ** 2 - (p4[..., :3] ** 2).sum(-1)
    slack = 1e-6 * p4[..., 3] ** 2
    assert np.all(np.abs(m2[jets.pid == 2112] - 0.93957**2) < 0.01 + slack[jets.pid == 2112])
    assert np.all(np.abs(m2[jets.pid == 22]) < slack[jets.pid == 22] + 1e-3)
    with pytest.raises(InputFileError, match="'y'"):
        np.savez(tmp_path / "bad.npz", X=x)
        io.read_energyflow(tmp_path / "bad.npz")


def test_particle_transformer_round_trip(tmp_path, jets):
    io.write_particle_transformer(jets, tmp_path / "toy")
    back = io.read_particle_transformer(tmp_path / "toy")
    assert_same_jets(jets, back)
    np.testing.assert_array_equal(back.pid, jets.pid)  # the optional gnn4hep arrays come back
    np.testing.assert_array_equal(back.charge, jets.charge)
    folder = io.read_jets(tmp_path)
    assert len(folder) == len(jets)
    points = np.load(tmp_path / "toy_pf_points.npy")
    assert points.shape == (len(jets), 2, jets.max_constituents)


def test_particle_transformer_one_hot_and_errors(tmp_path, jets):
    io.write_particle_transformer(jets, tmp_path / "oh")
    onehot = np.eye(3)[np.arange(len(jets)) % 3]
    np.save(tmp_path / "oh_labels.npy", onehot)
    assert io.read_particle_transformer(tmp_path / "oh").labels.tolist() == (np.arange(len(jets)) % 3).tolist()
    assert io.read_particle_transformer(tmp_path / "oh", signal_class=1).labels.tolist() == (
        (np.arange(len(jets)) % 3) == 1).astype(int).tolist()
    (tmp_path / "oh_pf_mask.npy").unlink()
    with pytest.raises(InputFileError, match="oh_pf_mask.npy"):
        io.read_particle_transformer(tmp_path / "oh")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no \\*_pf_vectors"):
        io.read_particle_transformer(tmp_path / "empty")
    np.save(tmp_path / "nan_pf_vectors.npy", np.full((2, 4, 3), np.nan, np.float32))
    np.save(tmp_path / "nan_pf_mask.npy", np.ones((2, 1, 3), np.float32))
    np.save(tmp_path / "nan_labels.npy", np.zeros(2))
    with pytest.raises(InputFileError, match="NaN"):
        io.read_particle_transformer(tmp_path / "nan")


def test_real_quark_gluon_arrays(qg_dir):
    jets = io.read_particle_transformer(qg_dir / "qg")
    assert len(jets) == 2000 and jets.max_constituents == 128
    assert set(np.unique(jets.labels)) == {0, 1}
    # label 1 (quark) jets have fewer constituents than gluon jets
    assert jets.multiplicity[jets.labels == 1].mean() < jets.multiplicity[jets.labels == 0].mean()
    pt, _, _ = pt_eta_phi(jets.p4)
    jet_pt = np.hypot(jets.p4[..., 0].sum(1), jets.p4[..., 1].sum(1))
    assert 400 < np.median(jet_pt) < 650
    assert np.all(np.diff(np.where(jets.mask, pt, -1), axis=1) <= 1e-3)  # pT-ordered


def test_jetclass_root(tmp_path):
    uproot = pytest.importorskip("uproot")
    rng = np.random.default_rng(2)
    counts = np.array([3, 5, 2])
    def jag(values):
        return ak.unflatten(values, counts)
    total = counts.sum()
    px, py, pz = rng.normal(0, 10, total), rng.normal(0, 10, total), rng.normal(0, 10, total)
    energy = np.sqrt(px**2 + py**2 + pz**2 + 0.0195)
    charge = rng.choice([-1.0, 0.0, 1.0], total)
    is_ch = (charge != 0).astype(float)
    branches = {"part_px": jag(px), "part_py": jag(py), "part_pz": jag(pz), "part_energy": jag(energy),
                "part_charge": jag(charge), "part_isChargedHadron": jag(is_ch), "part_isPhoton": jag(1 - is_ch)}
    for i, name in enumerate(io.JETCLASS_LABELS):
        branches[name] = np.array([i == 0, i == 8, i == 0], dtype=np.float32)
    path = tmp_path / "jc.root"
    with uproot.recreate(path) as handle:
        handle["tree"] = branches
    jets = io.read_jetclass_root(path, max_constituents=4)
    assert jets.labels.tolist() == [0, 8, 0]
    assert jets.multiplicity.tolist() == [3, 4, 2]
    assert io.read_jets(path, signal_class=8).labels.tolist() == [0, 1, 0]
    # constituent sums: jet 0 keeps all three
    np.testing.assert_allclose(jets.p4[0].sum(0), [px[:3].sum(), py[:3].sum(), pz[:3].sum(), energy[:3].sum()],
                               rtol=1e-5, atol=1e-4)
    assert set(np.unique(jets.pid[jets.mask])) <= {211, -211, 22}
    assert np.all((jets.pid[jets.mask] == 22) == (jets.charge[jets.mask] == 0))


def test_unknown_layout(tmp_path):
    with pytest.raises(InputFileError, match="not a known jet layout"):
        io.read_jets(tmp_path / "x.csv")


def test_concatenate_pads(jets):
    from gnn4hep.jets.constituents import concatenate

    other = make_jets(4, 40, seed=3)
    both = concatenate([jets, other])
    assert both.p4.shape == (len(jets) + 4, 40, 4)
    assert both.mask[: len(jets), 30:].sum() == 0
