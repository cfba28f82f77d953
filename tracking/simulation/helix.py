"""Pure helix kernels for a charged particle in a uniform magnetic field along +z.

Units: positions and lengths in mm, momenta in GeV, charge in units of e, field in tesla.
Every function is vectorised: arguments broadcast together (``position`` and ``momentum`` have shape
(..., 3), scalars per particle have shape (...)). Nothing here keeps state, so the Kalman fitter can
reuse the same kernels.

Parametrisation. Write the transverse unit direction t, the unit vector n from the particle towards
the centre of its transverse circle, the curvature omega = 1 / R with

    R [mm] = pT [GeV] / (0.299792458e-3 * |q| * B [T]),

and the turning angle theta >= 0 (transverse path length l = theta * R). Then

    x_T(theta) = x_T(0) + t * sin(theta) / omega + n * (1 - cos(theta)) / omega
    z(theta)   = z(0) + theta / omega * pz / pT
    p_T(theta) = pT * (t * cos(theta) + n * sin(theta)),   pz constant.

The sense of rotation follows the sign of q * B: a positive particle in a +z field turns clockwise
in x-y (the Lorentz force q v x B), i.e. n = -sign(qB) * (-t_y, t_x). This form is exact and
numerically stable from loopers (R of a few mm) to straight tracks (R of km), unlike the
centre-and-phase form whose terms cancel for large R.

Intersections use the half-angle substitution tau = tan(theta / 2), which turns the circle-line and
circle-circle conditions into quadratics in tau, solved in their cancellation-free form.
"""

from __future__ import annotations

import numpy as np

#: c in GeV / (T mm e): p_T [GeV] = C_GEV_PER_T_MM * |q| * B [T] * R [mm].
C_GEV_PER_T_MM = 0.299792458e-3
TWO_PI = 2.0 * np.pi


def frame(momentum: np.ndarray, charge: np.ndarray, b_tesla: float):
    """Transverse frame of the helix.

    Args:
        momentum: (..., 3) GeV. charge: (...) e (non-zero). b_tesla: B_z in T.

    Returns:
        (t, n, omega, pt, tan_lambda): t and n are (..., 2) unit vectors (direction and towards the
        centre), omega (...) the curvature in 1/mm, pt (...) GeV, tan_lambda = pz / pT (...).
    """
    momentum = np.asarray(momentum, dtype=np.float64)
    charge = np.asarray(charge, dtype=np.float64)
    pt = np.hypot(momentum[..., 0], momentum[..., 1])
    t = momentum[..., :2] / pt[..., None]
    sense = -np.sign(charge * b_tesla)  # +1: counter-clockwise
    n = sense[..., None] * np.stack([-t[..., 1], t[..., 0]], axis=-1)
    omega = C_GEV_PER_T_MM * np.abs(charge * b_tesla) / pt
    return t, n, omega, pt, momentum[..., 2] / pt


def radius_mm(pt_gev, charge, b_tesla: float):
    """Helix radius R in mm for transverse momentum ``pt_gev`` (GeV) and ``charge`` (e)."""
    return np.asarray(pt_gev, dtype=np.float64) / (C_GEV_PER_T_MM * np.abs(np.asarray(charge) * b_tesla))


def path_length(theta, momentum, charge, b_tesla: float):
    """3-D path length s (mm) travelled for turning angle ``theta`` (rad): s = theta * R * p / pT."""
    _, _, omega, pt, _ = frame(momentum, charge, b_tesla)
    p = np.linalg.norm(np.asarray(momentum, dtype=np.float64), axis=-1)
    return np.asarray(theta) / omega * p / pt


def turning_angle(s, momentum, charge, b_tesla: float):
    """Turning angle (rad) after 3-D path length ``s`` (mm); inverse of :func:`path_length`."""
    _, _, omega, pt, _ = frame(momentum, charge, b_tesla)
    p = np.linalg.norm(np.asarray(momentum, dtype=np.float64), axis=-1)
    return np.asarray(s) * omega * pt / p


def helix_at(position, momentum, charge, b_tesla: float, theta, helix_frame=None):
    """Position (mm) and momentum (GeV) after turning angle ``theta`` (rad), each (..., 3).

    ``helix_frame``: the result of :func:`frame` for these arguments when already known.
    """
    position = np.asarray(position, dtype=np.float64)
    momentum = np.asarray(momentum, dtype=np.float64)
    t, n, omega, pt, tan_lambda = helix_frame or frame(momentum, charge, b_tesla)
    theta = np.asarray(theta, dtype=np.float64)
    sin, cos = np.sin(theta), np.cos(theta)
    # (1 - cos) written as 2 sin^2(theta/2): no cancellation for small theta.
    one_minus_cos = 2.0 * np.sin(0.5 * theta) ** 2
    xy = position[..., :2] + (t * sin[..., None] + n * one_minus_cos[..., None]) / omega[..., None]
    z = position[..., 2] + theta / omega * tan_lambda
    new_position = np.concatenate([xy, z[..., None]], axis=-1)
    pxy = pt[..., None] * (t * cos[..., None] + n * sin[..., None])
    new_momentum = np.concatenate([pxy, momentum[..., 2:3] * np.ones_like(z)[..., None]], axis=-1)
    return new_position, new_momentum


