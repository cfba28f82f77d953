"""Attach orphan hits to fitted tracks when the Kalman fit accepts them (track extension).

Removing hits from a candidate raises its TrackML score only where that restores the majority
condition: a hit counts only on the track of its own particle. A refit pays off when the hits no
candidate holds (outliers it rejected, hits a classifier left unconnected) go to the track they
belong to. Orphans are the hits of cleaned candidates with fewer than ``attach_min_hits`` hits
(singletons, and fragments a classifier cut off a track); hosts are the tracks with at least
``attach_min_hits`` hits and a good fit (chi2/ndf <= ``restore_chi2_ndf``).

1. shortlist: each host's perigee helix is intersected with every layer's nominal surface (barrel:
   the cylinder r = mean module radius; end-cap: the plane z = mean module z) and a k-d tree per layer
   finds, for each orphan of that layer, the nearest crossings within ``window_mm``; a track never takes a
   hit on a module where it already has one (a particle crosses a module once);
2. decision: the track is refitted with the hit added (all pairs at once, batched). For a linear
   Kalman fit chi2(with) - chi2(without) is the chi2 (2 dof) of the hit's residual with respect to the
   prediction from all the track's other hits; the hit is accepted below ``chi2_cut``. A hit claimed by
   several tracks goes to the smallest increment; a track takes at most one new hit per module;
3. the extended tracks are refitted with all their new hits, and a track whose extended fit fails or
   has chi2/ndf above ``restore_chi2_ndf`` gives its new hits back.

Units mm, GeV. The decision is the Kalman-filter chi2 increment of R. Fruehwirth, NIM A 262 (1987)
444, used here for hit re-assignment after track finding (as in combinatorial Kalman filters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from gnn4hep.tracking.detector import Detector
from gnn4hep.tracking.fitting.perigee import perigee_position
from gnn4hep.tracking.fitting.propagation import omega_of


def layer_surfaces(detector: Detector) -> pd.DataFrame:
    """Nominal surface of each (volume_id, layer_id): ``barrel`` (bool) and ``position`` (mm), the
    mean module radius of a barrel layer or the mean module z of an end-cap disk."""
    modules = detector.modules
    r = np.hypot(modules["cx"].to_numpy(np.float64), modules["cy"].to_numpy(np.float64))
    frame = pd.DataFrame({"volume_id": modules["volume_id"], "layer_id": modules["layer_id"], "r": r,
                          "z": modules["cz"].to_numpy(np.float64)})
    grouped = frame.groupby(["volume_id", "layer_id"])
    out = grouped.agg(r=("r", "mean"), z=("z", "mean"), r_std=("r", "std"), z_std=("z", "std"))
    out["barrel"] = out["r_std"] < out["z_std"]
    out["position"] = np.where(out["barrel"], out["r"], out["z"])
    return out[["barrel", "position"]]


def helix_crossings(perigee: np.ndarray, barrel: bool, position: float, b_tesla: float) -> np.ndarray:
    """First crossing (n, 3) of perigee helices (n, 5) with a cylinder r = ``position`` (barrel) or a
    plane z = ``position``; NaN where there is none (the helix does not reach it, or only backwards).

    The plane crossing is exact. The cylinder crossing takes the chord from the PCA as perpendicular
    to the impact vector (r^2 = d0^2 + chord^2), which puts the point off the cylinder by about
    |d0| times the turning angle (tens of um for primaries), on the helix exactly.
    """
    d0, z0, phi, theta, qop = perigee.T
    start = perigee_position(perigee)
    kappa = omega_of(qop, b_tesla) / np.sin(theta)  # signed transverse curvature, 1/mm
    with np.errstate(invalid="ignore", divide="ignore"):
        if barrel:
            # chord from the PCA (|d0| << r): r^2 = d0^2 + chord^2, chord = 2 sin(a / 2) / |kappa|
            chord = np.sqrt(position**2 - d0**2)
            half = np.arcsin(0.5 * np.abs(kappa) * chord)  # NaN when the circle never reaches r
            arc = np.where(np.abs(kappa) > 1e-12, 2.0 * half / np.abs(kappa), chord)
        else:
            arc = (position - z0) * np.tan(theta)
            arc = np.where(arc > 0, arc, np.nan)
        turn = kappa * arc  # azimuth change along the arc
        small = np.abs(turn) < 1e-9
        chord = np.where(small, arc, 2.0 * np.sin(0.5 * turn) / np.where(small, 1.0, kappa))
        direction = phi + 0.5 * turn
        x = start[:, 0] + chord * np.cos(direction)
        y = start[:, 1] + chord * np.sin(direction)
        z = z0 + arc / np.tan(theta)
    return np.stack([x, y, z], -1)


def candidate_pairs(hits: pd.DataFrame, orphan_rows: np.ndarray, perigee: np.ndarray, detector: Detector,
                    window_mm: float, neighbours: int = 2, b_tesla: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(orphan row, track index) pairs: orphan hits near a track's helix crossing of their layer.

    ``b_tesla``: the B_z of the helices (default: the detector's ``field_tesla``).
    """
    b_tesla = detector.field_tesla if b_tesla is None else b_tesla
    layers = layer_surfaces(detector)
    xyz = hits[["x", "y", "z"]].to_numpy(np.float64)
    keys = pd.MultiIndex.from_arrays([hits["volume_id"].to_numpy()[orphan_rows], hits["layer_id"].to_numpy()[orphan_rows]])
    pair_hit, pair_track = [], []
    for (volume, layer), where in pd.Series(np.arange(len(orphan_rows))).groupby(keys):
        if (volume, layer) not in layers.index:
            continue
        surface = layers.loc[(volume, layer)]
        crossing = helix_crossings(perigee, bool(surface["barrel"]), float(surface["position"]), b_tesla)
        reach = np.flatnonzero(np.all(np.isfinite(crossing), axis=1))
        if len(reach) == 0:
            continue
        rows = orphan_rows[where.to_numpy()]
        k = min(neighbours, len(reach))
        distance, index = cKDTree(crossing[reach]).query(xyz[rows], k=k, distance_upper_bound=window_mm)
        distance, index = distance.reshape(len(rows), k), index.reshape(len(rows), k)
        found = np.isfinite(distance)
        pair_hit.append(np.repeat(rows, k)[found.ravel()])
        pair_track.append(reach[index[found]])
    if not pair_hit:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(pair_hit), np.concatenate(pair_track)


