"""Hadronic interactions: where particles end (against a per-particle loop and the exponential law),
their secondaries (ids, kinematics), and the simulator's use of them (ends, reproducibility, defaults)."""

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.particle_id import decode_particle_id, encode_particle_id
from gnn4hep.tracking.simulation import GunSource, ReplaySource, SimulationConfig, simulate_event
from gnn4hep.tracking.simulation import interactions
from gnn4hep.tracking.simulation.batch import REALISTIC, default_config


@pytest.fixture(scope="module")
def detector():
    return read_detector()


def _loop_reference(particle, lengths, budget, scale):
    keep = np.ones(len(particle), bool)
    interacting = np.zeros(len(particle), bool)
    for p in np.unique(particle):
        rows = np.flatnonzero(particle == p)
        total = 0.0
        for k, row in enumerate(rows):
            total += lengths[row] * scale
            if total > budget[p]:
                interacting[row] = True
                keep[rows[k + 1:]] = False
                break
    return keep, interacting


def test_find_interactions_matches_a_loop_over_particles():
    rng = np.random.default_rng(3)
    particle = np.sort(rng.integers(0, 200, 3000))
    lengths = rng.uniform(0, 0.02, len(particle))
    budget = rng.exponential(size=200)
    budget[:5] = np.inf
    keep, interacting = interactions.find_interactions(particle, lengths, budget, scale=3.0)
    ref_keep, ref_interacting = _loop_reference(particle, lengths, budget, 3.0)
    np.testing.assert_array_equal(keep, ref_keep)
    np.testing.assert_array_equal(interacting, ref_interacting)
    assert interacting.sum() > 20


def test_interaction_probability_follows_the_exponential_law():
    """n crossings of x interaction lengths each: P(interact) = 1 - exp(-n x scale)."""
    rng = np.random.default_rng(4)
    n_particles, n_crossings, x, scale = 40_000, 10, 0.004, 2.0
    particle = np.repeat(np.arange(n_particles), n_crossings)
    _, interacting = interactions.find_interactions(particle, np.full(len(particle), x),
                                                    rng.exponential(size=n_particles), scale)
    expected = 1 - np.exp(-n_crossings * x * scale)
    sigma = np.sqrt(expected * (1 - expected) / n_particles)
    assert abs(interacting.sum() / n_particles - expected) < 4 * sigma
    # and per crossing: geometric in the crossing index
    first = np.bincount(np.flatnonzero(interacting) % n_crossings, minlength=n_crossings)
    assert first[0] > first[-1]


def test_secondaries_ids_and_kinematics():
    rng = np.random.default_rng(5)
    m = 5000
    parent_id = encode_particle_id(rng.integers(1, 50, m), np.arange(1, m + 1), generation=1)
    momentum = rng.normal(size=(m, 3)) * 2.0
    position = rng.normal(size=(m, 3)) * 300.0
    out = interactions.secondaries(parent_id, position, momentum, rng)
    assert out.particle_id.is_unique
    fields = decode_particle_id(out.particle_id.to_numpy())
    assert (fields.generation == 2).all() and (fields.secondary_id >= 1).all()
    parents = decode_particle_id(parent_id).set_index(["vertex_id", "primary_id"])
    assert pd.MultiIndex.from_frame(fields[["vertex_id", "primary_id"]]).isin(parents.index).all()
    pt = np.hypot(out.px, out.py)
    assert (pt >= interactions.LISTED_MIN_PT_GEV).all()
    # each daughter starts at its parent's position, with a momentum no larger than its parent's
    parent_row = fields.primary_id.to_numpy(np.int64) - 1
    np.testing.assert_allclose(out[["vx", "vy", "vz"]].to_numpy(), position[parent_row])
    p = np.linalg.norm(out[["px", "py", "pz"]].to_numpy(), axis=1)
    assert (p <= np.linalg.norm(momentum[parent_row], axis=1) * (1 + 1e-12)).all()
    positive = (out.q > 0).mean()
    assert abs(positive - interactions.POSITIVE_FRACTION) < 0.03
    assert set(np.unique(out.particle_type)) <= {2212, 211, -211}
    assert ((out.q > 0) == (out.particle_type > 0)).all()
    # at most 6 listed daughters per parent; the mean before the pT cut is sum k P(k) = 1.88
    per_parent = np.bincount(parent_row, minlength=m)
    assert per_parent.max() <= 6 and 1.0 < per_parent.mean() < 1.88


