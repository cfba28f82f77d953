"""Reference TrackML score: a direct, per-hit Python transcription of the published definition.

Slow on purpose (a loop over hits, like the challenge's reference library). It is the oracle that
tests and ``benchmarks/score.py`` compare the vectorised :func:`gnn4hep.tracking.scoring.score_event`
against; do not use it for real work.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd


def score_event_loop(truth: pd.DataFrame, submission: pd.DataFrame) -> float:
    """TrackML score, one hit at a time (same inputs and result as ``score_event``)."""
    particle_of = dict(zip(truth["hit_id"].tolist(), truth["particle_id"].tolist()))
    weight_of = dict(zip(truth["hit_id"].tolist(), truth["weight"].tolist()))
    particle_nhits = Counter(truth["particle_id"].tolist())
    total_weight = sum(weight_of.values())

    hits_of_track: dict[int, list[int]] = defaultdict(list)
    for hit_id, track_id in zip(submission["hit_id"].tolist(), submission["track_id"].tolist()):
        hits_of_track[track_id].append(hit_id)

    score = 0.0
    for hits in hits_of_track.values():
        count: Counter = Counter()
        weight: dict = defaultdict(float)
        for hit_id in hits:
            particle = particle_of[hit_id]
            count[particle] += 1
            weight[particle] += weight_of[hit_id]
        # majority: most hits, ties to the lower particle_id
        major = min(count, key=lambda p: (-count[p], p))
        if 2 * count[major] > len(hits) and 2 * count[major] > particle_nhits[major]:
            score += weight[major]
    return score / total_weight