def best_attachments(pair_hit: np.ndarray, pair_track: np.ndarray, pair_module: np.ndarray,
                     delta_chi2: np.ndarray, chi2_cut: float) -> np.ndarray:
    """Indices of the accepted pairs: increment below ``chi2_cut``, the smallest per hit, then the
    smallest per (track, module)."""
    ok = np.flatnonzero(np.isfinite(delta_chi2) & (delta_chi2 < chi2_cut))
    order = ok[np.argsort(delta_chi2[ok], kind="stable")]
    _, first_per_hit = np.unique(pair_hit[order], return_index=True)
    order = order[np.sort(first_per_hit)]
    keys = pd.MultiIndex.from_arrays([pair_track[order], pair_module[order]])
    return order[~keys.duplicated(keep="first")]


def attach_orphan_hits(event, cleaned: pd.DataFrame, params: pd.DataFrame, detector: Detector, config
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give singleton hits of ``cleaned`` to the fitted tracks of ``params`` that accept them.

    ``config`` is the :class:`~gnn4hep.tracking.fitting.refit.FitConfig` of the refit (fields
    ``attach_window_mm``, ``attach_neighbours``, ``attach_min_hits``, ``chi2_cut``,
    ``restore_chi2_ndf``). Returns the new
    (cleaned, params): extended tracks get their refitted parameters and ``n_attached``.
    """
    from dataclasses import replace

    from gnn4hep.tracking.fitting.measurements import hit_table, order_key, track_surfaces
    from gnn4hep.tracking.fitting.refit import PARAM_COLUMNS, approximate_bz, fit_field, refit
    from gnn4hep.tracking.fitting.track_fit import fit_surfaces

    max_chi2_ndf = config.restore_chi2_ndf if config.restore_chi2_ndf is not None else 3.0
    with np.errstate(divide="ignore", invalid="ignore"):
        good = (params["fitted"].to_numpy(bool) & (params["n_hits"].to_numpy() >= config.attach_min_hits)
                & (params["chi2"].to_numpy() / params["ndf"].to_numpy() <= max_chi2_ndf))
    table = hit_table(event, cleaned, detector, config)
    track_ids, first_row, size = np.unique(table["track_id"].to_numpy(), return_index=True, return_counts=True)
    row_size = np.repeat(size, size)  # table is sorted by track_id
    orphan_rows = np.flatnonzero(row_size < config.attach_min_hits)
    good_ids = params["track_id"].to_numpy()[good]
    slot = np.searchsorted(track_ids, good_ids)
    present = (slot < len(track_ids)) & (track_ids[np.minimum(slot, len(track_ids) - 1)] == good_ids)
    good_rows = np.flatnonzero(good)[present]
    starts, lengths = first_row[slot[present]], size[slot[present]]
    perigee = params.loc[good_rows, ["d0", "z0", "phi", "theta", "qop"]].to_numpy(np.float64)
    if len(orphan_rows) == 0 or len(good_rows) == 0:
        return cleaned, params
    pair_hit, pair_track = candidate_pairs(table, orphan_rows, perigee, detector, config.attach_window_mm,
                                           config.attach_neighbours, approximate_bz(config, detector))
    # a track does not take a second hit on a module it already crosses (a particle crosses a module once)
    module_row = table["module_row"].to_numpy()
    member_rows = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    track_modules = pd.MultiIndex.from_arrays([np.repeat(np.arange(len(good_rows)), lengths), module_row[member_rows]])
    fresh = ~pd.MultiIndex.from_arrays([pair_track, module_row[pair_hit]]).isin(track_modules)
    pair_hit, pair_track = pair_hit[fresh], pair_track[fresh]
    if len(pair_hit) == 0:
        return cleaned, params
    # every pair as a track: the track's rows plus the orphan row, ordered along the track
    pair_len = lengths[pair_track] + 1
    pair_of_row = np.repeat(np.arange(len(pair_hit)), pair_len)
    offset = np.arange(len(pair_of_row)) - np.repeat(np.cumsum(pair_len) - pair_len, pair_len)
    is_orphan = offset == lengths[pair_track][pair_of_row]
    rows = np.where(is_orphan, pair_hit[pair_of_row], starts[pair_track][pair_of_row] + offset)
    pairs = table.iloc[rows].reset_index(drop=True).assign(track_id=pair_of_row)
    pairs["distance"] = order_key(pairs)
    order = np.lexsort((pairs["distance"].to_numpy(), pair_of_row))
    fit = fit_surfaces(track_surfaces(pairs, order, pair_len, detector), fit_field(config, detector), config.mass_gev,
                       config.material, config.iterations, config.chunk, workers=config.workers)
    chi2_without = params["chi2"].to_numpy()[good_rows][pair_track]
    delta = np.where(fit.ok, fit.chi2 - chi2_without, np.inf)
    module = table["module_row"].to_numpy()[pair_hit]
    accepted = best_attachments(pair_hit, pair_track, module, delta, config.chi2_cut)
    if len(accepted) == 0:
        return cleaned, params
    # refit the extended tracks with all their new hits; keep the extension where that fit is good
    new_track = params["track_id"].to_numpy()[good_rows][pair_track[accepted]]
    new_hits = table["hit_id"].to_numpy()[pair_hit[accepted]]
    extended = np.unique(new_track)
    members = cleaned[cleaned["track_id"].isin(extended)]
    candidates = pd.concat([members, pd.DataFrame({"hit_id": new_hits, "track_id": new_track})], ignore_index=True)
    sub_event = type(event)(event_id=event.event_id, hits=event.hits[event.hits["hit_id"].isin(candidates["hit_id"])])
    _, sub_params = refit(sub_event, candidates, detector, replace(config, max_outliers=0, split_bad=False,
                                                                   attach_orphans=False))
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = sub_params["fitted"].to_numpy(bool) & (sub_params["chi2"] / sub_params["ndf"] <= max_chi2_ndf).to_numpy()
    kept_ids = sub_params["track_id"].to_numpy()[keep]
    take = np.isin(new_track, kept_ids)
    out = cleaned.set_index("hit_id")
    old_track = out.loc[new_hits[take], "track_id"].to_numpy()
    out.loc[new_hits[take], "track_id"] = new_track[take]
    attached = pd.Series(new_track[take]).value_counts()
    params = params.assign(n_attached=params["track_id"].map(attached).fillna(0).astype(np.int64))
    # the short tracks (< attach_min_hits) that gave hits away keep < 3 hits: no fit any more
    lost = params["track_id"].map(pd.Series(old_track).value_counts()).fillna(0).astype(np.int64)
    shrunk = (lost > 0).to_numpy()
    params["n_hits"] = params["n_hits"] - lost
    fit_columns = [c for c in PARAM_COLUMNS if c not in ("track_id", "n_hits", "fitted", "ndf", "n_outliers", "n_attached")]
    params.loc[shrunk, fit_columns] = np.nan
    params.loc[shrunk, "fitted"] = False
    params.loc[shrunk, "ndf"] = 0
    replacement = sub_params[keep].set_index("track_id").drop(columns=["n_outliers", "n_attached"])
    dtypes = params.dtypes
    params = params.set_index("track_id")
    params.loc[replacement.index, replacement.columns] = replacement
    params = params.reset_index()[list(PARAM_COLUMNS)].astype(dtypes[list(PARAM_COLUMNS)].to_dict())
    return out.reset_index(), params
