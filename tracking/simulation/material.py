"""Material effects of a silicon module crossing: multiple scattering and (optional) energy loss.

Units: GeV, mm, rad. All functions are vectorised over crossings.

Multiple scattering uses the Highland formula with the Lynch-Dahl logarithm (PDG Review of Particle
Physics, "Passage of particles through matter", eq. 34.15):

    theta_0 = 13.6 MeV / (beta c p) * |z| * sqrt(x / X0) * (1 + 0.038 ln(x z^2 / (X0 beta^2)))

with x the path in silicon, X0(Si) = 93.7 mm. The module thickness is 2 * module_t (module_t is the
half-thickness in detectors.csv), divided by |cos| of the angle between the track and the module
normal. The two projected deflection angles are independent Gaussians of width theta_0.

Energy loss (off by default) is the mean loss of a minimum-ionising particle in silicon,
dE/dx = 1.664 MeV cm^2/g * 2.329 g/cm^3 = 0.3876 MeV/mm (PDG), applied as a constant.
"""

from __future__ import annotations

import numpy as np

SILICON_X0_MM = 93.7
SILICON_DEDX_GEV_PER_MM = 0.3876e-3
PION_MASS_GEV = 0.13957039

#: Masses (GeV) by |PDG id| of the long-lived charged particles; others get the pion mass.
MASSES_GEV = {11: 0.000511, 13: 0.1056584, 211: 0.13957039, 321: 0.493677, 2212: 0.9382721,
              3112: 1.197449, 3222: 1.18937, 3312: 1.32171, 3334: 1.67245}  # fmt: skip


def mass_of(pdg_id) -> np.ndarray:
    """Mass in GeV of each PDG id (array-like); unknown or missing ids get the pion mass."""
    pdg = np.abs(np.asarray(pdg_id, dtype=np.int64))
    out = np.full(pdg.shape, PION_MASS_GEV)
    for code, mass in MASSES_GEV.items():
        out[pdg == code] = mass
    return out


def highland_theta0(p_gev, mass_gev, charge, path_mm, x0_mm: float = SILICON_X0_MM) -> np.ndarray:
    """RMS projected scattering angle theta_0 (rad) for momentum ``p_gev`` through ``path_mm``."""
    p = np.asarray(p_gev, dtype=np.float64)
    energy = np.hypot(p, mass_gev)
    beta = p / energy
    x = np.asarray(path_mm, dtype=np.float64) / x0_mm
    z2 = np.asarray(charge, dtype=np.float64) ** 2
    log_term = 1.0 + 0.038 * np.log(np.maximum(x * z2 / beta**2, 1e-12))
    return 0.0136 / (beta * p) * np.sqrt(z2) * np.sqrt(x) * np.maximum(log_term, 0.0)


def scatter(momentum: np.ndarray, theta0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Deflect ``momentum`` (n, 3) by two independent Gaussian projected angles of width ``theta0``.

    The magnitude of the momentum is kept. Draws 2 n normals from ``rng`` (in this order).
    """
    p = np.linalg.norm(momentum, axis=1)
    direction = momentum / p[:, None]
    # an orthonormal pair perpendicular to the direction
    helper = np.where(np.abs(direction[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(direction, e1)
    angles = rng.standard_normal((len(p), 2)) * theta0[:, None]
    new = direction + angles[:, :1] * e1 + angles[:, 1:] * e2
    new /= np.linalg.norm(new, axis=1)[:, None]
    return new * p[:, None]


def lose_energy(momentum: np.ndarray, mass_gev: np.ndarray, path_mm: np.ndarray) -> np.ndarray:
    """Momentum (n, 3) after the mean ionisation loss over ``path_mm`` of silicon (never below 1 MeV)."""
    p = np.linalg.norm(momentum, axis=1)
    energy = np.hypot(p, mass_gev) - SILICON_DEDX_GEV_PER_MM * path_mm
    new_p = np.sqrt(np.maximum(energy**2 - mass_gev**2, 1e-6))
    return momentum * (new_p / p)[:, None]
