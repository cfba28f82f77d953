"""Perigee track parameters at the beam line (x = y = 0) and conversions to and from them.

Perigee parameters (d0, z0, phi, theta, qop), units mm, mm, rad, rad, e/GeV:

- the point of closest approach (PCA) of the helix to the z axis in the transverse plane is
  ``(-d0 sin(phi), d0 cos(phi), z0)`` (the ATLAS / ACTS convention). Equivalently
  d0 = -L_z / p_T with L_z = x p_y - y p_x the angular momentum about z at the PCA: d0 > 0 when
  the beam line lies to the right of the track seen from above;
- z0: z of the PCA;
- phi: azimuth of the momentum at the PCA, in (-pi, pi]; theta: polar angle in (0, pi);
- qop = q / p in e / GeV; p_T = |1 / qop| sin(theta), eta = -ln tan(theta / 2).

The helix radius is R [mm] = p_T [GeV] / (0.299792458e-3 |q| B [T]); a positive charge in a +z
field turns clockwise in x-y. The PCA is found by Newton iterations on the path length s of
g(s) = x_T(s) . t(s) = 0 (position perpendicular to direction), vectorised over tracks.
The Jacobian of the bound-to-perigee map is analytic (see :func:`bound_to_perigee`); the tests check
it against central differences of the exact map (:func:`numerical_perigee_jacobian`).

In a non-uniform field (any ``b_tesla`` argument that is a field object, not a number) the track is
carried to the perigee plane by the Runge-Kutta propagator (:mod:`.stepper`): a first guess of the PCA's
azimuth from the helix in the local B_z, then two propagations to the plane through the z axis normal to
the last azimuth (the crossing is the PCA to second order in the change of azimuth).
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.fitting.propagation import _Helix, bound_to_global, omega_of, propagate
from gnn4hep.tracking.fitting.stepper import bz_at, propagate_field, uniform_bz
from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM

PERIGEE_NAMES: tuple[str, ...] = ("d0", "z0", "phi", "theta", "qop")
#: central-difference steps for (l0 or d0, l1 or z0, phi, theta) and the relative step of qop
_STEPS = np.array([1e-4, 1e-4, 1e-7, 1e-7])
_QOP_REL_STEP = 1e-6


def wrap_angle(phi: np.ndarray) -> np.ndarray:
    """Angle mapped to (-pi, pi]."""
    return np.pi - np.mod(np.pi - np.asarray(phi, dtype=np.float64), 2.0 * np.pi)


def perigee_position(perigee: np.ndarray) -> np.ndarray:
    """Global position (n, 3) of the PCA of perigee parameters (n, 5)."""
    d0, z0, phi = perigee[:, 0], perigee[:, 1], perigee[:, 2]
    return np.stack([-d0 * np.sin(phi), d0 * np.cos(phi), z0], -1)


def perigee_plane(phi: np.ndarray):
    """Centre (n, 3) and rotation (n, 3, 3) of the plane through the z axis with normal (cos phi, sin phi, 0).

    Its local coordinates (u = (-sin phi, cos phi, 0), v = z) at the PCA are exactly (d0, z0).
    """
    n = len(phi)
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 1, 0] = -np.sin(phi), np.cos(phi)
    rot[:, 2, 1] = 1.0
    rot[:, 0, 2], rot[:, 1, 2] = np.cos(phi), np.sin(phi)
    return np.zeros((n, 3)), rot


def to_perigee(position, phi, theta, qop, b_tesla: float, tolerance_mm: float = 1e-10,
               max_iterations: int = 12) -> np.ndarray:
    """Perigee parameters (n, 5) of the helix through ``position`` (n, 3) with direction (phi, theta)."""
    position = np.asarray(position, dtype=np.float64)
    phi, theta, qop = (np.asarray(v, dtype=np.float64) for v in (phi, theta, qop))
    helix = _Helix(position, phi, theta, qop, b_tesla)
    st = helix.sin_t
    s = -(position[:, 0] * helix.cos_p + position[:, 1] * helix.sin_p) / st
    for _ in range(max_iterations):
        x, d, _ = helix.at(s)
        g = (x[:, 0] * d[:, 0] + x[:, 1] * d[:, 1]) / st
        if np.all(np.abs(g) < tolerance_mm):
            break
        gprime = st + helix.omega * (x[:, 1] * d[:, 0] - x[:, 0] * d[:, 1]) / st
        s = s - g / np.where(np.abs(gprime) > 1e-12, gprime, 1e-12)
    x, d, (a, _, _, _, _) = helix.at(s)
    phi_s = phi + a
    d0 = (-x[:, 0] * d[:, 1] + x[:, 1] * d[:, 0]) / st
    return np.stack([d0, x[:, 2], wrap_angle(phi_s), theta, qop], -1)


def particles_to_perigee(vertex, momentum, charge, b_tesla) -> np.ndarray:
    """Perigee parameters (n, 5) of particles produced at ``vertex`` (n, 3) mm with ``momentum`` (n, 3) GeV.

    ``b_tesla``: B_z (uniform) or a field object (the track is propagated to the beam line in it).
    """
    vertex = np.asarray(vertex, dtype=np.float64)
    momentum = np.asarray(momentum, dtype=np.float64)
    p = np.linalg.norm(momentum, axis=1)
    phi = np.arctan2(momentum[:, 1], momentum[:, 0])
    theta = np.arctan2(np.hypot(momentum[:, 0], momentum[:, 1]), momentum[:, 2])
    qop = np.asarray(charge, dtype=np.float64) / p
    if uniform_bz(b_tesla) is None:
        params = np.stack([np.zeros(len(p)), np.zeros(len(p)), phi, theta, qop], -1)
        rotations = np.broadcast_to(np.eye(3), (len(p), 3, 3))
        return field_perigee(params, vertex, rotations, b_tesla, jacobian=False)[0]
    return to_perigee(vertex, phi, theta, qop, uniform_bz(b_tesla))


def bound_to_perigee(params, centers, rotations, b_tesla: float, jacobian: bool = True):
    """Perigee parameters (n, 5) of bound ``params`` (n, 5) on planes, and the Jacobian (n, 5, 5).

    The Jacobian is that of the propagation to the fixed plane through the z axis with normal
    (cos phi, sin phi, 0) at the perigee, corrected for the motion of the PCA with the track: a
    change dphi of the direction at that plane moves the PCA by ds = -d0 dphi / (sin(theta) + omega d0),
    hence dz0 += cos(theta) ds and dphi += omega ds (d0 is stationary to first order).
    """
    position = bound_to_global(params, centers, rotations)
    if uniform_bz(b_tesla) is None:
        return field_perigee(params, position, rotations, b_tesla, jacobian)
    b_tesla = uniform_bz(b_tesla)
    perigee = to_perigee(position, params[:, 2], params[:, 3], params[:, 4], b_tesla)
    if not jacobian:
        return perigee, None
    plane_c, plane_r = perigee_plane(perigee[:, 2])
    _, jac, _, _ = propagate(params, centers, rotations, plane_c, plane_r, b_tesla)
    d0, theta = perigee[:, 0], perigee[:, 3]
    omega = omega_of(perigee[:, 4], b_tesla)
    shift = -d0 / (np.sin(theta) + omega * d0)
    row_phi = jac[:, 2, :].copy()
    jac[:, 1, :] += (np.cos(theta) * shift)[:, None] * row_phi
    jac[:, 2, :] += (omega * shift)[:, None] * row_phi
    return perigee, jac


def field_perigee(params, position, rotations, field, jacobian: bool = True):
    """:func:`bound_to_perigee` in a non-uniform ``field`` for bound ``params`` (n, 5) at global
    ``position`` (n, 3) on planes ``rotations`` (n, 3, 3); tracks the propagator cannot carry to the
    beam line keep the local-helix estimate (and a NaN Jacobian)."""
    bz = bz_at(field, position)
    guess = to_perigee(position, params[:, 2], params[:, 3], params[:, 4], bz)
    phi = guess[:, 2]
    for i in range(2):
        plane_c, plane_r = perigee_plane(phi)
        last = i == 1
        out, rows, _, miss, _, _ = propagate_field(params, position, rotations, plane_c, plane_r, field,
                                                   jacobian=jacobian and last)
        reached = np.isfinite(miss)
        phi = np.where(reached, out[:, 2], phi)
    perigee = np.where(reached[:, None], out, guess)
    perigee[:, 2] = wrap_angle(perigee[:, 2])
    if not jacobian:
        return perigee, None
    jac = np.zeros((len(params), 5, 5))
    jac[:, :4] = rows
    jac[:, 4, 4] = 1.0
    jac[~reached] = np.nan
    d0, theta = perigee[:, 0], perigee[:, 3]
    omega = -C_GEV_PER_T_MM * bz_at(field, perigee_position(perigee)) * perigee[:, 4]
    shift = -d0 / (np.sin(theta) + omega * d0)
    row_phi = jac[:, 2, :].copy()
    jac[:, 1, :] += (np.cos(theta) * shift)[:, None] * row_phi
    jac[:, 2, :] += (omega * shift)[:, None] * row_phi
    return perigee, jac


def numerical_perigee_jacobian(params, centers, rotations, b_tesla: float) -> np.ndarray:
    """Central-difference Jacobian (n, 5, 5) of the exact bound-to-perigee map (used by the tests)."""

    def convert(p):
        return to_perigee(bound_to_global(p, centers, rotations), p[:, 2], p[:, 3], p[:, 4], b_tesla)

    n = len(params)
    jac = np.empty((n, 5, 5))
    steps = np.empty((n, 5))
    steps[:, :4] = _STEPS
    steps[:, 4] = _QOP_REL_STEP * np.abs(params[:, 4]) + 1e-12
    for j in range(5):
        shift = np.zeros((n, 5))
        shift[:, j] = steps[:, j]
        diff = convert(params + shift) - convert(params - shift)
        diff[:, 2] = wrap_angle(diff[:, 2])
        jac[:, :, j] = diff / (2.0 * steps[:, j : j + 1])
    return jac


def perigee_to_bound(perigee: np.ndarray):
    """Bound parameters (n, 5) on the perigee plane of each track, with that plane (centre, rotation)."""
    centers, rotations = perigee_plane(perigee[:, 2])
    return perigee.copy(), centers, rotations
