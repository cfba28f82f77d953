"""Module-map graphs: connect hits on module pairs that true tracks connected in training events.

The module map (Exa.TrkX / ATLAS GNN4ITk, Biscarat et al., CTD 2021; acorn ``ModuleMap``) is the
set of ordered module pairs (module_a -> module_b) crossed by the true consecutive hits
(:mod:`gnn4hep.graphs.truth`, oriented inner -> outer) of the training events, together with the
range of the pair variables seen on each pair (dphi, deta, z0 of :func:`gnn4hep.graphs.geometric.pair_variables`).
Applied to a new event, every hit pair on a mapped module pair is a candidate, kept when its dphi
and deta lie in the pair's range widened by ``margin`` (relative) plus ``tolerance`` (absolute).

The map's efficiency grows with the number of training events (module pairs never seen are
missing); a map from 100 events covers most pairs of pT > 1 GeV tracks and fewer of low-pT ones.
Candidate generation is a pandas merge of hits on module keys (vectorised, no loop).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.graphs.geometric import pair_variables, true_pair_table

MAP_COLUMNS = ("module_a", "module_b", "n_true", "dphi_min", "dphi_max", "deta_min", "deta_max")


def fit_module_map(tables: list[pd.DataFrame], pt_min: float = 0.0) -> pd.DataFrame:
    """The module map of training events: one row per module pair with counts and ranges.

    Args:
        tables: :func:`gnn4hep.graphs.features.hit_table` of each training event (with truth).
        pt_min: only pairs of particles with pT > pt_min [GeV] are used.
    """
    pairs = pd.concat([true_pair_table(t, pt_min) for t in tables], ignore_index=True)
    grouped = pairs.groupby(["module_a", "module_b"])
    table = grouped.agg(
        n_true=("dphi", "size"),
        dphi_min=("dphi", "min"),
        dphi_max=("dphi", "max"),
        deta_min=("deta", "min"),
        deta_max=("deta", "max"),
    ).reset_index()
    return table[list(MAP_COLUMNS)]


def build_module_map_edges(
    table: pd.DataFrame, module_map: pd.DataFrame, margin: float = 0.1, tolerance: float = 0.01
) -> np.ndarray:
    """Directed edges (2, E) (row positions of ``table``) of hit pairs on mapped module pairs.

    Args:
        table: hit table of the event (needs ``module_key`` and the geometry columns).
        module_map: from :func:`fit_module_map`.
        margin: relative widening of each [min, max] range (by margin * (max - min)).
        tolerance: absolute widening of each range (rad for dphi, units of eta for deta).
    """
    hits = pd.DataFrame({"row": np.arange(len(table)), "module": table["module_key"].to_numpy()})
    candidates = module_map.merge(hits.rename(columns={"module": "module_a", "row": "source"}), on="module_a")
    candidates = candidates.merge(hits.rename(columns={"module": "module_b", "row": "target"}), on="module_b")
    source = candidates["source"].to_numpy(np.int64)
    target = candidates["target"].to_numpy(np.int64)
    keep = source != target
    same_module = candidates["module_a"].to_numpy() == candidates["module_b"].to_numpy()
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    keep &= ~same_module | (radius[source] < radius[target])
    values = pair_variables(table, source, target)
    for name in ("dphi", "deta"):
        low = candidates[f"{name}_min"].to_numpy()
        high = candidates[f"{name}_max"].to_numpy()
        width = margin * (high - low) + tolerance
        keep &= (values[name] >= low - width) & (values[name] <= high + width)
    return np.stack([source[keep], target[keep]])
