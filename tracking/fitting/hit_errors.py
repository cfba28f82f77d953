"""Measurement errors sigma_u, sigma_v (mm) of TrackML hits, measured on the real data.

Source: ``benchmarks/hit_errors.py`` on the real sample event (4698 true hits): the residual of each hit
from its true crossing point (truth ``tx, ty, tz``) in the module's local (u, v), RMS within 5 robust sigma.
No fit is involved. Findings, against the pitch / sqrt(12) of a binary pixel:

- the barrel clusters are shifted along u by a constant (a Lorentz drift): +9.1 um in the pixel barrel
  (volume 8), -14.4 and -15.7 um in the strip barrels (13, 17), as large as the errors themselves;
  :data:`OFFSETS_MM` is subtracted from the measurements. Without the shift the pixel barrel's sigma_u is
  0.006 mm, not 0.011;
- single-cell clusters match pitch / sqrt(12) within about 10-40% in u (pixel end-caps 0.0144 mm,
  measured 0.013; short strips 0.023, measured 0.015-0.019);
- multi-cell clusters are *more* precise, not less (charge sharing): in the pixel barrel (volume 8)
  sigma_v is 0.012 mm for one cell along v and 0.0025-0.005 mm for 2-6 cells (pitch / sqrt(12) = 0.016);
  in the short-strip end-caps (12, 14) sigma_v falls from 0.31 to 0.11 mm with two cells. Scaling the
  error with the cluster extent (the old ``cluster_errors``) is therefore wrong;
- along the strips (volumes 16-18, pitch_v 10.4-10.8 mm) sigma_v is pitch_v / sqrt(12) (about 3 mm).

Hits with cells use :data:`CLUSTER_SIGMAS_MM` (per volume and cluster size, clipped at 4 cells in u and
6 in v; sizes with under 20 hits take the next smaller size's value). Hits without cells (event 1001 has
none) use :data:`VOLUME_SIGMAS_MM`, the RMS over all cluster sizes of the volume, for every layer of it:
per (volume, layer) the figures (30-250 hits each) scatter about the volume's by their statistical error
only. Modules outside these volumes, or a zero table entry, fall back to pitch / sqrt(12).

``model="simulated"``: the same tables measured on our own simulator's clusters
(``benchmarks/hit_errors.py --simulated``: 25,856 true hits of a mu = 50 Pythia event), for events made by
``gnn4hep simulate`` with the geometric ``clusters`` digitisation (events with the default ``trackml`` response,
which reproduces the real cells and offsets, get the ``trackml`` tables). No offsets (no Lorentz drift), and a floor
of :data:`SIMULATED_FLOOR_MM` = 5 um: the simulator's multi-cell clusters weight the cells by the straight
path's length in each, so two or more cells give residuals of 0-5 um (pixel barrel sigma_v: 1.5 um over all
sizes). Pitch / sqrt(12) is right for single cells only; across the pixel barrel the RMS is 5.7 um in u and
1.5 um in v against 14 and 16 um.
"""

from __future__ import annotations

import numpy as np

#: volume -> mean (du, dv) mm of the reconstructed minus the true position: a systematic shift of the
#: barrel clusters along u (a Lorentz drift), subtracted from the measurements; means within 3 standard
#: errors of zero are set to zero
OFFSETS_MM = {8: (0.0091, 0.0), 13: (-0.0144, 0.0), 17: (-0.0157, 0.0)}

#: volume -> (sigma_u for n_u = 1, 2, 3, >= 4 cells; sigma_v for n_v = 1, ..., 5, >= 6 cells), mm, about the offset
CLUSTER_SIGMAS_MM = {
    7: ((0.0134, 0.0128, 0.0128, 0.0128), (0.0104, 0.0076, 0.0076, 0.0076, 0.0076, 0.0076)),
    8: ((0.0090, 0.0041, 0.0024, 0.0024), (0.0120, 0.0046, 0.0025, 0.0028, 0.0029, 0.0047)),
    9: ((0.0136, 0.0114, 0.0114, 0.0114), (0.0096, 0.0077, 0.0077, 0.0077, 0.0077, 0.0077)),
    12: ((0.0189, 0.0134, 0.0134, 0.0132), (0.3188, 0.1161, 0.1161, 0.1161, 0.1161, 0.1161)),
    13: ((0.0154, 0.0163, 0.0153, 0.0172), (0.2827, 0.1689, 0.1689, 0.1689, 0.1689, 0.1689)),
    14: ((0.0183, 0.0113, 0.0113, 0.0113), (0.3050, 0.1134, 0.1134, 0.1134, 0.1134, 0.1134)),
    16: ((0.0246, 0.0263, 0.0256, 0.0216), (3.0116,) * 6),
    17: ((0.0186, 0.0262, 0.0230, 0.0239), (3.0679,) * 6),
    18: ((0.0269, 0.0226, 0.0226, 0.0225), (2.7093,) * 6),
}

#: volume -> (sigma_u, sigma_v) mm over all cluster sizes, about the offset: the model for hits without cells
VOLUME_SIGMAS_MM = {
    7: (0.0133, 0.0090), 8: (0.0059, 0.0050), 9: (0.0134, 0.0087),
    12: (0.0170, 0.3052), 13: (0.0160, 0.2608), 14: (0.0171, 0.2933),
    16: (0.0246, 2.9903), 17: (0.0241, 3.0626), 18: (0.0237, 2.6543),
}

