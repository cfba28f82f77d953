"""Geometric doublet graphs: hit pairs on allowed layer pairs that pass cuts (the HEP.TrkX recipe).

For a candidate pair (a on the inner layer, b on the outer one), with r, phi, z of each hit (mm, rad):

    dphi      = wrap(phi_b - phi_a)                      (in [-pi, pi))
    phi_slope = dphi / (r_b - r_a)                       [rad/mm]
    z0        = z_a - r_a * (z_b - z_a) / (r_b - r_a)    [mm], the r-z line's intercept at r = 0
    deta      = eta_b - eta_a

HEP.TrkX (Farrell et al., arXiv:1810.06111) keeps barrel pairs with |phi_slope| < 0.0006 and
|z0| < 200 mm (:func:`heptrkx_cuts`). For all volumes a *layer-pair table* gives, per pair of
layers, the maximum |dphi|, |deta|, |z0| and |phi_slope| (NaN = not applied); phi_slope and z0 are
only applied where r_b - r_a > ``DR_MIN_MM`` (disk-to-disk and same-layer pairs have tiny dr).
:func:`fit_layer_pair_cuts` learns that table from the true consecutive pairs of training events.

Pair finding is vectorised: the hits of each layer are sorted by phi once and the phi window of
every inner hit is found with ``np.searchsorted`` (with the +-2 pi wrap); the only Python loop is
over layer pairs (about 100-250).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.graphs.layers import barrel_layer_pairs
from gnn4hep.graphs.truth import consecutive_pairs, orient_pairs
from gnn4hep.utils.angles import wrap_phi

DR_MIN_MM = 5.0
CUT_COLUMNS = ("dphi_max", "deta_max", "z0_max", "phi_slope_max")


def pair_variables(table: pd.DataFrame, source: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """dr, dphi, deta, z0, phi_slope (module docstring) of pairs source -> target (row positions)."""
    r = table["r"].to_numpy()
    z = table["z"].to_numpy()
    dr = r[target] - r[source]
    dz = z[target] - z[source]
    dphi = wrap_phi(table["phi"].to_numpy()[target] - table["phi"].to_numpy()[source])
    safe_dr = np.where(np.abs(dr) > DR_MIN_MM, dr, np.nan)
    return {
        "dr": dr,
        "dphi": dphi,
        "deta": table["eta"].to_numpy()[target] - table["eta"].to_numpy()[source],
        "z0": z[source] - r[source] * dz / safe_dr,
        "phi_slope": dphi / safe_dr,
    }


def phi_window_pairs(phi_a: np.ndarray, phi_b_sorted: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with |wrap(phi_b_sorted[j] - phi_a[i])| <= width, by binary search.

    Each pair appears once: the width is capped just below pi, so a window never covers a hit twice.
    Shared by the geometric hit graph and the QUBO doublet maker.
    """
    n_b = len(phi_b_sorted)
    if n_b == 0 or len(phi_a) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    width = min(float(width), np.pi * (1 - 1e-9))
    extended = np.concatenate([phi_b_sorted - 2 * np.pi, phi_b_sorted, phi_b_sorted + 2 * np.pi])
    lo = np.searchsorted(extended, phi_a - width, side="left")
    hi = np.searchsorted(extended, phi_a + width, side="right")
    counts = hi - lo
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(phi_a)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, (np.repeat(lo, counts) + offsets) % n_b


