"""Ring maps: a phi-invariant module map, fitted on (volume, layer, ring) pairs instead of module pairs.

The module map (:mod:`gnn4hep.graphs.module_map`; Biscarat et al., arXiv:2103.00916) keys its doublet
ranges by the ordered module pair. The TrackML detector is symmetric in phi: modules of one layer
are arranged in *rings* (barrel: rows of equal z; endcaps: rings of equal r) and every module of a
ring sees the same neighbours up to a rotation. A ring map keys the ranges by the ordered pair of
rings instead, so one training event fills each key with ~(modules per ring) times more true pairs
than the module map: 20 simulated events give per-key statistics that the module map would need
hundreds of events for, and the ranges can be quantile-trimmed rather than min/max.

Ring of a hit (:func:`ring_keys`): the ring centres of each layer come from the shipped detector
geometry (``detectors.csv``: module centre z in the barrel, centre radius in the endcaps); a hit
belongs to the ring whose centre is nearest to its own z (barrel) or r (endcaps), optionally split
into ``ring_split`` equal slices. This uses only the hit position, never the module id, so it works
for any event in TrackML coordinates. The key is ``volume * 10**7 + layer_id * 10**4 + ring`` (the
module-key layout, so the order-statistics padding of the module map applies unchanged).

Map (:func:`fit_ring_map`): for each ordered ring pair crossed by true consecutive pairs
(oriented inner -> outer, :func:`gnn4hep.graphs.geometric.true_pair_table`) of particles with
pT > ``pt_min`` [GeV], the count and the [q, 1 - q] quantile range of the doublet variables of
:func:`gnn4hep.graphs.geometric.pair_variables` (dphi [rad], deta, z0 [mm], phi_slope [rad/mm]).
Pairs seen fewer than ``min_count`` times are dropped.

Edges (:func:`build_ring_map_edges`): hits are sorted by (ring key, phi) once; for each map row, the
candidates of an inner hit are the outer-ring hits inside the row's dphi window (found by binary
search, with the 2 pi wrap), then cut on every variable (dphi again, exactly). Ranges are widened as in the module
map: ``pad = margin * (max - min) + tolerance * TOLERANCE_SCALE + W_layer_pair / (n_true + 1)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from gnn4hep.graphs.geometric import pair_variables, true_pair_table
from gnn4hep.graphs.module_map import VARIABLES, widened_ranges

BARREL_VOLUMES = (8, 13, 17)
#: Padding of the phi windows of the binary search [rad]; the exact dphi cut follows.
WINDOW_EPS = 1e-9
RING_MAP_COLUMNS = ("module_a", "module_b", "n_true", *(f"{v}_{e}" for v in VARIABLES for e in ("min", "max")))


@lru_cache(maxsize=1)
def ring_centres() -> dict[tuple[int, int], np.ndarray]:
    """(volume_id, layer_id) -> sorted ring centres [mm] (z in the barrel, r in the endcaps), from detectors.csv."""
    from gnn4hep.tracking.io import read_detector

    modules = read_detector().modules
    out = {}
    for (volume, layer), group in modules.groupby(["volume_id", "layer_id"]):
        if volume in BARREL_VOLUMES:
            values = group["cz"].to_numpy()
        else:
            values = np.hypot(group["cx"].to_numpy(), group["cy"].to_numpy())
        out[(int(volume), int(layer))] = np.unique(np.round(values, 0))
    return out


def ring_keys(table: pd.DataFrame, ring_split: int = 1) -> np.ndarray:
    """(N,) int64 ring key of every hit: volume * 10**7 + layer_id * 10**4 + ring (module docstring).

    Args:
        table: :func:`gnn4hep.graphs.features.hit_table` (module_key, r, z).
        ring_split: slices per ring (1: the detector's rings; 2: each ring cut in two along z or r).
    """
    module_key = table["module_key"].to_numpy(np.int64)
    volume, layer_id = module_key // 10**7, (module_key // 10**4) % 1000
    position = np.where(np.isin(volume, BARREL_VOLUMES), table["z"].to_numpy(), table["r"].to_numpy())
    ring = np.zeros(len(table), dtype=np.int64)
    centres = ring_centres()
    layer_key = volume * 1000 + layer_id
    for key in np.unique(layer_key):
        rows = np.flatnonzero(layer_key == key)
        centre = centres.get((int(key // 1000), int(key % 1000)))
        if centre is None or len(centre) < 1:
            continue
        # slice edges: midpoints between ring centres, then each ring cut into ring_split equal parts
        points = np.concatenate([[2 * centre[0] - centre[1]] if len(centre) > 1 else [centre[0] - 1.0], centre,
                                 [2 * centre[-1] - centre[-2]] if len(centre) > 1 else [centre[0] + 1.0]])
        bounds = (points[:-1] + points[1:]) / 2  # len(centre) + 1 ring boundaries
        fine = np.concatenate([np.linspace(bounds[i], bounds[i + 1], ring_split + 1)[:-1] for i in range(len(centre))])
        ring[rows] = np.clip(np.searchsorted(fine, position[rows], side="right") - 1, 0, len(fine) - 1)
    return volume * 10**7 + layer_id * 10**4 + ring


def fit_ring_map(tables: list[pd.DataFrame], pt_min: float = 0.0, quantile: float = 0.0, min_count: int = 1,
                 ring_split: int = 1) -> pd.DataFrame:
    """The ring map of training events: one row per ring pair with counts and quantile ranges.

    Args:
        tables: hit tables (with truth) of the training events.
        pt_min: only pairs of particles with pT > pt_min [GeV].
        quantile: ranges span the [quantile, 1 - quantile] quantiles of each variable (0: min/max).
        min_count: ring pairs with fewer true pairs are dropped.
        ring_split: passed to :func:`ring_keys`.

    Returns:
        DataFrame with the columns of ``RING_MAP_COLUMNS`` (``module_a`` / ``module_b`` hold ring keys).
    """
    if not tables:
        raise ValueError("fit_ring_map needs at least one training hit table")
    parts = []
    for table in tables:
        pairs = true_pair_table(table, pt_min)
        keys = ring_keys(table, ring_split)
        pairs["module_a"], pairs["module_b"] = keys[pairs["source"].to_numpy()], keys[pairs["target"].to_numpy()]
        parts.append(pairs[["module_a", "module_b", *VARIABLES]])
    pairs = pd.concat(parts, ignore_index=True)
    grouped = pairs.groupby(["module_a", "module_b"])
    table = grouped.size().rename("n_true").to_frame()
    for name in VARIABLES:
        if quantile > 0:
            table[f"{name}_min"] = grouped[name].quantile(quantile)
            table[f"{name}_max"] = grouped[name].quantile(1 - quantile)
        else:
            table[f"{name}_min"] = grouped[name].min()
            table[f"{name}_max"] = grouped[name].max()
    table = table.reset_index()
    table = table[table["n_true"] >= min_count].reset_index(drop=True)
    return table[list(RING_MAP_COLUMNS)]


def _windows(phi: np.ndarray, low: np.ndarray, high: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Split phi windows [phi + low, phi + high] into at most two pieces inside [-pi, pi]:
    (index, start, end) of each piece (index into the input arrays)."""
    start, end = phi + low - WINDOW_EPS, phi + high + WINDOW_EPS
    full = (end - start) >= 2 * np.pi
    start = np.where(full, -np.pi, start)
    end = np.where(full, np.pi, end)
    # shift so that the window start lies in [-pi, pi)
    turns = np.floor((start + np.pi) / (2 * np.pi))
    start, end = start - 2 * np.pi * turns, end - 2 * np.pi * turns
    index = np.arange(len(phi))
    pieces = [(index, start, np.minimum(end, np.pi))]
    over = end > np.pi
    if over.any():
        pieces.append((index[over], np.full(int(over.sum()), -np.pi), end[over] - 2 * np.pi))
    return pieces


def build_ring_map_edges(
    table: pd.DataFrame,
    ring_map: pd.DataFrame,
    margin: float = 0.1,
    tolerance: float = 0.01,
    statistical: bool = True,
    ring_split: int = 1,
    max_pairs: int = 4_000_000,
    return_rows: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Directed edges (2, E) int64 (row positions of ``table``, inner -> outer) of a ring map.

    Args:
        table: hit table of the event (module_key, r, phi, z, eta).
        ring_map: from :func:`fit_ring_map` (with the same ``ring_split``).
        margin, tolerance, statistical: range widening (module docstring; as the module map).
        return_rows: also return the map row (E,) int64 that made each edge.
        max_pairs: windows and candidate pairs are processed in chunks of about this many (bounds the
            memory: about 100 bytes per candidate).
    """
    keys = ring_keys(table, ring_split)
    phi = table["phi"].to_numpy()
    order = np.lexsort((phi, keys))
    sorted_keys, sorted_phi = keys[order], phi[order]
    # one sortable coordinate: block of the key, then phi + pi inside it (blocks 8 apart)
    unique_keys = np.unique(keys)
    coordinate = np.searchsorted(unique_keys, sorted_keys) * 8.0 + (sorted_phi + np.pi)
    low, high = widened_ranges(ring_map, VARIABLES, margin, tolerance, statistical)
    key_a = ring_map["module_a"].to_numpy(np.int64)
    key_b = ring_map["module_b"].to_numpy(np.int64)
    known = np.isin(key_a, sorted_keys) & np.isin(key_b, sorted_keys)
    rows = np.flatnonzero(known)
    a_start = np.searchsorted(sorted_keys, key_a[rows], side="left")
    n_a = np.searchsorted(sorted_keys, key_a[rows], side="right") - a_start
    b_block = np.searchsorted(unique_keys, key_b[rows]).astype(np.float64)
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    sources, targets, made_by = [], [], []
    group = np.cumsum(n_a) // max(int(max_pairs), 1)
    for chunk in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(group)) + 1):
        if len(chunk) == 0:
            continue
        counts = n_a[chunk]
        local = np.repeat(np.arange(len(chunk)), counts)
        k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        row = rows[chunk][local]
        hit_a = order[a_start[chunk][local] + k]
        base = b_block[chunk][local] * 8.0 + np.pi
        owners, starts, lengths = [], [], []
        for index, start, end in _windows(phi[hit_a], low["dphi"][row], high["dphi"][row]):
            lo_pos = np.searchsorted(coordinate, base[index] + start, side="left")
            hi_pos = np.searchsorted(coordinate, base[index] + end, side="right")
            owners.append(index)
            starts.append(lo_pos)
            lengths.append(np.maximum(hi_pos - lo_pos, 0))
        owners, starts, lengths = np.concatenate(owners), np.concatenate(starts), np.concatenate(lengths)
        # expand the windows into pairs in pieces of about max_pairs (bounds the memory)
        piece = np.cumsum(lengths) // max(int(max_pairs), 1)
        for part in np.split(np.arange(len(owners)), np.flatnonzero(np.diff(piece)) + 1):
            n = lengths[part]
            offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            owner = np.repeat(owners[part], n)
            target = order[np.repeat(starts[part], n) + offset]
            source, pair_row = hit_a[owner], row[owner]
            same_ring = key_a[pair_row] == key_b[pair_row]
            keep = (source != target) & (~same_ring | (radius[source] < radius[target]))
            source, target, pair_row = source[keep], target[keep], pair_row[keep]
            values = pair_variables(table, source, target)
            keep = np.ones(len(source), dtype=bool)
            for name in VARIABLES:  # dphi again: the window search is padded by WINDOW_EPS against round-off
                keep &= ~((values[name] < low[name][pair_row]) | (values[name] > high[name][pair_row]))  # NaN: not cut
            sources.append(source[keep])
            targets.append(target[keep])
            made_by.append(pair_row[keep])
    if not sources:
        edges, made_by = np.empty((2, 0), dtype=np.int64), [np.empty(0, dtype=np.int64)]
    else:
        edges = np.stack([np.concatenate(sources), np.concatenate(targets)]).astype(np.int64)
    return (edges, np.concatenate(made_by).astype(np.int64)) if return_rows else edges


def prune_ring_map(ring_map: pd.DataFrame, tables: list[pd.DataFrame], max_loss: float, **build) -> pd.DataFrame:
    """Drop the ring pairs that cost the most edges per true pair, losing at most ``max_loss`` of the true pairs.

    On the events of ``tables`` (training events, with truth) each map row m makes E_m edges
    (:func:`build_ring_map_edges` with the keyword arguments ``build``) for n_m = ``n_true`` true
    pairs of the fit. Rows are dropped in decreasing order of E_m / n_m while the dropped true
    pairs stay within ``max_loss * sum(n_true)``: rare transitions (layer skips over a missed hit,
    barrel-endcap corners) that open wide windows go first. Returns the kept rows (a new table).
    """
    if max_loss <= 0 or not tables or len(ring_map) == 0:
        return ring_map
    made = np.zeros(len(ring_map), dtype=np.float64)
    for table in tables:
        _, rows = build_ring_map_edges(table, ring_map, return_rows=True, **build)
        made += np.bincount(rows, minlength=len(ring_map))
    n_true = ring_map["n_true"].to_numpy(np.float64)
    cost = made / len(tables) / n_true
    order = np.argsort(-cost, kind="stable")
    dropped = np.cumsum(n_true[order]) <= max_loss * n_true.sum()
    keep = np.ones(len(ring_map), dtype=bool)
    keep[order[dropped]] = False
    return ring_map[keep].reset_index(drop=True)
