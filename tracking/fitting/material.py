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

The real data's barrel is different (``transverse``): in the TrackML truth the momentum lost and the scattering
angle at a barrel layer hardly grow with the polar crossing angle (``benchmarks/scattering_material.py``, its
``by_cos`` table): the median loss per pixel-barrel layer is 0.63-0.67 MeV at |cos| 0.3-1 of the module normal
(0.92 MeV below 0.3), per short-strip layer 0.82-0.95 MeV at all |cos|, while the path 1 / |cos| grows from 1.1 to
2.4 (4.6); the scattering angle over Highland's theta_0 of the transverse path stays 1.6-1.8 and 1.1-1.2 at |cos| >
0.3 (its plain-path ratio falls by half). With ``transverse`` set for a crossing (the fitter sets it on the barrel
modules of real data, ``material_model="trackml"``), the path is the thickness over |cos| of the angle between the
module normal and the track's *transverse* direction: the crossing angle in phi (module tilt, curvature) lengthens
it, the polar angle does not.
"""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.simulation.material import SILICON_DEDX_GEV_PER_MM, SILICON_X0_MM, highland_theta0

MUON_MASS_GEV = 0.1056584


def crossing_cos(direction, normals, transverse=None) -> np.ndarray:
    """|cos| (n,) of the angle between the unit ``direction`` (n, 3) and the plane normals (n, 3), floored at
    1e-3; where ``transverse`` (n,) bool is True, of the angle to the direction's transverse part (x, y)."""
    cos_w = direction[:, 0] * normals[:, 0] + direction[:, 1] * normals[:, 1] + direction[:, 2] * normals[:, 2]
    if transverse is not None:
        d_t = np.sqrt(np.maximum(direction[:, 0] ** 2 + direction[:, 1] ** 2, 1e-24))
        cos_t = (direction[:, 0] * normals[:, 0] + direction[:, 1] * normals[:, 1]) / d_t
        cos_w = np.where(transverse, cos_t, cos_w)
    return np.maximum(np.abs(cos_w), 1e-3)


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
                              x0_mm: float = SILICON_X0_MM, transverse=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scattering_variance` for a unit ``direction`` (n, 3) of the track at the module; ``transverse``
    (n,) bool: crossings whose path ignores the polar angle (:func:`crossing_cos`)."""
    path = thickness_mm / crossing_cos(direction, normals, transverse)
    p = 1.0 / np.maximum(np.abs(qop), 1e-9)
    theta0 = np.where(path > 0, highland_theta0(p, mass_gev, 1.0, np.maximum(path, 1e-12), x0_mm), 0.0)
    var_theta = theta0**2
    sin2_theta = direction[:, 0] ** 2 + direction[:, 1] ** 2
    return var_theta / np.maximum(sin2_theta, 1e-12), var_theta


def crossing_path_mm(direction, normals, thickness_mm, transverse=None) -> np.ndarray:
    """Path (n,) mm through material of ``thickness_mm`` (n,) at normal incidence, crossed along the unit
    ``direction`` (n, 3) through a plane of unit normal ``normals`` (n, 3) (|cos| floored at 1e-3; ``transverse``:
    see :func:`crossing_cos`)."""
    return thickness_mm / crossing_cos(direction, normals, transverse)


def qop_after_loss(qop, path_mm, mass_gev: float = MUON_MASS_GEV) -> np.ndarray:
    """q/p (e/GeV) after the mean ionisation loss dE = SILICON_DEDX_GEV_PER_MM * path (|p| >= 1 MeV)."""
    p = 1.0 / np.maximum(np.abs(qop), 1e-9)
    energy = np.hypot(p, mass_gev) - SILICON_DEDX_GEV_PER_MM * path_mm
    new_p = np.sqrt(np.maximum(energy**2 - mass_gev**2, 1e-6))
    return np.sign(qop) / new_p


#: Effective scattering material (mm of silicon at normal incidence) of each TrackML layer, MEASURED by
#: ``benchmarks/scattering_material.py`` on the real sample event: the width of the angle change between
#: consecutive true hits (truth momentum at a carried to b by the fitter's propagator in the real data's field,
#: :data:`~gnn4hep.tracking.field.TRACKML_FIELD`, the solenoid with its axis off the beam line) over the Highland
#: theta_0 of the energy-loss material, turned into a thickness. The width is the RMS within 5 robust sigma (the
#: variance the Kalman fit adds), not the core (MAD) width of the former table, which left out the
#: single-scattering tails (1.1-1.2 times the core in the barrels, 1.3-1.5 in the pixel end-caps): with it the
#: real refit's pulls of phi, d0 and q/p were 1.14-1.19 and 1.75 wide. In the barrel the path is the transverse
#: one (:func:`crossing_cos`). Layers with < 20 segments take their volume's median (or the energy-loss
#: value). The beam pipe: :mod:`~gnn4hep.tracking.fitting.beam_pipe`.
TRACKML_SCATTERING_MATERIAL_MM = {
    (7, 2): 0.99, (7, 4): 1.22, (7, 6): 0.84, (7, 8): 0.59, (7, 10): 1.12, (7, 12): 1.34, (7, 14): 0.85,
    (8, 2): 1.61, (8, 4): 1.59, (8, 6): 1.73, (8, 8): 3.37,
    (9, 2): 0.64, (9, 4): 0.71, (9, 6): 0.61, (9, 8): 0.84, (9, 10): 0.72, (9, 12): 1.51, (9, 14): 0.72,
    (12, 4): 1.55, (12, 6): 1.77, (12, 8): 2.73, (12, 10): 2.38, (12, 12): 2.54,
    (13, 2): 2.23, (13, 4): 2.35, (13, 6): 2.24, (13, 8): 2.41,
    (14, 2): 2.75, (14, 4): 4.23, (14, 6): 1.98, (14, 8): 2.38, (14, 10): 3.25,
    (16, 4): 3.56, (16, 6): 3.56, (16, 8): 3.17, (16, 10): 3.8, (16, 12): 4.58,
    (17, 2): 2.56,
    (18, 2): 2.77, (18, 4): 3.15, (18, 6): 2.82, (18, 8): 2.82, (18, 10): 2.82,
}  # fmt: skip

#: Energy-loss material (mm of silicon at normal incidence, times the silicon dE/dx
#: :data:`~gnn4hep.tracking.simulation.material.SILICON_DEDX_GEV_PER_MM`) of each TrackML layer, MEASURED by
#: ``benchmarks/scattering_material.py`` on the real sample event: the truth momentum lost between consecutive
#: hits on different layers, at normal incidence (the barrel's transverse path, :func:`crossing_cos`), its mean
#: below 5 times the median (the Landau tail of single hard collisions cut). It replaces the simulator's table
#: (median losses with a 1 / |cos| path) times 1.3, which the fitter used before: that model lost 12 % too little
#: on central tracks and 26 % too much at |eta| 1-2 (the barrel's loss does not grow with the polar angle), and
#: the refit's momenta came out 0.5 % low at |eta| < 1 (q x (q/p pull) +0.63 +- 0.15). Layers with < 20
#: segments take their volume's median, or the simulator's value.
TRACKML_LOSS_MATERIAL_MM = {
    (7, 2): 1.08, (7, 4): 1.11, (7, 6): 1.04, (7, 8): 1.05, (7, 10): 1.13, (7, 12): 1.21, (7, 14): 1.0,
    (8, 2): 1.86, (8, 4): 1.93, (8, 6): 2.2, (8, 8): 5.38,
    (9, 2): 0.34, (9, 4): 0.31, (9, 6): 0.98, (9, 8): 1.07, (9, 10): 1.1, (9, 12): 1.14, (9, 14): 1.02,
    (12, 4): 2.7, (12, 6): 2.7, (12, 8): 3.55, (12, 10): 2.78, (12, 12): 2.29,
    (13, 2): 2.28, (13, 4): 2.41, (13, 6): 2.24, (13, 8): 2.93,
    (14, 2): 3.86, (14, 4): 2.76, (14, 6): 2.48, (14, 8): 2.06, (14, 10): 3.53,
    (16, 4): 3.56, (16, 6): 3.56, (16, 8): 3.17, (16, 10): 3.8, (16, 12): 4.58,
    (17, 2): 3.35,
    (18, 2): 2.77, (18, 4): 3.15, (18, 6): 2.82, (18, 8): 2.82, (18, 10): 2.82,
}  # fmt: skip


def _layer_lookup(table: dict, layer_volume, layer_id) -> np.ndarray:
    """Values of ``table`` for each (volume, layer) pair; unknown layers get the simulator's energy-loss material
    (:func:`~gnn4hep.tracking.simulation.material.layer_material_mm`)."""
    import pandas as pd

    from gnn4hep.tracking.simulation.material import layer_material_mm

    keys = pd.MultiIndex.from_arrays([np.asarray(layer_volume, dtype=np.int64), np.asarray(layer_id, dtype=np.int64)])
    values = pd.Series(table, dtype=np.float64).reindex(keys).to_numpy()
    return np.where(np.isfinite(values), values, layer_material_mm(layer_volume, layer_id))


def loss_material_mm(layer_volume, layer_id) -> np.ndarray:
    """Energy-loss thickness (mm) of each (volume, layer) pair (:data:`TRACKML_LOSS_MATERIAL_MM`)."""
    return _layer_lookup(TRACKML_LOSS_MATERIAL_MM, layer_volume, layer_id)


def scattering_material_mm(layer_volume, layer_id) -> np.ndarray:
    """Effective scattering thickness (mm) of each (volume, layer) pair; unknown layers get the simulator's
    energy-loss material (:func:`~gnn4hep.tracking.simulation.material.layer_material_mm`)."""
    return _layer_lookup(TRACKML_SCATTERING_MATERIAL_MM, layer_volume, layer_id)
