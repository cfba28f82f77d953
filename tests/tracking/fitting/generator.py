"""Minimal single-track generator for the fitter's tests (not a detector simulation).

Muons from near the beam line cross a sequence of infinite planes (barrel-like: normal along the
track's radial direction at radii ``RADII_MM``), with Highland scattering at every plane (two
independent Gaussian angles perpendicular to the direction, as in the simulator) and Gaussian
smearing of width pitch / sqrt(12) in local (u, v). Truth is the exact perigee of the generated
track, so pulls test the filter, smoother, Jacobians and noise model.
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.fitting.kalman import Surfaces
from gnn4hep.tracking.fitting.material import MUON_MASS_GEV
from gnn4hep.tracking.fitting.perigee import perigee_to_bound
from gnn4hep.tracking.fitting.propagation import bound_to_global, direction, propagate
from gnn4hep.tracking.simulation.material import highland_theta0
from gnn4hep.tracking.simulation.material import scatter as deflect

RADII_MM = np.array([32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0])
PITCH_U, PITCH_V, THICKNESS = 0.05, 0.4, 0.3


def planes_at(points: np.ndarray):
    """Planes through ``points`` (n, 3) with normal along the radial direction: centre, rotation."""
    phi = np.arctan2(points[:, 1], points[:, 0])
    rot = np.zeros((len(points), 3, 3))
    rot[:, 0, 0], rot[:, 1, 0] = -np.sin(phi), np.cos(phi)
    rot[:, 2, 1] = 1.0
    rot[:, 0, 2], rot[:, 1, 2] = np.cos(phi), np.sin(phi)
    return points.copy(), rot


def generate(n: int, seed: int = 0, pt_range=(1.0, 100.0), eta_max: float = 2.5, b_tesla: float = 2.0,
             scatter: bool = True, radii=RADII_MM):
    """(true perigee (n, 5), Surfaces with (n, len(radii)) measurements)."""
    rng = np.random.default_rng(seed)
    pt = np.exp(rng.uniform(np.log(pt_range[0]), np.log(pt_range[1]), n))
    eta = rng.uniform(-eta_max, eta_max, n)
    theta = 2.0 * np.arctan(np.exp(-eta))
    q = rng.choice([-1.0, 1.0], n)
    perigee = np.stack([rng.normal(0, 0.02, n), rng.normal(0, 50.0, n), rng.uniform(-np.pi, np.pi, n),
                        theta, q * np.sin(theta) / pt], -1)
    state, centers, rotations = perigee_to_bound(perigee)
    n_layers = len(radii)
    out_c = np.empty((n, n_layers, 3))
    out_r = np.empty((n, n_layers, 3, 3))
    meas = np.empty((n, n_layers, 2))
    for k, radius in enumerate(radii):
        # a first guess plane at the helix point of radius r, refined once through the true track
        x = bound_to_global(state, centers, rotations)
        d = direction(state[:, 2], state[:, 3])
        guess = x + d * (radius - np.hypot(x[:, 0], x[:, 1]))[:, None] / np.maximum(np.sin(state[:, 3]), 1e-3)[:, None]
        guess_c, guess_r = planes_at(guess)
        tmp, _, _, _ = propagate(state, centers, rotations, guess_c, guess_r, b_tesla, jacobian=False)
        point = bound_to_global(tmp, guess_c, guess_r)
        new_c, new_r = planes_at(point)
        state, _, _, _ = propagate(state, centers, rotations, new_c, new_r, b_tesla, jacobian=False)
        centers, rotations = new_c, new_r
        out_c[:, k], out_r[:, k] = centers, rotations
        meas[:, k] = state[:, :2] + rng.normal(size=(n, 2)) * np.array([PITCH_U, PITCH_V]) / np.sqrt(12.0)
        if scatter:
            d = direction(state[:, 2], state[:, 3])
            cos_a = np.abs(np.sum(d * rotations[:, :, 2], -1))
            theta0 = highland_theta0(1.0 / np.abs(state[:, 4]), MUON_MASS_GEV, 1.0, THICKNESS / cos_a)
            new = deflect(d, theta0, rng)  # the simulator's deflection, of a unit direction
            state = state.copy()
            state[:, 2] = np.arctan2(new[:, 1], new[:, 0])
            state[:, 3] = np.arccos(np.clip(new[:, 2], -1, 1))
    surfaces = Surfaces(
        centers=out_c, rotations=out_r, thickness=np.full((n, n_layers), THICKNESS), measurements=meas,
        variances=np.broadcast_to(np.array([PITCH_U, PITCH_V]) ** 2 / 12.0, (n, n_layers, 2)).copy(),
        mask=np.ones((n, n_layers), dtype=bool),
    )
    return perigee, surfaces
