"""Module-map graphs: connect hits on module pairs that true tracks connected in training events.

The module map (ATLAS GNN4ITk, Biscarat et al., "Towards a realistic track reconstruction
algorithm based on graph neural networks for the HL-LHC", CTD 2021, arXiv:2103.00916; acorn
``ModuleMap``) is the set of ordered module pairs (module_a -> module_b) crossed by the true
consecutive hits (:mod:`gnn4hep.graphs.truth`, oriented inner -> outer) of the training events,
together with the [min, max] range, on each pair, of the doublet variables of
:func:`gnn4hep.graphs.geometric.pair_variables`:

    dphi = wrap(phi_b - phi_a) [rad],  deta = eta_b - eta_a,
    z0 = z_a - r_a (z_b - z_a) / (r_b - r_a) [mm],  phi_slope = dphi / (r_b - r_a) [rad/mm]

(z0 and phi_slope are NaN for |dr| < ``DR_MIN_MM``: such pairs are not cut on them).
Applied to a new event, every hit pair on a mapped module pair is a candidate, kept when each
variable lies in the pair's range widened on each side by

    pad = margin * (max - min) + tolerance * scale + W_layer_pair / (n_true + 1)

The last term is the order-statistics correction for a range estimated from few samples (the
expected gap between the sample minimum of n draws and the true minimum of a distribution of width
W is W / (n + 1)); W is the variable's range over all true pairs of the same layer pair (a safe
upper bound of the module pair's own width), so pairs seen once get a wide window and pairs seen
often converge to their own [min, max] (``statistical=False`` turns it off). (``tolerance`` is
scaled per variable by ``TOLERANCE_SCALE``: rad for dphi, eta units, 1000 mm per unit for z0,
0.01 rad/mm per unit for phi_slope). The per-pair cuts are what make module maps pure.

The map's efficiency grows with the number of training pairs (module pairs never seen are missing):
fit it on many events; simulated particle-gun events are a cheap source of true pairs.
Candidate generation is sort-based (:func:`module_map_candidates`): hits sorted by module once, pairs\nenumerated per map row from contiguous ranges, in chunks that bound the memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.graphs.geometric import pair_variables, true_pair_table

VARIABLES = ("dphi", "deta", "z0", "phi_slope")
#: Absolute widening of each variable's range per unit of ``tolerance``.
TOLERANCE_SCALE = {"dphi": 1.0, "deta": 1.0, "z0": 1000.0, "phi_slope": 0.01}
MAP_COLUMNS = ("module_a", "module_b", "n_true", *(f"{v}_{e}" for v in VARIABLES for e in ("min", "max")))


def fit_module_map(tables: list[pd.DataFrame], pt_min: float = 0.0) -> pd.DataFrame:
    """The module map of training events: one row per module pair with counts and ranges.

    Args:
        tables: :func:`gnn4hep.graphs.features.hit_table` of each training event (with truth).
        pt_min: only pairs of particles with pT > pt_min [GeV] are used.

    Returns:
        DataFrame with the columns of ``MAP_COLUMNS`` (ranges NaN where every pair had tiny dr).
    """
    if not tables:
        raise ValueError("fit_module_map needs at least one training hit table")
    pairs = pd.concat([true_pair_table(t, pt_min) for t in tables], ignore_index=True)
    aggregations = {"n_true": ("dphi", "size")}
    for name in VARIABLES:
        aggregations[f"{name}_min"] = (name, "min")  # pandas min/max skip NaN
        aggregations[f"{name}_max"] = (name, "max")
    table = pairs.groupby(["module_a", "module_b"]).agg(**aggregations).reset_index()
    return table[list(MAP_COLUMNS)]


def merge_module_maps(maps: list[pd.DataFrame]) -> pd.DataFrame:
    """Union of module maps (counts added, ranges combined): fit on chunks of events, then merge."""
    both = pd.concat(maps, ignore_index=True)
    aggregations = {"n_true": ("n_true", "sum")}
    for name in VARIABLES:
        aggregations[f"{name}_min"] = (f"{name}_min", "min")
        aggregations[f"{name}_max"] = (f"{name}_max", "max")
    return both.groupby(["module_a", "module_b"]).agg(**aggregations).reset_index()[list(MAP_COLUMNS)]


def module_map_candidates(table: pd.DataFrame, module_map: pd.DataFrame,
                          rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All hit pairs on mapped module pairs: (source, target) row positions of ``table`` and the map row of each.

    Sort-based: the hits are sorted by module once; each map row's hits on ``module_a`` and ``module_b``
    are then contiguous ranges found by binary search, and the pairs of row m are the
    n_a(m) x n_b(m) products of the two ranges, enumerated with ``np.repeat`` (no join, no DataFrame).
    Pairs come grouped by map row, then by source hit, then by target hit, in sorted-module order.

    Args:
        table: hit table with ``module_key``.
        module_map: from :func:`fit_module_map`.
        rows: only these map rows (default: all).
    """
    keys = table["module_key"].to_numpy(np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if rows is None:
        rows = np.arange(len(module_map))
    module_a = module_map["module_a"].to_numpy(np.int64)[rows]
    module_b = module_map["module_b"].to_numpy(np.int64)[rows]
    a_start = np.searchsorted(sorted_keys, module_a, side="left")
    n_a = np.searchsorted(sorted_keys, module_a, side="right") - a_start
    b_start = np.searchsorted(sorted_keys, module_b, side="left")
    n_b = np.searchsorted(sorted_keys, module_b, side="right") - b_start
    n_pairs = n_a * n_b
    used = np.flatnonzero(n_pairs)
    counts = n_pairs[used]
    pair_row = np.repeat(used, counts)
    k = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    width = n_b[pair_row]
    source = order[a_start[pair_row] + k // width]
    target = order[b_start[pair_row] + k % width]
    return source, target, rows[pair_row]


def _row_chunks(module_map: pd.DataFrame, table: pd.DataFrame, max_pairs: int) -> list[np.ndarray]:
    """Consecutive map rows grouped so that each group yields at most about ``max_pairs`` candidates."""
    counts = table["module_key"].value_counts()
    n_a = module_map["module_a"].map(counts).fillna(0).to_numpy(np.int64)
    n_b = module_map["module_b"].map(counts).fillna(0).to_numpy(np.int64)
    cumulative = np.cumsum(n_a * n_b)
    group = cumulative // max(int(max_pairs), 1)
    bounds = np.flatnonzero(np.diff(group)) + 1
    return np.split(np.arange(len(module_map)), bounds)


def widened_ranges(pair_map: pd.DataFrame, variables, margin: float, tolerance: float,
                   statistical: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(low, high): per variable, each map row's fitted [min, max] widened on both sides by
    ``margin * (max - min) + tolerance * TOLERANCE_SCALE[variable]`` (plus the order-statistics padding of
    :func:`statistical_padding` when ``statistical``). Shared by the module map and the ring map."""
    low, high = {}, {}
    for name in variables:
        lo = pair_map[f"{name}_min"].to_numpy(np.float64)
        hi = pair_map[f"{name}_max"].to_numpy(np.float64)
        pad = statistical_padding(pair_map, name) if statistical else 0.0
        width = margin * (hi - lo) + tolerance * TOLERANCE_SCALE[name] + pad
        low[name], high[name] = lo - width, hi + width
    return low, high


def statistical_padding(module_map: pd.DataFrame, name: str) -> np.ndarray:
    """W_layer_pair / (n_true + 1) of each map row for variable ``name`` (module docstring)."""
    layer_pair = pd.DataFrame({"a": module_map["module_a"].to_numpy() // 10**4, "b": module_map["module_b"].to_numpy() // 10**4})
    layer_pair["low"] = module_map[f"{name}_min"].to_numpy()
    layer_pair["high"] = module_map[f"{name}_max"].to_numpy()
    grouped = layer_pair.groupby(["a", "b"])
    width = grouped["high"].transform("max").to_numpy() - grouped["low"].transform("min").to_numpy()
    return np.nan_to_num(width, nan=0.0) / (module_map["n_true"].to_numpy(np.float64) + 1.0)


def build_module_map_edges(
    table: pd.DataFrame,
    module_map: pd.DataFrame,
    margin: float = 0.1,
    tolerance: float = 0.01,
    variables: tuple[str, ...] = VARIABLES,
    statistical: bool = True,
    max_pairs: int = 4_000_000,
) -> np.ndarray:
    """Directed edges (2, E) (row positions of ``table``) of hit pairs on mapped module pairs.

    Args:
        table: hit table of the event (needs ``module_key`` and the geometry columns).
        module_map: from :func:`fit_module_map`.
        margin: relative widening of each [min, max] range (by margin * (max - min)).
        tolerance: absolute widening of each range, times ``TOLERANCE_SCALE[variable]``.
        variables: the doublet variables cut on (columns missing from an older map are skipped).
        statistical: add the order-statistics padding W_layer_pair / (n_true + 1).
        max_pairs: candidates are generated and cut in chunks of map rows of about this many pairs
            (bounds the memory: about 100 bytes per candidate).
    """
    cut_variables = [name for name in variables if f"{name}_min" in module_map]
    low, high = widened_ranges(module_map, cut_variables, margin, tolerance, statistical)
    module_a = module_map["module_a"].to_numpy(np.int64)
    module_b = module_map["module_b"].to_numpy(np.int64)
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    kept = []
    for rows in _row_chunks(module_map, table, max_pairs):
        source, target, row = module_map_candidates(table, module_map, rows)
        same_module = module_a[row] == module_b[row]
        keep = (source != target) & (~same_module | (radius[source] < radius[target]))
        source, target, row = source[keep], target[keep], row[keep]
        values = pair_variables(table, source, target)
        keep = np.ones(len(source), dtype=bool)
        for name in cut_variables:
            outside = (values[name] < low[name][row]) | (values[name] > high[name][row])
            keep &= ~outside  # NaN value or NaN range (tiny dr): not cut
        kept.append(np.stack([source[keep], target[keep]]))
    if not kept:
        return np.empty((2, 0), dtype=np.int64)
    return np.concatenate(kept, axis=1).astype(np.int64)
