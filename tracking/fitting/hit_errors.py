"""Measurement errors sigma_u, sigma_v (mm) of TrackML hits, measured on the real data.

Source: ``benchmarks/hit_errors.py`` on the real sample event (4698 true hits): the residual of each hit
from its true crossing point (truth ``tx, ty, tz``) in the module's local (u, v), RMS within 5 robust sigma.
No fit is involved. Findings, against the pitch / sqrt(12) of a binary pixel:

- single-cell clusters match pitch / sqrt(12) within about 10% in u (pixels 0.0144 mm, measured 0.013;
  short strips 0.023, measured 0.019-0.021);
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
"""

from __future__ import annotations

import numpy as np

#: volume -> (sigma_u for n_u = 1, 2, 3, >= 4 cells; sigma_v for n_v = 1, ..., 5, >= 6 cells), mm
CLUSTER_SIGMAS_MM = {
    7: ((0.0134, 0.0128, 0.0128, 0.0128), (0.0104, 0.0076, 0.0076, 0.0076, 0.0076, 0.0076)),
    8: ((0.0130, 0.0101, 0.0093, 0.0093), (0.0120, 0.0046, 0.0025, 0.0028, 0.0029, 0.0047)),
    9: ((0.0136, 0.0114, 0.0114, 0.0114), (0.0096, 0.0077, 0.0077, 0.0077, 0.0077, 0.0077)),
    12: ((0.0189, 0.0134, 0.0134, 0.0132), (0.3188, 0.1161, 0.1161, 0.1161, 0.1161, 0.1161)),
    13: ((0.0206, 0.0220, 0.0205, 0.0235), (0.2827, 0.1689, 0.1689, 0.1689, 0.1689, 0.1689)),
    14: ((0.0183, 0.0113, 0.0113, 0.0113), (0.3050, 0.1134, 0.1134, 0.1134, 0.1134, 0.1134)),
    16: ((0.0246, 0.0263, 0.0256, 0.0216), (3.0116,) * 6),
    17: ((0.0268, 0.0308, 0.0278, 0.0272), (3.0679,) * 6),
    18: ((0.0269, 0.0226, 0.0226, 0.0225), (2.7093,) * 6),
}

#: volume -> (sigma_u, sigma_v) mm over all cluster sizes: the model for hits without cells
VOLUME_SIGMAS_MM = {
    7: (0.0133, 0.0090), 8: (0.0109, 0.0050), 9: (0.0134, 0.0087),
    12: (0.0170, 0.3052), 13: (0.0216, 0.2608), 14: (0.0171, 0.2933),
    16: (0.0246, 2.9903), 17: (0.0288, 3.0626), 18: (0.0237, 2.6543),
}

HIT_ERROR_MODELS = ("trackml", "pitch")


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
        model: "trackml" (measured, see the module docstring) or "pitch" (pitch / sqrt(12)).
    """
    pitch_u, pitch_v = np.asarray(pitch_u, dtype=np.float64), np.asarray(pitch_v, dtype=np.float64)
    sigma_u, sigma_v = pitch_u / np.sqrt(12.0), pitch_v / np.sqrt(12.0)
    if model == "pitch":
        return sigma_u, sigma_v
    if model != "trackml":
        raise ValueError(f"hit error model {model!r} is not one of {', '.join(HIT_ERROR_MODELS)}")
    default = _lookup(volume, VOLUME_SIGMAS_MM, 2)
    meas_u, meas_v = default[:, 0], default[:, 1]
    if n_u is not None and n_v is not None:
        clusters = _lookup(volume, {k: tuple(u) + tuple(v) for k, (u, v) in CLUSTER_SIGMAS_MM.items()}, 10)
        n_u, n_v = np.asarray(n_u, dtype=np.float64), np.asarray(n_v, dtype=np.float64)
        has = np.isfinite(n_u) & np.isfinite(n_v) & (n_u >= 1) & (n_v >= 1)
        rows = np.arange(len(pitch_u))
        iu = np.clip(np.nan_to_num(n_u, nan=1.0).astype(np.int64), 1, 4) - 1
        iv = np.clip(np.nan_to_num(n_v, nan=1.0).astype(np.int64), 1, 6) - 1
        meas_u = np.where(has, clusters[rows, iu], meas_u)
        meas_v = np.where(has, clusters[rows, 4 + iv], meas_v)
    return np.where(meas_u > 0, meas_u, sigma_u), np.where(meas_v > 0, meas_v, sigma_v)
