"""Helix seed from three space points: exact circle in x-y plus a straight line in (arc length, z).

For points x1, x2, x3 (n, 3) in this order along the track, the signed transverse curvature is

    kappa = 2 ((x2 - x1) x (x3 - x1))_z / (|x2 - x1| |x3 - x2| |x3 - x1|)      (> 0: counter-clockwise),

finite for collinear points (kappa = 0, a straight line). The chord x1 -> x2 of length L turns the
direction by alpha = 2 asin(kappa L / 2), so the azimuth at x1 is phi_chord - alpha / 2 and the arc
length is L asin(kappa L / 2) / (kappa L / 2). theta follows from the z rise over the arc x1 -> x3,
and q/p from dphi/ds = kappa sin(theta) = -K B q/p. A positive charge in a +z field turns clockwise
(kappa < 0).
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM

#: Seed triplets tried by :func:`robust_seed`, as fractions of the track length (first .. last hit).
TRIPLET_FRACTIONS = ((0.0, 0.5, 1.0), (0.0, 1 / 3, 2 / 3), (1 / 3, 2 / 3, 1.0), (0.0, 0.25, 0.5), (0.5, 0.75, 1.0))
#: Seed score (mm) below which :func:`robust_seed` keeps a triplet without trying the others.
ACCEPT_SCORE_MM = 0.2


def _arc(kappa, chord):
    """Transverse arc length for a chord of length ``chord`` on a circle of curvature ``kappa``."""
    half = np.clip(0.5 * kappa * chord, -1.0, 1.0)
    ratio = np.where(np.abs(half) > 1e-8, np.arcsin(half) / np.where(half == 0, 1.0, half), 1.0)
    return chord * ratio, 2.0 * np.arcsin(half)


def three_point_seed(x1, x2, x3, b_tesla: float):
    """(phi, theta, qop) at ``x1`` of the helix through three points (n, 3) mm."""
    d12 = x2[:, :2] - x1[:, :2]
    d23 = x3[:, :2] - x2[:, :2]
    d13 = x3[:, :2] - x1[:, :2]
    l12, l23, l13 = (np.hypot(d[:, 0], d[:, 1]) for d in (d12, d23, d13))
    cross = d12[:, 0] * d13[:, 1] - d12[:, 1] * d13[:, 0]
    kappa = 2.0 * cross / np.maximum(l12 * l23 * l13, 1e-12)
    arc12, alpha12 = _arc(kappa, l12)
    arc13, _ = _arc(kappa, l13)
    phi = np.arctan2(d12[:, 1], d12[:, 0]) - 0.5 * alpha12
    # z along the arc: least-squares line through (0, z1), (arc12, z2), (arc13, z3)
    arcs = np.stack([np.zeros_like(arc12), arc12, arc13], -1)
    zs = np.stack([x1[:, 2], x2[:, 2], x3[:, 2]], -1)
    arc_c = arcs - arcs.mean(-1, keepdims=True)
    slope = np.sum(arc_c * (zs - zs.mean(-1, keepdims=True)), -1) / np.maximum(np.sum(arc_c**2, -1), 1e-12)
    theta = np.arctan2(1.0, slope)
    qop = -kappa * np.sin(theta) / (C_GEV_PER_T_MM * b_tesla)
    return phi, theta, qop


def helix_residuals(x1, phi, theta, qop, points, b_tesla: float):
    """Transverse and z residuals (T, L) of ``points`` (T, L, 3) from the seed helix through x1 (T, 3).

    Transverse: eps = n . D - kappa |D|^2 / 2 with D = x - x1 (transverse) and n the left normal of the
    direction at x1; |eps| is the distance to the circle to first order, exact at kappa = 0. z: the
    measured z minus z1 + arc(D) cot(theta).
    """
    kappa = -qop * C_GEV_PER_T_MM * b_tesla / np.maximum(np.sin(theta), 1e-9)
    delta = points[..., :2] - x1[:, None, :2]
    dx, dy = delta[..., 0], delta[..., 1]
    sq = dx * dx + dy * dy
    eps = (-np.sin(phi)[:, None] * dx + np.cos(phi)[:, None] * dy) - 0.5 * kappa[:, None] * sq
    arc, _ = _arc(kappa[:, None], np.sqrt(sq))
    dz = points[..., 2] - x1[:, None, 2] - arc / np.tan(theta)[:, None]
    return eps, dz


def robust_seed(points: np.ndarray, n_hits: np.ndarray, b_tesla: float, z_weight: float = 0.05,
                accept_mm: float = ACCEPT_SCORE_MM):
    """Best three-point seed among ``TRIPLET_FRACTIONS`` triplets of each track.

    Args:
        points: (T, L, 3) global hit positions in track order, padded; n_hits: (T,) real hits (>= 3).
        b_tesla: B_z (tesla), one for all tracks or (T,): the effective field of each track.
        z_weight: weight of |dz| in the score. accept_mm: a track whose best score so far is below
            this is settled (no further triplet is tried for it).
    Returns:
        (triplet (T, 3) hit indices, phi, theta, qop at the triplet's first hit). The score of a
        triplet is the median over the track's hits of |eps| + z_weight |dz| (mm); a wrong hit among
        the three makes the other hits miss the helix, so the median avoids it. Clean tracks settle
        on the first triplet (median score about 0.02 mm for 1-100 GeV muons, 99.9% below 0.3 mm).
    """
    n_tracks = len(n_hits)
    b_all = np.broadcast_to(np.asarray(b_tesla, dtype=np.float64), (n_tracks,))  # one B_z per track allowed
    valid = np.arange(points.shape[1])[None, :] < n_hits[:, None]
    best_score = np.full(n_tracks, np.inf)
    best_idx = np.zeros((n_tracks, 3), dtype=np.int64)
    best_phi, best_theta, best_qop = np.zeros(n_tracks), np.zeros(n_tracks), np.zeros(n_tracks)
    todo = np.arange(n_tracks)
    for fractions in TRIPLET_FRACTIONS:
        last = n_hits[todo] - 1
        idx = np.stack([np.rint(f * last).astype(np.int64) for f in fractions], -1)
        idx[:, 1] = np.clip(idx[:, 1], idx[:, 0] + 1, last - 1)
        idx[:, 2] = np.clip(idx[:, 2], idx[:, 1] + 1, last)
        sub_points = points[todo]
        x = [sub_points[np.arange(len(todo)), idx[:, j]] for j in range(3)]
        phi, theta, qop = three_point_seed(*x, b_all[todo])
        eps, dz = helix_residuals(x[0], phi, theta, qop, sub_points, b_all[todo])
        score = np.where(valid[todo], np.abs(eps) + z_weight * np.abs(dz), np.inf)
        score = np.where(np.isnan(score), np.inf, score)
        score = np.take_along_axis(np.sort(score, axis=1), ((last) // 2)[:, None], axis=1)[:, 0]  # median
        better = (score < best_score[todo]) | ~np.isfinite(best_score[todo])
        rows = todo[better]
        best_score[rows], best_idx[rows] = score[better], idx[better]
        best_phi[rows], best_theta[rows], best_qop[rows] = phi[better], theta[better], qop[better]
        todo = todo[~(best_score[todo] < accept_mm)]
        if len(todo) == 0:
            break
    return best_idx, best_phi, best_theta, best_qop
