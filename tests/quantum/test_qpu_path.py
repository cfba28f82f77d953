"""The QPU path: mock Advantage QPU, embedding, chain strength, chain breaks, decomposition, timing."""

from __future__ import annotations

import math

import dimod
import numpy as np
import pytest

from gnn4hep.quantum.embedding import EmbeddedSampler, EmbeddingError, embedding_stats, find_embedding
from gnn4hep.quantum.mock_qpu import make_mock_qpu
from gnn4hep.quantum.qpu_timing import ADVANTAGE_TIMING, add_timings, estimate_qpu_access_time
from gnn4hep.quantum.samplers import make_sampler, solve


def chain_qubo(n_tracks: int = 6, length: int = 6, seed: int = 0) -> dimod.BinaryQuadraticModel:
    """Tracks as chains of ``length`` triplets (couplings −0.6…−0.9), plus fakes that conflict
    (+0.5) with two tracks and prefer each other (−0.3): a small QUBO shaped like a tracking one."""
    rng = np.random.default_rng(seed)
    bqm = dimod.BinaryQuadraticModel("BINARY")
    for track in range(n_tracks):
        nodes = [track * length + i for i in range(length)]
        for v in nodes:
            bqm.add_variable(v, -0.01)
        for a, b in zip(nodes[:-1], nodes[1:]):
            bqm.add_interaction(a, b, -rng.uniform(0.6, 0.9))
    n = n_tracks * length
    for k in range(n_tracks):
        fake, other = n + 2 * k, n + 2 * k + 1
        bqm.add_interaction(fake, k * length + 2, 0.5)
        bqm.add_interaction(other, ((k + 1) % n_tracks) * length + 3, 0.5)
        bqm.add_interaction(fake, other, -0.3)
    return bqm


def test_timing_model_matches_a_hand_computation_of_the_published_formula():
    # 1,000 qubits, 100 reads, 20 µs anneal on Advantage_system4.1's timing data.
    log_q, log_t = ADVANTAGE_TIMING["readout_time_model_parameters"][:6], ADVANTAGE_TIMING["readout_time_model_parameters"][6:]
    frac = (3.0 - log_q[3]) / (log_q[4] - log_q[3])  # log10(1000) = 3 lies between the 4th and 5th breakpoints
    readout = 10 ** (log_t[3] + frac * (log_t[4] - log_t[3]))
    programming = 14072.88 + 1000.0
    expected = programming + 100 * (20.0 + readout + 20.54)
    estimate = estimate_qpu_access_time(1000, 100, annealing_time_us=20.0)
    assert 200 < readout < 250
    assert estimate["readout_time_per_read_us"] == pytest.approx(readout, rel=1e-12)
    assert estimate["qpu_access_time_us"] == pytest.approx(expected, rel=1e-12)
    assert estimate["programming_time_us"] + estimate["sampling_time_us"] == pytest.approx(expected)
    assert estimate["anneal_schedule"] == [[0.0, 0.0], [20.0, 1.0]] and estimate["estimated"] is True


@pytest.mark.parametrize("qubits,reads,anneal", [(50, 1, 20.0), (1000, 100, 20.0), (5000, 1000, 100.0)])
def test_timing_model_agrees_with_dwave_cloud_client(qubits, reads, anneal):
    """dwave-cloud-client's own estimator, fed the same timing data, is an independent route."""
    from dwave.cloud.solver import StructuredSolver
    from dwave.cloud.testing import mocks

    data = mocks.qpu_pegasus_solver_data(2, problem_timing_data=mocks.qpu_problem_timing_data("advantage"))
    solver = StructuredSolver(client=None, data=data)
    theirs = solver.estimate_qpu_access_time(qubits, num_reads=reads, annealing_time=anneal)
    assert estimate_qpu_access_time(qubits, reads, anneal)["qpu_access_time_us"] == pytest.approx(theirs, rel=1e-12)


def test_timings_of_several_calls_add_up():
    parts = [estimate_qpu_access_time(q, 10) for q in (100, 400)]
    total = add_timings(parts)
    assert total["qpu_access_time_us"] == pytest.approx(sum(p["qpu_access_time_us"] for p in parts))
    assert total["num_reads"] == 20 and total["num_qpu_calls"] == 2 and total["num_qubits_max"] == 400


def test_mock_qpu_defaults_to_an_advantage_pegasus_p16():
    sampler = make_sampler("mock-qpu")
    topology = sampler.target.properties["topology"]
    assert topology == {"type": "pegasus", "shape": [16]} and len(sampler.target.nodelist) == 5640
    assert make_sampler("mock-qpu", topology="zephyr").target.properties["topology"]["type"] == "zephyr"


@pytest.mark.parametrize("options", [{}, {"topology": "zephyr", "chain_break_method": "minimize_energy", "postprocess": False}])
def test_mock_qpu_finds_the_exact_ground_state_and_reports_every_figure(options):
    bqm = chain_qubo(n_tracks=3, length=4)  # 18 variables: ExactSolver is the reference
    exact = dimod.ExactSolver().sample(bqm).first
    sampler = make_sampler("mock-qpu", **options)
    sampleset, _ = solve(bqm, sampler, num_reads=10, seed=3)
    assert sampleset.first.energy == pytest.approx(exact.energy)
    assert sampleset.first.sample == exact.sample
    record = sampleset.info["qpu"]
    embedding = find_embedding(bqm, sampler.target, seed=3)  # cached: the embedding the solve used
    chains = [len(c) for c in embedding.values()]
    assert record["embedding"] == embedding_stats(embedding)
    assert record["embedding"]["qubits"] == sum(chains) >= bqm.num_variables
    assert record["embedding"]["max_chain"] == max(chains) and record["embedding"]["mean_chain"] == pytest.approx(np.mean(chains))
    # chain strength: 0.25 × sqrt(mean degree) × RMS coupling (uniform torque compensation), by hand
    couplings = np.array(list(bqm.quadratic.values()))
    degree = np.mean([bqm.degree(v) for v in bqm.variables])
    assert record["chain_strength"] == pytest.approx(0.25 * math.sqrt(degree) * math.sqrt(np.mean(couplings**2)))
    assert 0.0 <= record["chain_break_fraction"] <= 1.0
    assert record["timing"] == estimate_qpu_access_time(record["embedding"]["qubits"], 10, 20.0)