def _half_angle_roots(a, b, c):
    """Both roots theta in [0, 2 pi) of a tau^2 + 2 b tau + c = 0 with tau = tan(theta / 2).

    NaN where there is no real root. a == 0 gives the root theta = pi (tau = infinity).
    """
    disc = b * b - a * c
    real = disc >= 0
    root = np.sqrt(np.where(real, disc, 0.0))
    q = -(b + np.where(b >= 0, root, -root))
    with np.errstate(divide="ignore", invalid="ignore"):
        tau1 = np.where(a != 0, q / a, np.inf)
        tau2 = np.where(q != 0, c / q, np.where(a != 0, -2.0 * b / np.where(a != 0, a, 1.0), np.inf))
    theta1 = np.mod(2.0 * np.arctan(tau1), TWO_PI)
    theta2 = np.mod(2.0 * np.arctan(tau2), TWO_PI)
    theta1 = np.where(real, theta1, np.nan)
    theta2 = np.where(real, theta2, np.nan)
    return theta1, theta2


def intersect_cylinder(position, momentum, charge, b_tesla: float, radius):
    """Turning angles (rad, in [0, 2 pi), NaN if none) where the helix crosses r = ``radius`` (mm).

    |x_T(theta)|^2 = r^2 becomes (2B - D) tau^2 + 2 A tau - D = 0 with A = omega (x.t),
    B = omega (x.n) + 1, D = omega^2 (r^2 - |x_T|^2) / 2. Returns (theta1, theta2); the helix crosses
    again at theta + 2 pi k.
    """
    position = np.asarray(position, dtype=np.float64)
    t, n, omega, _, _ = frame(momentum, charge, b_tesla)
    xt = position[..., :2]
    big_a = omega * np.sum(xt * t, axis=-1)
    big_b = omega * np.sum(xt * n, axis=-1) + 1.0
    big_d = 0.5 * omega**2 * (np.asarray(radius) ** 2 - np.sum(xt * xt, axis=-1))
    return _half_angle_roots(2.0 * big_b - big_d, big_a, -big_d)


def intersect_axial_plane(position, momentum, charge, b_tesla: float, point, normal_xy, helix_frame=None):
    """Turning angles (rad, [0, 2 pi), NaN if none) where the helix crosses a plane parallel to z.

    The plane holds ``point`` (..., 3) mm and has the transverse unit normal ``normal_xy`` (..., 2).
    E + a sin(theta) + b (1 - cos(theta)) = 0 with E = omega N.(x - c), a = N.t, b = N.n gives
    (E + 2b) tau^2 + 2 a tau + E = 0. ``helix_frame``: :func:`frame` of these arguments if known.
    """
    position = np.asarray(position, dtype=np.float64)
    t, n, omega, _, _ = helix_frame or frame(momentum, charge, b_tesla)
    normal_xy = np.asarray(normal_xy, dtype=np.float64)
    e = omega * np.sum(normal_xy * (position[..., :2] - np.asarray(point)[..., :2]), axis=-1)
    a = np.sum(normal_xy * t, axis=-1)
    b = np.sum(normal_xy * n, axis=-1)
    return _half_angle_roots(e + 2.0 * b, a, e)


def intersect_z_plane(position, momentum, charge, b_tesla: float, z, helix_frame=None):
    """Turning angle (rad) where the helix reaches z = ``z`` (mm): any real value, NaN if pz == 0.

    Negative values lie behind the particle. ``helix_frame``: :func:`frame` of these arguments if known.
    """
    position = np.asarray(position, dtype=np.float64)
    _, _, omega, _, tan_lambda = helix_frame or frame(momentum, charge, b_tesla)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = omega * (np.asarray(z) - position[..., 2]) / tan_lambda
    return np.where(tan_lambda != 0, theta, np.nan)


def distance_to_helix(points, position, momentum, charge, b_tesla: float, max_turns: int = 50):
    """Distance (mm) of ``points`` (..., 3) from the helix through ``position`` with ``momentum``.

    Independent of the intersection code: the transverse distance to the circle, and the z distance
    to the nearest turn z(0) + (phase + 2 pi k) * R * pz / pT. Used by tests to check exactness.
    """
    points = np.asarray(points, dtype=np.float64)
    position = np.asarray(position, dtype=np.float64)
    t, n, omega, _, tan_lambda = frame(momentum, charge, b_tesla)
    radius = 1.0 / omega
    centre = position[..., :2] + n * radius[..., None]
    rel = points[..., :2] - centre
    d_transverse = np.hypot(rel[..., 0], rel[..., 1]) - radius
    # phase of the point, measured from the start point in the sense of motion
    start = -n
    cross = start[..., 0] * rel[..., 1] - start[..., 1] * rel[..., 0]
    dot = np.sum(start * rel, axis=-1)
    sense = np.sign(n[..., 0] * t[..., 1] * -1 + n[..., 1] * t[..., 0])  # +1 counter-clockwise
    phase = np.mod(sense * np.arctan2(cross, dot), TWO_PI)
    turns = np.arange(max_turns + 1)
    z_turns = position[..., 2][..., None] + (phase[..., None] + TWO_PI * turns) * radius[..., None] * tan_lambda[..., None]
    d_z = np.min(np.abs(points[..., 2][..., None] - z_turns), axis=-1)
    return np.hypot(d_transverse, d_z)
