"""The TrackML score, exactly as published (Amrouche et al., arXiv:1904.06778, sec. 4 and app. A).

Hit weights
    w = w_pt(particle) * w_order(hit position along the particle), normalised to sum to 1 over the
    event; noise hits (particle_id 0) get 0.

    - ``w_pt``: linear interpolation of pT on (0.05, 0.5, 3) GeV -> (0.2, 0.2, 1.0); 0 below
      0.05 GeV and 1 above 3 GeV.
    - ``w_order``: the proposal (10, 8, 6, 5, 3, 3, 3, 5, 6) placed at equally spaced positions
      from hit index 0 to nhits-1, linearly interpolated at each integer index and normalised to
      sum to 1 per particle. Hits are ordered by |tz - vz| within their particle (ties share the
      truncated average rank, as in the reference implementation). nhits comes from particles.csv,
      is capped at 20, particles with nhits < 4 get 0, and hit indices >= 20 get 0.
    - phase 2 (throughput): only primary particles (generation 0 of the particle_id) get weight.

Score
    Each reconstructed track's majority particle is the one with most hits in it (ties go to the
    lower particle_id, so noise, id 0, wins a tie; noise hits take part in the vote). A track is
    good when more than half of its hits belong to its majority particle AND it holds more than half
    of that particle's hits. The score is the sum of the weights of the majority particle's hits in
    good tracks, divided by the event's total weight.

Everything here is vectorised (pandas factorize, a scipy CSR matrix to count hits per
(track, particle) pair, numpy ufuncs): no loop over hits or tracks. The reference implementation loops in Python over hits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse

from gnn4hep.errors import SubmissionError
from gnn4hep.tracking.particle_id import is_primary

ORDER_PROPOSAL = (10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0)
ORDER_MIN_HITS = 4
ORDER_MAX_HITS = 20
PT_KNOTS_GEV = (0.05, 0.5, 3.0)
PT_WEIGHTS = (0.2, 0.2, 1.0)


def order_weight_matrix(
    proposal=ORDER_PROPOSAL, min_hits: int = ORDER_MIN_HITS, max_hits: int = ORDER_MAX_HITS
) -> np.ndarray:
    """Order weights indexed by [nhits, ihit], shape (max_hits + 1, max_hits); rows sum to 1."""
    matrix = np.zeros((max_hits + 1, max_hits))
    proposal = np.asarray(proposal, dtype=np.float64)
    for nhits in range(min_hits, max_hits + 1):
        supports = np.arange(len(proposal)) * (nhits - 1) / (len(proposal) - 1)
        row = np.interp(np.arange(nhits), supports, proposal)
        matrix[nhits, :nhits] = row / row.sum()
    return matrix


ORDER_MATRIX = order_weight_matrix()


def weight_pt(pt: np.ndarray) -> np.ndarray:
    """pT weight of the TrackML score; ``pt`` in GeV, any shape."""
    return np.interp(pt, PT_KNOTS_GEV, PT_WEIGHTS, left=0.0, right=1.0)


def hit_order(particle_codes: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """0-based index of each hit along its particle, ordered by ``distance``.

    Equal distances within a particle share the truncated average of their ranks (pandas
    ``rank(method='average') - 1`` cast to int, the reference behaviour).
    """
    order = np.lexsort((distance, particle_codes))
    sorted_codes = particle_codes[order]
    sorted_distance = distance[order]
    n = len(order)
    positions = np.arange(n)
    new_particle = np.ones(n, dtype=bool)
    new_particle[1:] = sorted_codes[1:] != sorted_codes[:-1]
    particle_start = np.maximum.accumulate(np.where(new_particle, positions, 0))
    new_value = new_particle.copy()
    new_value[1:] |= sorted_distance[1:] != sorted_distance[:-1]
    tie_start = np.maximum.accumulate(np.where(new_value, positions, 0))
    tie_id = np.cumsum(new_value) - 1
    tie_end = np.zeros(tie_id[-1] + 1 if n else 0, dtype=np.int64)
    np.maximum.at(tie_end, tie_id, positions)
    first = tie_start - particle_start
    last = tie_end[tie_id] - particle_start
    ihit_sorted = (first + last) // 2
    ihit = np.empty(n, dtype=np.int64)
    ihit[order] = ihit_sorted
    return ihit


def weight_hits(
    truth: pd.DataFrame, particles: pd.DataFrame, primaries_only: bool = False
) -> pd.Series:
    """Per-hit TrackML weights, aligned to the rows of ``truth`` (same index), summing to 1.

    Args:
        truth: needs ``hit_id, particle_id, tz``.
        particles: needs ``particle_id, vz, px, py, nhits``.
        primaries_only: phase-2 (throughput) weights: only generation-0 particles count.

    Returns:
        Series ``weight`` (float64). Noise hits and hits of unknown particles get 0.
    """
    for name, table, columns in (
        ("truth", truth, ("hit_id", "particle_id", "tz")),
        ("particles", particles, ("particle_id", "vz", "px", "py", "nhits")),
    ):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(f"weight_hits: {name} table misses column(s) {missing}")
    pid = truth["particle_id"].to_numpy().astype(np.uint64)
    particle_ids = particles["particle_id"].to_numpy().astype(np.uint64)
    row = pd.Index(particle_ids).get_indexer(pid)
    known = (row >= 0) & (pid != 0)
    row = np.where(known, row, 0)

    pt = np.hypot(particles["px"].to_numpy(np.float64), particles["py"].to_numpy(np.float64))
    w_pt = np.where(known, weight_pt(pt)[row], 0.0)

    vz = particles["vz"].to_numpy(np.float64)[row]
    distance = np.abs(truth["tz"].to_numpy(np.float64) - vz)
    codes = pd.factorize(pid)[0]
    ihit = hit_order(codes, distance)
    nhits = np.clip(particles["nhits"].to_numpy(np.int64)[row], 0, ORDER_MAX_HITS)
    in_range = known & (ihit < ORDER_MAX_HITS)
    w_order = np.where(in_range, ORDER_MATRIX[nhits, np.minimum(ihit, ORDER_MAX_HITS - 1)], 0.0)

    weight = w_pt * w_order
    if primaries_only:
        weight = weight * is_primary(pid)
    total = weight.sum()
    if total > 0:
        weight = weight / total
    return pd.Series(weight, index=truth.index, name="weight")


def align_submission(truth: pd.DataFrame, submission: pd.DataFrame) -> np.ndarray:
    """Track id of each truth row, from a submission table (``hit_id``, ``track_id``).

    Raises:
        SubmissionError: missing columns, non-integer or NaN values, repeated hits, unknown hits,
            or hits of the event that the submission does not assign.
    """
    for column in ("hit_id", "track_id"):
        if column not in submission.columns:
            raise SubmissionError(
                f"submission misses column '{column}' (it has {list(submission.columns)})"
            )
        values = submission[column]
        if values.isna().any():
            raise SubmissionError(f"submission column '{column}' has {int(values.isna().sum())} NaN value(s)")
        if values.dtype.kind not in "iu":
            raise SubmissionError(f"submission column '{column}' must hold integers, not {values.dtype}")
    hit_ids = submission["hit_id"].to_numpy()
    track_ids = submission["track_id"].to_numpy()
    truth_ids = truth["hit_id"].to_numpy()
    n = len(truth_ids)
    lo = truth_ids.min() if n else 0
    contiguous = n > 0 and truth_ids.max() - lo + 1 == n and np.all(np.diff(truth_ids) == 1)
    if contiguous:
        position = hit_ids - lo
        unknown = (position < 0) | (position >= n)
    else:
        sorter = np.argsort(truth_ids, kind="stable")
        found = np.searchsorted(truth_ids, hit_ids, sorter=sorter)
        found = np.minimum(found, n - 1)
        position = sorter[found]
        unknown = truth_ids[position] != hit_ids
    if unknown.any():
        raise SubmissionError(
            f"submission names {int(unknown.sum())} hit(s) not in the event (e.g. hit_id {hit_ids[unknown][0]})"
        )
    counts = np.bincount(position, minlength=n)
    if (counts > 1).any():
        repeated = truth_ids[np.flatnonzero(counts > 1)]
        raise SubmissionError(
            f"submission repeats {len(repeated)} hit(s) (e.g. hit_id {repeated[0]}); each hit may be "
            "assigned to one track only"
        )
    if (counts == 0).any():
        missing = truth_ids[np.flatnonzero(counts == 0)]
        raise SubmissionError(
            f"submission misses {len(missing)} hit(s) of the event (e.g. hit_id {missing[0]}); "
            "every hit must be assigned (put unused hits in their own track)"
        )
    track_of_hit = np.empty(n, dtype=track_ids.dtype)
    track_of_hit[position] = track_ids
    return track_of_hit


def _dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..k-1 of integer ``values`` and the sorted uniques; O(n) when their range is small."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), values
    lo, hi = values.min(), values.max()
    if int(hi) - int(lo) <= 4 * len(values) + 1024:
        shifted = (values - lo).astype(np.int64)
        present = np.zeros(int(hi) - int(lo) + 1, dtype=bool)
        present[shifted] = True
        remap = np.cumsum(present) - 1
        return remap[shifted], (np.flatnonzero(present) + lo).astype(values.dtype)
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


@dataclass
class TrackMatching:
    """Per-track majority matching, the intermediate result of the score.

    Arrays have one entry per reconstructed track (shape (n_tracks,)).
    """

    track_id: np.ndarray
    track_nhits: np.ndarray
    major_particle_id: np.ndarray
    major_nhits: np.ndarray
    major_particle_nhits: np.ndarray
    major_weight: np.ndarray

    @property
    def good(self) -> np.ndarray:
        """Double-majority flag: both purities strictly above 0.5."""
        return (2 * self.major_nhits > self.track_nhits) & (2 * self.major_nhits > self.major_particle_nhits)

    def to_frame(self) -> pd.DataFrame:
        """The matching as a DataFrame, one row per track."""
        return pd.DataFrame(
            {
                "track_id": self.track_id,
                "nhits": self.track_nhits,
                "major_particle_id": self.major_particle_id,
                "major_particle_nhits": self.major_particle_nhits,
                "major_nhits": self.major_nhits,
                "major_weight": self.major_weight,
                "good": self.good,
            }
        )


def match_tracks(truth: pd.DataFrame, submission: pd.DataFrame, weights=None) -> TrackMatching:
    """Majority particle of every track of ``submission`` (see the module docstring).

    Args:
        truth: needs ``hit_id, particle_id`` and, when ``weights`` is None, ``weight``.
        submission: ``hit_id, track_id``, one row per hit of the event.
        weights: optional per-truth-row weights overriding ``truth['weight']``.
    """
    track_of_hit = align_submission(truth, submission)
    pid = truth["particle_id"].to_numpy().astype(np.uint64)
    if weights is None:
        if "weight" not in truth.columns:
            raise ValueError("truth has no 'weight' column: compute it with weight_hits() first")
        weights = truth["weight"].to_numpy(np.float64)
    weights = np.asarray(weights, dtype=np.float64)

    particle_code, particle_uniques = pd.factorize(pid, sort=True)
    particle_nhits = np.bincount(particle_code)
    track_code, track_uniques = _dense_codes(track_of_hit)
    n_particles = len(particle_uniques)

    # (track, particle) pairs: a CSR matrix sums duplicates with an O(n) counting sort; the real
    # part counts hits, the imaginary part sums their weights.
    pairs = scipy.sparse.csr_matrix(
        (np.ones(len(track_code)) + 1j * weights, (track_code, particle_code)),
        shape=(len(track_uniques), n_particles),
    )
    pairs.sum_duplicates()
    pair_track = np.repeat(np.arange(len(track_uniques)), np.diff(pairs.indptr))
    pair_particle = pairs.indices.astype(np.int64)
    pair_nhits = np.rint(pairs.data.real).astype(np.int64)
    pair_weight = pairs.data.imag

    # Per track: most hits first, then the lower particle id (codes are sorted by particle id).
    # One key orders both: key = nhits * n_particles + (n_particles - 1 - particle_code); its
    # per-track maximum picks a unique pair, found in O(n) without sorting.
    rank_key = pair_nhits.astype(np.int64) * n_particles + (n_particles - 1 - pair_particle)
    n_tracks = len(track_uniques)
    best_key = np.full(n_tracks, -1, dtype=np.int64)
    np.maximum.at(best_key, pair_track, rank_key)
    best = np.flatnonzero(rank_key == best_key[pair_track])
    best = best[np.argsort(pair_track[best])]
    best_track = pair_track[best]
    track_nhits = np.bincount(track_code)
    return TrackMatching(
        track_id=np.asarray(track_uniques)[best_track],
        track_nhits=track_nhits[best_track],
        major_particle_id=np.asarray(particle_uniques)[pair_particle[best]],
        major_nhits=pair_nhits[best],
        major_particle_nhits=particle_nhits[pair_particle[best]],
        major_weight=pair_weight[best],
    )


def score_event(truth: pd.DataFrame, submission: pd.DataFrame) -> float:
    """The TrackML score of one event (see the module docstring), in [0, 1].

    Args:
        truth: ``hit_id, particle_id, weight`` (the challenge truth table).
        submission: ``hit_id, track_id`` assigning every hit of the event exactly once.
    """
    matching = match_tracks(truth, submission)
    total = float(truth["weight"].to_numpy(np.float64).sum())
    if total <= 0:
        raise ValueError("truth weights sum to zero: the event has no scorable hits")
    return float(matching.major_weight[matching.good].sum() / total)
