"""Track-to-track merging of fragments after the refit: pair shortlist, greedy choice, joins on simulated tracks."""

import itertools

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking.fitting import FitConfig, refit
from gnn4hep.tracking.fitting.fragment_merge import candidate_track_pairs, greedy_pairs
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.scoring import score_event
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event

#: the fit settings of events simulated in the uniform 2 T field with bare sensors and pitch / sqrt(12) smearing
SIMULATED = dict(field="uniform", material_model="sensors", hit_errors="pitch", mass_gev=0.13957)


@pytest.fixture(scope="module")
def detector():
    return read_detector()


@pytest.fixture(scope="module")
def event(detector):
    source = GunSource(n_particles=300, pt_gev=(0.5, 20.0), eta=(-2.5, 2.5))
    return simulate_event(source, detector, seed=33, config=SimulationConfig(digitisation="smear", hit_efficiency=1.0,
                                                                          energy_loss=True))


def test_candidate_pairs_match_a_brute_force_count():
    rng = np.random.default_rng(0)
    n_tracks = 12
    n_hits = rng.integers(4, 9, n_tracks)
    hit_track = rng.integers(0, n_tracks, 400)
    near_track = rng.integers(0, n_tracks, 400)
    modules = [set(rng.integers(0, 60, 5).tolist()) for _ in range(n_tracks)]
    pairs = candidate_track_pairs(hit_track, near_track, n_hits, modules)
    expected = set()
    for i, j in itertools.combinations(range(n_tracks), 2):
        near_ij = sum(1 for h, t in zip(hit_track, near_track) if h == i and t == j)  # hits of i near j's helix
        near_ji = sum(1 for h, t in zip(hit_track, near_track) if h == j and t == i)
        if (2 * near_ij >= n_hits[i] or 2 * near_ji >= n_hits[j]) and not modules[i] & modules[j]:
            expected.add((i, j))
    assert set(map(tuple, pairs.tolist())) == expected
    assert len(expected) > 3  # the draw exercises both conditions


def test_greedy_pairs_take_the_smallest_increment_and_use_each_track_once():
    pairs = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [5, 6]])
    delta = np.array([5.0, 1.0, 2.0, 30.0, np.inf])
    accepted = greedy_pairs(pairs, delta, chi2_cut=20.5)
    # (1, 2) first; (0, 1) and (2, 3) then reuse a track; (3, 4) is above the cut; (5, 6) failed
    assert accepted.tolist() == [1]
    accepted = greedy_pairs(pairs, np.array([5.0, 6.0, 2.0, 1.0, 3.0]), chi2_cut=20.5)
    assert sorted(accepted.tolist()) == [0, 3, 4]


def _split_in_two(event, min_hits: int = 10, n: int = 40):
    """Truth candidates with ``n`` particles of >= ``min_hits`` hits cut into an inner and an outer fragment."""
    truth = event.truth[["hit_id", "particle_id"]].rename(columns={"particle_id": "track_id"})
    truth = truth.assign(track_id=truth["track_id"].astype(np.int64))
    sizes = truth["track_id"].value_counts()
    chosen = sizes[sizes >= min_hits].index.to_numpy()[:n]
    hits = event.hits.set_index("hit_id")
    distance = np.hypot(hits["x"], hits["y"]) + np.abs(hits["z"])
    track = truth["track_id"].to_numpy().copy()
    next_id = track.max() + 1
    for k, pid in enumerate(chosen):
        rows = np.flatnonzero(track == pid)
        order = rows[np.argsort(distance.loc[truth["hit_id"].to_numpy()[rows]].to_numpy())]
        track[order[len(order) // 2:]] = next_id + k  # the outer half becomes its own track
    return truth.assign(track_id=track), chosen


def test_fragments_of_one_particle_are_joined_and_other_particles_are_not(event, detector):
    candidates, chosen = _split_in_two(event)
    assert len(chosen) == 40
    config = FitConfig(attach_orphans=False, **SIMULATED)
    apart, _ = refit(event, candidates, detector, config)
    joined, params = refit(event, candidates, detector, FitConfig(attach_orphans=False, merge_fragments=True, **SIMULATED))
    pid = event.truth.set_index("hit_id")["particle_id"]
    track_of = joined.set_index("hit_id")["track_id"]
    whole = sum(track_of.loc[pid.index[pid == p]].nunique() == 1 for p in chosen)
    assert whole >= 36  # at least 90 % of the split particles are whole again
    # no join of two particles: every track of >= 2 hits holds one particle's hits only
    per_track = pd.DataFrame({"track_id": track_of, "particle_id": pid.loc[track_of.index]}).groupby("track_id")
    assert (per_track["particle_id"].nunique() == 1).all()
    assert score_event(event.truth, joined) > score_event(event.truth, apart) + 0.03
    # the absorbed fragments keep an empty, unfitted row; the joined tracks carry the fit of all their hits
    assert params["track_id"].is_unique
    empty = params[params["n_hits"] == 0]
    assert len(empty) == whole and not empty["fitted"].any()
    sizes = joined["track_id"].value_counts()
    fitted = params[params["fitted"]].set_index("track_id")
    assert (fitted["n_hits"] == sizes.reindex(fitted.index)).all()


def test_without_the_option_nothing_is_joined(event, detector):
    candidates, _ = _split_in_two(event, n=10)
    cleaned, params = refit(event, candidates, detector, FitConfig(attach_orphans=False, **SIMULATED))
    assert cleaned["track_id"].nunique() == candidates["track_id"].nunique() + (len(event.hits) - len(candidates))
    assert (params["n_hits"] > 0).all()
