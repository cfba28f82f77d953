"""Hadronic interactions: where particles end (against a per-particle loop and the exponential law),
their secondaries (ids, kinematics), and the simulator's use of them (ends, reproducibility, defaults)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.particle_id import decode_particle_id, encode_particle_id
from gnn4hep.tracking.simulation import GunSource, ReplaySource, SimulationConfig, simulate_event
from gnn4hep.tracking.simulation import helix, interactions
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
                keep[rows[k:]] = False
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


def test_simulated_parents_end_where_their_daughters_start(detector):
    """Without scattering and energy loss, each first-generation daughter starts on its parent's
    helix (the gun particle of its family), beyond all of its parent's hits, on a layer it makes no hit on."""
    source = GunSource(n_particles=400, pt_gev=(0.5, 5.0))
    config = SimulationConfig(interactions=True, interaction_scale=8.0, trackml_material=True, hit_efficiency=1.0,
                              multiple_scattering=False)
    event = simulate_event(source, detector, seed=11, config=config)
    particles = event.particles
    fields = decode_particle_id(particles.particle_id.to_numpy())
    generation = fields.generation.to_numpy()
    assert particles.particle_id.is_unique and generation.max() >= 2
    parents = particles[generation == 0].set_index(fields.primary_id.to_numpy()[generation == 0])
    daughters = particles[generation == 1]
    assert len(daughters) > 50
    parent = parents.loc[fields.primary_id.to_numpy()[generation == 1]]
    distance = helix.distance_to_helix(daughters[["vx", "vy", "vz"]].to_numpy(), parent[["vx", "vy", "vz"]].to_numpy(),
                                       parent[["px", "py", "pz"]].to_numpy(), parent.q.to_numpy(float),
                                       detector.field_tesla)
    assert distance.max() < 1e-3
    truth = event.truth.merge(particles[["particle_id", "vx", "vy", "vz"]], on="particle_id")
    reach = np.sqrt((truth.tx - truth.vx) ** 2 + (truth.ty - truth.vy) ** 2 + (truth.tz - truth.vz) ** 2)
    farthest = reach.groupby(truth.particle_id).max()
    start = np.linalg.norm(daughters[["vx", "vy", "vz"]].to_numpy() - parent[["vx", "vy", "vz"]].to_numpy(), axis=1)
    has_hits = parent.particle_id.isin(farthest.index).to_numpy()
    assert (farthest.reindex(parent.particle_id[has_hits]).to_numpy() < start[has_hits]).all()
    # the daughters' vertices lie on a layer's module: no daughter hits the layer of its vertex
    hits = event.hits.merge(event.truth[["hit_id", "particle_id"]], on="hit_id")
    hits = hits[hits.particle_id.isin(daughters.particle_id)]
    first = hits.merge(daughters[["particle_id", "vx", "vy", "vz"]], on="particle_id")
    assert (np.sqrt((first.x - first.vx) ** 2 + (first.y - first.vy) ** 2 + (first.z - first.vz) ** 2) > 1.0).all()


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
    assert pythia.interactions and pythia.trackml_material and pythia.min_pt_gev == 0.15
    assert pythia.noise_fraction == REALISTIC["noise_fraction"] > 0.2
    particles = tmp_path / "event000000001-particles.csv"
    pd.DataFrame({"particle_id": [4503599627370496], "vx": [0.0], "vy": [0.0], "vz": [0.0], "px": [1.0],
                  "py": [0.0], "pz": [0.0], "q": [1], "nhits": [10]}).to_csv(particles, index=False)
    replay = default_config(ReplaySource(particles))
    assert not replay.interactions and replay.trackml_material and replay.noise_fraction > 0.2
    assert default_config(f"replay:{particles}") == replay
    assert default_config("pythia", noise_fraction=0.0).noise_fraction == 0.0


SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "trackml"


@pytest.mark.skipif(not (SHARED / "full_event").is_dir(), reason="real TrackML data (../shared/data) not present")
def test_replay_defaults_against_the_real_event_1001(detector):
    """Replay of the real event 1001 with the replay defaults: its noise share is the real one, the
    particles below 0.15 GeV (real: 0.3 hits on average) make none, and the mean simulated
    nhits is close to the real one (uniform field, loop limit 0.5 turn as a stand-in)."""
    prefix = SHARED / "full_event" / "event000001001"
    source = ReplaySource(f"{prefix}-particles.csv.gz")
    event = simulate_event(source, detector, seed=3, config=default_config(source, max_turns=0.5))
    real_hits = pd.read_csv(f"{prefix}-hits.csv.gz")
    real = pd.read_csv(f"{prefix}-particles.csv.gz")
    real_noise_share = 1 - real.nhits.sum() / len(real_hits)
    assert abs((event.truth.particle_id == 0).mean() - real_noise_share) < 0.005
    merged = real.merge(event.particles[["particle_id", "nhits"]], on="particle_id", suffixes=("_real", "_sim"))
    assert len(merged) == len(real)
    low = np.hypot(merged.px, merged.py) < 0.15
    assert (merged.nhits_sim[low] == 0).all() and merged.nhits_real[low].mean() < 0.5
    assert abs((merged.nhits_sim - merged.nhits_real).mean()) < 0.5
    assert (decode_particle_id(event.particles.particle_id.to_numpy()).generation > 0).sum() == \
        (decode_particle_id(real.particle_id.to_numpy()).generation > 0).sum()  # no particle added
