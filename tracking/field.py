"""The magnetic field: B (tesla) at arrays of points (mm). One model is shared by the simulator and the fitter.

Three models, behind one narrow interface (:class:`MagneticField`: ``field(points) -> (n, 3)`` tesla):

- :class:`UniformField`: B = (0, 0, B_z) everywhere (the light ``quick`` source and analytic tests).
- :class:`SolenoidField`: an ideal thin finite solenoid (a uniform azimuthal current sheet of radius ``a``
  and half-length ``b``), the model behind ACTS's ``SolenoidBField``, which made the TrackML challenge data.
  Its field in closed form (Derby & Olbert, "Cylindrical magnets and ideal solenoids", Am. J. Phys. 78
  (2010) 229, eqs. 5 and 7), with B0 = mu0 n I / pi, xi_pm = z -/+ ... (below) and Bulirsch's generalised
  complete elliptic integral ``C(kc, p, c, s)`` (:func:`bulirsch_cel`)::

      B_rho = B0 [alpha_+ C(k_+, 1, 1, -1) - alpha_- C(k_-, 1, 1, -1)]
      B_z   = B0 a / (a + rho) [beta_+ C(k_+, g^2, 1, g) - beta_- C(k_-, g^2, 1, g)]

      xi_+ = z + b,  xi_- = z - b,  alpha = a / sqrt(xi^2 + (rho + a)^2),  beta = xi / sqrt(xi^2 + (rho + a)^2),
      g = (a - rho) / (a + rho),  k = sqrt((xi^2 + (a - rho)^2) / (xi^2 + (a + rho)^2)).

  On the axis this is B_z(0, z) = (mu0 n I / 2) [beta_+ - beta_-], the textbook result, and B(0) =
  mu0 n I b / sqrt(a^2 + b^2) fixes the current from the field at the centre.

  Evaluation is by bilinear interpolation in a (rho, z) table of the closed form (5 mm cells, built once
  per parameter set, cached); :meth:`SolenoidField.exact` evaluates the closed form itself.

- :class:`SegmentedSolenoidField`: the same thin sheet with a piecewise-constant current along z, the sum of
  one closed form per segment (the field is linear in the current). Fitted by linear least squares
  (:data:`TRACKML_SEGMENTED`), it fits the real data no better than the single solenoid (below), so it is
  only an option.

A solenoid's symmetry axis is parallel to z and crosses the transverse plane at (``axis_x_mm``,
``axis_y_mm``); rho is measured from it. Both TrackML fields below were fitted to the real TrackML sample
event's truth by ``benchmarks/field_fit.py``: the momentum change between consecutive true hits of a
particle, dp = K q dx x <B> (B averaged along the chord), in the two directions perpendicular to p (2745
segments of 436 particles; soft-L1 loss; sigmas the larger of the Jacobian's and a 30-fold bootstrap over
particles):

- :data:`TRACKML_FIELD` (``field="trackml"``, the fitter's field for real data), the axis free::

      radius a = 1267 +- 18 mm,   half-length b = 2615 +- 8 mm,   B at the centre = 1.989 +- 0.002 T,
      centre z_c = -150 +- 6 mm,  axis at (x, y) = (-142 +- 4, -157 +- 6) mm

- :data:`TRACKML_SOLENOID` (``field="solenoid"``, the simulator's: its compiled stepper takes rho about the
  z axis), the axis on the z axis (``--on-axis``)::

      radius a = 1177 +- 51 mm,   half-length b = 2586 +- 24 mm,   B at the centre = 1.989 +- 0.002 T,
      centre z_c = -138 +- 10 mm

Freeing the axis lowers the soft-L1 cost from 244.8 to 175.3 (x 1e-4 GeV^2) and the robust residual scale from
1.70 to 1.47 MeV; a two-fold cross-validation over particles gives 176.6 against 246.4, and a tilt of the
axis on top changes nothing (176.6). Disjoint halves of the segments agree on the axis (mm, Jacobian sigmas):
z < -150 mm (-137 +- 6, -167 +- 6), z > -150 mm (-145 +- 5, -152 +- 5), rho < 300 mm (-145 +- 7, -168 +- 7),
rho > 300 mm (-142 +- 6, -155 +- 6), |z| > 1 m (-144 +- 3, -159 +- 3), |z| < 1 m (-134 +- 19, -138 +- 20). The effective scattering material measured from the truth's angle changes
(``benchmarks/scattering_material.py``) falls from 6-71 mm to 1.4-3.9 mm of silicon in the strip end-caps when
the states are carried in this field instead of the on-axis one: the offset removes the field error that the
table had absorbed. On the real sample event's true tracks (pT > 1 GeV, >= 7 hits; each field with the
material measured in it) the refit's q/p pulls narrow from 1.98 to 1.75 (1.43 to 1.36 within 5 sigma), and of
172 tracks of pT > 0.5 GeV 3 instead of 8 have q/p pulls beyond 5 sigma (``benchmarks/kalman_validation.py``). The field is also not symmetric about z = 0: a solenoid centred at z = 0
(``--centered``: 1163 +- 55 mm, 2584 +- 29 mm, 1.987 T) costs 284. Per z bin of the segment midpoint, a free
constant (B_z, B_r away from the axis) against the fitted model averaged over the same segments (tesla; the
axis-free fit, field_fit.json; the on-axis figures are in field_fit_on_axis.json):

    z (mm)          B_z measured   model   B_r measured   model
    -2200..-1800    1.626(31)      1.696   0.118(9)       0.133
    -1800..-1500    1.819(20)      1.827   0.082(7)       0.088
    -1500..-1200    1.858(9)       1.889   0.039(3)       0.044
    -1200..-900     1.933(6)       1.935   0.028(3)       0.027
     -900..-600     1.974(4)       1.968   0.017(2)       0.014
     -600..-300     1.994(4)       1.989   0.007(3)       0.007
     -300..0        2.000(3)       1.993   0.003(3)       0.002
        0..300      1.992(3)       1.989   0.006(3)       0.006
      300..600      1.979(4)       1.973   0.013(3)       0.016
      600..900      1.944(3)       1.936   0.025(2)       0.024
      900..1200     1.873(8)       1.883   0.041(4)       0.040
     1200..1500     1.793(10)      1.810   0.060(3)       0.056
     1500..1800     1.652(28)      1.716   0.110(9)       0.133
     1800..2200     1.405(40)      1.523   0.169(11)      0.195

(beyond 2.2 m the reduced event has too few segments to separate B_r from B_z). The ideal thin solenoid
still falls off too slowly: 0.2-0.4% low at |z| < 0.9 m, 1-2% high at 1.2-1.5 m and 4-8% high at 1.5-2.2 m.
These per-bin constants trade B_r against B_z; a joint fit of the solenoid's scale along z on the same residuals
(B = f(z) B_solenoid, f piecewise linear, ``benchmarks/field_fit.py --profile``) gives f = 1.000 +- 0.002 at
|z| < 0.9 m (0.998-1.003 per 300 mm knot), 0.994-1.015 (+- 0.003-0.008) at 1.0-1.7 m and 0.987 +- 0.011 at 2 m:
the magnitude is right where the central tracks run (a 0.5 % weaker field would show as f = 0.995).
A free current distribution does not do better: ``benchmarks/field_fit.py --segments K`` fits a sheet of
the on-axis solenoid's radius with K segment currents over |z| < 2.7 m (linear least squares, soft-L1
re-weighting): K = 10 gives a soft-L1 cost of 245.0 against that solenoid's 244.8 and a cross-validation
cost of 248.1 against 246.4; its B_z per bin moves by at most 0.003 T. Scans (not in the script) of K =
2-12, sheet lengths 2.5-3.1 m, radii 1.0-1.4 m, a second sheet at 1.6, 2.5 or 3.0 m (a return yoke's image
currents) and the paraxial field of a free on-axis B_z(z) (B_r = -rho/2 dB_z/dz) found nothing below a
cross-validation cost of 248 on the z axis. With the on-axis centred fit, true states carried hit to hit in
this field landed within 0.03 mm (median, bending direction) of the next true hit except at |z| = 2.0-2.4 m
(0.2 mm), against 1.2-2.6 mm in a uniform 2 T beyond |z| = 1.6 m. Units: positions in mm, field in tesla.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

import numpy as np

FieldName = Literal["uniform", "solenoid", "trackml", "segmented"]
FIELD_NAMES: tuple[str, ...] = ("uniform", "solenoid", "trackml", "segmented")
DEFAULT_FIELD: FieldName = "solenoid"

#: Extent of the interpolation table (mm): beyond it the closed form is evaluated directly.
TABLE_RHO_MAX_MM = 1_300.0
TABLE_Z_MAX_MM = 3_600.0
TABLE_STEP_MM = 5.0


class MagneticField(Protocol):
    """B in tesla at an (n, 3) array of points in mm; returns (n, 3) = (B_x, B_y, B_z)."""

    name: str

    def __call__(self, points: np.ndarray) -> np.ndarray: ...

    def metadata(self) -> dict: ...


@dataclass(frozen=True)
class UniformField:
    """B = (0, 0, b_tesla) everywhere."""

    b_tesla: float = 2.0
    name: str = "uniform"

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=float)
        out = np.zeros(points.shape, dtype=float)
        out[..., 2] = self.b_tesla
        return out

    def metadata(self) -> dict:
        return {"field": "uniform", "b_tesla": self.b_tesla}


def bulirsch_cel(kc, p, c, s, tolerance: float = 1e-12, max_iterations: int = 60) -> np.ndarray:
    """Bulirsch's generalised complete elliptic integral, for p > 0 (vectorised).

    C(kc, p, c, s) = int_0^{pi/2} (c cos^2 t + s sin^2 t) / ((cos^2 t + p sin^2 t) sqrt(cos^2 t + kc^2 sin^2 t)) dt,
    by Bulirsch's quadratically converging iteration (R. Bulirsch, Numer. Math. 13 (1969) 305), in the form
    given by Derby & Olbert (2010). Arrays broadcast; kc != 0 and p > 0 are required.
    """
    kc, p, c, s = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (kc, p, c, s)))
    if np.any(p <= 0) or np.any(kc == 0):
        raise ValueError("bulirsch_cel needs p > 0 and kc != 0")
    pp = np.sqrt(p)
    ss = s / pp
    cc = c.copy()
    em = np.ones_like(kc)
    kk = kc * kc / 4.0  # so that the first pass starts from k = |kc| and kk = k em = k, as Bulirsch's set-up
    for _ in range(max_iterations):
        k = 2.0 * np.sqrt(kk)
        kk = k * em
        f = cc
        cc = cc + ss / pp
        g = kk / pp
        ss = 2.0 * (ss + f * g)
        pp = g + pp
        g = em
        em = k + em
        if np.all(np.abs(g - k) <= g * tolerance):
            break
    return (np.pi / 2.0) * (ss + cc * em) / (em * (em + pp))


def solenoid_rho_z(rho: np.ndarray, z: np.ndarray, radius_mm: float, half_length_mm: float,
                   b_center_tesla: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form (B_rho, B_z) in tesla of the ideal thin finite solenoid at (rho, z) in mm (rho >= 0).

    On the sheet's cylinder (rho = radius_mm) it is evaluated a hair inside (the field jumps across the sheet).
    """
    rho, z = np.broadcast_arrays(np.asarray(rho, dtype=float), np.asarray(z, dtype=float))
    a, b = float(radius_mm), float(half_length_mm)
    rho = np.where(rho == a, a * (1 - 1e-9), rho)  # on the sheet's cylinder the formula divides by zero
    mu0_n_i = b_center_tesla * np.hypot(a, b) / b  # from B_z(0, 0) = mu0 n I b / sqrt(a^2 + b^2)
    b0 = mu0_n_i / np.pi
    gamma = (a - rho) / (a + rho)
    out_rho = np.zeros(rho.shape)
    out_z = np.zeros(rho.shape)
    for sign in (1.0, -1.0):
        xi = z + sign * b
        root = np.sqrt(xi**2 + (rho + a) ** 2)
        alpha = a / root
        beta = xi / root
        k = np.sqrt(xi**2 + (a - rho) ** 2) / root
        out_rho += sign * alpha * bulirsch_cel(k, 1.0, 1.0, -1.0)
        out_z += sign * beta * bulirsch_cel(k, gamma**2, 1.0, gamma)
    return b0 * out_rho, b0 * a / (a + rho) * out_z


