"""Track-level metrics of GNN tracking papers (Exa.TrkX, arXiv:2103.06995; DeZoort et al.,
arXiv:2103.16701; Lieret & DeZoort, arXiv:2309.16754), on top of the TrackML majority matching.

Definitions (all vectorised; "selected particle" = not noise, pT > ``pt_min`` and at least
``min_hits`` hits in the event):

- **double-majority match**: a track and a particle match when more than half of the track's hits
  belong to the particle AND the track holds more than half of the particle's hits (the TrackML
  "good track" rule). A particle can be double-majority matched by at most one track.
- **efficiency**: matched selected particles / selected particles.
- **fake rate**: among tracks with at least ``min_hits`` hits whose majority particle is selected
  (for ``pt_min`` = 0: every track with at least ``min_hits`` hits, noise-majority tracks
  included), the fraction that are not double-majority matched to a particle (a track whose
  majority is noise is always fake).
- **duplicate rate**: among tracks with at least ``min_hits`` hits whose majority particle is
  selected and makes up more than half of the track (single majority), the fraction beyond the
  first per particle: (n_such_tracks - n_particles_with_one) / n_such_tracks. Double majority
  cannot produce duplicates, so duplicates are counted with the looser single-majority match.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.scoring import match_tracks


def _particle_table(truth: pd.DataFrame, particles: pd.DataFrame) -> pd.DataFrame:
    counts = truth.loc[truth["particle_id"] != 0, "particle_id"].value_counts()
    table = particles.set_index("particle_id")
    pt = np.hypot(table["px"].to_numpy(np.float64), table["py"].to_numpy(np.float64))
    return pd.DataFrame(
        {"pt": pt, "nhits_event": counts.reindex(table.index, fill_value=0).to_numpy()},
        index=table.index,
    )


def track_metrics(
    truth: pd.DataFrame,
    particles: pd.DataFrame,
    submission: pd.DataFrame,
    pt_min: float = 1.0,
    min_hits: int = 3,
) -> dict[str, float]:
    """Double-majority efficiency, fake rate and duplicate rate (see the module docstring).

    Args:
        truth: ``hit_id, particle_id`` (``weight`` not needed).
        particles: ``particle_id, px, py``.
        submission: ``hit_id, track_id`` for every hit.
        pt_min: pT threshold in GeV (strictly above).
        min_hits: minimum hits for a particle to be selected and for a track to count.

    Returns:
        dict with ``efficiency, fake_rate, duplicate_rate, n_particles, n_matched, n_tracks,
        n_fake, n_duplicate``.
    """
    weights = np.zeros(len(truth))
    matching = match_tracks(truth, submission, weights=weights)
    info = _particle_table(truth, particles)
    major = matching.major_particle_id
    known = pd.Index(info.index).get_indexer(major)
    major_pt = np.where(known >= 0, info["pt"].to_numpy()[np.maximum(known, 0)], 0.0)
    major_selected = (known >= 0) & (major != 0) & (major_pt > pt_min) & (matching.major_particle_nhits >= min_hits)

    selected = (info["pt"].to_numpy() > pt_min) & (info["nhits_event"].to_numpy() >= min_hits)
    good = matching.good & (major != 0)  # a track of noise hits matches no particle: it is fake
    matched_particles = np.unique(major[good & major_selected])
    n_particles = int(selected.sum())
    n_matched = int(len(matched_particles))

    long_track = matching.track_nhits >= min_hits
    considered = long_track & (major_selected if pt_min > 0 else True)
    n_tracks = int(considered.sum())
    n_fake = int((considered & ~good).sum())

    single = long_track & major_selected & (2 * matching.major_nhits > matching.track_nhits)
    n_single = int(single.sum())
    n_unique = int(len(np.unique(major[single])))
    n_duplicate = n_single - n_unique
    return {
        "efficiency": n_matched / n_particles if n_particles else float("nan"),
        "fake_rate": n_fake / n_tracks if n_tracks else float("nan"),
        "duplicate_rate": n_duplicate / n_single if n_single else float("nan"),
        "n_particles": n_particles,
        "n_matched": n_matched,
        "n_tracks": n_tracks,
        "n_fake": n_fake,
        "n_duplicate": n_duplicate,
    }


def matched_particle_flags(
    truth: pd.DataFrame, particles: pd.DataFrame, submission: pd.DataFrame
) -> pd.Series:
    """True for each particle (indexed by particle_id, in ``particles`` order) that some track
    double-majority matches; for efficiency-vs-pT/eta plots."""
    matching = match_tracks(truth, submission, weights=np.zeros(len(truth)))
    matched = np.unique(matching.major_particle_id[matching.good])
    ids = particles["particle_id"].to_numpy().astype(np.uint64)
    return pd.Series(np.isin(ids, matched), index=ids, name="matched")
