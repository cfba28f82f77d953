"""Track metrics summed over events (counts are added, then the rates are formed), and the per-particle
table behind efficiency-vs-pT/eta plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.metrics import matched_particle_flags, track_metrics
from gnn4hep.tracking.scoring import score_event


def event_track_summary(event, submission: pd.DataFrame, pt_min: float = 1.0, min_hits: int = 3) -> dict:
    """TrackML score and double-majority metrics (pT > pt_min and all particles) of one event."""
    high = track_metrics(event.truth, event.particles, submission, pt_min=pt_min, min_hits=min_hits)
    every = track_metrics(event.truth, event.particles, submission, pt_min=0.0, min_hits=min_hits)
    return {"trackml_score": score_event(event.truth, submission), "pt_high": high, "all": every}


def combine_track_summaries(summaries: list[dict]) -> dict:
    """Sum counts over events; efficiency = matched/particles, fake = fake/tracks,
    duplicate = duplicate/(single-majority tracks ~ matched + duplicate). trackml_score: mean."""
    out: dict = {"trackml_score": float(np.mean([s["trackml_score"] for s in summaries])), "n_events": len(summaries)}
    for key in ("pt_high", "all"):
        total = {name: sum(s[key][name] for s in summaries) for name in ("n_particles", "n_matched", "n_tracks", "n_fake", "n_duplicate")}
        dup_rates = [s[key]["duplicate_rate"] for s in summaries if s[key]["duplicate_rate"] == s[key]["duplicate_rate"]]
        out[key] = {
            "efficiency": total["n_matched"] / total["n_particles"] if total["n_particles"] else float("nan"),
            "fake_rate": total["n_fake"] / total["n_tracks"] if total["n_tracks"] else float("nan"),
            "duplicate_rate": float(np.mean(dup_rates)) if dup_rates else float("nan"),
            **total,
        }
    return out


def particle_efficiency_table(event, submission: pd.DataFrame, min_hits: int = 3) -> pd.DataFrame:
    """One row per particle with >= min_hits hits: pt, eta, matched (double majority)."""
    particles = event.particles
    counts = event.truth.loc[event.truth["particle_id"] != 0, "particle_id"].value_counts()
    flags = matched_particle_flags(event.truth, particles, submission)
    px, py, pz = (particles[c].to_numpy(np.float64) for c in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    table = pd.DataFrame(
        {
            "pt": pt,
            "eta": np.arcsinh(pz / np.maximum(pt, 1e-12)),
            "nhits": counts.reindex(particles["particle_id"].to_numpy()).fillna(0).to_numpy(),
            "matched": flags.to_numpy(),
        }
    )
    return table[table["nhits"] >= min_hits].reset_index(drop=True)


def track_fake_table(event, submission: pd.DataFrame, min_hits: int = 3) -> pd.DataFrame:
    """One row per track with >= min_hits hits: pt and eta of its majority particle (0 and NaN for a
    noise majority), fake (not double-majority matched, or noise majority: the rule of
    :func:`gnn4hep.tracking.metrics.track_metrics`); for fake-rate-vs-pT/eta plots."""
    from gnn4hep.tracking.scoring import match_tracks

    matching = match_tracks(event.truth, submission, weights=np.zeros(len(event.truth)))
    particles = event.particles
    index = pd.Index(particles["particle_id"].to_numpy().astype(np.uint64)).get_indexer(matching.major_particle_id.astype(np.uint64))
    known = (index >= 0) & (matching.major_particle_id != 0)
    safe = np.maximum(index, 0)
    px, py, pz = (particles[c].to_numpy(np.float64)[safe] for c in ("px", "py", "pz"))
    pt = np.where(known, np.hypot(px, py), 0.0)
    eta = np.where(known, np.arcsinh(pz / np.maximum(pt, 1e-12)), np.nan)
    good = matching.good & (matching.major_particle_id != 0)
    table = pd.DataFrame({"pt": pt, "eta": eta, "nhits": matching.track_nhits, "fake": ~good})
    return table[table["nhits"] >= min_hits].reset_index(drop=True)
