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


#: The real sample event's total momentum loss along a track over the simulator's layer material's
#: prediction (truth p at the first minus the last hit; 267 pions of p > 0.5 GeV with >= 5 hits): median
#: ratio 1.27-1.30 (kaons 1.33-1.47, protons 1.06-1.27). The layer table was measured with median losses,
#: which lie below the mean of the Landau distribution; the fitter scales its energy-loss material by this.
TRACKML_ENERGY_LOSS_SCALE = 1.3

#: Effective scattering material (mm of silicon at normal incidence) of each TrackML layer, MEASURED by
#: ``benchmarks/scattering_material.py`` on the real sample event: the width of the angle change between
#: consecutive true hits (truth momentum at a carried to b by the fitter's propagator in the real data's field,
#: :data:`~gnn4hep.tracking.field.TRACKML_FIELD`, the solenoid with its axis off the beam line) over the Highland
#: theta_0 of the energy-loss material, turned into a thickness. Pixels and strip barrels (0.3-2.7 mm) agree
#: with the energy-loss material within a factor 1.5-2. In the strip end-caps (volumes 12, 14) it is 1.4-3.9 mm;
#: carried in the on-axis solenoid it was 6-71 mm there, the field model's error acting like scattering (and
#: 0.5-4.8 mm in the pixel end-caps, 0.3-1.2 mm now): the axis offset removed most of that error. Layers with
#: < 20 segments take their volume's median (or the energy-loss value). The beam pipe:
#: :mod:`~gnn4hep.tracking.fitting.beam_pipe`.
TRACKML_SCATTERING_MATERIAL_MM = {
    (7, 2): 0.58, (7, 4): 0.91, (7, 6): 0.51, (7, 8): 0.45, (7, 10): 0.62, (7, 12): 0.76, (7, 14): 0.54,
    (8, 2): 0.57, (8, 4): 0.59, (8, 6): 0.95, (8, 8): 2.71,
    (9, 2): 0.38, (9, 4): 0.31, (9, 6): 0.37, (9, 8): 0.47, (9, 10): 0.38, (9, 12): 1.2, (9, 14): 0.38,
    (12, 4): 1.4, (12, 6): 2.16, (12, 8): 1.49, (12, 10): 2.12, (12, 12): 1.98,
    (13, 2): 1.14, (13, 4): 1.4, (13, 6): 1.6, (13, 8): 2.01,
    (14, 2): 1.81, (14, 4): 2.47, (14, 6): 1.8, (14, 8): 1.64, (14, 10): 3.9,
    (16, 4): 3.56, (16, 6): 3.56, (16, 8): 3.17, (16, 10): 3.8, (16, 12): 4.58,
    (17, 2): 2.0,
    (18, 2): 2.77, (18, 4): 3.15, (18, 6): 2.82, (18, 8): 2.82, (18, 10): 2.82,
}  # fmt: skip


def scattering_material_mm(layer_volume, layer_id) -> np.ndarray:
    """Effective scattering thickness (mm) of each (volume, layer) pair; unknown layers get the simulator's
    energy-loss material (:func:`~gnn4hep.tracking.simulation.material.layer_material_mm`)."""
    import pandas as pd

    from gnn4hep.tracking.simulation.material import layer_material_mm

    keys = pd.MultiIndex.from_arrays([np.asarray(layer_volume, dtype=np.int64), np.asarray(layer_id, dtype=np.int64)])
    table = pd.Series(TRACKML_SCATTERING_MATERIAL_MM, dtype=np.float64).reindex(keys).to_numpy()
    return np.where(np.isfinite(table), table, layer_material_mm(layer_volume, layer_id))