def test_simulated_parents_end_at_their_daughters_vertex(detector):
    source = GunSource(n_particles=400, pt_gev=(0.5, 5.0))
    config = SimulationConfig(interactions=True, interaction_scale=20.0, trackml_material=True, hit_efficiency=1.0)
    event = simulate_event(source, detector, seed=11, config=config)
    fields = decode_particle_id(event.particles.particle_id.to_numpy())
    daughters = event.particles[(fields.generation > 0).to_numpy()]
    assert len(daughters) > 50
    assert (decode_particle_id(daughters.particle_id.to_numpy()).generation.max()) >= 2
    assert event.particles.particle_id.is_unique
    truth = event.truth.merge(event.particles[["particle_id", "vx", "vy", "vz"]], on="particle_id")
    truth["d"] = np.sqrt((truth.tx - truth.vx) ** 2 + (truth.ty - truth.vy) ** 2 + (truth.tz - truth.vz) ** 2)
    last = truth.sort_values("d").groupby("particle_id").tail(1)
    gen = decode_particle_id(last.particle_id.to_numpy())
    last = last.assign(key=(gen.vertex_id.to_numpy(np.int64) << 20) + gen.primary_id.to_numpy(np.int64),
                       generation=gen.generation.to_numpy(np.int64))
    dgen = decode_particle_id(daughters.particle_id.to_numpy())
    dkey = (dgen.vertex_id.to_numpy(np.int64) << 20) + dgen.primary_id.to_numpy(np.int64)
    # every daughter vertex is the last hit (farthest from its vertex) of a particle of the previous
    # generation in its family
    for (key, generation), vertex in zip(zip(dkey, dgen.generation.to_numpy(np.int64)),
                                         daughters[["vx", "vy", "vz"]].to_numpy()):
        candidates = last[(last.key == key) & (last.generation == generation - 1)]
        assert np.min(np.linalg.norm(candidates[["tx", "ty", "tz"]].to_numpy() - vertex, axis=1)) < 1e-6


def test_interactions_are_reproducible_and_off_by_default(detector):
    source = GunSource(n_particles=200)
    config = SimulationConfig(interactions=True, interaction_scale=10.0, trackml_material=True)
    first = simulate_event(source, detector, seed=5, config=config)
    second = simulate_event(source, detector, seed=5, config=config)
    pd.testing.assert_frame_equal(first.hits, second.hits)
    pd.testing.assert_frame_equal(first.particles, second.particles)
    plain = simulate_event(source, detector, seed=5, config=SimulationConfig())
    assert (decode_particle_id(plain.particles.particle_id.to_numpy()).generation == 0).all()
    assert len(first.particles) > len(plain.particles)


def test_source_defaults(tmp_path):
    assert default_config("quick") == SimulationConfig()
    assert default_config("gun") == SimulationConfig()
    pythia = default_config("pythia")
    assert pythia.interactions and pythia.trackml_material and pythia.min_pt_gev == 0.1
    assert pythia.noise_fraction == REALISTIC["noise_fraction"] > 0.2
    particles = tmp_path / "event000000001-particles.csv"
    pd.DataFrame({"particle_id": [4503599627370496], "vx": [0.0], "vy": [0.0], "vz": [0.0], "px": [1.0],
                  "py": [0.0], "pz": [0.0], "q": [1], "nhits": [10]}).to_csv(particles, index=False)
    replay = default_config(ReplaySource(particles))
    assert not replay.interactions and replay.trackml_material and replay.noise_fraction > 0.2
    assert default_config(f"replay:{particles}") == replay
    assert default_config("pythia", noise_fraction=0.0).noise_fraction == 0.0
