"""Independent recomputation of a tracking run's headline metrics from the files it wrote.

The pipeline scores its candidates with the vectorised :mod:`gnn4hep.tracking.scoring` and
:mod:`gnn4hep.tracking.metrics`. Here the same numbers come from another route: the TrackML score of
the per-hit loop oracle (:func:`gnn4hep.tracking.scoring_reference.score_event_loop`) and the
double-majority efficiency and fake rate by a plain loop over particles and tracks, written from the
definitions (TrackML "good track": more than half of the track's hits from one particle, holding more
than half of that particle's hits), sharing no code with the pipeline's metrics.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.tracking.io import read_event
from gnn4hep.tracking.scoring_reference import score_event_loop


def _event_counts(truth: pd.DataFrame, particles: pd.DataFrame, submission: pd.DataFrame, pt_min: float,
                  min_hits: int) -> dict[str, int]:
    particle_of = dict(zip(truth["hit_id"].tolist(), truth["particle_id"].tolist()))
    nhits = Counter(p for p in truth["particle_id"].tolist() if p != 0)
    pt = dict(zip(particles["particle_id"].tolist(), np.hypot(particles["px"], particles["py"]).tolist()))

    def selected(particle: int) -> bool:
        return particle != 0 and pt.get(particle, 0.0) > pt_min and nhits[particle] >= min_hits

    matched, n_tracks, n_fake = set(), 0, 0
    for _, hits in submission.groupby("track_id")["hit_id"]:
        owners = Counter(particle_of[h] for h in hits.tolist())
        major = min(owners, key=lambda p: (-owners[p], p))  # most hits, ties to the lower particle_id
        good = major != 0 and 2 * owners[major] > len(hits) and 2 * owners[major] > nhits[major]
        if good and selected(major):
            matched.add(major)
        if len(hits) >= min_hits and selected(major) and nhits[major] >= min_hits:
            n_tracks += 1
            n_fake += not good
    n_particles = sum(1 for p in nhits if selected(p))
    return {"n_particles": n_particles, "n_matched": len(matched), "n_tracks": n_tracks, "n_fake": n_fake}


def recomputed_test_metrics(run: Path, events: list[Path], candidates: str | None = None, pt_min: float = 1.0,
                            min_hits: int = 3) -> dict[str, float]:
    """TrackML score (mean over the test events), efficiency and fake rate (counts summed over the
    events) of the ``candidates`` files (``refitted`` when the run has them, else ``submissions``)."""
    if candidates is None:
        candidates = "refitted" if (run / "refitted" / "test").is_dir() else "submissions"
    scores, totals = [], Counter()
    for prefix in events:
        event = read_event(prefix, parts=("hits", "particles", "truth"))
        submission = pd.read_csv(run / candidates / "test" / f"{prefix.name}.csv")
        scores.append(score_event_loop(event.truth, submission))
        totals.update(_event_counts(event.truth, event.particles, submission, pt_min, min_hits))
    ratio = (lambda a, b: a / b if b else math.nan)
    return {"trackml_score": float(np.mean(scores)), "track_efficiency": ratio(totals["n_matched"], totals["n_particles"]),
            "fake_rate": ratio(totals["n_fake"], totals["n_tracks"]), "n_particles": totals["n_particles"]}


def assert_headline_metrics_recomputed(run: Path, events: list[Path], pt_min: float = 1.0, min_hits: int = 3) -> dict:
    """The run's metrics.json headline keys equal the independent recomputation (to float rounding)."""
    metrics = json.loads((run / "metrics.json").read_text())
    expected = recomputed_test_metrics(run, events, pt_min=pt_min, min_hits=min_hits)
    assert expected["n_particles"] > 0, "no selected particle: the check would be empty"
    for key in ("trackml_score", "track_efficiency", "fake_rate"):
        if math.isnan(expected[key]):
            assert math.isnan(metrics[key]), key
        else:
            assert math.isclose(metrics[key], expected[key], rel_tol=1e-9, abs_tol=1e-12), (key, metrics[key], expected[key])
    return expected


def simulated_test_events(run: Path) -> list[Path]:
    """The test event prefixes a run simulated into ``data/test``."""
    return sorted({run / "data" / "test" / p.name.split("-")[0] for p in (run / "data" / "test").glob("event*-hits.csv*")})
