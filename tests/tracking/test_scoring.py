"""The TrackML score and weights: published definition, reference equivalence, real-event check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn4hep.errors import SubmissionError
from gnn4hep.tracking import degrade
from gnn4hep.tracking.io import read_event
from gnn4hep.tracking.particle_id import encode_particle_id
from gnn4hep.tracking.scoring import ORDER_MATRIX, hit_order, score_event, weight_hits, weight_pt
from gnn4hep.tracking.scoring_reference import score_event_loop
from gnn4hep.tracking.toy import make_toy_event


def test_pt_weight_knots():
    pt = np.array([0.0, 0.049, 0.05, 0.3, 0.5, 1.75, 3.0, 10.0])
    expected = np.array([0.0, 0.0, 0.2, 0.2, 0.2, 0.6, 1.0, 1.0])
    np.testing.assert_allclose(weight_pt(pt), expected)


def test_order_matrix_rows():
    np.testing.assert_allclose(ORDER_MATRIX[4:].sum(axis=1), 1.0)
    assert ORDER_MATRIX[:4].sum() == 0
    # nhits = 9: the proposal itself, normalised
    proposal = np.array([10, 8, 6, 5, 3, 3, 3, 5, 6.0])
    np.testing.assert_allclose(ORDER_MATRIX[9, :9], proposal / proposal.sum())
    # the first and last hits carry the proposal's ends for every length
    for n in range(4, 21):
        assert ORDER_MATRIX[n, 0] / ORDER_MATRIX[n, n - 1] == pytest.approx(10 / 6)
        assert (ORDER_MATRIX[n, n:] == 0).all()


def test_hit_order_ties_follow_average_rank():
    codes = np.array([0, 0, 0, 0, 1, 1])
    distance = np.array([3.0, 1.0, 1.0, 2.0, 5.0, 4.0])
    # particle 0: sorted 1,1,2,3 -> ranks (1.5,1.5,3,4)-1 truncated = 0,0,2,3
    np.testing.assert_array_equal(hit_order(codes, distance), [3, 0, 0, 2, 1, 0])


def _tiny_truth():
    """Two particles (ids 10 and 20, 4 hits each at pT 5 GeV) and 2 noise hits."""
    pids = np.array([10] * 4 + [20] * 4 + [0, 0], dtype=np.uint64)
    truth = pd.DataFrame(
        {"hit_id": np.arange(1, 11), "particle_id": pids, "tz": np.r_[np.arange(4.0), np.arange(4.0), 0, 0]}
    )
    particles = pd.DataFrame(
        {"particle_id": np.array([10, 20], dtype=np.uint64), "vz": 0.0, "px": 5.0, "py": 0.0, "nhits": 4}
    )
    truth["weight"] = weight_hits(truth, particles)
    return truth, particles


def test_weights_sum_to_one_noise_zero():
    truth, _ = _tiny_truth()
    assert truth["weight"].sum() == pytest.approx(1.0)
    assert (truth.loc[truth.particle_id == 0, "weight"] == 0).all()
    # nhits = 4 profile: interp of the proposal at 0, 1, 2, 3 with knots every 3/8
    w = truth.loc[truth.particle_id == 10, "weight"].to_numpy()
    np.testing.assert_allclose(w / w.sum(), ORDER_MATRIX[4, :4])


def test_short_particles_and_primaries_only():
    truth, particles = _tiny_truth()
    particles.loc[1, "nhits"] = 3
    w = weight_hits(truth, particles)
    assert (w[truth.particle_id == 20] == 0).all()
    secondary = int(encode_particle_id(1, 2, generation=1))
    particles = particles.assign(particle_id=np.array([10, secondary], dtype=np.uint64), nhits=4)
    truth = truth.assign(particle_id=np.where(truth.particle_id == 20, np.uint64(secondary), truth.particle_id).astype(np.uint64))
    assert (weight_hits(truth, particles, primaries_only=True)[truth.particle_id == secondary] == 0).all()
    assert (weight_hits(truth, particles, primaries_only=False)[truth.particle_id == secondary] > 0).all()


def test_majority_tie_goes_to_lower_id_and_noise_wins():
    truth, _ = _tiny_truth()
    # track A: 2 hits of particle 10 + 2 hits of particle 20 -> tie -> particle 10 (lower id);
    # 2/4 is not > 0.5 so the track is not good either way.
    # track B: 2 hits of 10, 1 of 20, 2 noise -> tie between noise (0) and 10 -> noise wins.
    sub = pd.DataFrame({"hit_id": [1, 2, 5, 6, 3, 4, 7, 9, 10, 8], "track_id": [0, 0, 0, 0, 1, 1, 1, 1, 1, 2]})
    from gnn4hep.tracking.scoring import match_tracks

    matching = match_tracks(truth, sub).to_frame().set_index("track_id")
    assert matching.loc[0, "major_particle_id"] == 10
    assert matching.loc[1, "major_particle_id"] == 0
    assert score_event(truth, sub) == 0.0 == score_event_loop(truth, sub)


def test_exact_small_case():
    truth, _ = _tiny_truth()
    # particle 10 complete plus one noise hit; particle 20 split 3 + 1
    sub = pd.DataFrame({"hit_id": [1, 2, 3, 4, 9, 5, 6, 7, 8, 10], "track_id": [0, 0, 0, 0, 0, 1, 1, 1, 2, 3]})
    w = truth.set_index("hit_id")["weight"]
    expected = w.loc[[1, 2, 3, 4]].sum() + w.loc[[5, 6, 7]].sum()
    assert score_event(truth, sub) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference_loop_on_random_submissions(seed):
    event = make_toy_event(n_particles=150, seed=seed, noise_fraction=0.2)
    truth = event.truth
    perfect = degrade.truth_submission(truth)
    rng = np.random.default_rng(seed)
    candidates = [
        perfect,
        degrade.reassign_random(perfect, 0.3, seed),
        degrade.split_tracks(truth, perfect),
        degrade.merge_tracks_pairwise(perfect),
        perfect.assign(track_id=rng.integers(0, 40, len(perfect))),
        perfect.sample(frac=1.0, random_state=seed),
    ]
    for sub in candidates:
        assert score_event(truth, sub) == pytest.approx(score_event_loop(truth, sub), abs=1e-12)
    assert score_event(truth, perfect) == pytest.approx(1.0)


def test_non_contiguous_hit_ids_match_reference():
    event = make_toy_event(n_particles=80, seed=4)
    truth = event.truth.assign(hit_id=event.truth.hit_id * 7 + 3)
    sub = degrade.reassign_random(degrade.truth_submission(truth), 0.2, 1)
    assert score_event(truth, sub) == pytest.approx(score_event_loop(truth, sub), abs=1e-12)


def test_submission_errors():
    truth, _ = _tiny_truth()
    good = degrade.truth_submission(truth)
    with pytest.raises(SubmissionError, match=r"misses 1 hit"):
        score_event(truth, good.iloc[1:])
    with pytest.raises(SubmissionError, match=r"repeats 1 hit"):
        score_event(truth, pd.concat([good, good.iloc[:1]]))
    with pytest.raises(SubmissionError, match=r"not in the event"):
        score_event(truth, pd.concat([good.iloc[1:], pd.DataFrame({"hit_id": [999], "track_id": [0]})]))
    with pytest.raises(SubmissionError, match="misses column 'track_id'"):
        score_event(truth, good.rename(columns={"track_id": "track"}))
    with pytest.raises(SubmissionError, match="NaN"):
        score_event(truth, good.assign(track_id=np.where(good.index == 0, np.nan, good.track_id)))


def test_real_event_weights_match_shipped_column(sample_event_prefix):
    event = read_event(sample_event_prefix, parts=("particles", "truth"))
    shipped = event.truth["weight"].to_numpy(np.float64)
    ours = weight_hits(event.truth, event.particles, primaries_only=True).to_numpy()
    assert np.array_equal(ours > 0, shipped > 0)
    ratio = ours[shipped > 0] / (shipped[shipped > 0] / shipped.sum())
    assert np.max(np.abs(ratio - 1)) < 2e-5  # the CSV keeps 6 significant digits
    phase1 = weight_hits(event.truth, event.particles, primaries_only=False).to_numpy()
    assert (phase1 > 0).sum() > (ours > 0).sum()


def test_real_event_truth_scores_one(sample_event_prefix):
    event = read_event(sample_event_prefix, parts=("particles", "truth"))
    sub = degrade.truth_submission(event.truth)
    assert score_event(event.truth, sub) == pytest.approx(1.0, abs=1e-9)
    worse = degrade.reassign_random(sub, 0.1, 0)
    assert score_event(event.truth, worse) == pytest.approx(score_event_loop(event.truth, worse), abs=1e-9)
