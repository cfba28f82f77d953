"""Double-majority efficiency, fake and duplicate rates on hand-made cases."""

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking import degrade
from gnn4hep.tracking.metrics import matched_particle_flags, track_metrics
from gnn4hep.tracking.toy import make_toy_event


def _event():
    # particles 1 (pT 2), 2 (pT 2), 3 (pT 0.5); 4 hits each; 2 noise hits
    pids = np.array([1] * 4 + [2] * 4 + [3] * 4 + [0, 0], dtype=np.uint64)
    truth = pd.DataFrame({"hit_id": np.arange(1, 15), "particle_id": pids})
    particles = pd.DataFrame({"particle_id": np.array([1, 2, 3], dtype=np.uint64), "px": [2.0, 0.0, 0.5], "py": [0.0, 2.0, 0.0]})
    return truth, particles


def test_perfect_and_hand_made_cases():
    truth, particles = _event()
    perfect = degrade.truth_submission(truth)
    m = track_metrics(truth, particles, perfect, pt_min=1.0, min_hits=3)
    assert (m["efficiency"], m["fake_rate"], m["duplicate_rate"]) == (1.0, 0.0, 0.0)
    assert m["n_particles"] == 2

    # particle 1 split 2+2 (no double majority, two single-majority tracks -> duplicate);
    # particle 2 whole + both noise hits (4/6 > 0.5: still matched)
    sub = pd.DataFrame({"hit_id": np.arange(1, 15), "track_id": [0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 2, 2]})
    m = track_metrics(truth, particles, sub, pt_min=1.0, min_hits=2)
    assert m["efficiency"] == pytest.approx(0.5)
    assert m["n_tracks"] == 3 and m["n_fake"] == 2  # both halves of particle 1 are not DM-matched
    assert m["duplicate_rate"] == pytest.approx(1 / 3)
    m_all = track_metrics(truth, particles, sub, pt_min=0.0, min_hits=2)
    assert m_all["n_particles"] == 3 and m_all["efficiency"] == pytest.approx(2 / 3)


def test_noise_track_is_fake_without_pt_cut():
    truth, particles = _event()
    sub = degrade.truth_submission(truth)
    sub.loc[sub.hit_id.isin([13, 14]), "track_id"] = 99
    m = track_metrics(truth, particles, sub, pt_min=0.0, min_hits=2)
    assert m["n_fake"] == 1 and m["n_tracks"] == 4


def test_matched_flags_align_with_particles():
    event = make_toy_event(n_particles=50, seed=2)
    flags = matched_particle_flags(event.truth, event.particles, degrade.truth_submission(event.truth))
    has_hits = event.particles.set_index("particle_id")["nhits"] > 0
    np.testing.assert_array_equal(flags.to_numpy(), has_hits.to_numpy())
