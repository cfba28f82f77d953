"""Multiple scattering in the beam pipe: a term of the perigee covariance.

The Kalman fit starts at a track's first hit, and its perigee (d0, z0, phi, theta, q/p at the beam line) is
the fitted track carried back inwards without material. The particle itself crossed the beam pipe between
its vertex and the first hit, and was deflected there by two projected angles of width theta_0 (Highland,
:func:`gnn4hep.tracking.simulation.material.highland_theta0`). The perigee of the undeflected track
differs from the fitted one's by J (dphi, dtheta), so its covariance gains

    J Q J^T,    Q = diag(theta_0^2 / sin^2(theta), theta_0^2),    x / X0 = TRACKML_BEAM_PIPE_X0 / sin(theta),

with J (5, 2) = d perigee / d(phi, theta) of the direction at the crossing of the cylinder r = R, by central
differences of the helix perigee (:func:`~gnn4hep.tracking.fitting.perigee.to_perigee`) in the local B_z.
For a straight track from the beam line this is var(phi) += theta_0^2 / sin^2(theta), var(d0) += R^2 times
that, var(theta) += theta_0^2, var(z0) += R^2 theta_0^2 / sin^4(theta), with the matching correlations
(d0 with phi, z0 with theta). Tracks whose perigee lies outside the pipe (|d0| >= R) get nothing.

The TrackML pipe: beryllium at r = 19 mm, 0.8 mm thick in the description of the ACTS generic detector, from
which the TrackML detector was built (X0(Be) = 352.8 mm, so x / X0 = 0.227%). Measured on the real sample
event by ``benchmarks/scattering_material.py`` (268 particles from within 5 mm of the beam line, pT > 0.3 GeV,
vertex state carried to the first hit in the fitted solenoid), the pipe acts like less: the core width
(1.4826 MAD) of the angle change is 0.70 of Highland's theta_0 for 0.227% (0.76 in the bending direction,
0.64 in the other; rms 0.89, a tail; states carried in the real data's field, :data:`~gnn4hep.tracking.field.TRACKML_FIELD`;
0.76 and 0.137% in the on-axis solenoid), the width of 0.119% X0; and the median momentum lost on the way is
0.108 MeV at normal incidence, against a Landau most probable loss of about 0.19 MeV (Bethe mean 0.24 MeV)
for 0.8 mm of beryllium. Both point to about 0.5 mm. The fitter takes the measured 0.119% (the core width; the
layers' table, :data:`~gnn4hep.tracking.fitting.material.TRACKML_SCATTERING_MATERIAL_MM`, now takes the RMS within
5 robust sigma, which for the pipe was not re-measured).
The energy loss in the pipe (0.1-0.2 MeV) is far below the q/p resolution and is not corrected.
Units: mm, GeV, rad.
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.fitting.perigee import perigee_position, to_perigee, wrap_angle
from gnn4hep.tracking.fitting.propagation import omega_of
from gnn4hep.tracking.fitting.stepper import bz_at, uniform_bz
from gnn4hep.tracking.simulation.material import highland_theta0

#: Radius (mm) and thickness (mm) of the TrackML beam pipe (beryllium), and beryllium's X0 (mm) and dE/dx
#: (GeV/mm: 1.595 MeV cm^2/g at minimum ionisation times 1.848 g/cm^3).
TRACKML_BEAM_PIPE_RADIUS_MM = 19.0
TRACKML_BEAM_PIPE_MM = 0.8
BERYLLIUM_X0_MM = 352.8
BERYLLIUM_DEDX_GEV_PER_MM = 2.948e-4
#: Effective x / X0 of the pipe at normal incidence for scattering, MEASURED (see the module docstring).
TRACKML_BEAM_PIPE_X0 = 0.00119

_STEP_RAD = 1e-6


def pipe_crossing(perigee: np.ndarray, b_tesla, radius_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Point (n, 3) where the perigee helices (n, 5) first cross the cylinder r = ``radius_mm`` going
    outwards, and their azimuth (n,) there; NaN where they do not (|d0| >= radius or too curved).

    ``b_tesla``: B_z (T), one for all or (n,). The chord from the PCA is taken perpendicular to the impact
    vector (r^2 = d0^2 + chord^2, as :func:`~gnn4hep.tracking.fitting.extension.helix_crossings`).
    """
    d0, z0, phi, theta, qop = perigee.T
    start = perigee_position(perigee)
    kappa = omega_of(qop, b_tesla) / np.sin(theta)  # signed transverse curvature, 1/mm
    with np.errstate(invalid="ignore", divide="ignore"):
        chord = np.sqrt(radius_mm**2 - d0**2)
        half = np.arcsin(0.5 * np.abs(kappa) * chord)
        small = np.abs(kappa) < 1e-12
        arc = np.where(small, chord, 2.0 * half / np.where(small, 1.0, np.abs(kappa)))
        turn = kappa * arc
        direction = phi + 0.5 * turn
        point = np.stack([start[:, 0] + chord * np.cos(direction), start[:, 1] + chord * np.sin(direction),
                          z0 + arc / np.tan(theta)], -1)
    return point, phi + turn


def beam_pipe_covariance(perigee: np.ndarray, field, mass_gev: float, radius_mm: float = TRACKML_BEAM_PIPE_RADIUS_MM,
                         x0_fraction: float = TRACKML_BEAM_PIPE_X0) -> np.ndarray:
    """Covariance (n, 5, 5) added to perigee parameters (n, 5) by the scattering in the beam pipe.

    ``field``: B_z in tesla or a field object (its B_z at each perigee is used for the helix). Zero for
    tracks that do not cross the pipe going out (|d0| >= radius) and for non-finite parameters.
    """
    perigee = np.asarray(perigee, dtype=np.float64)
    n = len(perigee)
    out = np.zeros((n, 5, 5))
    finite = np.all(np.isfinite(perigee), axis=1) & (np.abs(perigee[:, 0]) < radius_mm)
    if not finite.any():
        return out
    track = perigee[finite]
    bz = uniform_bz(field)
    if bz is None:
        bz = bz_at(field, perigee_position(track))
    point, phi_c = pipe_crossing(track, bz, radius_mm)
    theta, qop = track[:, 3], track[:, 4]
    jac = np.empty((len(track), 5, 2))
    for column, (d_phi, d_theta) in enumerate(((_STEP_RAD, 0.0), (0.0, _STEP_RAD))):
        plus = to_perigee(point, phi_c + d_phi, theta + d_theta, qop, bz)
        minus = to_perigee(point, phi_c - d_phi, theta - d_theta, qop, bz)
        diff = plus - minus
        diff[:, 2] = wrap_angle(diff[:, 2])
        jac[:, :, column] = diff / (2.0 * _STEP_RAD)
    sin_theta = np.abs(np.sin(theta))
    p = 1.0 / np.maximum(np.abs(qop), 1e-9)
    # path in units of X0: x0_mm = 1 makes highland_theta0's path_mm the fraction x / X0 itself
    theta0 = highland_theta0(p, mass_gev, 1.0, x0_fraction / np.maximum(sin_theta, 1e-3), 1.0)
    q = np.zeros((len(track), 2, 2))
    q[:, 0, 0] = theta0**2 / np.maximum(sin_theta, 1e-3) ** 2
    q[:, 1, 1] = theta0**2
    added = jac @ q @ jac.transpose(0, 2, 1)
    good = np.all(np.isfinite(added), axis=(1, 2))
    out[np.flatnonzero(finite)[good]] = added[good]
    return out
