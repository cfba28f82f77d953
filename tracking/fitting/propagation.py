"""Analytic helix propagation between planar surfaces, with its exact transport Jacobian.

State ("bound parameters") on a plane: p = (l0, l1, phi, theta, qop), with l0, l1 the local
coordinates (mm) along the plane's axes u, v, phi and theta the azimuth and polar angle (rad) of the
momentum direction, and qop = q / p (e / GeV). A plane is a centre c (3,) and a rotation R (3, 3)
whose columns are u, v, w (w the normal): global = R @ (l0, l1, 0) + c, as in ``detectors.csv``.

Helix in a uniform field B along +z, parametrised by the 3-D path length s (mm):

    omega   = -K B qop = dphi / ds         K = helix.C_GEV_PER_T_MM = 0.299792458e-3 GeV / (T mm e)
    a       = omega s
    x(s)    = x0 + sin(theta) s (cos(phi0) S(a) - sin(phi0) C(a))
    y(s)    = y0 + sin(theta) s (sin(phi0) S(a) + cos(phi0) C(a))
    z(s)    = z0 + cos(theta) s
    phi(s)  = phi0 + a,  theta and qop constant,

with S(a) = sin(a) / a and C(a) = (1 - cos a) / a, evaluated without cancellation (straight lines,
a = 0, are exact). A positive charge in a +z field turns clockwise (phi decreases).

Plane crossing: Newton iterations on s for f(s) = w' . (x(s) - c') = 0, f'(s) = w' . d(s), started
from the exact circle-plane crossing on planes parallel to z (the barrel modules) and from the
straight-line solution elsewhere (exact on planes normal to z), all tracks at once; once most tracks
have converged (|f| below the tolerance) only the others iterate. The final |f| is returned so callers can flag misses.

Jacobian (5 x 5) of p' = P(p): with y = (l0, l1, phi, theta, qop) and s* the crossing,

    ds*/dy = -(w' . dx/dy) / (w' . d(s*)),        dx'/dy = dx/dy + d(s*) ds*/dy,
    dl'/dy = [u'; v'] dx'/dy,   dphi'/dy = e_phi + s* domega/dy + omega ds*/dy,

with dx/dl0 = u, dx/dl1 = v, d(x, y)/dphi0 = (-Dy, Dx), dx/dtheta = cot(theta) (Dx, Dy) and
-sin(theta) s along z, and dx/domega = sin(theta) s^2 (g'(a)) with S', C' from series for small a.
The test checks it against central finite differences.
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM


def _s_c(a: np.ndarray, sin_a: np.ndarray, cos_a: np.ndarray):
    """S(a) = sin a / a and C(a) = (1 - cos a) / a from sin a and cos a, stable at a = 0.

    1 - cos a is evaluated as sin^2 a / (1 + cos a) where cos a > 0 (no cancellation).
    """
    small = np.abs(a) < 1e-8
    one_minus_cos = sin_a * sin_a / (1.0 + cos_a)
    if not (cos_a > 0).all():
        one_minus_cos = np.where(cos_a > 0, one_minus_cos, 1.0 - cos_a)
    if not small.any():  # the common case: no straight lines
        return sin_a / a, one_minus_cos / a
    safe = np.where(small, 1.0, a)
    s_fun = np.where(small, 1.0, sin_a / safe)
    c_fun = np.where(small, 0.5 * a, one_minus_cos / safe)
    return s_fun, c_fun


def _ds_dc(a: np.ndarray, sin_a: np.ndarray, cos_a: np.ndarray, s_fun, c_fun):
    """Derivatives S'(a) = (cos a - S) / a and C'(a) = (sin a - C) / a, series for |a| < 1e-2."""
    small = np.abs(a) < 1e-2
    safe = np.where(small, 1.0, a)
    a2 = a * a
    ds = np.where(small, -a / 3.0 + a * a2 / 30.0, (cos_a - s_fun) / safe)
    dc = np.where(small, 0.5 - a2 / 8.0 + a2 * a2 / 144.0, (sin_a - c_fun) / safe)
    return ds, dc


def _dot3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of (..., 3) arrays (several times faster than ``np.sum(a * b, -1)``)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def omega_of(qop: np.ndarray, b_tesla: float) -> np.ndarray:
    """dphi/ds (1/mm) for q/p ``qop`` (e/GeV) in B_z = ``b_tesla``."""
    return -C_GEV_PER_T_MM * b_tesla * np.asarray(qop, dtype=np.float64)


def direction(phi: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Unit direction (..., 3) of azimuth ``phi`` and polar angle ``theta``."""
    st = np.sin(theta)
    return np.stack([st * np.cos(phi), st * np.sin(phi), np.cos(theta)], axis=-1)


