"""Multiple-scattering process noise of a silicon module crossing, in bound (phi, theta) coordinates.

The scattering angle is the Highland / Lynch-Dahl theta_0 of the detector simulator
(:func:`gnn4hep.tracking.simulation.material.highland_theta0`, PDG eq. 34.15, X0(Si) = 93.7 mm),
with the path x = 2 module_t / |cos(alpha)|, alpha the angle between the track and the module
normal. Two independent projected angles of width theta_0 perpendicular to the direction map to

    var(phi) = theta_0^2 / sin^2(theta),    var(theta) = theta_0^2,    no correlation,

added to the covariance of the state leaving the module (the hit is measured before the
deflection, as in the simulator). The mean ionisation loss over the same path, with the constant
silicon dE/dx of the simulator (:data:`~gnn4hep.tracking.simulation.material.SILICON_DEDX_GEV_PER_MM`,
the value the measured layer material was derived with), lowers |p| of the state leaving the module
(:func:`qop_after_loss`); the real truth shows it (about 10 MeV over a barrel track).
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.simulation.material import SILICON_DEDX_GEV_PER_MM, SILICON_X0_MM, highland_theta0

MUON_MASS_GEV = 0.1056584


def scattering_variance(phi, theta, qop, normals, thickness_mm, mass_gev: float = MUON_MASS_GEV,
                        x0_mm: float = SILICON_X0_MM) -> tuple[np.ndarray, np.ndarray]:
    """Variances (n,) added to phi and theta at a module crossing.

    Args:
        phi, theta, qop: (n,) direction and q/p (e/GeV) of the track at the module.
        normals: (n, 3) unit normals w of the modules.
        thickness_mm: (n,) full module thickness (2 module_t), mm; 0 means no material.
        mass_gev: particle mass hypothesis (the muon by default; the pion for hadrons).
    """
    st = np.sin(theta)
    direction = np.stack([st * np.cos(phi), st * np.sin(phi), np.cos(theta)], -1)
    return scattering_variance_along(direction, qop, normals, thickness_mm, mass_gev, x0_mm)


def scattering_variance_along(direction, qop, normals, thickness_mm, mass_gev: float = MUON_MASS_GEV,
                              x0_mm: float = SILICON_X0_MM) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scattering_variance` for a unit ``direction`` (n, 3) of the track at the module."""
    cos_w = direction[:, 0] * normals[:, 0] + direction[:, 1] * normals[:, 1] + direction[:, 2] * normals[:, 2]
    cos_alpha = np.maximum(np.abs(cos_w), 1e-3)
    path = thickness_mm / cos_alpha
    p = 1.0 / np.maximum(np.abs(qop), 1e-9)
    theta0 = np.where(path > 0, highland_theta0(p, mass_gev, 1.0, np.maximum(path, 1e-12), x0_mm), 0.0)
    var_theta = theta0**2
    sin2_theta = direction[:, 0] ** 2 + direction[:, 1] ** 2
    return var_theta / np.maximum(sin2_theta, 1e-12), var_theta


def crossing_path_mm(direction, normals, thickness_mm) -> np.ndarray:
    """Path (n,) mm through material of ``thickness_mm`` (n,) at normal incidence, crossed along the unit
    ``direction`` (n, 3) through a plane of unit normal ``normals`` (n, 3) (|cos| floored at 1e-3)."""
    cos_w = direction[:, 0] * normals[:, 0] + direction[:, 1] * normals[:, 1] + direction[:, 2] * normals[:, 2]
    return thickness_mm / np.maximum(np.abs(cos_w), 1e-3)


def qop_after_loss(qop, path_mm, mass_gev: float = MUON_MASS_GEV) -> np.ndarray:
    """q/p (e/GeV) after the mean ionisation loss dE = SILICON_DEDX_GEV_PER_MM * path (|p| >= 1 MeV)."""
    p = 1.0 / np.maximum(np.abs(qop), 1e-9)
    energy = np.hypot(p, mass_gev) - SILICON_DEDX_GEV_PER_MM * path_mm
    new_p = np.sqrt(np.maximum(energy**2 - mass_gev**2, 1e-6))
    return np.sign(qop) / new_p
