"""Join fitted tracks that are fragments of one particle (track-to-track merging after the refit).

A track builder that takes one wrong step cuts a particle into fragments, and when no fragment holds
more than half of its hits the double-majority rule scores the particle zero. Orphan attachment
(:mod:`~gnn4hep.tracking.fitting.extension`) only hands out hits of candidates shorter than
``attach_min_hits``; two fragments of at least that length stay apart. This step joins them:

1. shortlist: every hit of a well-fitted track (fitted, >= ``attach_min_hits`` hits, chi2/ndf <=
   ``restore_chi2_ndf``) is matched to the helices of the other such tracks that cross its layer within
   ``attach_window_mm`` (the k-d tree shortlist of orphan attachment). A pair of tracks is a candidate
   when at least half the hits of one of them lie near the other's helix, and the two share no module
   (a particle crosses a module once);
2. decision: each candidate pair is fitted as one track (all pairs at once, batched). For a linear
   Kalman fit of two independent hit sets, chi2(A + B) - chi2(A) - chi2(B) is the chi2 of the
   difference of the two tracks' parameter estimates (5 dof) (R. Fruehwirth, NIM A 262 (1987) 444).
   The pair is joined when it is below ``merge_chi2_cut`` and the joint fit keeps chi2/ndf <=
   ``restore_chi2_ndf``; smallest increment first, each track joined at most once per call;
3. the joined tracks are refitted (their parameter rows are replaced; the absorbed track's row keeps
   ``n_hits = 0`` and ``fitted = False``).

Units mm, GeV. The fitted union keeps the track id of the fragment with more hits.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from gnn4hep.tracking.detector import Detector
from gnn4hep.tracking.fitting.extension import candidate_pairs


def candidate_track_pairs(hit_track: np.ndarray, near_track: np.ndarray, n_hits: np.ndarray,
                          track_modules: list[set]) -> np.ndarray:
    """Unordered track pairs (P, 2), ``a < b``, worth a joint fit.

    Args:
        hit_track: (H,) track index of each shortlisted hit; near_track: (H,) index of a track whose
            helix passes near that hit (pairs of one hit with several tracks repeat the hit).
        n_hits: (T,) hits per track. track_modules: per track, the set of its module rows.

    A pair qualifies when at least half of one track's hits lie near the other's helix and the two
    tracks share no module.
    """
    other = hit_track != near_track
    if not other.any():
        return np.zeros((0, 2), np.int64)
    directed = pd.DataFrame({"fragment": hit_track[other], "host": near_track[other]})
    near = directed.groupby(["fragment", "host"]).size().rename("n").reset_index()
    near = near[2 * near["n"].to_numpy() >= n_hits[near["fragment"].to_numpy()]]
    a = np.minimum(near["fragment"].to_numpy(), near["host"].to_numpy())
    b = np.maximum(near["fragment"].to_numpy(), near["host"].to_numpy())
    pairs = np.unique(np.stack([a, b], axis=1), axis=0) if len(a) else np.zeros((0, 2), np.int64)
    disjoint = np.array([not (track_modules[i] & track_modules[j]) for i, j in pairs.tolist()], dtype=bool)
    return pairs[disjoint] if len(pairs) else pairs


def greedy_pairs(pairs: np.ndarray, delta_chi2: np.ndarray, chi2_cut: float) -> np.ndarray:
    """Indices of the accepted pairs: increment below ``chi2_cut``, smallest first, each track in at
    most one accepted pair."""
    ok = np.flatnonzero(np.isfinite(delta_chi2) & (delta_chi2 < chi2_cut))
    taken: set[int] = set()
    accepted = []
    for k in ok[np.argsort(delta_chi2[ok], kind="stable")].tolist():
        i, j = int(pairs[k, 0]), int(pairs[k, 1])
        if i in taken or j in taken:
            continue
        taken.update((i, j))
        accepted.append(k)
    return np.asarray(accepted, dtype=np.int64)


def merge_fragment_tracks(event, cleaned: pd.DataFrame, params: pd.DataFrame, detector: Detector, config
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join the fitted tracks of ``cleaned`` that continue each other (module docstring).

    ``config`` is the refit's :class:`~gnn4hep.tracking.fitting.refit.FitConfig` (fields
    ``merge_chi2_cut``, ``attach_window_mm``, ``attach_neighbours``, ``attach_min_hits``,
    ``restore_chi2_ndf``). Returns the new (cleaned, params).
    """
    from gnn4hep.tracking.fitting.measurements import hit_table, order_key, track_surfaces
    from gnn4hep.tracking.fitting.refit import PARAM_COLUMNS, approximate_bz, fit_field, refit
    from gnn4hep.tracking.fitting.track_fit import fit_surfaces

    max_chi2_ndf = config.restore_chi2_ndf if config.restore_chi2_ndf is not None else 3.0
    with np.errstate(divide="ignore", invalid="ignore"):
        good = (params["fitted"].to_numpy(bool) & (params["n_hits"].to_numpy() >= config.attach_min_hits)
                & (params["chi2"].to_numpy() / params["ndf"].to_numpy() <= max_chi2_ndf))
    if good.sum() < 2:
        return cleaned, params
    table = hit_table(event, cleaned, detector, config)
    track_ids, first_row, size = np.unique(table["track_id"].to_numpy(), return_index=True, return_counts=True)
    good_ids = params["track_id"].to_numpy()[good]
    slot = np.searchsorted(track_ids, good_ids)
    present = (slot < len(track_ids)) & (track_ids[np.minimum(slot, len(track_ids) - 1)] == good_ids)
    # the fit's hit count must be the table's (a track that lost hits since its fit is left alone)
    present &= size[np.minimum(slot, len(track_ids) - 1)] == params["n_hits"].to_numpy()[good]
    good_rows = np.flatnonzero(good)[present]
    starts, lengths = first_row[slot[present]], size[slot[present]]
    if len(good_rows) < 2:
        return cleaned, params
    perigee = params.loc[good_rows, ["d0", "z0", "phi", "theta", "qop"]].to_numpy(np.float64)
    member_rows = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    member_track = np.repeat(np.arange(len(good_rows)), lengths)
    row_track = np.full(len(table), -1, dtype=np.int64)
    row_track[member_rows] = member_track
    pair_hit, pair_track = candidate_pairs(table, member_rows, perigee, detector, config.attach_window_mm,
                                           config.attach_neighbours + 1, approximate_bz(config, detector))
    module_row = table["module_row"].to_numpy()
    track_modules = [set() for _ in range(len(good_rows))]
    for t, m in zip(member_track.tolist(), module_row[member_rows].tolist()):
        track_modules[t].add(m)
    pairs = candidate_track_pairs(row_track[pair_hit], pair_track, lengths, track_modules)
    if len(pairs) == 0:
        return cleaned, params
    # every pair as one track: the rows of both, ordered along the track
    pair_len = lengths[pairs[:, 0]] + lengths[pairs[:, 1]]
    pair_of_row = np.repeat(np.arange(len(pairs)), pair_len)
    offset = np.arange(len(pair_of_row)) - np.repeat(np.cumsum(pair_len) - pair_len, pair_len)
    first_len = lengths[pairs[:, 0]][pair_of_row]
    in_first = offset < first_len
    rows = np.where(in_first, starts[pairs[:, 0]][pair_of_row] + offset,
                    starts[pairs[:, 1]][pair_of_row] + offset - first_len)
    joint = table.iloc[rows].reset_index(drop=True).assign(track_id=pair_of_row)
    joint["distance"] = order_key(joint)
    order = np.lexsort((joint["distance"].to_numpy(), pair_of_row))
    fit = fit_surfaces(track_surfaces(joint, order, pair_len, detector), fit_field(config, detector), config.mass_gev,
                       config.material, config.iterations, config.chunk, workers=config.workers)
    chi2 = params["chi2"].to_numpy()[good_rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        fits_well = fit.ok & (fit.chi2 / np.maximum(fit.ndf, 1) <= max_chi2_ndf)
    delta = np.where(fits_well, fit.chi2 - chi2[pairs[:, 0]] - chi2[pairs[:, 1]], np.inf)
    accepted = greedy_pairs(pairs, delta, config.merge_chi2_cut)
    if len(accepted) == 0:
        return cleaned, params
    # the longer fragment keeps its id
    first, second = pairs[accepted, 0], pairs[accepted, 1]
    swap = lengths[second] > lengths[first]
    keeper = np.where(swap, second, first)
    absorbed = np.where(swap, first, second)
    keeper_id = params["track_id"].to_numpy()[good_rows][keeper]
    absorbed_id = params["track_id"].to_numpy()[good_rows][absorbed]
    new_id = pd.Series(keeper_id, index=absorbed_id)
    out = cleaned.copy()
    moved = out["track_id"].isin(absorbed_id).to_numpy()
    out.loc[moved, "track_id"] = out.loc[moved, "track_id"].map(new_id).to_numpy()
    members = out[out["track_id"].isin(keeper_id)]
    sub_event = type(event)(event_id=event.event_id, hits=event.hits[event.hits["hit_id"].isin(members["hit_id"])])
    _, sub_params = refit(sub_event, members, detector, replace(config, max_outliers=0, split_bad=False,
                                                                attach_orphans=False, merge_fragments=False,
                                                                reject_chi2_ndf=None))
    dtypes = params.dtypes
    params = params.set_index("track_id")
    replacement = sub_params.set_index("track_id").drop(columns=["n_outliers", "n_attached"])
    params.loc[replacement.index, replacement.columns] = replacement
    fit_columns = [c for c in PARAM_COLUMNS if c not in ("track_id", "n_hits", "fitted", "ndf", "n_outliers", "n_attached")]
    params.loc[absorbed_id, fit_columns] = np.nan
    params.loc[absorbed_id, "fitted"] = False
    params.loc[absorbed_id, "ndf"] = 0
    params.loc[absorbed_id, "n_hits"] = 0
    params = params.reset_index()[list(PARAM_COLUMNS)].astype(dtypes[list(PARAM_COLUMNS)].to_dict())
    return out, params
