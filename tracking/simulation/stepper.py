"""Runge-Kutta-Nystroem stepping of a charged particle in a static, axially symmetric magnetic field (numba).

Units: positions and path lengths in mm, momenta in GeV, field in tesla, charge in e.

The state is the position x, the unit direction t and lambda = K q / |p| (1 / (T mm)), with
K = 0.299792458e-3 GeV / (T mm e). Its equations of motion along the path length s are

    dx/ds = t,     dt/ds = lambda * t x B(x).

:func:`rkn_step` advances them by one step h with the classical fourth-order Runge-Kutta-Nystroem scheme for
second-order equations (E. J. Nystroem, Acta Soc. Sci. Fenn. 50 (1925); in the form used by the track
propagators of GEANE and ACTS's EigenStepper): three field evaluations per step (start, midpoint, end),
local position error O(h^5). The direction is renormalised after each step (the field does no work).

The field comes from a (rho, z) table (:meth:`gnn4hep.tracking.field.SolenoidField.tables`), interpolated
bilinearly inside the kernel exactly as :func:`gnn4hep.tracking.field.interpolate_table` does; points beyond the
table take the value at its edge (the TrackML envelope, r < 1.03 m and |z| < 3.0 m, lies inside it). A uniform
field is a constant 2 x 2 table (:func:`field_table`).

Within a step, positions in between come from the cubic Hermite interpolant of its end points and directions
(:func:`segment_coord`, error O(h^4 kappa^3), far below a micron for the navigator's steps), used to find where
a surface is crossed; exact crossings of a plane are solved by Newton's method on partial steps
(:func:`plane_crossing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
import math

import numba as nb
import numpy as np

from gnn4hep.tracking.field import TABLE_STEP_MM, TABLE_Z_MAX_MM, SolenoidField, UniformField

#: K in GeV / (T mm e): the curvature of a track is K |q| B_perp / |p|.
K_GEV_PER_T_MM = 0.299792458e-3


@dataclass(frozen=True)
class FieldTable:
    """(B_rho, B_z) in tesla on a regular (rho, z) grid: cell (i, j) at rho = i * step_mm, z = z0_mm + j * step_mm."""

    b_rho: np.ndarray
    b_z: np.ndarray
    step_mm: float
    z0_mm: float


def field_table(field) -> FieldTable:
    """The :class:`FieldTable` of a field: a number (uniform B_z, tesla), a :class:`UniformField`, a
    :class:`SolenoidField` or a FieldTable (returned as is); TypeError for anything else."""
    if isinstance(field, FieldTable):
        return field
    if isinstance(field, (int, float, np.floating, UniformField)):
        b = float(field.b_tesla if isinstance(field, UniformField) else field)
        return FieldTable(np.zeros((2, 2)), np.full((2, 2), b), 1e9, -1e9)
    if isinstance(field, SolenoidField):
        return _solenoid_table(field)
    raise TypeError(f"no field table for {type(field).__name__}: expected a number, UniformField or SolenoidField")


@lru_cache(maxsize=4)
def _solenoid_table(field: SolenoidField) -> FieldTable:
    # writable C-contiguous copies: the compiled kernels then take one array type for every field
    b_rho, b_z = (np.array(t, dtype=np.float64, order="C") for t in field.tables())
    return FieldTable(b_rho, b_z, TABLE_STEP_MM, -TABLE_Z_MAX_MM)


@nb.njit(cache=True, inline="always")
def field_at(x, y, z, b_rho, b_z, step, z0):
    """(B_x, B_y, B_z) in tesla at (x, y, z) mm, bilinear in the (rho, z) table (clamped at its edges)."""
    rho = math.sqrt(x * x + y * y)
    fr = rho / step
    fz = (z - z0) / step
    n_r = b_rho.shape[0] - 2
    n_z = b_rho.shape[1] - 2
    i = min(int(fr), n_r)
    j = min(max(int(math.floor(fz)), 0), n_z)
    tr = min(fr - i, 1.0)
    tz = min(max(fz - j, 0.0), 1.0)
    w00 = (1.0 - tr) * (1.0 - tz)
    w10 = tr * (1.0 - tz)
    w01 = (1.0 - tr) * tz
    w11 = tr * tz
    br = w00 * b_rho[i, j] + w10 * b_rho[i + 1, j] + w01 * b_rho[i, j + 1] + w11 * b_rho[i + 1, j + 1]
    bz = w00 * b_z[i, j] + w10 * b_z[i + 1, j] + w01 * b_z[i, j + 1] + w11 * b_z[i + 1, j + 1]
    if rho > 0.0:
        return br * x / rho, br * y / rho, bz
    return 0.0, 0.0, bz


@nb.njit(cache=True, inline="always")
def _cross_scaled(ax, ay, az, bx, by, bz, s):
    return s * (ay * bz - az * by), s * (az * bx - ax * bz), s * (ax * by - ay * bx)


@nb.njit(cache=True)
def rkn_step(x, y, z, tx, ty, tz, lam, h, b_rho, b_z, step, z0):
    """One fourth-order Runge-Kutta-Nystroem step of length h (mm; may be negative).

    Args: position (mm), unit direction, lam = K q / |p| (1 / (T mm)), the field table.
    Returns: (x, y, z, tx, ty, tz) after the step, the direction renormalised.
    """
    h2 = h * h
    bx, by, bz = field_at(x, y, z, b_rho, b_z, step, z0)
    k1x, k1y, k1z = _cross_scaled(tx, ty, tz, bx, by, bz, lam)
    mx = x + 0.5 * h * tx + 0.125 * h2 * k1x
    my = y + 0.5 * h * ty + 0.125 * h2 * k1y
    mz = z + 0.5 * h * tz + 0.125 * h2 * k1z
    bx, by, bz = field_at(mx, my, mz, b_rho, b_z, step, z0)
    k2x, k2y, k2z = _cross_scaled(tx + 0.5 * h * k1x, ty + 0.5 * h * k1y, tz + 0.5 * h * k1z, bx, by, bz, lam)
    k3x, k3y, k3z = _cross_scaled(tx + 0.5 * h * k2x, ty + 0.5 * h * k2y, tz + 0.5 * h * k2z, bx, by, bz, lam)
    ex = x + h * tx + 0.5 * h2 * k3x
    ey = y + h * ty + 0.5 * h2 * k3y
    ez = z + h * tz + 0.5 * h2 * k3z
    bx, by, bz = field_at(ex, ey, ez, b_rho, b_z, step, z0)
    k4x, k4y, k4z = _cross_scaled(tx + h * k3x, ty + h * k3y, tz + h * k3z, bx, by, bz, lam)
    sixth = h2 / 6.0
    nx = x + h * tx + sixth * (k1x + k2x + k3x)
    ny = y + h * ty + sixth * (k1y + k2y + k3y)
    nz = z + h * tz + sixth * (k1z + k2z + k3z)
    ntx = tx + h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
    nty = ty + h / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
    ntz = tz + h / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z)
    norm = math.sqrt(ntx * ntx + nty * nty + ntz * ntz)
    return nx, ny, nz, ntx / norm, nty / norm, ntz / norm


@nb.njit(cache=True)
def propagate_states(position, direction, lam, path, max_step, b_rho, b_z, step, z0):
    """Advance each state (n, 3) mm / unit direction by ``path`` (n,) mm in steps of at most ``max_step`` mm.

    Returns (position, direction), each (n, 3). For tests and for callers that need a state at a path length.
    """
    n = position.shape[0]
    out_x = np.empty((n, 3))
    out_t = np.empty((n, 3))
    for k in range(n):
        x, y, z = position[k, 0], position[k, 1], position[k, 2]
        tx, ty, tz = direction[k, 0], direction[k, 1], direction[k, 2]
        n_steps = max(1, int(math.ceil(abs(path[k]) / max_step)))
        h = path[k] / n_steps
        for _ in range(n_steps):
            x, y, z, tx, ty, tz = rkn_step(x, y, z, tx, ty, tz, lam[k], h, b_rho, b_z, step, z0)
        out_x[k, 0], out_x[k, 1], out_x[k, 2] = x, y, z
        out_t[k, 0], out_t[k, 1], out_t[k, 2] = tx, ty, tz
    return out_x, out_t


@nb.njit(cache=True, inline="always")
def segment_coord(seg, u, k):
    """``seg`` (13,) holds a step: start position and direction [0:6], end position and direction [6:12], length
    [12] (mm). Cubic Hermite interpolant of coordinate k of the step in ``seg`` at fraction u of its length."""
    u2 = u * u
    u3 = u2 * u
    h = seg[12]
    return ((2 * u3 - 3 * u2 + 1) * seg[k] + (u3 - 2 * u2 + u) * h * seg[3 + k]
            + (-2 * u3 + 3 * u2) * seg[6 + k] + (u3 - u2) * h * seg[9 + k])  # fmt: skip


@nb.njit(cache=True, inline="always")
def segment_slope(seg, u, k):
    """d/ds of :func:`segment_coord`."""
    u2 = u * u
    return ((6 * u2 - 6 * u) * seg[k] / seg[12] + (3 * u2 - 4 * u + 1) * seg[3 + k]
            + (-6 * u2 + 6 * u) * seg[6 + k] / seg[12] + (3 * u2 - 2 * u) * seg[9 + k])  # fmt: skip


@nb.njit(cache=True)
def segment_value(seg, u, mode):
    """mode 0: r^2 (mm^2), 1: z (mm), 2: x_T . dx_T/ds (mm), on the interpolant at fraction u."""
    if mode == 1:
        return segment_coord(seg, u, 2)
    x = segment_coord(seg, u, 0)
    y = segment_coord(seg, u, 1)
    if mode == 0:
        return x * x + y * y
    return x * segment_slope(seg, u, 0) + y * segment_slope(seg, u, 1)


@nb.njit(cache=True)
def segment_root(seg, mode, target, ua, ub):
    """Fraction u in [ua, ub] where :func:`segment_value` crosses ``target`` (bisection, 1e-9 of the step)."""
    fa = segment_value(seg, ua, mode) - target
    for _ in range(32):
        um = 0.5 * (ua + ub)
        fm = segment_value(seg, um, mode) - target
        if (fm < 0.0) == (fa < 0.0):
            ua, fa = um, fm
        else:
            ub = um
    return 0.5 * (ua + ub)


@nb.njit(cache=True)
def plane_crossing(x, y, z, tx, ty, tz, lam, s, cx, cy, cz, wx, wy, wz, b_rho, b_z, step, z0, tolerance):
    """Newton's method for the path s (mm, from the given state) where the RKN trajectory meets the plane
    through c with normal w, started from ``s``, to ``tolerance`` mm from the plane. Returns (converged, s, state
    after s)."""
    hx, hy, hz, htx, hty, htz = x, y, z, tx, ty, tz
    for _ in range(10):
        hx, hy, hz, htx, hty, htz = rkn_step(x, y, z, tx, ty, tz, lam, s, b_rho, b_z, step, z0)
        f = (hx - cx) * wx + (hy - cy) * wy + (hz - cz) * wz
        if abs(f) < tolerance:
            return True, s, hx, hy, hz, htx, hty, htz
        fp = htx * wx + hty * wy + htz * wz
        if abs(fp) < 1e-9:
            break
        s -= f / fp
    return False, s, hx, hy, hz, htx, hty, htz
