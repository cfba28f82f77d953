"""Sampler factory: conformance of every local back-end against ExactSolver; token handling."""

from __future__ import annotations

import socket

import dimod
import numpy as np
import pytest

from gnn4hep.errors import Gnn4hepError
from gnn4hep.quantum.samplers import MissingTokenError, make_sampler, solve


def tiny_qubo() -> dimod.BinaryQuadraticModel:
    """Two 'tracks' of 3 triplets each plus a conflicting fake: 8 variables, a unique ground state."""
    bqm = dimod.BinaryQuadraticModel(dict.fromkeys(range(8), -0.01), {}, 0.0, dimod.BINARY)
    for a, b in [(0, 1), (1, 2), (3, 4), (4, 5)]:
        bqm.add_interaction(a, b, -0.8)
    for fake in (6, 7):
        bqm.add_interaction(fake, 1, 0.5)
        bqm.add_interaction(fake, 4, 0.5)
    bqm.add_interaction(6, 7, -0.3)
    return bqm


LOCAL = {
    "sa": {},
    "tabu": {},
    "steepest": {},
    "exact": {},
    "hybrid": {"subproblem_size": 4, "num_sweeps": 200},
    "mock-qpu": {},
}


@pytest.fixture(autouse=True)
def no_dwave_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("DWAVE_API_TOKEN", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_every_local_backend_finds_the_ground_state(name):
    bqm = tiny_qubo()
    exact = dimod.ExactSolver().sample(bqm).first
    sampleset, seconds = solve(bqm, make_sampler(name, **LOCAL[name]), num_reads=20, seed=1)
    assert isinstance(sampleset, dimod.SampleSet) and seconds >= 0
    assert sampleset.first.energy == pytest.approx(exact.energy)
    assert sampleset.first.sample == exact.sample


def test_mock_qpu_really_embeds():
    from gnn4hep.quantum.embedding import find_embedding

    bqm = tiny_qubo()
    sampler = make_sampler("mock-qpu")
    sampleset, _ = solve(bqm, sampler, num_reads=5, seed=4)
    embedding = find_embedding(bqm, sampler.target, seed=4)  # the cached embedding of that solve
    assert set(embedding) == set(bqm.variables)
    qubits = [q for chain in embedding.values() for q in chain]
    assert len(qubits) == len(set(qubits)) == sampleset.info["qpu"]["embedding"]["qubits"] >= bqm.num_variables
    graph = sampler.target.to_networkx_graph()
    for (u, v) in bqm.quadratic:  # every coupling is carried by at least one coupler between the two chains
        assert any(graph.has_edge(a, b) for a in embedding[u] for b in embedding[v])


def test_unknown_sampler_is_a_clear_error():
    with pytest.raises(Gnn4hepError, match="unknown sampler 'anneal'.*sa, tabu"):
        make_sampler("anneal")


@pytest.mark.parametrize("name", ["qpu", "leap-hybrid"])
def test_missing_token_fails_fast_without_network(name, monkeypatch):
    def no_socket(*args, **kwargs):
        raise AssertionError("a network socket was opened")

    monkeypatch.setattr(socket, "socket", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    with pytest.raises(MissingTokenError, match="API token not defined.*DWAVE_API_TOKEN"):
        make_sampler(name)


def test_dwave_sampler_itself_fails_without_token_and_network(monkeypatch):
    """What docs/architecture.md relies on: DWaveSampler() without a token opens no socket."""
    from dwave.system import DWaveSampler

    def no_socket(*args, **kwargs):
        raise AssertionError("a network socket was opened")

    monkeypatch.setattr(socket, "socket", no_socket)
    with pytest.raises(Exception, match="(?i)token"):
        DWaveSampler()


def test_fake_token_never_appears_in_errors(monkeypatch):
    token = "DEV-fake0123456789abcdef-not-a-token"
    monkeypatch.setenv("DWAVE_API_TOKEN", token)
    monkeypatch.setenv("DWAVE_API_ENDPOINT", "http://127.0.0.1:9/sapi/v2/")

    def no_network(*args, **kwargs):
        raise OSError(f"network disabled in tests ({token})")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(Gnn4hepError) as info:
        make_sampler("qpu", http_retry_total=0)
    assert token not in str(info.value)