class _Helix:
    """Trigonometry of a batch of helices, computed once: start x0 (n, 3), phi, theta, qop (n,)."""

    def __init__(self, position, phi, theta, qop, b_tesla: float):
        self.position = position
        self.phi = phi
        self.omega = omega_of(qop, b_tesla)
        self.sin_t, self.cos_t = np.sin(theta), np.cos(theta)
        self.sin_p, self.cos_p = np.sin(phi), np.cos(phi)

    def take(self, rows: np.ndarray) -> "_Helix":
        """The helices of ``rows``."""
        out = object.__new__(_Helix)
        for name in ("position", "phi", "omega", "sin_t", "cos_t", "sin_p", "cos_p"):
            setattr(out, name, getattr(self, name)[rows])
        return out

    def at(self, s):
        """Position (n, 3), direction (n, 3) and (a, sin a, cos a, S, C) after path length s (n,)."""
        a = self.omega * s
        sin_a, cos_a = np.sin(a), np.cos(a)
        s_fun, c_fun = _s_c(a, sin_a, cos_a)
        st_s = self.sin_t * s
        x = np.empty((len(s), 3))
        x[:, 0] = st_s * (self.cos_p * s_fun - self.sin_p * c_fun)
        x[:, 1] = st_s * (self.sin_p * s_fun + self.cos_p * c_fun)
        x[:, 2] = self.cos_t * s
        x += self.position
        d = np.empty((len(s), 3))
        d[:, 0] = self.sin_t * (self.cos_p * cos_a - self.sin_p * sin_a)
        d[:, 1] = self.sin_t * (self.sin_p * cos_a + self.cos_p * sin_a)
        d[:, 2] = self.cos_t
        return x, d, (a, sin_a, cos_a, s_fun, c_fun)