def test_mock_qpu_is_reproducible():
    bqm = chain_qubo(seed=1)
    first, _ = solve(bqm, make_sampler("mock-qpu", postprocess=False), num_reads=5, seed=7)
    second, _ = solve(bqm, make_sampler("mock-qpu", postprocess=False), num_reads=5, seed=7)
    assert np.array_equal(first.record.sample, second.record.sample)


def test_weak_chains_break_and_are_counted():
    rng = np.random.default_rng(0)  # a frustrated K20: chains of several qubits on Pegasus (degree 15)
    bqm = dimod.BinaryQuadraticModel({}, {(a, b): rng.choice([-1.0, 1.0]) for a in range(20) for b in range(a + 1, 20)}, 0.0, "SPIN")
    strong, _ = solve(bqm, make_sampler("mock-qpu", postprocess=False, chain_strength_prefactor=1.0), num_reads=10, seed=0)
    weak, _ = solve(bqm, make_sampler("mock-qpu", postprocess=False, chain_strength_prefactor=0.01), num_reads=10, seed=0)
    assert weak.info["qpu"]["chain_strength"] < strong.info["qpu"]["chain_strength"]
    assert strong.info["qpu"]["embedding"]["max_chain"] > 1
    assert weak.info["qpu"]["chain_break_fraction"] > strong.info["qpu"]["chain_break_fraction"]


def test_unembeddable_qubo_is_one_clear_error():
    k6 = dimod.BinaryQuadraticModel({}, {(a, b): 1.0 for a in range(6) for b in range(a + 1, 6)}, 0.0, "BINARY")
    tiny = make_mock_qpu("chimera", shape=[1, 1, 4])  # K4,4: treewidth 4, K6 needs 5
    with pytest.raises(EmbeddingError, match=r"no embedding.*\(6 variables.*chimera"):
        EmbeddedSampler(tiny, topology="chimera [1, 1, 4]", embedding_timeout=1).sample(k6)
    with pytest.raises(EmbeddingError, match="cannot be embedded.*decompose"):
        EmbeddedSampler(tiny, topology="chimera [1, 1, 4]").sample(chain_qubo())


def test_decomposition_with_mock_qpu_subproblems_matches_sa():
    bqm = chain_qubo(n_tracks=10, length=8, seed=2)  # 100 variables
    sa, _ = solve(bqm, make_sampler("sa"), num_reads=10, seed=0)
    hybrid = make_sampler("hybrid", subsampler="mock-qpu", subproblem_size=25, sub_reads=5, qpu_options={"num_sweeps": 200})
    result, _ = solve(bqm, hybrid, seed=0)
    assert result.first.energy == pytest.approx(sa.first.energy, rel=0.01)
    record = result.info["qpu"]
    calls = result.info["decomposition"]["subproblem_calls"]
    assert calls >= 4 and record["timing"]["num_qpu_calls"] == calls  # every sub-problem went to the QPU path
    assert record["timing"]["num_reads"] == 5 * calls
    assert record["embedding"]["max_chain"] > 1  # a clique embedding, not a native one


def test_unembeddable_qubo_can_be_decomposed():
    bqm = chain_qubo(n_tracks=10, length=8, seed=2)
    small = make_sampler("mock-qpu", topology="chimera", shape=[3, 3, 4], on_unembeddable="decompose",
                         decompose_options={"subproblem_size": 12, "sub_reads": 5})  # fmt: skip
    sa, _ = solve(bqm, make_sampler("sa"), num_reads=10, seed=0)
    result, _ = solve(bqm, small, num_reads=5, seed=0)  # 100 variables on 72 qubits
    assert result.info["decomposition"]["subproblem_calls"] > 0
    assert result.first.energy == pytest.approx(sa.first.energy, rel=0.02)


def test_a_real_qpu_solve_records_the_solvers_timing_not_the_estimate():
    """With ``real_qpu`` the record is the solver's returned ``timing`` (the mock returns fixed demo figures)."""
    target = make_mock_qpu("chimera", shape=[2, 2, 4])
    sampler = EmbeddedSampler(target, topology="chimera [2, 2, 4]", real_qpu=True, annealing_time=50.0)
    sampleset = sampler.sample(chain_qubo(n_tracks=2, length=3), num_reads=4)
    returned = target.sample(dimod.BinaryQuadraticModel({target.nodelist[0]: 1.0}, {}, 0.0, "SPIN")).info["timing"]
    timing = sampleset.info["qpu"]["timing"]
    assert timing["estimated"] is False and timing["num_reads"] == 4
    assert timing["qpu_access_time_us"] == returned["qpu_access_time"]
    assert timing["programming_time_us"] == returned["qpu_programming_time"]
    assert timing["anneal_schedule"] == [[0.0, 0.0], [returned["qpu_anneal_time_per_sample"], 1.0]]
