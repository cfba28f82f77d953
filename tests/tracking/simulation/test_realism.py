"""The simulator's noise spread and Pythia beam spot against the real TrackML data (issue 12).

Tests that read ../shared/data skip cleanly where it is absent; the others run on the packaged geometry.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.particle_id import decode_particle_id
from gnn4hep.tracking.simulation import ReplaySource, simulate_event
from gnn4hep.tracking.simulation import digitisation
from gnn4hep.tracking.simulation.batch import default_config
from gnn4hep.tracking.simulation.geometry_index import cached_index

TRACKML = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "trackml"
SAMPLE = TRACKML / "sample_event" / "event000000001"
FULL = TRACKML / "full_event" / "event000001001"


@pytest.fixture(scope="module")
def detector():
    return read_detector()


def _modules_per(detector, key):
    return detector.modules.groupby(key).size()


@pytest.mark.parametrize("distribution", ["trackml", "uniform"])
def test_default_noise_is_uniform_over_modules(detector, distribution):
    """40k noise hits: each volume and layer gets its share of the modules (chi2 against the module counts)."""
    index = cached_index(detector)
    module, _, _ = digitisation.noise_hits(index, 40_000, np.random.default_rng(5), distribution, "clusters")
    ids = pd.DataFrame(index.module_ids[module], columns=["volume_id", "layer_id", "module_id"])
    for key in (["volume_id"], ["volume_id", "layer_id"]):
        modules = _modules_per(detector, key)
        observed = ids.groupby(key).size().reindex(modules.index, fill_value=0)
        expected = modules / modules.sum() * len(module)
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        assert stats.chi2.sf(chi2, len(modules) - 1) > 1e-3, (key, chi2)


def test_volume_noise_follows_the_sample_event_counts(detector):
    """The ``volumes`` spread: volume shares as TRACKML_NOISE_PER_VOLUME (not as the module counts)."""
    index = cached_index(detector)
    module, _, _ = digitisation.noise_hits(index, 40_000, np.random.default_rng(6), "volumes", "clusters")
    share = pd.Series(index.module_ids[module][:, 0]).value_counts(normalize=True)
    weights = pd.Series(digitisation.TRACKML_NOISE_PER_VOLUME, dtype=float)
    np.testing.assert_allclose(share.reindex(weights.index).to_numpy(), (weights / weights.sum()).to_numpy(), atol=0.006)
    with pytest.raises(ValueError, match="noise distribution"):
        digitisation.noise_hits(index, 3, np.random.default_rng(0), "nowhere", "clusters")


@pytest.mark.skipif(not Path(f"{SAMPLE}-truth.csv.gz").exists(), reason="real TrackML sample event not present")
def test_real_sample_noise_is_uniform_over_modules(detector):
    """The sample event's 829 truth-labelled noise hits: per module the same rate in every volume, and its
    48 layer counts are a fair draw of a uniform spread over modules (chi2 p-value > 0.01)."""
    hits = pd.read_csv(f"{SAMPLE}-hits.csv.gz").merge(pd.read_csv(f"{SAMPLE}-truth.csv.gz"), on="hit_id")
    noise = hits[hits.particle_id == 0]
    per_module = noise.groupby("volume_id").size() / _modules_per(detector, "volume_id")
    assert per_module.between(0.03, 0.07).all() and per_module.max() / per_module.min() < 2.0
    area = (detector.modules.module_minhu + detector.modules.module_maxhu) * 2 * detector.modules.module_hv
    per_area = noise.groupby("volume_id").size() / area.groupby(detector.modules.volume_id).sum()
    assert per_area.max() / per_area.min() > 10  # uniform per area is ruled out
    modules = _modules_per(detector, ["volume_id", "layer_id"])
    observed = noise.groupby(["volume_id", "layer_id"]).size().reindex(modules.index, fill_value=0)
    expected = modules / modules.sum() * len(noise)
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert stats.chi2.sf(chi2, len(modules) - 1) > 0.01
    assert abs(digitisation.TRACKML_NOISE_PER_MODULE - 17_470 / len(detector.modules)) < 1e-12


@pytest.mark.skipif(not Path(f"{FULL}-hits.csv.gz").exists(), reason="real TrackML full event 1001 not present")
def test_replay_of_event_1001_matches_its_hits_per_layer(detector):
    """Replay of the real event 1001 with the replay defaults (noise included) against its real hits: at least
    46 of the 48 (volume, layer) counts within 15% (issue 12's target), and every layer within 30%."""
    real = pd.read_csv(f"{FULL}-hits.csv.gz")
    source = ReplaySource(f"{FULL}-particles.csv.gz")
    event = simulate_event(source, detector, seed=1001, config=default_config(source))
    key = ["volume_id", "layer_id"]
    ratio = (event.hits.groupby(key).size() / real.groupby(key).size()).dropna()
    assert len(ratio) == 48
    assert ((ratio - 1).abs() <= 0.15).sum() >= 46
    assert ((ratio - 1).abs() <= 0.30).all()


def _real_vertex_spread():
    """Standard deviations (x, y, z) mm of the collision vertices of the real particles files (primaries
    within 1 mm of the beam line, median vertex per vertex_id)."""
    rows = []
    for path in sorted((TRACKML / "particles").glob("event*-particles.csv.gz"))[:10]:
        p = pd.read_csv(path)
        p = p[np.hypot(p.vx, p.vy) < 1]
        p = p.assign(vertex_id=decode_particle_id(p.particle_id.to_numpy()).vertex_id.to_numpy())
        rows.append(p.groupby("vertex_id")[["vx", "vy", "vz"]].median())
    return pd.concat(rows).std().to_numpy()


@pytest.mark.skipif(not (TRACKML / "particles").is_dir(), reason="real TrackML particles files not present")
def test_pythia_beam_spot_matches_the_real_vertices():
    """Pythia collisions get the real events' beam spot: sigma_z 5.5 mm (not 55), sigma_xy 15 um."""
    pytest.importorskip("pythia8mc")
    from gnn4hep.tracking.simulation.pythia_source import PythiaSource

    real = _real_vertex_spread()
    assert 4.5 < real[2] < 6.5 and 0.012 < real[0] < 0.018
    particles = PythiaSource(pileup=150, hard_process=()).generate(np.random.default_rng(3), 0)
    particles = particles[np.hypot(particles.vx, particles.vy) < 1]
    vertex_id = decode_particle_id(particles.particle_id.to_numpy()).vertex_id.to_numpy()
    sim = particles.assign(vertex_id=vertex_id).groupby("vertex_id")[["vx", "vy", "vz"]].median().std().to_numpy()
    np.testing.assert_allclose(sim, real, rtol=0.25)


def _vertex_spread(particles: pd.DataFrame) -> np.ndarray:
    """Standard deviations (x, y, z) mm of the median vertex of each vertex_id (particles within 1 mm of the beam)."""
    particles = particles[np.hypot(particles.vx, particles.vy) < 1]
    vertex_id = decode_particle_id(particles.particle_id.to_numpy()).vertex_id.to_numpy()
    return particles.assign(vertex_id=vertex_id).groupby("vertex_id")[["vx", "vy", "vz"]].median().std().to_numpy()


@pytest.mark.skipif(not Path(f"{SAMPLE}-particles.csv.gz").exists(), reason="real TrackML sample event not present")
def test_a_cycled_beam_spot_gives_the_challenge_and_the_sample_event_luminous_regions():
    """beam_sigma_z_mm (5.5, 55): even events get the challenge's 5.5 mm, odd ones the sample event's ~55 mm."""
    pytest.importorskip("pythia8mc")
    from gnn4hep.tracking.simulation.pythia_source import PythiaSource

    sample = _vertex_spread(pd.read_csv(f"{SAMPLE}-particles.csv.gz"))
    assert 45 < sample[2] < 65  # the reduced sample event: 100 collision vertices
    source = PythiaSource(pileup=150, hard_process=(), beam_sigma_z_mm=(5.5, 55.0))
    narrow, wide = (_vertex_spread(source.generate(np.random.default_rng(3), i)) for i in (0, 1))
    assert narrow[2] == pytest.approx(5.5, rel=0.25)
    assert wide[2] == pytest.approx(sample[2], rel=0.25)
    np.testing.assert_allclose([narrow[:2], wide[:2]], 0.015, rtol=0.3)


def test_replay_with_the_replay_defaults_matches_the_real_hit_counts(detector):
    """Replay of the real particles files of events 1000-1001 with the replay defaults (solenoid, loop protection,
    measured material, pT stop at 0.1 GeV): the share of particles within +-1 of the real nhits and the mean
    difference, as benchmarks/simulation_realism.py measures them on all 20 files (79.4%, +0.19)."""
    files = [TRACKML / "particles" / f"event00000{1000 + k}-particles.csv.gz" for k in range(2)]
    if not all(path.exists() for path in files):
        pytest.skip(f"real TrackML particles files not found under {TRACKML} (../shared/data is absent)")
    differences = []
    for k, path in enumerate(files):
        source = ReplaySource(path)
        event = simulate_event(source, detector, seed=k, config=default_config(source, noise_fraction=0.0))
        real = pd.read_csv(path).set_index("particle_id").nhits
        sim = event.particles.set_index("particle_id").nhits
        differences.append((sim - real.reindex(sim.index)).to_numpy())
    difference = np.concatenate(differences)
    assert np.mean(np.abs(difference) <= 1) > 0.79  # 0.800 measured (0.797 without the pT stop)
    assert abs(difference.mean()) < 0.25  # +0.19 measured


def test_replayed_hits_keep_the_real_transverse_momentum_floor(detector):
    """No true hit of the real sample event has pT below 0.1009 GeV; a replay of its particles with the replay
    defaults has none below 0.098 GeV (the stop is tested once per Runge-Kutta step) and keeps the real share of
    hits between 0.1 and 0.2 GeV within a factor 5 (real 0.027 of 4698)."""
    if not Path(f"{SAMPLE}-truth.csv.gz").exists():
        pytest.skip(f"real sample event not found at {SAMPLE} (../shared/data is absent)")
    truth = pd.read_csv(f"{SAMPLE}-truth.csv.gz")
    truth = truth[truth.particle_id != 0]
    real_pt = np.hypot(truth.tpx, truth.tpy)
    assert real_pt.min() > 0.1
    source = ReplaySource(f"{SAMPLE}-particles.csv.gz")
    event = simulate_event(source, detector, seed=0, config=default_config(source, noise_fraction=0.0))
    sim = event.truth[event.truth.particle_id != 0]
    sim_pt = np.hypot(sim.tpx, sim.tpy)
    assert sim_pt.min() > 0.098
    real_low, sim_low = np.mean(real_pt < 0.2), np.mean(sim_pt < 0.2)
    assert real_low / 5 < sim_low < 5 * real_low