@lru_cache(maxsize=8)
def _table(radius_mm: float, half_length_mm: float, b_center_tesla: float, center_z_mm: float = 0.0):
    """(B_rho, B_z) on the grid of global (rho, z): the closed form at z - center_z_mm."""
    rho = np.arange(0.0, TABLE_RHO_MAX_MM + TABLE_STEP_MM / 2, TABLE_STEP_MM)
    z = np.arange(-TABLE_Z_MAX_MM, TABLE_Z_MAX_MM + TABLE_STEP_MM / 2, TABLE_STEP_MM)
    grid_rho, grid_z = np.meshgrid(rho, z, indexing="ij")
    b_rho, b_z = solenoid_rho_z(grid_rho, grid_z - center_z_mm, radius_mm, half_length_mm, b_center_tesla)
    b_rho.setflags(write=False)
    b_z.setflags(write=False)
    return b_rho, b_z


def interpolate_table(table: np.ndarray, rho: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a (rho, z) table laid out as in :func:`_table` (points inside it)."""
    fr = rho / TABLE_STEP_MM
    fz = (z + TABLE_Z_MAX_MM) / TABLE_STEP_MM
    i = np.minimum(fr.astype(np.int64), table.shape[0] - 2)
    j = np.minimum(fz.astype(np.int64), table.shape[1] - 2)
    tr = fr - i
    tz = fz - j
    return ((1 - tr) * (1 - tz) * table[i, j] + tr * (1 - tz) * table[i + 1, j]
            + (1 - tr) * tz * table[i, j + 1] + tr * tz * table[i + 1, j + 1])


@dataclass(frozen=True)
class SolenoidField:
    """Ideal thin finite solenoid along the z axis, centred at z = ``center_z_mm`` (mm, T); see the module
    docstring. ``b_center_tesla`` is B_z at its centre; B(x, y, z) is the centred closed form at z - center_z_mm.
    ``axis_x_mm, axis_y_mm``: where its symmetry axis crosses the transverse plane (parallel to z); rho is
    measured from it."""

    radius_mm: float = 1177.0
    half_length_mm: float = 2586.0
    b_center_tesla: float = 1.989
    center_z_mm: float = 0.0
    axis_x_mm: float = 0.0
    axis_y_mm: float = 0.0
    name: str = "solenoid"

    @property
    def axis_xy_mm(self) -> tuple[float, float]:
        return (self.axis_x_mm, self.axis_y_mm)

    def _on_axis(self, points: np.ndarray) -> np.ndarray:
        """``points`` with x, y measured from the solenoid's axis."""
        points = np.asarray(points, dtype=float)
        if self.axis_x_mm == 0.0 and self.axis_y_mm == 0.0:
            return points
        return points - np.array([self.axis_x_mm, self.axis_y_mm, 0.0])

    def exact(self, points: np.ndarray) -> np.ndarray:
        """The closed form at (n, 3) points (mm) -> (n, 3) tesla."""
        points = self._on_axis(points)
        rho = np.hypot(points[..., 0], points[..., 1])
        b_rho, b_z = self._rho_z(rho, points[..., 2])
        return _rho_z_to_cartesian(points, b_rho, b_z)

    def _rho_z(self, rho, z):
        """(B_rho, B_z) of the closed form at (rho from the axis, global z)."""
        return solenoid_rho_z(rho, z - self.center_z_mm, self.radius_mm, self.half_length_mm, self.b_center_tesla)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The read-only (B_rho, B_z) tables on the (rho, z) grid of TABLE_STEP_MM cells, rho from the solenoid's
        axis, global z from -TABLE_Z_MAX_MM (for compiled kernels; the centre offset is built in, the axis
        offset is not: see :attr:`axis_xy_mm`)."""
        return _table(self.radius_mm, self.half_length_mm, self.b_center_tesla, self.center_z_mm)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return _table_field(self._on_axis(points), self.tables(), self._rho_z)

    def metadata(self) -> dict:
        return {"field": "solenoid", "radius_mm": self.radius_mm, "half_length_mm": self.half_length_mm,
                "b_center_tesla": self.b_center_tesla, "center_z_mm": self.center_z_mm,
                "axis_x_mm": self.axis_x_mm, "axis_y_mm": self.axis_y_mm}


def sheet_segment_rho_z(rho, z, radius_mm: float, z_lo_mm: float, z_hi_mm: float,
                        sheet_tesla: float) -> tuple[np.ndarray, np.ndarray]:
    """(B_rho, B_z) tesla of one segment of a thin cylindrical current sheet of radius ``radius_mm`` spanning
    z_lo_mm..z_hi_mm, with surface current K such that mu0 K = ``sheet_tesla`` (the B_z deep inside a long
    sheet of that current): the closed form of :func:`solenoid_rho_z` for a solenoid of half-length
    (z_hi - z_lo) / 2 centred at (z_lo + z_hi) / 2. Linear in ``sheet_tesla``."""
    half = 0.5 * (z_hi_mm - z_lo_mm)
    center = 0.5 * (z_hi_mm + z_lo_mm)
    b_center = sheet_tesla * half / np.hypot(radius_mm, half)  # B(0) = mu0 K b / sqrt(a^2 + b^2)
    return solenoid_rho_z(rho, np.asarray(z, dtype=float) - center, radius_mm, half, b_center)


@lru_cache(maxsize=8)
def _segmented_table(radius_mm: float, edges_mm: tuple, sheet_tesla: tuple):
    """(B_rho, B_z) on the global (rho, z) grid of :func:`_table` for a :class:`SegmentedSolenoidField`."""
    rho = np.arange(0.0, TABLE_RHO_MAX_MM + TABLE_STEP_MM / 2, TABLE_STEP_MM)
    z = np.arange(-TABLE_Z_MAX_MM, TABLE_Z_MAX_MM + TABLE_STEP_MM / 2, TABLE_STEP_MM)
    grid_rho, grid_z = np.meshgrid(rho, z, indexing="ij")
    b_rho, b_z = segmented_rho_z(grid_rho, grid_z, radius_mm, edges_mm, sheet_tesla)
    b_rho.setflags(write=False)
    b_z.setflags(write=False)
    return b_rho, b_z


def segmented_rho_z(rho, z, radius_mm: float, edges_mm, sheet_tesla) -> tuple[np.ndarray, np.ndarray]:
    """(B_rho, B_z) tesla of a thin current sheet of radius ``radius_mm`` whose strength mu0 K is
    ``sheet_tesla[k]`` between ``edges_mm[k]`` and ``edges_mm[k + 1]`` (global z, mm): the sum of
    :func:`sheet_segment_rho_z` over the segments (superposition: the field is linear in the current)."""
    rho, z = np.broadcast_arrays(np.asarray(rho, dtype=float), np.asarray(z, dtype=float))
    out_rho, out_z = np.zeros(rho.shape), np.zeros(rho.shape)
    for lo, hi, strength in zip(edges_mm[:-1], edges_mm[1:], sheet_tesla):
        if strength != 0.0:
            b_rho, b_z = sheet_segment_rho_z(rho, z, radius_mm, lo, hi, strength)
            out_rho += b_rho
            out_z += b_z
    return out_rho, out_z


@dataclass(frozen=True)
class SegmentedSolenoidField:
    """A thin coaxial current sheet of radius ``radius_mm`` with a piecewise-constant current along z:
    strength mu0 K = ``sheet_tesla[k]`` (tesla) between ``edges_mm[k]`` and ``edges_mm[k + 1]`` (global z,
    mm). The field is the sum of the segments' closed forms (:func:`segmented_rho_z`); one segment is the
    :class:`SolenoidField` of half-length (z_hi - z_lo) / 2 centred at the segment's middle. Evaluated like
    the solenoid: bilinear in a (rho, z) table of 5 mm cells, the closed form outside it (:meth:`exact`)."""

    radius_mm: float
    edges_mm: tuple
    sheet_tesla: tuple
    name: str = "segmented"

    def __post_init__(self):
        if len(self.edges_mm) != len(self.sheet_tesla) + 1 or np.any(np.diff(self.edges_mm) <= 0):
            raise ValueError("SegmentedSolenoidField: edges_mm must increase and have one more entry than sheet_tesla")

    def _rho_z(self, rho, z):
        return segmented_rho_z(rho, z, self.radius_mm, self.edges_mm, self.sheet_tesla)

    def exact(self, points: np.ndarray) -> np.ndarray:
        """The closed form at (n, 3) points (mm) -> (n, 3) tesla."""
        points = np.asarray(points, dtype=float)
        b_rho, b_z = self._rho_z(np.hypot(points[..., 0], points[..., 1]), points[..., 2])
        return _rho_z_to_cartesian(points, b_rho, b_z)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The read-only (B_rho, B_z) tables on the global (rho, z) grid (as :meth:`SolenoidField.tables`)."""
        return _segmented_table(float(self.radius_mm), tuple(map(float, self.edges_mm)),
                                tuple(map(float, self.sheet_tesla)))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return _table_field(points, self.tables(), self._rho_z)

    def metadata(self) -> dict:
        return {"field": "segmented", "radius_mm": float(self.radius_mm), "edges_mm": [float(v) for v in self.edges_mm],
                "sheet_tesla": [float(v) for v in self.sheet_tesla]}


def _rho_z_to_cartesian(points, b_rho, b_z) -> np.ndarray:
    rho = np.hypot(points[..., 0], points[..., 1])
    safe = np.where(rho > 0, rho, 1.0)
    out = np.empty(points.shape, dtype=float)
    out[..., 0] = b_rho * points[..., 0] / safe
    out[..., 1] = b_rho * points[..., 1] / safe
    out[..., 2] = b_z
    return out


def _table_field(points, tables, closed_form) -> np.ndarray:
    """B (n, 3) at ``points`` (n, 3) mm: bilinear in the (rho, z) ``tables`` inside them, ``closed_form(rho, z)``
    (global z) outside."""
    points = np.asarray(points, dtype=float)
    rho = np.hypot(points[..., 0], points[..., 1])
    z = points[..., 2]
    inside = (rho < TABLE_RHO_MAX_MM) & (np.abs(z) < TABLE_Z_MAX_MM)
    table_rho, table_z = tables
    if np.all(inside):
        b_rho = interpolate_table(table_rho, rho, z)
        b_z = interpolate_table(table_z, rho, z)
    else:
        b_rho = np.empty(rho.shape)
        b_z = np.empty(rho.shape)
        b_rho[inside] = interpolate_table(table_rho, rho[inside], z[inside])
        b_z[inside] = interpolate_table(table_z, rho[inside], z[inside])
        b_rho[~inside], b_z[~inside] = closed_form(rho[~inside], z[~inside])
    return _rho_z_to_cartesian(points, b_rho, b_z)


#: The finite solenoid fitted to the real TrackML data with its axis on the z axis (benchmarks/field_fit.py
#: --on-axis), centred at z = -138 mm: the simulator's field (its compiled stepper takes (rho, z) about the
#: z axis only).
TRACKML_SOLENOID = SolenoidField(radius_mm=1177.0, half_length_mm=2586.0, b_center_tesla=1.989, center_z_mm=-138.0)

#: The finite solenoid fitted to the real TrackML data with a free axis (benchmarks/field_fit.py): its axis
#: crosses the transverse plane at (-142, -157) mm. The fitter's field for real data (``field="trackml"``).
TRACKML_FIELD = SolenoidField(radius_mm=1266.5, half_length_mm=2614.8, b_center_tesla=1.989, center_z_mm=-150.4,
                              axis_x_mm=-142.3, axis_y_mm=-157.2)

#: A thin sheet at the solenoid's radius with 10 free segment currents over |z| < 2.7 m, fitted by linear least
#: squares on the same data (``benchmarks/field_fit.py --segments 10``). It does NOT fit better than
#: :data:`TRACKML_SOLENOID`: soft-L1 cost 245.0 against 244.8 (x 1e-4 GeV^2, 2745 segments), two-fold
#: cross-validation 248.1 against 246.4, chi2 of the 14 B_z bins 49.6 against 57.4; both models miss the
#: same bins (B_z 0.3-0.5 % low at |z| < 0.9 m, 1-7 % high at 1.2-2.2 m). Selectable (``field="segmented"``)
#: for comparisons; the default stays the solenoid.
TRACKML_SEGMENTED = SegmentedSolenoidField(
    radius_mm=1177.0, edges_mm=(-2700.0, -2160.0, -1620.0, -1080.0, -540.0, 0.0, 540.0, 1080.0, 1620.0, 2160.0, 2700.0),
    sheet_tesla=(2.304, 2.135, 2.187, 2.187, 2.219, 2.153, 2.206, 2.136, 2.26, 1.269))


def field_from_name(name: str, b_tesla: float = 2.0) -> MagneticField:
    """``"uniform"`` (B_z = b_tesla), ``"solenoid"`` (:data:`TRACKML_SOLENOID`), ``"trackml"``
    (:data:`TRACKML_FIELD`) or ``"segmented"`` (:data:`TRACKML_SEGMENTED`); ValueError otherwise."""
    if name == "uniform":
        return UniformField(b_tesla)
    if name == "solenoid":
        return TRACKML_SOLENOID
    if name == "trackml":
        return TRACKML_FIELD
    if name == "segmented":
        return TRACKML_SEGMENTED
    raise ValueError(f"unknown field {name!r}: expected one of {', '.join(FIELD_NAMES)}")


def field_from_metadata(meta: dict) -> MagneticField:
    """The field recorded by :meth:`MagneticField.metadata` (event metadata, run folders)."""
    kind = meta.get("field")
    if kind == "uniform":
        return UniformField(float(meta.get("b_tesla", 2.0)))
    if kind == "solenoid":
        # records written before the centre offset existed are of a solenoid centred at z = 0
        return SolenoidField(float(meta["radius_mm"]), float(meta["half_length_mm"]), float(meta["b_center_tesla"]),
                             float(meta.get("center_z_mm", 0.0)), float(meta.get("axis_x_mm", 0.0)),
                             float(meta.get("axis_y_mm", 0.0)))
    if kind == "segmented":
        return SegmentedSolenoidField(float(meta["radius_mm"]), tuple(map(float, meta["edges_mm"])),
                                      tuple(map(float, meta["sheet_tesla"])))
    raise ValueError(f"unknown field in metadata: {kind!r}")
