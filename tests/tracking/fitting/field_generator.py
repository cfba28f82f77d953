"""Muons in a non-uniform field through TrackML-like layers, for the fitter's tests (not a detector simulation).

Independent of the fitter's propagator: the trajectory is integrated by classical Runge-Kutta in plain numpy
with a fixed 1 mm step (local error ~ (1 mm / R)^5 R, far below a micrometre), all tracks at once. The
layers are cylinders (barrel) and disks (end-caps) at the radii and |z| of the TrackML detector
(pixels, short strips, long strips), crossed outward only. At a crossing (the 1 mm step interpolated
linearly: off the arc by the step's sagitta, < 1e-6 mm) a plane tangent to the layer is placed at the true
point (barrel: normal radial; disk: normal along z), the measurement is Gaussian smearing of the layer's
sigma in local (u, v), and the muon is deflected by the simulator's ``scatter()`` (Highland theta_0 of
``THICKNESS_MM`` of silicon over the crossing path) and loses the simulator's mean ionisation energy.
Truth is the exact perigee at which each track starts.
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.fitting.kalman import Surfaces
from gnn4hep.tracking.fitting.material import MUON_MASS_GEV
from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM
from gnn4hep.tracking.simulation.material import highland_theta0, lose_energy
from gnn4hep.tracking.simulation.material import scatter as deflect

#: barrel layers: (radius, half-length, sigma_u, sigma_v) mm; disks: (|z|, r_min, r_max, sigma_u, sigma_v)
BARRELS = ([(r, 490.0, 0.0144, 0.0163) for r in (32.0, 72.0, 116.0, 172.0)]
           + [(r, 1080.0, 0.0231, 0.346) for r in (260.0, 360.0, 500.0, 660.0)]
           + [(r, 1080.0, 0.0346, 3.0) for r in (820.0, 1020.0)])
DISKS = ([(z, 30.0, 175.0, 0.0144, 0.0163) for z in (600.0, 700.0, 820.0, 960.0, 1100.0, 1300.0, 1500.0)]
         + [(z, 230.0, 700.0, 0.0231, 0.346) for z in (1220.0, 1500.0, 1800.0, 2150.0, 2550.0, 2950.0)]
         + [(z, 720.0, 1020.0, 0.0346, 3.0) for z in (1220.0, 1500.0, 1800.0, 2150.0, 2550.0, 2950.0)])
THICKNESS_MM = 0.6
STEP_MM = 1.0


def _rk4(field, x, t, qop, h):
    """One Runge-Kutta step of (x, unit t) along the path: dx/ds = t, dt/ds = K qop t x B."""
    def rhs(pos, tan):
        return tan, C_GEV_PER_T_MM * qop[:, None] * np.cross(tan, field(pos))

    k1x, k1t = rhs(x, t)
    k2x, k2t = rhs(x + 0.5 * h * k1x, t + 0.5 * h * k1t)
    k3x, k3t = rhs(x + 0.5 * h * k2x, t + 0.5 * h * k2t)
    k4x, k4t = rhs(x + h * k3x, t + h * k3t)
    new_x = x + h / 6.0 * (k1x + 2 * k2x + 2 * k3x + k4x)
    new_t = t + h / 6.0 * (k1t + 2 * k2t + 2 * k3t + k4t)
    return new_x, new_t / np.linalg.norm(new_t, axis=1, keepdims=True)


def _plane(point, barrel):
    """Rotation (3, 3) (columns u, v, w) of the plane tangent to the layer at ``point``."""
    phi = np.arctan2(point[1], point[0])
    radial = np.array([np.cos(phi), np.sin(phi), 0.0])
    along = np.array([-np.sin(phi), np.cos(phi), 0.0])
    if barrel:
        return np.stack([along, [0.0, 0.0, 1.0], radial], axis=1)
    return np.stack([along, radial, np.cross(along, radial)], axis=1)


def generate_in_field(n: int, field, seed: int = 0, pt_range=(1.0, 100.0), eta_max: float = 2.5,
                      scatter: bool = True, max_path_mm: float = 4000.0, thickness_mm: float = THICKNESS_MM,
                      transverse_barrel: bool = False):
    """(true perigee (n, 5), Surfaces padded to the longest track, n_hits (n,)) of muons in ``field``.

    ``thickness_mm``: silicon of every layer at normal incidence. ``transverse_barrel``: the material path at a
    barrel layer is the thickness over |cos| of the angle between the radial normal and the track's transverse
    direction (the real TrackML barrel's behaviour), not over |cos| of the angle to the direction; the returned
    Surfaces then flag the barrel crossings (``transverse``)."""
    rng = np.random.default_rng(seed)
    pt = np.exp(rng.uniform(np.log(pt_range[0]), np.log(pt_range[1]), n))
    eta = rng.uniform(-eta_max, eta_max, n)
    theta = 2.0 * np.arctan(np.exp(-eta))
    q = rng.choice([-1.0, 1.0], n)
    phi = rng.uniform(-np.pi, np.pi, n)
    perigee = np.stack([rng.normal(0, 0.02, n), rng.normal(0, 50.0, n), phi, theta, q * np.sin(theta) / pt], -1)
    x = np.stack([-perigee[:, 0] * np.sin(phi), perigee[:, 0] * np.cos(phi), perigee[:, 1]], -1)
    t = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1)
    qop = perigee[:, 4].copy()
    hits: list[list[tuple]] = [[] for _ in range(n)]
    active = np.arange(n)
    path = 0.0
    while len(active) and path < max_path_mm:
        x0, t0 = x[active], t[active]
        x1, t1 = _rk4(field, x0, t0, qop[active], STEP_MM)
        r0, r1 = np.hypot(x0[:, 0], x0[:, 1]), np.hypot(x1[:, 0], x1[:, 1])
        crossed = np.full(len(active), -1)
        fraction = np.zeros(len(active))
        for k, (radius, half, _, _) in enumerate(BARRELS):
            f = (radius - r0) / np.where(r1 != r0, r1 - r0, 1e-12)
            z = x0[:, 2] + f * (x1[:, 2] - x0[:, 2])
            hit = (r0 < radius) & (r1 >= radius) & (np.abs(z) < half)
            crossed[hit], fraction[hit] = k, f[hit]
        for k, (zd, r_min, r_max, _, _) in enumerate(DISKS):
            z0, z1 = np.abs(x0[:, 2]), np.abs(x1[:, 2])
            f = (zd - z0) / np.where(z1 != z0, z1 - z0, 1e-12)
            r = r0 + f * (r1 - r0)
            hit = (z0 < zd) & (z1 >= zd) & (r > r_min) & (r < r_max)
            crossed[hit], fraction[hit] = len(BARRELS) + k, f[hit]
        x[active], t[active] = x1, t1
        for i in np.flatnonzero(crossed >= 0):
            track, layer = active[i], crossed[i]
            point = x0[i] + fraction[i] * (x1[i] - x0[i])
            tangent = t0[i] + fraction[i] * (t1[i] - t0[i])
            tangent /= np.linalg.norm(tangent)
            barrel = layer < len(BARRELS)
            sigma_u, sigma_v = (BARRELS[layer][2:] if barrel else DISKS[layer - len(BARRELS)][3:])
            rotation = _plane(point, barrel)
            hits[track].append((point, rotation, rng.normal(0.0, sigma_u), rng.normal(0.0, sigma_v), sigma_u, sigma_v,
                                barrel))
            momentum = tangent[None, :] / abs(qop[track])
            if barrel and transverse_barrel:  # written out here, independent of the fitter's crossing_cos
                cos = abs(tangent[:2] @ rotation[:2, 2]) / max(np.hypot(tangent[0], tangent[1]), 1e-12)
            else:
                cos = abs(tangent @ rotation[:, 2])
            crossing = thickness_mm / max(cos, 1e-3)
            if scatter:
                theta0 = highland_theta0(1.0 / abs(qop[track]), MUON_MASS_GEV, 1.0, crossing)
                momentum = deflect(momentum, np.atleast_1d(theta0), rng)
            momentum = lose_energy(momentum, np.array([MUON_MASS_GEV]), np.array([crossing]))
            p = np.linalg.norm(momentum)
            x[track], t[track], qop[track] = point, momentum[0] / p, np.sign(qop[track]) / p
        rho = np.hypot(x[active, 0], x[active, 1])
        active = active[(rho < 1030.0) & (np.abs(x[active, 2]) < 3000.0)]
        path += STEP_MM
    n_hits = np.array([len(h) for h in hits])
    width = int(n_hits.max())
    centers, rotations = np.zeros((n, width, 3)), np.tile(np.eye(3), (n, width, 1, 1))
    meas, var, mask = np.zeros((n, width, 2)), np.ones((n, width, 2)), np.zeros((n, width), bool)
    in_barrel = np.zeros((n, width), bool)
    for i, track_hits in enumerate(hits):
        for k in range(width):
            point, rotation, u, v, su, sv, barrel = track_hits[min(k, len(track_hits) - 1)]
            centers[i, k], rotations[i, k] = point, rotation
            meas[i, k], var[i, k] = (u, v), (su**2, sv**2)
            mask[i, k] = k < len(track_hits)
            in_barrel[i, k] = barrel
    surfaces = Surfaces(centers, rotations, np.full((n, width), thickness_mm), meas, var, mask,
                        transverse=in_barrel if transverse_barrel else None)
    return perigee, surfaces, n_hits
