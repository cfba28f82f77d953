"""Metrics of the QUBO track finder: qallse's doublet purity/efficiency, TrackML score, track metrics.

Definitions (Bapst et al., arXiv:1902.08324, hepqpr-qallse ``DataWrapper``), on the reduced event:

- *true doublets*: for each particle, its hits sorted by radius, every consecutive pair.
  *Focus* doublets use only hits with scoring weight > 0 (after :mod:`gnn4hep.quantum.dataset`:
  particles with true pT ≥ 1 GeV and ≥ 5 hits); the true doublets of weight-0 hits are
  "don't care" (qallse's *oops*): found or not, they count neither way.
- **purity** (qallse's precision) = found focus doublets / (found doublets − found don't-care ones).
- **efficiency** (qallse's recall) = found focus doublets / all focus doublets.
- **trackml_score**: the exact TrackML score of the submission, with the reduced event's weights.
- **track_efficiency**, **track_fake_rate**: double-majority metrics of
  :func:`gnn4hep.tracking.metrics.track_metrics` for particles with pT > ``pt_min`` (particle
  momentum) and ≥ ``min_hits`` hits, tracks with ≥ ``min_hits`` hits; track_purity = 1 − fake rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.event import Event
from gnn4hep.tracking.metrics import track_metrics
from gnn4hep.tracking.scoring import score_event


def _radius_pairs(table: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Consecutive rows by transverse radius within each group of ``groups``, as hit-id pairs
    ``hit_id_in, hit_id_out`` plus the group columns of the pair (``table``: hit_id, x, y, groups)."""
    r = np.hypot(table["x"].to_numpy(np.float64), table["y"].to_numpy(np.float64))
    table = table.assign(r=r).sort_values([*groups, "r"], kind="stable")
    same = np.ones(len(table) - 1 if len(table) else 0, bool)
    for column in groups:
        values = table[column].to_numpy()
        same &= values[1:] == values[:-1]
    ids = table["hit_id"].to_numpy()
    return pd.DataFrame(
        {"hit_id_in": ids[:-1][same], "hit_id_out": ids[1:][same], **{c: table[c].to_numpy()[1:][same] for c in groups}}
    )


def true_doublets(hits: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Consecutive hit pairs (by radius) of every particle: ``hit_id_in, hit_id_out, focus``.

    ``focus`` is True when the pair is built from the hits with weight > 0 (qallse builds the
    focus and don't-care pairs from the two hit subsets separately, and so do we).
    """
    table = hits[["hit_id", "x", "y"]].merge(truth[["hit_id", "particle_id", "weight"]], on="hit_id")
    table = table[table["particle_id"] != 0]
    pairs = _radius_pairs(table.assign(focus=table["weight"] > 0), ["focus", "particle_id"])
    return pairs[["hit_id_in", "hit_id_out", "focus"]]


def doublet_metrics(found: pd.DataFrame, hits: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """qallse's purity and efficiency of a set of doublets (``hit_id_in, hit_id_out``)."""
    truth_pairs = true_doublets(hits, truth)
    found = found[["hit_id_in", "hit_id_out"]].drop_duplicates()
    merged = found.merge(truth_pairs, on=["hit_id_in", "hit_id_out"], how="left")
    n_valid = int((merged["focus"] == True).sum())  # noqa: E712 (NaN for fakes)
    n_dont_care = int((merged["focus"] == False).sum())  # noqa: E712
    n_counted = len(found) - n_dont_care
    n_focus = int(truth_pairs["focus"].sum())
    return {
        "purity": n_valid / n_counted if n_counted else 1.0,
        "efficiency": n_valid / n_focus if n_focus else 1.0,
        "n_doublets_found": int(len(found)),
        "n_doublets_valid": n_valid,
        "n_doublets_fake": int(n_counted - n_valid),
        "n_doublets_true": n_focus,
    }


def score_solution(
    event: Event, submission: pd.DataFrame, doublets: pd.DataFrame | None = None, pt_min: float = 1.0, min_hits: int = 5
) -> dict[str, float]:
    """All metrics of a decoded solution on its (reduced) event; see the module docstring.

    Args:
        event: reduced event with hits, truth (weights) and particles.
        submission: ``hit_id, track_id`` for every hit.
        doublets: the solution's doublets; None derives them from the submission's tracks
            (consecutive hits by radius along each track).
    """
    if doublets is None:
        doublets = track_doublets(submission, event.hits)
    result = doublet_metrics(doublets, event.hits, event.truth)
    result["trackml_score"] = score_event(event.truth, submission)
    tracks = track_metrics(event.truth, event.particles, submission, pt_min=pt_min, min_hits=min_hits)
    result.update({f"track_{k}": v for k, v in tracks.items()})
    result["track_purity"] = 1.0 - tracks["fake_rate"]
    return result


def track_doublets(submission: pd.DataFrame, hits: pd.DataFrame) -> pd.DataFrame:
    """Consecutive hit pairs (by radius) along each track of a submission with ≥ 2 hits."""
    table = submission[["hit_id", "track_id"]].merge(hits[["hit_id", "x", "y"]], on="hit_id")
    return _radius_pairs(table, ["track_id"])[["hit_id_in", "hit_id_out"]]
