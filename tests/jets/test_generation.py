"""Pythia 8 + FastJet jet generation (tiny samples) and the ``gnn4hep jets`` commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gnn4hep.jets.constituents import invariant_mass, jet_p4, pt_eta_phi
from gnn4hep.jets.generation import GenerationConfig, _smear, generate, read_generated
from gnn4hep.jets.io import read_jets


def test_process_defaults_and_errors():
    top, qg = GenerationConfig.for_process("top"), GenerationConfig.for_process("qg")
    assert (top.radius, top.pt_min, top.pt_max, top.eta_max) == (0.8, 550.0, 650.0, 2.0)
    assert (qg.radius, qg.pt_min, qg.pt_max) == (0.4, 500.0, 550.0)
    assert any("qg2gmZq" in s for s in qg.pythia_settings(True))
    assert any("qqbar2gmZg" in s for s in qg.pythia_settings(False))
    assert any("ttbar" in s for s in top.pythia_settings(True))
    assert "HardQCD:all = on" in top.pythia_settings(False)
    with pytest.raises(ValueError, match="unknown process"):
        GenerationConfig.for_process("higgs")


def test_smearing_keeps_directions_close_and_energies_unbiased():
    rng = np.random.default_rng(0)
    n = 20000
    e = np.full(n, 100.0)
    px, py, pz = np.full(n, 60.0), np.full(n, 0.0), np.full(n, 80.0)
    config = GenerationConfig(smear=True)
    sx, sy, sz, se = _smear(px, py, pz, e, config, rng)
    expected = np.hypot(config.energy_stochastic / 10.0, config.energy_constant)
    assert se.mean() == pytest.approx(100.0, rel=0.01)
    assert se.std() / 100.0 == pytest.approx(expected, rel=0.05)
    _, eta, phi = pt_eta_phi(np.stack([sx, sy, sz, se], axis=1))
    assert np.std(phi) == pytest.approx(config.angle_sigma, rel=0.05)


def test_cli_generates_quark_gluon_jets(tmp_path):
    from gnn4hep.cli.main import app

    out = tmp_path / "qg"
    result = CliRunner().invoke(app, ["jets", "generate", "--process", "qg", "--jets", "2", "--out", str(out),
                                      "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # one JSON object, no FastJet banner
    assert summary["n_jets"] == 4 and summary["n_signal"] == 2
    jets = read_generated(out / "jets.h5")
    assert jets.max_constituents == 200 and jets.pid is not None
    np.testing.assert_array_equal(jets.mask, jets.pid != 0)
    assert set(np.unique(jets.charge)) <= {-1.0, 0.0, 1.0}
    p4 = jet_p4(jets)
    pt = np.hypot(p4[:, 0], p4[:, 1])
    assert np.all((pt >= 500) & (pt <= 550))
    rapidity = 0.5 * np.log((p4[:, 3] + p4[:, 2]) / (p4[:, 3] - p4[:, 2]))
    assert np.all(np.abs(rapidity) < 1.7)
    # constituents lie within the jet radius (anti-kT jets are nearly cones)
    from gnn4hep.jets.constituents import relative_coordinates

    deta, dphi = relative_coordinates(jets)
    assert np.hypot(deta, dphi)[jets.mask].max() < 0.4 * 1.3
    # the Particle-Transformer arrays hold the same jets
    part = read_jets(out)
    np.testing.assert_allclose(part.p4, jets.p4, rtol=1e-6)
    info = CliRunner().invoke(app, ["jets", "info", str(out / "jets.h5"), "--json"])
    assert json.loads(info.stdout)["n_jets"] == 4


def test_cli_bad_options():
    from gnn4hep.cli.main import app

    result = CliRunner().invoke(app, ["jets", "generate", "--process", "z", "--jets", "1"])
    assert result.exit_code != 0 and "--process" in result.output


@pytest.mark.slow
def test_top_jets_are_reproducible_and_have_the_top_mass():
    config = GenerationConfig.for_process("top", chunk_jets=10)
    first = generate(config, 10, seed=5, progress=False)
    again = generate(config, 10, seed=5, progress=False)
    np.testing.assert_array_equal(first.p4, again.p4)
    mass = invariant_mass(jet_p4(first))
    assert 140 < np.median(mass[first.labels == 1]) < 200
    assert np.median(mass[first.labels == 0]) < 140


@pytest.mark.slow
def test_parallel_generation_equals_serial():
    config = GenerationConfig.for_process("qg", chunk_jets=2)
    serial = generate(config, 4, seed=3, workers=1, progress=False)
    parallel = generate(config, 4, seed=3, workers=2, progress=False)
    for name in ("p4", "pid", "charge", "labels"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))


def test_interrupted_then_resumed_generation_equals_one_go(tmp_path, monkeypatch):
    import gnn4hep.jets.generation as generation
    from gnn4hep.errors import InputFileError

    config = GenerationConfig.for_process("qg", chunk_jets=1, batch_events=5, max_constituents=40)
    one_go = generate(config, 2, seed=7, progress=False)  # 4 chunks, in memory
    real, calls = generation.generate_chunk, []

    def interrupted(*args):
        calls.append(args[3])
        if len(calls) == 3:
            raise KeyboardInterrupt  # the third chunk never finishes
        return real(*args)

    monkeypatch.setattr(generation, "generate_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generation.generate_resumable(config, 2, tmp_path / "chunks", seed=7, progress=False)
    assert len(list((tmp_path / "chunks").glob("*.npz"))) == 2  # finished chunks are on disk, no partial file
    assert not list((tmp_path / "chunks").glob(".*"))
    calls.clear()
    resumed, generated = generation.generate_resumable(config, 2, tmp_path / "chunks", seed=7, progress=False)
    assert generated == 2 and len(calls) == 2  # only the two missing chunks were generated again
    for name in ("p4", "mask", "pid", "charge", "labels"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(one_go, name))
    # a folder of another seed's chunks is never mixed in
    with pytest.raises(InputFileError, match="seed"):
        generation.generate_resumable(config, 2, tmp_path / "chunks", seed=8, progress=False)