def _layer_groups(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row positions sorted by (layer, phi) and the start of each layer in that order."""
    layer = table["layer"].to_numpy()
    order = np.lexsort((table["phi"].to_numpy(), layer))
    starts = np.searchsorted(layer[order], np.arange(int(layer.max(initial=-1)) + 2))
    return order, starts


def build_geometric_edges(table: pd.DataFrame, cuts: pd.DataFrame) -> np.ndarray:
    """Directed edges (2, E) int64 (row positions of ``table``) passing the layer-pair cuts.

    Args:
        table: :func:`gnn4hep.graphs.features.hit_table` rows (r, phi, z, eta, layer).
        cuts: one row per layer pair: ``layer_a, layer_b`` and the columns of ``CUT_COLUMNS``
            (``dphi_max`` required, the others may be NaN = not applied).
    """
    if "dphi_max" not in cuts:
        raise ValueError("layer-pair cuts need a 'dphi_max' column")
    order, starts = _layer_groups(table)
    n_groups = len(starts) - 1
    phi = table["phi"].to_numpy()
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    sources, targets = [], []
    for row in cuts.itertuples(index=False):
        a, b = int(row.layer_a), int(row.layer_b)
        if a >= n_groups or b >= n_groups:
            continue
        hits_a = order[starts[a] : starts[a + 1]]
        hits_b = order[starts[b] : starts[b + 1]]
        i, j = phi_window_pairs(phi[hits_a], phi[hits_b], row.dphi_max)
        src, dst = hits_a[i], hits_b[j]
        if a == b:
            keep = radius[src] < radius[dst]
            src, dst = src[keep], dst[keep]
        values = pair_variables(table, src, dst)
        keep = np.ones(len(src), dtype=bool)
        for name in ("deta", "z0", "phi_slope"):
            limit = getattr(row, f"{name}_max", np.nan)
            if limit is not None and np.isfinite(limit):
                keep &= ~(np.abs(values[name]) > limit)  # NaN (tiny dr) passes
        sources.append(src[keep])
        targets.append(dst[keep])
    if not sources:
        return np.empty((2, 0), dtype=np.int64)
    return np.stack([np.concatenate(sources), np.concatenate(targets)]).astype(np.int64)


def heptrkx_cuts(
    table: pd.DataFrame | None = None, phi_slope_max: float = 0.0006, z0_max: float = 200.0
) -> pd.DataFrame:
    """The HEP.TrkX cut table: adjacent barrel layers, |phi_slope| < 0.0006 rad/mm, |z0| < 200 mm.

    The phi search window of a pair is phi_slope_max times the largest dr between the two layers
    (from ``table`` when given, else 600 mm).
    """
    pairs = barrel_layer_pairs()
    if table is not None:
        r_max = table.groupby("layer")["r"].max()
        r_min = table.groupby("layer")["r"].min()
        dr = r_max.reindex(pairs["layer_b"]).to_numpy() - r_min.reindex(pairs["layer_a"]).to_numpy()
        dr = np.nan_to_num(dr, nan=0.0)
    else:
        dr = np.full(len(pairs), 600.0)
    pairs["dphi_max"] = phi_slope_max * np.maximum(dr, 0.0)
    pairs["deta_max"] = np.nan
    pairs["z0_max"] = z0_max
    pairs["phi_slope_max"] = phi_slope_max
    return pairs


def true_pair_table(table: pd.DataFrame, pt_min: float = 0.0) -> pd.DataFrame:
    """The oriented true consecutive pairs of one event with their layers and pair variables."""
    pairs = consecutive_pairs(table)
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    source, target = orient_pairs(pairs, table["rank"].to_numpy(), radius)
    keep = table["pt"].to_numpy()[source] > pt_min
    source, target = source[keep], target[keep]
    out = pd.DataFrame(
        {
            "source": source,
            "target": target,
            "layer_a": table["layer"].to_numpy()[source],
            "layer_b": table["layer"].to_numpy()[target],
            "module_a": table["module_key"].to_numpy()[source],
            "module_b": table["module_key"].to_numpy()[target],
        }
    )
    for name, values in pair_variables(table, source, target).items():
        out[name] = values
    return out


def fit_layer_pair_cuts(
    tables: list[pd.DataFrame],
    pt_min: float = 0.0,
    quantile: float = 0.999,
    margin: float = 1.1,
    min_count: int = 3,
) -> pd.DataFrame:
    """Learn the layer pairs and their cuts from the true consecutive pairs of training events.

    A layer pair is kept when at least ``min_count`` true pairs (of particles with pT > ``pt_min``)
    cross it; each cut is ``margin`` times the ``quantile`` of |variable| over those pairs.
    z0 and phi_slope cuts are only set for pairs whose true pairs all have dr > ``DR_MIN_MM``.
    """
    true_pairs = pd.concat([true_pair_table(t, pt_min) for t in tables], ignore_index=True)
    grouped = true_pairs.groupby(["layer_a", "layer_b"])
    rows = []
    for (layer_a, layer_b), group in grouped:
        if len(group) < min_count:
            continue
        row = {"layer_a": layer_a, "layer_b": layer_b, "n_true": len(group)}
        for name in ("dphi", "deta", "z0", "phi_slope"):
            values = np.abs(group[name].to_numpy())
            if name in ("z0", "phi_slope") and np.isnan(values).any():
                row[f"{name}_max"] = np.nan
            else:
                row[f"{name}_max"] = margin * float(np.quantile(values, quantile))
        rows.append(row)
    columns = ["layer_a", "layer_b", "n_true", *CUT_COLUMNS]
    cuts = pd.DataFrame(rows, columns=columns)
    cuts["dphi_max"] = np.maximum(cuts["dphi_max"], 1e-3)
    return cuts.astype({"layer_a": np.int64, "layer_b": np.int64})
