"""Runge-Kutta propagation between planes in a non-uniform field, with Jacobian transport (numba).

The fitter's propagator for fields other than a uniform B_z (:mod:`.propagation` is the exact helix for
that case). Each track is integrated on its own, in a compiled loop, in free coordinates: position x (mm),
unit direction t and lambda = q/p (e/GeV), along the path length s (mm):

    dx/ds = t,        dt/ds = K lambda  t x B(x),        K = 0.299792458e-3 GeV / (T mm e),

by the classical fourth-order Runge-Kutta rule (as the ATLAS / ACTS propagators, after Bugge & Myrheim,
Nucl. Instr. Meth. 179 (1981) 365; Lund et al., JINST 4 (2009) P04001). B is the field's (rho, z) table
(:meth:`gnn4hep.tracking.field.SolenoidField.tables`, bilinear, 5 mm cells) or a constant B_z.

Derivatives: the 6 x 5 matrix D = d(x, t) / d(l0, l1, phi, theta, qop) of the start's bound parameters is
integrated with the same Runge-Kutta stages from the linearised equations

    d(dx)/ds = dt,    d(dt)/ds = K [dlambda t x B + lambda dt x B + lambda t x (grad B dx)],

grad B from the same bilinear table, so D is the derivative of the discrete map itself (the test compares
it with central finite differences). D starts at dx/dl0 = u, dx/dl1 = v (the start plane's axes),
dt/dphi, dt/dtheta; at the target plane the path-length change ds = -(w . dx) / (w . t) moves the end
point along the track (dx += t ds, dt += t' ds), and the bound rows follow from l0 = u'.x, l1 = v'.x,
dphi = (t_x dt_y - t_y dt_x) / (t_x^2 + t_y^2), dtheta = -dt_z / sin(theta); q/p is unchanged (no energy loss).

Step control: the step is at most ``max_step_mm`` and at most ``max_turn`` times the local radius of
curvature 1 / (K |lambda| |B|), and aims at the plane from a second-order (parabolic) estimate of the
remaining path, so that two or three steps reach it to 1e-5 mm; the last 1e-5 mm is a straight move. A plane
not reached within ``MAX_STEPS`` steps or ``MAX_PATH_MM`` of path is reported with miss = inf.

Degenerate geometry is reported the same way (miss = inf, NaN parameters), never as an exception: a
non-finite start, a direction within ``MIN_ALONG`` of the target plane when the track is on it (the
straight move dist / (w . t) and the Jacobian's ds = -(w . dx) / (w . t) divide by it), and a direction
within ``MIN_SIN_THETA`` of the z axis at arrival (phi is undefined there: dphi and dtheta divide by
sin(theta)). Both arise from bad candidates: three hits of one module give a seed helix that lies in that
module's plane, and the propagation to the next hit of the same module then starts on the plane with
w . t = 0 (before this guard: ``ZeroDivisionError`` in the refit of mu = 200 track candidates).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gnn4hep.tracking.field import TABLE_STEP_MM, TABLE_Z_MAX_MM
from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM

MAX_STEPS = 200
MAX_PATH_MM = 8000.0
TOLERANCE_MM = 1e-5
MAX_STEP_MM = 200.0
MAX_TURN = 0.05
#: |w . t| (cosine of the angle to the plane's normal) below which a track on the plane does not cross it:
#: 1e-6 is a path of 300 m in a 0.3 mm sensor, far beyond any module.
MIN_ALONG = 1e-6
#: sin(theta) below which the direction is along the z axis (|eta| > 14.5): phi is undefined there.
MIN_SIN_THETA = 1e-6


@njit(cache=True, inline="always")
def _field(x, y, z, table_rho, table_z, uniform_bz, axis, b, grad, want_grad):
    """B (tesla) at (x, y, z) into ``b`` (3,), and its gradient grad[i, j] = dB_i/dx_j into ``grad`` (3, 3).
    ``axis``: (x, y) mm of the field's symmetry axis (the table's rho is measured from it)."""
    if table_rho.shape[0] == 0:
        b[0] = 0.0
        b[1] = 0.0
        b[2] = uniform_bz
        if want_grad:
            for i in range(3):
                for j in range(3):
                    grad[i, j] = 0.0
        return
    x = x - axis[0]
    y = y - axis[1]
    rho = np.sqrt(x * x + y * y)
    fr = rho / TABLE_STEP_MM
    fz = (z + TABLE_Z_MAX_MM) / TABLE_STEP_MM
    n_r, n_z = table_rho.shape
    # clamped before the integer conversion (finite inputs only: the kernel never calls with NaN)
    i = int(min(fr, n_r - 2.0))
    j = int(np.floor(min(max(fz, 0.0), n_z - 2.0)))
    tr = fr - i
    tz = fz - j
    r00, r10, r01, r11 = table_rho[i, j], table_rho[i + 1, j], table_rho[i, j + 1], table_rho[i + 1, j + 1]
    z00, z10, z01, z11 = table_z[i, j], table_z[i + 1, j], table_z[i, j + 1], table_z[i + 1, j + 1]
    b_rho = (1 - tr) * (1 - tz) * r00 + tr * (1 - tz) * r10 + (1 - tr) * tz * r01 + tr * tz * r11
    b_z = (1 - tr) * (1 - tz) * z00 + tr * (1 - tz) * z10 + (1 - tr) * tz * z01 + tr * tz * z11
    if i == 0:  # B_rho = 0 on the axis: B_rho / rho is finite, linear in the first cell
        over_rho = ((1 - tz) * r10 + tz * r11) / TABLE_STEP_MM
    else:
        over_rho = b_rho / rho
    b[0] = over_rho * x
    b[1] = over_rho * y
    b[2] = b_z
    if want_grad:
        drho_r = ((1 - tz) * (r10 - r00) + tz * (r11 - r01)) / TABLE_STEP_MM
        drho_z = ((1 - tr) * (r01 - r00) + tr * (r11 - r10)) / TABLE_STEP_MM
        dz_r = ((1 - tz) * (z10 - z00) + tz * (z11 - z01)) / TABLE_STEP_MM
        dz_z = ((1 - tr) * (z01 - z00) + tr * (z11 - z10)) / TABLE_STEP_MM
        if rho > 1e-9:
            cx, cy = x / rho, y / rho
        else:
            cx, cy = 1.0, 0.0
        grad[0, 0] = drho_r * cx * cx + over_rho * cy * cy
        grad[1, 1] = drho_r * cy * cy + over_rho * cx * cx
        grad[0, 1] = (drho_r - over_rho) * cx * cy
        grad[1, 0] = grad[0, 1]
        grad[0, 2] = drho_z * cx
        grad[1, 2] = drho_z * cy
        grad[2, 0] = dz_r * cx
        grad[2, 1] = dz_r * cy
        grad[2, 2] = dz_z


@njit(cache=True, inline="always")
def _derivative(pos, tan, lam, jac, table_rho, table_z, uniform_bz, axis, want_jac, b, grad, k_x, k_t, k_jac):
    """Right-hand sides at one stage: k_x = t, k_t = K lam t x B, k_jac (6, 5) the linearised equations."""
    _field(pos[0], pos[1], pos[2], table_rho, table_z, uniform_bz, axis, b, grad, want_jac)
    c = C_GEV_PER_T_MM * lam
    k_x[0], k_x[1], k_x[2] = tan[0], tan[1], tan[2]
    k_t[0] = c * (tan[1] * b[2] - tan[2] * b[1])
    k_t[1] = c * (tan[2] * b[0] - tan[0] * b[2])
    k_t[2] = c * (tan[0] * b[1] - tan[1] * b[0])
    if not want_jac:
        return
    for col in range(5):
        dx0, dx1, dx2 = jac[0, col], jac[1, col], jac[2, col]
        dt0, dt1, dt2 = jac[3, col], jac[4, col], jac[5, col]
        # grad B . dx
        g0 = grad[0, 0] * dx0 + grad[0, 1] * dx1 + grad[0, 2] * dx2
        g1 = grad[1, 0] * dx0 + grad[1, 1] * dx1 + grad[1, 2] * dx2
        g2 = grad[2, 0] * dx0 + grad[2, 1] * dx1 + grad[2, 2] * dx2
        k_jac[0, col] = dt0
        k_jac[1, col] = dt1
        k_jac[2, col] = dt2
        k_jac[3, col] = c * (dt1 * b[2] - dt2 * b[1] + tan[1] * g2 - tan[2] * g1)
        k_jac[4, col] = c * (dt2 * b[0] - dt0 * b[2] + tan[2] * g0 - tan[0] * g2)
        k_jac[5, col] = c * (dt0 * b[1] - dt1 * b[0] + tan[0] * g1 - tan[1] * g0)
    # dlambda = 1 in the q/p column
    k_jac[3, 4] += C_GEV_PER_T_MM * (tan[1] * b[2] - tan[2] * b[1])
    k_jac[4, 4] += C_GEV_PER_T_MM * (tan[2] * b[0] - tan[0] * b[2])
    k_jac[5, 4] += C_GEV_PER_T_MM * (tan[0] * b[1] - tan[1] * b[0])


@njit(cache=True)
def _propagate_kernel(params, positions, start_rot, centers, rotations, table_rho, table_z, uniform_bz, axis,
                      want_jac, max_step, max_turn, out, rows, path, miss, out_pos, out_dir):
    n = params.shape[0]
    b = np.empty(3)
    grad = np.zeros((3, 3))
    pos = np.empty(3)
    tan = np.empty(3)
    jac = np.zeros((6, 5))
    stage_pos = np.empty(3)
    stage_tan = np.empty(3)
    stage_jac = np.zeros((6, 5))
    kx = np.empty((4, 3))
    kt = np.empty((4, 3))
    kj = np.zeros((4, 6, 5))
    for trk in range(n):
        phi, theta, lam = params[trk, 2], params[trk, 3], params[trk, 4]
        sp, cp, st, ct = np.sin(phi), np.cos(phi), np.sin(theta), np.cos(theta)
        for i in range(3):
            pos[i] = positions[trk, i]
        tan[0], tan[1], tan[2] = st * cp, st * sp, ct
        if want_jac:
            for i in range(6):
                for j in range(5):
                    jac[i, j] = 0.0
            for i in range(3):
                jac[i, 0] = start_rot[trk, i, 0]
                jac[i, 1] = start_rot[trk, i, 1]
            jac[3, 2], jac[4, 2] = -st * sp, st * cp
            jac[3, 3], jac[4, 3], jac[5, 3] = ct * cp, ct * sp, -st
        wx, wy, wz = rotations[trk, 0, 2], rotations[trk, 1, 2], rotations[trk, 2, 2]
        cx, cy, cz = centers[trk, 0], centers[trk, 1], centers[trk, 2]
        s_total = 0.0
        reached = False
        finite = np.isfinite(lam) and np.isfinite(phi) and np.isfinite(theta)
        for i in range(3):
            finite = finite and np.isfinite(pos[i])
        for _ in range(MAX_STEPS if finite else 0):
            dist = wx * (cx - pos[0]) + wy * (cy - pos[1]) + wz * (cz - pos[2])
            along = wx * tan[0] + wy * tan[1] + wz * tan[2]
            if not (np.isfinite(dist) and np.isfinite(along)):
                break
            if abs(dist) < TOLERANCE_MM:
                # on the plane: it is crossed unless the track runs within it, or along the z axis
                reached = abs(along) >= MIN_ALONG and tan[0] * tan[0] + tan[1] * tan[1] >= MIN_SIN_THETA**2
                break
            if abs(along) < 1e-12 or abs(s_total) > MAX_PATH_MM:
                break
            _field(pos[0], pos[1], pos[2], table_rho, table_z, uniform_bz, axis, b, grad, False)
            c = C_GEV_PER_T_MM * lam
            curve = 0.5 * c * (wx * (tan[1] * b[2] - tan[2] * b[1]) + wy * (tan[2] * b[0] - tan[0] * b[2])
                               + wz * (tan[0] * b[1] - tan[1] * b[0]))
            disc = along * along + 4.0 * curve * dist
            if disc > 0:
                h = 2.0 * dist / (along + np.sign(along) * np.sqrt(disc))
            else:
                h = dist / along
            b_norm = np.sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2])
            limit = max_step
            if abs(c) * b_norm > 0:
                limit = min(limit, max_turn / (abs(c) * b_norm))
            if h > limit:
                h = limit
            elif h < -limit:
                h = -limit
            # classical RK4 on (x, t, D)
            for stage in range(4):
                if stage == 0:
                    frac = 0.0
                elif stage == 3:
                    frac = h
                else:
                    frac = 0.5 * h
                for i in range(3):
                    if stage == 0:
                        stage_pos[i] = pos[i]
                        stage_tan[i] = tan[i]
                    else:
                        stage_pos[i] = pos[i] + frac * kx[stage - 1, i]
                        stage_tan[i] = tan[i] + frac * kt[stage - 1, i]
                if want_jac:
                    for i in range(6):
                        for j in range(5):
                            stage_jac[i, j] = jac[i, j] + frac * kj[stage - 1, i, j] if stage > 0 else jac[i, j]
                _derivative(stage_pos, stage_tan, lam, stage_jac, table_rho, table_z, uniform_bz, axis, want_jac, b, grad,
                            kx[stage], kt[stage], kj[stage])
            sixth = h / 6.0
            for i in range(3):
                pos[i] += sixth * (kx[0, i] + 2.0 * kx[1, i] + 2.0 * kx[2, i] + kx[3, i])
                tan[i] += sixth * (kt[0, i] + 2.0 * kt[1, i] + 2.0 * kt[2, i] + kt[3, i])
            norm = np.sqrt(tan[0] * tan[0] + tan[1] * tan[1] + tan[2] * tan[2])
            for i in range(3):
                tan[i] /= norm
            if want_jac:
                for i in range(6):
                    for j in range(5):
                        jac[i, j] += sixth * (kj[0, i, j] + 2.0 * kj[1, i, j] + 2.0 * kj[2, i, j] + kj[3, i, j])
            s_total += h
        if not reached:
            miss[trk] = np.inf
            path[trk] = s_total
            for i in range(5):
                out[trk, i] = np.nan
            continue
        # the last < TOLERANCE_MM: a straight move onto the plane
        h = dist / along
        for i in range(3):
            pos[i] += h * tan[i]
        s_total += h
        path[trk] = s_total
        miss[trk] = 0.0
        ux, uy, uz = rotations[trk, 0, 0], rotations[trk, 1, 0], rotations[trk, 2, 0]
        vx, vy, vz = rotations[trk, 0, 1], rotations[trk, 1, 1], rotations[trk, 2, 1]
        rx, ry, rz = pos[0] - cx, pos[1] - cy, pos[2] - cz
        out[trk, 0] = ux * rx + uy * ry + uz * rz
        out[trk, 1] = vx * rx + vy * ry + vz * rz
        # azimuth continuous with the start (phi + the turn, as the helix propagator)
        phi_end = np.arctan2(tan[1], tan[0])
        turn = phi_end - phi
        turn -= 2.0 * np.pi * np.floor((turn + np.pi) / (2.0 * np.pi))
        out[trk, 2] = phi + turn
        out[trk, 3] = np.arccos(min(1.0, max(-1.0, tan[2])))
        out[trk, 4] = lam
        for i in range(3):
            out_pos[trk, i] = pos[i]
            out_dir[trk, i] = tan[i]
        if not want_jac:
            continue
        _field(pos[0], pos[1], pos[2], table_rho, table_z, uniform_bz, axis, b, grad, False)
        c = C_GEV_PER_T_MM * lam
        tp0 = c * (tan[1] * b[2] - tan[2] * b[1])
        tp1 = c * (tan[2] * b[0] - tan[0] * b[2])
        tp2 = c * (tan[0] * b[1] - tan[1] * b[0])
        along = wx * tan[0] + wy * tan[1] + wz * tan[2]
        tt = tan[0] * tan[0] + tan[1] * tan[1]
        sin_t = np.sqrt(tt)
        for col in range(5):
            ds = -(wx * jac[0, col] + wy * jac[1, col] + wz * jac[2, col]) / along
            dx0 = jac[0, col] + tan[0] * ds
            dx1 = jac[1, col] + tan[1] * ds
            dx2 = jac[2, col] + tan[2] * ds
            dt0 = jac[3, col] + tp0 * ds
            dt1 = jac[4, col] + tp1 * ds
            dt2 = jac[5, col] + tp2 * ds
            rows[trk, 0, col] = ux * dx0 + uy * dx1 + uz * dx2
            rows[trk, 1, col] = vx * dx0 + vy * dx1 + vz * dx2
            rows[trk, 2, col] = (tan[0] * dt1 - tan[1] * dt0) / tt
            rows[trk, 3, col] = -dt2 / sin_t


_EMPTY = np.zeros((0, 0))


def uniform_bz(field) -> float | None:
    """B_z (tesla) if ``field`` is uniform (a number or a :class:`~gnn4hep.tracking.field.UniformField`), else None."""
    if isinstance(field, (int, float, np.floating)):
        return float(field)
    if getattr(field, "name", None) == "uniform":
        return float(field.b_tesla)
    return None


def bz_at(field, points: np.ndarray) -> np.ndarray:
    """B_z (tesla) of ``field`` (a number or a field object) at (..., 3) ``points``."""
    bz = uniform_bz(field)
    if bz is not None:
        return np.full(np.shape(points)[:-1], bz)
    return field(np.asarray(points, dtype=np.float64))[..., 2]


def field_tables(field) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """(table_rho, table_z, uniform_bz, axis) of a field for the kernel: a solenoid's tables and the (x, y) mm of
    its symmetry axis (``axis_xy_mm``; (0, 0) for a field without one), or empty tables and B_z."""
    if hasattr(field, "tables"):
        table_rho, table_z = field.tables()
        axis = np.array(getattr(field, "axis_xy_mm", (0.0, 0.0)), dtype=np.float64)
        return np.ascontiguousarray(table_rho), np.ascontiguousarray(table_z), 0.0, axis
    return _EMPTY, _EMPTY, float(getattr(field, "b_tesla", field)), np.zeros(2)


def propagate_field(params, position, rotations, new_centers, new_rotations, field, jacobian: bool = True,
                    max_step_mm: float = MAX_STEP_MM, max_turn: float = MAX_TURN):
    """Bound ``params`` (n, 5) at global ``position`` (n, 3) on planes ``rotations`` to the planes ``new_*``.

    Returns (new_params (n, 5), rows (n, 4, 5) or None, path s (n,) mm, miss (n,) mm: 0 or inf,
    new_position (n, 3), new_direction (n, 3)): ``rows`` are the first four rows of the transport
    Jacobian (its q/p row is that of the identity). ``field``: a :class:`~gnn4hep.tracking.field.MagneticField`
    with ``tables()`` (solenoid) or a uniform field / B_z in tesla.
    """
    table_rho, table_z, uniform_bz, axis = field_tables(field)
    n = len(params)
    out = np.empty((n, 5))
    rows = np.zeros((n, 4, 5))
    path = np.empty(n)
    miss = np.empty(n)
    out_pos = np.empty((n, 3))
    out_dir = np.empty((n, 3))
    f64 = np.float64
    _propagate_kernel(np.ascontiguousarray(params, f64), np.ascontiguousarray(position, f64),
                      np.ascontiguousarray(rotations, f64), np.ascontiguousarray(new_centers, f64),
                      np.ascontiguousarray(new_rotations, f64), table_rho, table_z, uniform_bz, axis, jacobian,
                      float(max_step_mm), float(max_turn), out, rows, path, miss, out_pos, out_dir)
    return out, (rows if jacobian else None), path, miss, out_pos, out_dir
