"""Doublets (pairs of hits on different layers) as the input of the QUBO model.

Two routes give the same table, ``hit_id_in, hit_id_out, score`` (inner hit = smaller radius):

- :func:`make_doublets`, the geometric *doublet maker* of qallse's seeding (Bapst et al.,
  arXiv:1902.08324, after the ATLAS/ACTS seeding used there). For each hit and each hit on one of
  the next ``max_layer_span`` layers outwards it keeps the pair when

  * both hits fall in the same or neighbouring φ slices of ``phi_slices`` equal slices of [-π, π)
    (the seeding's search window; wrap-around included);
  * 10 mm ≤ Δr ≤ 300 mm (``min_length``, ``max_length``);
  * |Δz/Δr| ≤ sinh(η_max) with η_max = 2.7 (segments not too close to the beam axis);
  * the straight line through both hits in the r–z plane meets the beam axis at
    |z0| ≤ 350 mm (``z0_max``; the luminous region ``zMinus..zPlus``).

  The seeding's extra test on the z reached at r = 550 mm never removes a pair that passes the
  slope cut, so it is omitted. Scores are 1.

- :func:`doublets_from_graph`, from any hit graph: an edge table ``hit_id_in, hit_id_out[, score]``
  or a PyG ``Data`` (``edge_index`` over nodes, ``hit_id`` per node, optional ``edge_scores``),
  e.g. the geometric graph or GNN-scored edges above a loose cut. This is where we go beyond qallse,
  whose doublets come only from the seeding.

The layer order is :func:`layer_index`: (volume_id, layer_id) pairs sorted by their median hit
radius, which is qallse's barrel order (8-2, 8-4, …, 17-4) for TrackML barrel hits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import ConfigError
from gnn4hep.graphs.geometric import phi_window_pairs


class DoubletConfig(Section):
    """Cuts of the geometric doublet maker (qallse's seeding constants)."""

    max_layer_span: int = Field(2, ge=1, description="outer hit at most this many layers out (qallse: 2)")
    phi_slices: int = Field(53, ge=3, description="number of φ slices; pairs come from the same or neighbouring slices")
    min_length: float = Field(10.0, ge=0, description="minimum Δr (mm)")
    max_length: float = Field(300.0, gt=0, description="maximum Δr (mm)")
    max_eta: float = Field(2.7, gt=0, description="|Δz/Δr| ≤ sinh(max_eta)")
    z0_max: float = Field(350.0, gt=0, description="|z0| (mm) of the doublet's line at r = 0")


def hit_geometry(hits: pd.DataFrame) -> pd.DataFrame:
    """Per hit: hit_id, x, y, z, r, phi (float64) and layer (int, from :func:`layer_index`)."""
    missing = [c for c in ("hit_id", "x", "y", "z", "volume_id", "layer_id") if c not in hits.columns]
    if missing:
        raise ConfigError(f"hits table lacks column(s) {', '.join(missing)}")
    x, y, z = (hits[c].to_numpy(np.float64) for c in ("x", "y", "z"))
    if not (np.isfinite(x).all() and np.isfinite(y).all() and np.isfinite(z).all()):
        raise ConfigError("hits table has non-finite x, y or z")
    return pd.DataFrame(
        {
            "hit_id": hits["hit_id"].to_numpy(np.int64),
            "x": x,
            "y": y,
            "z": z,
            "r": np.hypot(x, y),
            "phi": np.arctan2(y, x),
            "layer": layer_index(hits),
        }
    )


def layer_index(hits: pd.DataFrame) -> np.ndarray:
    """Index 0..L-1 of each hit's (volume_id, layer_id), ordered by the pair's median radius."""
    r = np.hypot(hits["x"].to_numpy(np.float64), hits["y"].to_numpy(np.float64))
    key = hits["volume_id"].to_numpy(np.int64) * 1000 + hits["layer_id"].to_numpy(np.int64)
    uniques, inverse = np.unique(key, return_inverse=True)
    median_r = np.array([np.median(r[inverse == i]) for i in range(len(uniques))])
    rank = np.empty(len(uniques), np.int64)
    rank[np.argsort(median_r, kind="stable")] = np.arange(len(uniques))
    return rank[inverse]


def ragged_pairs(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows i with ranges [starts[i], starts[i] + counts[i]): (row of each pair, position)."""
    counts = np.asarray(counts, np.int64)
    rows = np.repeat(np.arange(len(counts)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, np.repeat(np.asarray(starts, np.int64), counts) + offsets


def make_doublets(hits: pd.DataFrame, config: DoubletConfig | None = None) -> pd.DataFrame:
    """Geometric doublets of qallse's seeding (see the module docstring).

    Returns:
        DataFrame ``hit_id_in, hit_id_out, score`` (score = 1), inner hit first.
    """
    config = config or DoubletConfig()
    geo = hit_geometry(hits)
    slice_width = 2 * np.pi / config.phi_slices
    phi_slice = np.minimum(((geo["phi"].to_numpy() + np.pi) // slice_width).astype(np.int64), config.phi_slices - 1)
    layer, phi = geo["layer"].to_numpy(), geo["phi"].to_numpy()
    r, z = geo["r"].to_numpy(), geo["z"].to_numpy()
    max_ctg = np.sinh(config.max_eta)
    window = 2 * slice_width  # same or neighbouring slice: |Δφ| < 2 slice widths
    pieces = []
    for inner_layer in range(layer.max() + 1 if len(layer) else 0):
        inner = np.flatnonzero(layer == inner_layer)
        for outer_layer in range(inner_layer + 1, inner_layer + config.max_layer_span + 1):
            outer = np.flatnonzero(layer == outer_layer)
            if len(inner) == 0 or len(outer) == 0:
                continue
            outer_sorted = outer[np.argsort(phi[outer])]
            rows, cols = phi_window_pairs(phi[inner], phi[outer_sorted], window)
            pieces.append(np.stack([inner[rows], outer_sorted[cols]]))
    if not pieces:
        return pd.DataFrame({"hit_id_in": np.zeros(0, np.int64), "hit_id_out": np.zeros(0, np.int64), "score": 1.0})
    a, b = np.concatenate(pieces, axis=1)
    d_slice = np.abs(phi_slice[a] - phi_slice[b])
    neighbour = (d_slice <= 1) | (d_slice == config.phi_slices - 1)
    dr = r[b] - r[a]
    dz = z[b] - z[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = dz / dr
        z0 = z[a] - r[a] * slope
    keep = neighbour & (dr >= config.min_length) & (dr <= config.max_length)
    keep &= (np.abs(slope) <= max_ctg) & (np.abs(z0) <= config.z0_max)
    hit_id = geo["hit_id"].to_numpy()
    return pd.DataFrame({"hit_id_in": hit_id[a[keep]], "hit_id_out": hit_id[b[keep]], "score": 1.0})


def doublets_from_graph(graph: Any, hits: pd.DataFrame, min_score: float = 0.0) -> pd.DataFrame:
    """Doublets from any hit graph, oriented inner → outer by radius, duplicates merged.

    Args:
        graph: a DataFrame ``hit_id_in, hit_id_out[, score]``, or a PyG ``Data`` with
            ``edge_index`` (2, E), ``hit_id`` (N,) and optionally ``edge_scores`` (E,).
        hits: the event's hits (to orient edges by radius and check the hit ids).
        min_score: edges with a score below this are dropped (a loose cut on GNN scores).

    Returns:
        DataFrame ``hit_id_in, hit_id_out, score``; for an edge given twice, the larger score.
    """
    if isinstance(graph, pd.DataFrame):
        missing = [c for c in ("hit_id_in", "hit_id_out") if c not in graph.columns]
        if missing:
            raise ConfigError(f"edge table lacks column(s) {', '.join(missing)} (needs hit_id_in, hit_id_out[, score])")
        first = graph["hit_id_in"].to_numpy(np.int64)
        second = graph["hit_id_out"].to_numpy(np.int64)
        score = graph["score"].to_numpy(np.float64) if "score" in graph.columns else np.ones(len(graph))
    else:
        for name in ("edge_index", "hit_id"):
            if getattr(graph, name, None) is None:
                raise ConfigError(f"hit graph has no '{name}': a QUBO needs TrackML hit ids of the edges")
        edge_index = graph.edge_index.detach().cpu().numpy().astype(np.int64)
        node_hit = graph.hit_id.detach().cpu().numpy().astype(np.int64)
        first, second = node_hit[edge_index[0]], node_hit[edge_index[1]]
        scores = getattr(graph, "edge_scores", None)
        score = scores.detach().cpu().numpy().astype(np.float64) if scores is not None else np.ones(len(first))
    if not np.isfinite(score).all():
        raise ConfigError("edge scores contain NaN or infinity")
    r = pd.Series(np.hypot(hits["x"].to_numpy(np.float64), hits["y"].to_numpy(np.float64)), index=hits["hit_id"].to_numpy())
    unknown = ~(np.isin(first, r.index.to_numpy()) & np.isin(second, r.index.to_numpy()))
    if unknown.any():
        raise ConfigError(f"{int(unknown.sum())} edge(s) name hit ids absent from the hits table (e.g. {first[unknown][0]})")
    swap = r.loc[first].to_numpy() > r.loc[second].to_numpy()
    inner = np.where(swap, second, first)
    outer = np.where(swap, first, second)
    table = pd.DataFrame({"hit_id_in": inner, "hit_id_out": outer, "score": score})
    table = table[(table["score"] >= min_score) & (table["hit_id_in"] != table["hit_id_out"])]
    table = table.groupby(["hit_id_in", "hit_id_out"], as_index=False, sort=True)["score"].max()
    return table.reset_index(drop=True)
