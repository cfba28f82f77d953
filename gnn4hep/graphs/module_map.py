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
Candidate generation is a pandas merge of hits on module keys (vectorised, no loop).
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


def module_map_candidates(table: pd.DataFrame, module_map: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """All hit pairs (source, target rows) on mapped module pairs, and the map row of each."""
    hits = pd.DataFrame({"row": np.arange(len(table)), "module": table["module_key"].to_numpy()})
    candidates = module_map.merge(hits.rename(columns={"module": "module_a", "row": "source"}), on="module_a")
    candidates = candidates.merge(hits.rename(columns={"module": "module_b", "row": "target"}), on="module_b")
    return candidates["source"].to_numpy(np.int64), candidates["target"].to_numpy(np.int64), candidates


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
) -> np.ndarray:
    """Directed edges (2, E) (row positions of ``table``) of hit pairs on mapped module pairs.

    Args:
        table: hit table of the event (needs ``module_key`` and the geometry columns).
        module_map: from :func:`fit_module_map`.
        margin: relative widening of each [min, max] range (by margin * (max - min)).
        tolerance: absolute widening of each range, times ``TOLERANCE_SCALE[variable]``.
        variables: the doublet variables cut on (columns missing from an older map are skipped).
        statistical: add the order-statistics padding W_layer_pair / (n_true + 1).
    """
    module_map = module_map.copy()
    for name in variables:
        if f"{name}_min" in module_map:
            module_map[f"{name}_pad"] = statistical_padding(module_map, name) if statistical else 0.0
    source, target, candidates = module_map_candidates(table, module_map)
    keep = source != target
    same_module = candidates["module_a"].to_numpy() == candidates["module_b"].to_numpy()
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    keep &= ~same_module | (radius[source] < radius[target])
    source, target, candidates = source[keep], target[keep], candidates[keep]
    values = pair_variables(table, source, target)
    keep = np.ones(len(source), dtype=bool)
    for name in variables:
        if f"{name}_min" not in candidates:
            continue
        low = candidates[f"{name}_min"].to_numpy()
        high = candidates[f"{name}_max"].to_numpy()
        width = margin * (high - low) + tolerance * TOLERANCE_SCALE[name] + candidates[f"{name}_pad"].to_numpy()
        outside = (values[name] < low - width) | (values[name] > high + width)
        keep &= ~outside  # NaN value or NaN range (tiny dr): not cut
    return np.stack([source[keep], target[keep]]).astype(np.int64)
