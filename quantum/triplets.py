"""Triplets and quadruplets of qallse (Bapst et al., arXiv:1902.08324), built with array joins.

Notation: hits are row positions 0..N-1 of :func:`gnn4hep.quantum.doublets.hit_geometry`; L(h) is
a hit's layer index. All quantities are pure functions of arrays.

- A *doublet* (a, b) has L(a) < L(b) ≤ L(a) + max_layer_span; its r–z angle is
  θ_rz = atan2(z_b − z_a, r_b − r_a).
- A *triplet* (a, b, c) joins doublets (a, b) and (b, c). Its transverse curvature is the signed
  Menger curvature of the three (x, y) points,
  κ = 4·Area(a, b, c) / (|ab|·|bc|·|ca|) [1/mm] (= 1/R; R[mm] = pT[GeV] / (0.3·B[T]) · 1000),
  and its r–z disagreement is δ_rz = |θ_rz(a, b) − θ_rz(b, c)| folded into [0, π].
  Cuts: L(c) − L(a) ≤ max_layer_span + 1, |κ| ≤ tplet_max_curv, δ_rz ≤ tplet_max_drz.
- A *quadruplet* joins triplets t1 = (a, b, c) and t2 = (b, c, d) sharing the doublet (b, c). With
  Δκ = |κ1 − κ2| and δ = max(δ_rz1, δ_rz2), its coupling strength is

  S = m · [α (1 − (Δκ/Δκ_max)^p_xy) + (1 − α)(1 − (δ/δ_rz,max)^p_rz)] / (1 + s)^p_v,

  with m = ``num_multiplier`` (< 0), α = ``xy_relative_strength``, s = L(d) − L(a) − 3 the number
  of skipped layers, optionally clipped to ``strength_bounds``. Cuts: Δκ ≤ qplet_max_dcurv and
  S ≤ qplet_max_strength.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gnn4hep.quantum.doublets import ragged_pairs

if TYPE_CHECKING:
    from gnn4hep.quantum.model import QuboConfig

#: Pairs generated per join chunk (bounds the memory of the join: about 100 bytes a pair).
CHUNK_PAIRS = 4_000_000


def menger_curvature(xa, ya, xb, yb, xc, yc) -> np.ndarray:
    """Signed Menger curvature 1/R (1/mm) of three points in the transverse plane (any shape)."""
    dx1, dy1 = xb - xa, yb - ya
    dx2, dy2 = xc - xa, yc - ya
    twice_area = dx1 * dy2 - dy1 * dx2
    lengths = np.hypot(dx1, dy1) * np.hypot(xc - xb, yc - yb) * np.hypot(dx2, dy2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lengths > 0, 2 * twice_area / lengths, np.inf)


def angle_difference(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """|first − second| folded into [0, π] (radians)."""
    delta = np.abs(second - first)
    if (delta <= np.pi).all():  # the usual case (r–z angles of outward doublets)
        return delta
    delta = delta % (2 * np.pi)
    return np.where(delta <= np.pi, delta, 2 * np.pi - delta)


def _chunked_join(left_key: np.ndarray, right_key: np.ndarray):
    """Yield (left rows, right rows) of all pairs with left_key[i] == right_key[j], in chunks."""
    order = np.argsort(right_key, kind="stable")
    sorted_keys = right_key[order]
    lo = np.searchsorted(sorted_keys, left_key, side="left")
    counts = np.searchsorted(sorted_keys, left_key, side="right") - lo
    bounds = np.searchsorted(np.cumsum(counts), np.arange(CHUNK_PAIRS, counts.sum() + CHUNK_PAIRS, CHUNK_PAIRS))
    start = 0
    for stop in np.unique(np.minimum(bounds + 1, len(left_key))):
        if stop <= start:
            continue
        rows, cols = ragged_pairs(lo[start:stop], counts[start:stop])
        yield rows + start, order[cols]
        start = stop


def filter_doublets(layer: np.ndarray, inner: np.ndarray, outer: np.ndarray, max_layer_span: int) -> np.ndarray:
    """Mask of doublets with L(inner) < L(outer) ≤ L(inner) + max_layer_span (qallse's doublet cut)."""
    span = layer[outer] - layer[inner]
    return (span >= 1) & (span <= max_layer_span)


def build_triplets(geo: dict[str, np.ndarray], inner: np.ndarray, outer: np.ndarray, config: QuboConfig) -> dict:
    """All triplets passing the cuts, from doublets (inner[i], outer[i]) (hit positions).

    Args:
        geo: arrays ``x, y, z, r, layer`` per hit.
        inner, outer: doublet hit positions (already filtered with :func:`filter_doublets`).
        config: the cuts ``max_layer_span, tplet_max_curv, tplet_max_drz``.

    Returns:
        dict of arrays over triplets: ``d1, d2`` (doublet rows), ``hits`` (T, 3) positions,
        ``curvature`` (1/mm), ``drz`` (rad).
    """
    x, y, layer = geo["x"], geo["y"], geo["layer"]
    theta = np.arctan2(geo["z"][outer] - geo["z"][inner], geo["r"][outer] - geo["r"][inner])
    inner_layer, outer_layer = layer[inner], layer[outer]
    parts: dict[str, list] = {"d1": [], "d2": [], "curvature": [], "drz": []}
    for d1, d2 in _chunked_join(outer, inner):
        # cheap per-doublet gathers first; hit coordinates only for the survivors
        keep = outer_layer[d2] - inner_layer[d1] <= config.max_layer_span + 1
        d1, d2 = d1[keep], d2[keep]
        drz = angle_difference(theta[d1], theta[d2])
        keep = drz <= config.tplet_max_drz
        d1, d2, drz = d1[keep], d2[keep], drz[keep]
        a, b, c = inner[d1], outer[d1], outer[d2]
        curvature = menger_curvature(x[a], y[a], x[b], y[b], x[c], y[c])
        keep = np.abs(curvature) <= config.tplet_max_curv
        for name, value in (("d1", d1), ("d2", d2), ("curvature", curvature), ("drz", drz)):
            parts[name].append(value[keep])
    out = {k: (np.concatenate(v) if v else np.zeros(0, np.int64 if k[0] == "d" else np.float64)) for k, v in parts.items()}
    out["hits"] = np.stack([inner[out["d1"]], outer[out["d1"]], outer[out["d2"]]], axis=1)
    return out


def quadruplet_strength(
    delta_curvature: np.ndarray, max_drz: np.ndarray, skipped_layers: np.ndarray, config: QuboConfig
) -> np.ndarray:
    """qallse's coupling strength S of quadruplets (see the module docstring), any shape."""
    xy = 1 - (delta_curvature / config.qplet_max_dcurv) ** config.xy_power
    rz = 1 - (max_drz / config.tplet_max_drz) ** config.rz_power
    alpha = config.xy_relative_strength
    numerator = config.num_multiplier * (alpha * xy + (1 - alpha) * rz)
    strength = numerator / (1.0 + skipped_layers) ** config.volayer_power
    if config.strength_bounds is not None:
        strength = np.clip(strength, *config.strength_bounds)
    return strength


def build_quadruplets(triplets: dict, layer: np.ndarray, config: QuboConfig) -> dict:
    """All quadruplets (t1, t2) with t1.d2 == t2.d1 passing the cuts.

    Returns:
        dict of arrays: ``t1, t2`` (triplet rows) and ``strength`` (negative couplings).
    """
    parts: dict[str, list] = {"t1": [], "t2": [], "strength": []}
    hits, curvature, drz = triplets["hits"], triplets["curvature"], triplets["drz"]
    for t1, t2 in _chunked_join(triplets["d2"], triplets["d1"]):
        delta = np.abs(curvature[t1] - curvature[t2])
        keep = delta <= config.qplet_max_dcurv
        t1, t2, delta = t1[keep], t2[keep], delta[keep]
        skipped = layer[hits[t2, 2]] - layer[hits[t1, 0]] - 3
        strength = quadruplet_strength(delta, np.maximum(drz[t1], drz[t2]), skipped, config)
        keep = strength <= config.qplet_max_strength
        for name, value in (("t1", t1), ("t2", t2), ("strength", strength)):
            parts[name].append(value[keep])
    return {k: (np.concatenate(v) if v else np.zeros(0, np.int64 if k[0] == "t" else np.float64)) for k, v in parts.items()}
