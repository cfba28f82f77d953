"""Material effects of a silicon module crossing: multiple scattering and (optional) energy loss.

Units: GeV, mm, rad. All functions are vectorised over crossings.

Multiple scattering uses the Highland formula with the Lynch-Dahl logarithm (PDG Review of Particle
Physics, "Passage of particles through matter", eq. 34.15):

    theta_0 = 13.6 MeV / (beta c p) * |z| * sqrt(x / X0) * (1 + 0.038 ln(x z^2 / (X0 beta^2)))

with x the path in silicon, X0(Si) = 93.7 mm. The module thickness is 2 * module_t (module_t is the
half-thickness in detectors.csv), divided by |cos| of the angle between the track and the module
normal. The two projected deflection angles are independent Gaussians of width theta_0.

Energy loss is the mean loss of a minimum-ionising particle in silicon,
dE/dx = 1.664 MeV cm^2/g * 2.329 g/cm^3 = 0.3876 MeV/mm (PDG), applied as a constant.

The layers of the real detector hold more than their sensors (supports, cooling, cables):
:data:`TRACKML_LAYER_MATERIAL_MM` gives each layer's silicon-equivalent thickness measured on the
real sample event, used for the first module of each layer crossing (overlap modules of the same
crossing get their own silicon only). :func:`unrecorded_end_probability` models particles of the
challenge data that end without recorded products.
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


#: Silicon-equivalent material (mm, at normal incidence) of each TrackML layer (volume_id, layer_id):
#: sensors plus supports and services, as seen by the challenge's own simulation. MEASURED (not
#: fitted) on the real sample event event000000001: the median momentum loss between a particle's
#: hit on the previous layer and its hit on this layer (truth tpx, tpy, tpz), times the cosine of
#: the incidence angle, divided by the silicon dE/dx (0.3876 MeV/mm). Layers with fewer than 15
#: such steps use their volume's median; (8, 2) uses the loss from the vertex to the first hit
#: (beam pipe included). Used for both energy loss and multiple scattering (X0 of silicon): for the
#: pixel barrel the scattering angles measured in the same event agree (x/X0 = 1.6 %); for the strip
#: barrels they suggest up to 1.5x more x/X0, so the scattering there is somewhat underestimated.
TRACKML_LAYER_MATERIAL_MM = {
    (7, 2): 1.27, (7, 4): 0.15, (7, 6): 0.22, (7, 8): 0.31, (7, 10): 0.35, (7, 12): 0.22, (7, 14): 2.91,
    (8, 2): 0.31, (8, 4): 0.91, (8, 6): 1.04, (8, 8): 1.15,
    (9, 2): 2.79, (9, 4): 0.18, (9, 6): 0.15, (9, 8): 1.18, (9, 10): 1.21, (9, 12): 1.19, (9, 14): 1.23,
    (12, 2): 2.57, (12, 4): 2.58, (12, 6): 2.26, (12, 8): 2.37, (12, 10): 2.36, (12, 12): 2.71,
    (13, 2): 3.28, (13, 4): 1.58, (13, 6): 1.5, (13, 8): 1.5,
    (14, 2): 2.59, (14, 4): 2.64, (14, 6): 2.56, (14, 8): 2.22, (14, 10): 2.28, (14, 12): 2.65,
    (16, 2): 3.56, (16, 4): 3.56, (16, 6): 3.56, (16, 8): 3.17, (16, 10): 3.8, (16, 12): 4.58,
    (17, 2): 2.01, (17, 4): 2.15,
    (18, 2): 2.77, (18, 4): 3.15, (18, 6): 2.82, (18, 8): 2.82, (18, 10): 2.82, (18, 12): 2.82,
}  # fmt: skip


def layer_material_mm(layer_volume, layer_id) -> np.ndarray:
    """Effective silicon-equivalent thickness (mm) of each (volume, layer) pair given as two arrays
    (e.g. one per hit); unknown layers get 0.3 mm."""
    import pandas as pd

    keys = pd.MultiIndex.from_arrays([np.asarray(layer_volume, dtype=np.int64), np.asarray(layer_id, dtype=np.int64)])
    return pd.Series(TRACKML_LAYER_MATERIAL_MM, dtype=np.float64).reindex(keys).fillna(0.3).to_numpy()


#: Probability that a charged particle ends after a hit without any recorded daughter,
#: p(pT) = END_CONSTANT + END_PER_PT2 / pT^2 (pT in GeV at the hit), capped at 0.5. FITTED to the
#: real sample event (event000000001): of its 466 particles without a recorded daughter vertex,
#: 126 stop while the exact helix from their last real hit (truth position and momentum, no
#: scattering) still crosses modules; per hit, in pT bins (0-0.2, 0.2-0.3, 0.3-0.4, 0.4-0.6, 0.6-1,
#: > 1 GeV): 0.112, 0.043, 0.026, 0.012, 0.009, 0.011. This lumps the challenge simulation's
#: hadronic interactions and decays whose products are not in particles.csv (which only lists
#: particles above pT = 0.1 GeV) and its low-momentum losses.
END_CONSTANT = 0.010
END_PER_PT2 = 0.0022


def unrecorded_end_probability(pt_gev) -> np.ndarray:
    """Per-hit probability (see :data:`END_PER_PT2`) that a particle ends without recorded products."""
    pt = np.maximum(np.asarray(pt_gev, dtype=np.float64), 1e-3)
    return np.minimum(END_CONSTANT + END_PER_PT2 / pt**2, 0.5)