#: the lowest error (mm) of the ``simulated`` model
SIMULATED_FLOOR_MM = 0.005

#: volume -> (sigma_u by n_u = 1, 2, 3, >= 4; sigma_v by n_v = 1, ..., 5, >= 6), mm, of the simulator's clusters
SIMULATED_CLUSTER_SIGMAS_MM = {
    7: ((0.0141, 0.0079, 0.0079, 0.0079), (0.0121, 0.005, 0.005, 0.005, 0.005, 0.005)),
    8: ((0.0102, 0.005, 0.005, 0.005), (0.0119, 0.005, 0.005, 0.005, 0.005, 0.005)),
    9: ((0.0139, 0.0084, 0.0084, 0.0084), (0.0124, 0.0053, 0.0053, 0.0053, 0.0053, 0.0053)),
    12: ((0.0207, 0.0063, 0.005, 0.005), (0.3228, 0.1943, 0.1943, 0.1943, 0.1943, 0.1943)),
    13: ((0.0178, 0.0063, 0.005, 0.005), (0.2791, 0.1507, 0.0507, 0.0507, 0.0507, 0.0507)),
    14: ((0.0198, 0.0062, 0.005, 0.005), (0.3248, 0.2023, 0.2023, 0.2023, 0.2023, 0.2023)),
    16: ((0.0252, 0.0087, 0.0064, 0.005), (2.8555,) * 6),
    17: ((0.0268, 0.0085, 0.0057, 0.005), (3.077, 2.7047, 2.7047, 2.7047, 2.7047, 2.7047)),
    18: ((0.0235, 0.0092, 0.0057, 0.005), (2.881,) * 6),
}

#: volume -> (sigma_u, sigma_v) mm over all cluster sizes of the simulator's clusters (hits without cells)
SIMULATED_VOLUME_SIGMAS_MM = {
    7: (0.0138, 0.0101), 8: (0.0057, 0.005), 9: (0.0137, 0.0106),
    12: (0.0175, 0.3161), 13: (0.0061, 0.241), 14: (0.0165, 0.3186),
    16: (0.011, 2.8486), 17: (0.005, 3.0674), 18: (0.014, 2.8768),
}

HIT_ERROR_MODELS = ("trackml", "pitch", "simulated")
_TABLES = {"trackml": (CLUSTER_SIGMAS_MM, VOLUME_SIGMAS_MM),
           "simulated": (SIMULATED_CLUSTER_SIGMAS_MM, SIMULATED_VOLUME_SIGMAS_MM)}


def _lookup(volume: np.ndarray, table: dict, width: int) -> np.ndarray:
    """(n, width) rows of ``table`` per volume, zeros for volumes it lacks."""
    volumes = np.asarray(volume, dtype=np.int64)
    out = np.zeros((len(volumes), width))
    for key, row in table.items():
        out[volumes == key] = np.ravel(row)
    return out


def hit_sigmas(volume, pitch_u, pitch_v, n_u=None, n_v=None, model: str = "trackml") -> tuple[np.ndarray, np.ndarray]:
    """sigma_u, sigma_v (n,) in mm.

    Args:
        volume: (n,) volume ids; pitch_u, pitch_v: (n,) module pitches (mm).
        n_u, n_v: (n,) distinct cells of each cluster along u and v, or None when the hits have no cells
            (NaN entries: hits without cells among others).
        model: "trackml" (measured on real clusters, see the module docstring), "simulated" (measured on the
            simulator's clusters) or "pitch" (pitch / sqrt(12)).
    """
    pitch_u, pitch_v = np.asarray(pitch_u, dtype=np.float64), np.asarray(pitch_v, dtype=np.float64)
    sigma_u, sigma_v = pitch_u / np.sqrt(12.0), pitch_v / np.sqrt(12.0)
    if model == "pitch":
        return sigma_u, sigma_v
    if model not in _TABLES:
        raise ValueError(f"hit error model {model!r} is not one of {', '.join(HIT_ERROR_MODELS)}")
    cluster_table, volume_table = _TABLES[model]
    default = _lookup(volume, volume_table, 2)
    meas_u, meas_v = default[:, 0], default[:, 1]
    if n_u is not None and n_v is not None:
        clusters = _lookup(volume, {k: tuple(u) + tuple(v) for k, (u, v) in cluster_table.items()}, 10)
        n_u, n_v = np.asarray(n_u, dtype=np.float64), np.asarray(n_v, dtype=np.float64)
        has = np.isfinite(n_u) & np.isfinite(n_v) & (n_u >= 1) & (n_v >= 1)
        rows = np.arange(len(pitch_u))
        iu = np.clip(np.nan_to_num(n_u, nan=1.0).astype(np.int64), 1, 4) - 1
        iv = np.clip(np.nan_to_num(n_v, nan=1.0).astype(np.int64), 1, 6) - 1
        meas_u = np.where(has, clusters[rows, iu], meas_u)
        meas_v = np.where(has, clusters[rows, 4 + iv], meas_v)
    return np.where(meas_u > 0, meas_u, sigma_u), np.where(meas_v > 0, meas_v, sigma_v)


def hit_offsets(volume, model: str = "trackml") -> np.ndarray:
    """(n, 2) systematic shift (du, dv) mm of each hit's measured position (zero unless ``model="trackml"``)."""
    if model != "trackml":
        return np.zeros((len(np.asarray(volume)), 2))
    return _lookup(volume, OFFSETS_MM, 2)