def bound_to_global(params: np.ndarray, centers: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Global position (..., 3) of bound ``params`` (..., 5) on planes (..., 3) / (..., 3, 3)."""
    return centers + rotations[..., :, 0] * params[..., 0:1] + rotations[..., :, 1] * params[..., 1:2]


def global_to_local(points: np.ndarray, centers: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Local (u, v) (..., 2) of global ``points`` (..., 3): first two rows of R^T (x - c)."""
    rel = points - centers
    return np.stack([_dot3(rotations[..., :, 0], rel), _dot3(rotations[..., :, 1], rel)], -1)


def _circle_guess(helix: _Helix, normal, gap, s_line):
    """Exact crossing of planes parallel to z (w_z = 0, the barrel modules), else ``s_line``.

    With delta the azimuth of w, the transverse circle meets the plane where
    sin(psi - delta) = x = y + eps, psi = phi + a the azimuth at the crossing, y = sin(phi - delta),
    eps = gap omega / (sin(theta) |w|). The root on the branch of phi (cos(psi - delta) of the sign
    of cos(phi - delta)) is the nearest crossing; its turning angle a comes from
    sin a = eps (cos(phi - delta) + y (x + y) / (|cos(phi - delta)| + |cos(psi - delta)|)), free of
    cancellation, so s = a / omega is as precise as a converged Newton solution. Straight tracks,
    grazing crossings (|cos(phi - delta)| < 1e-3), planes the circle misses and turns of more than
    a quarter from the straight-line guess keep ``s_line``.
    """
    omega = helix.omega
    use = (normal[:, 2] == 0.0) & (np.abs(omega) > 1e-12) & (helix.sin_t > 1e-12)
    if not use.any():
        return s_line
    wx, wy = normal[:, 0], normal[:, 1]
    rho = np.hypot(wx, wy)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        y = (wx * helix.sin_p - wy * helix.cos_p) / rho  # sin(phi - delta)
        cy = (wx * helix.cos_p + wy * helix.sin_p) / rho  # cos(phi - delta)
        eps = gap * omega / (helix.sin_t * rho)
        x = y + eps
        sign = np.sign(cy)
        cx = sign * np.sqrt(1.0 - x * x)  # NaN when the circle misses the plane
        sin_a = eps * (cy + y * sign * (x + y) / (np.abs(cy) + np.abs(cx)))
        a = np.arctan2(sin_a, cx * cy + x * y)
        use &= np.isfinite(a) & (np.abs(cy) > 1e-3) & (np.abs(a - omega * s_line) < 0.5 * np.pi)
        return np.where(use, a / np.where(use, omega, 1.0), s_line)


def _intersect(helix: _Helix, center, normal, tolerance_mm: float, max_iterations: int):
    """Newton on s for w . (x(s) - c) = 0; iterates only on the tracks not yet within ``tolerance_mm``.

    Returns s, |f(s)|, and the position, direction and trigonometry of the helix at s, kept from the
    Newton evaluation at which each track converged (no extra helix evaluation).
    """
    sin_t = helix.sin_t
    gap = _dot3(normal, center - helix.position)
    cos_in = normal[:, 0] * (sin_t * helix.cos_p) + normal[:, 1] * (sin_t * helix.sin_p) + normal[:, 2] * helix.cos_t
    s = gap / np.where(np.abs(cos_in) > 1e-12, cos_in, 1e-12)
    s = _circle_guess(helix, normal, gap, s)
    active = None  # the tracks still iterating, as an index into all tracks (None: all)
    sub, sub_c, sub_w, sub_s = helix, center, normal, s
    converged = False
    for _ in range(max_iterations):
        x, d, trig = sub.at(sub_s)
        f = _dot3(sub_w, x - sub_c)
        if active is None:  # every track evaluated: the results are these arrays
            x_all, d_all, trig_all, f_all, s = x, d, list(trig), f, sub_s
        else:
            x_all[active], d_all[active], f_all[active], s[active] = x, d, f, sub_s
            for full, part in zip(trig_all, trig):
                full[active] = part
        moving = ~(np.abs(f) < tolerance_mm)
        if not moving.any():
            converged = True
            break
        fprime = _dot3(sub_w, d)
        step = f / np.where(np.abs(fprime) > 1e-12, fprime, 1e-12)
        # never jump by more than a quarter turn: keeps Newton on the nearest crossing
        limit = 0.5 * np.pi / np.maximum(np.abs(sub.omega), 1e-12)
        sub_s = sub_s - np.where(moving, np.clip(step, -limit, limit), 0.0)
        if moving.mean() < 0.5:  # continue on the unconverged tracks only
            keep = np.flatnonzero(moving)
            active = keep if active is None else active[keep]
            sub, sub_c, sub_w, sub_s = sub.take(keep), sub_c[keep], sub_w[keep], sub_s[keep]
    if not converged:  # iterations exhausted: the state at the last Newton step
        x, d, trig = sub.at(sub_s)
        f = _dot3(sub_w, x - sub_c)
        if active is None:
            x_all, d_all, trig_all, f_all, s = x, d, list(trig), f, sub_s
        else:
            x_all[active], d_all[active], f_all[active], s[active] = x, d, f, sub_s
            for full, part in zip(trig_all, trig):
                full[active] = part
    return s, np.abs(f_all), x_all, d_all, tuple(trig_all)


def intersect_plane(position, phi, theta, qop, center, normal, b_tesla: float,
                    tolerance_mm: float = 1e-9, max_iterations: int = 12):
    """Path length s (mm, may be negative) to the plane (``center``, ``normal``), and |f(s)| (mm)."""
    s, miss, _, _, _ = _intersect(_Helix(position, phi, theta, qop, b_tesla), center, normal, tolerance_mm, max_iterations)
    return s, miss


def propagate(params, centers, rotations, new_centers, new_rotations, b_tesla: float, jacobian: bool = True,
              tolerance_mm: float = 1e-9, max_iterations: int = 12):
    """Bound ``params`` (n, 5) on planes (n, 3)/(n, 3, 3) to the planes ``new_*``.

    Returns (new_params (n, 5), jacobian (n, 5, 5) or None, path_length s (n,), miss (n,) mm).
    """
    out, rows, s, miss, _, _ = propagate_from(params, bound_to_global(params, centers, rotations), rotations,
                                              new_centers, new_rotations, b_tesla, jacobian, tolerance_mm, max_iterations)
    if rows is None:
        return out, None, s, miss
    jac = np.zeros((len(out), 5, 5))
    jac[:, :3, :] = rows
    jac[:, 3, 3] = jac[:, 4, 4] = 1.0
    return out, jac, s, miss


def propagate_from(params, position, rotations, new_centers, new_rotations, b_tesla: float, jacobian: bool = True,
                   tolerance_mm: float = 1e-9, max_iterations: int = 12):
    """:func:`propagate` for callers that know the global ``position`` (n, 3) of ``params``.

    Returns (new_params, jacobian_rows or None, s, miss, new_position (n, 3), new_direction (n, 3)):
    ``jacobian_rows`` (n, 3, 5) are the first three rows of the Jacobian (its rows of theta and q/p
    are those of the identity); the position is the point of ``new_params`` on the plane (the helix
    point projected onto it).
    """
    phi, theta, qop = params[:, 2], params[:, 3], params[:, 4]
    x0 = position
    helix = _Helix(x0, phi, theta, qop, b_tesla)
    w_new = new_rotations[:, :, 2]
    s, miss, x1, d1, (a, sin_a, cos_a, s_fun, c_fun) = _intersect(helix, new_centers, w_new, tolerance_mm, max_iterations)
    rel = x1 - new_centers
    out = np.stack([_dot3(new_rotations[:, :, 0], rel), _dot3(new_rotations[:, :, 1], rel),
                    phi + a, theta, qop], -1)
    on_plane = x1 - w_new * _dot3(w_new, rel)[:, None]
    if not jacobian:
        return out, None, s, miss, on_plane, d1
    return out, _jacobian_rows(helix, rotations, new_rotations, x1 - x0, d1, s, a, sin_a, cos_a, s_fun, c_fun,
                               b_tesla), s, miss, on_plane, d1


def _jacobian_rows(helix: _Helix, rotations, new_rotations, delta, d1, s, a, sin_a, cos_a, s_fun, c_fun, b_tesla):
    """First three rows (n, 3, 5) of the transport Jacobian (see the module docstring).

    Computed in a (component, column, track) layout, every entry a contiguous row over the tracks.
    """
    n = len(s)
    ds_fun, dc_fun = _ds_dc(a, sin_a, cos_a, s_fun, c_fun)
    st, ct, cp, sp = helix.sin_t, helix.cos_t, helix.cos_p, helix.sin_p
    dx = np.zeros((3, 5, n))  # d x_i(s) / d y_j at fixed s, as [i, j, track]
    dx[:, 0] = rotations[:, :, 0].T
    dx[:, 1] = rotations[:, :, 1].T
    dx[0, 2] = -delta[:, 1]
    dx[1, 2] = delta[:, 0]
    ct_s = ct * s
    dx[0, 3] = ct_s * (cp * s_fun - sp * c_fun)
    dx[1, 3] = ct_s * (sp * s_fun + cp * c_fun)
    dx[2, 3] = -st * s
    domega = -C_GEV_PER_T_MM * b_tesla
    st_s2 = st * s * s * domega
    dx[0, 4] = st_s2 * (cp * ds_fun - sp * dc_fun)
    dx[1, 4] = st_s2 * (sp * ds_fun + cp * dc_fun)
    frame = np.ascontiguousarray(new_rotations.transpose(2, 1, 0))  # [new axis u' v' w', component, track]
    # dot products of the new axes with the columns of dx, [axis, column, track]
    proj = frame[:, 0, None, :] * dx[0] + frame[:, 1, None, :] * dx[1] + frame[:, 2, None, :] * dx[2]
    d1_t = d1.T
    along = frame[:, 0] * d1_t[0] + frame[:, 1] * d1_t[1] + frame[:, 2] * d1_t[2]  # axes . d(s*), (3, n)
    denom = along[2]
    ds_dy = -proj[2] / np.where(np.abs(denom) > 1e-12, denom, 1e-12)  # (5, n)
    rows = np.empty((3, 5, n))
    rows[:2] = proj[:2] + along[:2, None, :] * ds_dy
    rows[2] = helix.omega * ds_dy
    rows[2, 2] += 1.0
    rows[2, 4] += s * domega
    return np.ascontiguousarray(rows.transpose(2, 0, 1))
