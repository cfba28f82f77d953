"""Digitisation: true module crossings to measured hits and pixel cells, plus noise hits.

``clusters`` (default): the straight path of the particle through the sensor (thickness
2 * module_t, entry and exit at local w = -t and +t) is sampled finely; every pixel (pitch_u x
pitch_v, numbered ch0 along u and ch1 along v from the module's -u, -v corner) the path crosses
becomes a cell whose ``value`` is the fraction of the path inside it. The measured position is the
value-weighted mean of the cell centres, mapped back to the module mid-plane. For a one-pixel
cluster the error is uniform over the pixel: RMS pitch / sqrt(12).
``smear``: Gaussian local smearing by pitch / sqrt(12) in u and v, one cell per hit.

Noise hits are uniform over the sensitive area of modules chosen uniformly, with one cell each.
Units: mm, GeV. Shapes: n hits, arrays (n,) or (n, 3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.simulation.geometry_index import GeometryIndex

MAX_SAMPLES = 256  # samples per hit along its path through the sensor

#: Noise hits per (volume_id, layer_id) in the real TrackML sample event (event000000001, 829 noise
#: hits): the challenge's noise is concentrated in the outer strip layers. Used as layer weights.
TRACKML_NOISE_PER_LAYER = {
    (7, 2): 11, (7, 4): 5, (7, 6): 6, (7, 8): 7, (7, 10): 2, (7, 12): 5, (7, 14): 1,
    (8, 2): 8, (8, 4): 12, (8, 6): 30, (8, 8): 32,
    (9, 2): 3, (9, 4): 5, (9, 6): 6, (9, 8): 3, (9, 10): 7, (9, 12): 4, (9, 14): 5,
    (12, 2): 7, (12, 4): 10, (12, 6): 7, (12, 8): 3, (12, 10): 13, (12, 12): 14,
    (13, 2): 39, (13, 4): 55, (13, 6): 61, (13, 8): 91,
    (14, 2): 2, (14, 4): 9, (14, 6): 12, (14, 8): 9, (14, 10): 9, (14, 12): 8,
    (16, 2): 6, (16, 4): 4, (16, 6): 3, (16, 8): 3, (16, 10): 6, (16, 12): 2,
    (17, 2): 122, (17, 4): 144,
    (18, 2): 5, (18, 4): 7, (18, 6): 8, (18, 8): 7, (18, 10): 4, (18, 12): 7,
}  # fmt: skip


def to_local(index: GeometryIndex, module: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Local (u, v, w) mm of global ``position`` (n, 3) on ``module`` (n,)."""
    return np.einsum("nji,nj->ni", index.rotations[module], position - index.centers[module])


def to_global(index: GeometryIndex, module: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Global (x, y, z) mm of ``local`` (n, 3) on ``module`` (n,)."""
    return np.einsum("nij,nj->ni", index.rotations[module], local) + index.centers[module]


def _pixel_grid(index: GeometryIndex, module: np.ndarray):
    pitch_u, pitch_v = index.pitch_u[module], index.pitch_v[module]
    n_u = np.maximum(np.ceil(2 * index.max_hu[module] / pitch_u).astype(np.int64), 1)
    n_v = np.maximum(np.ceil(2 * index.hv[module] / pitch_v).astype(np.int64), 1)
    return pitch_u, pitch_v, n_u, n_v


def clusters(index: GeometryIndex, module: np.ndarray, position: np.ndarray, momentum: np.ndarray):
    """Pixel clusters of true crossings. Returns (measured (n, 3) mm, cells DataFrame with columns
    ``hit`` (row 0..n-1), ``ch0``, ``ch1``, ``value``)."""
    n = len(module)
    local = to_local(index, module, position)
    direction = np.einsum("nji,nj->ni", index.rotations[module], momentum)
    half_t = index.half_thickness[module]
    dw = np.where(np.abs(direction[:, 2]) < 1e-9, 1e-9, direction[:, 2])
    half_span = direction[:, :2] * (half_t / dw)[:, None]  # (du, dv) from mid-plane to w = +t
    pitch_u, pitch_v, n_u, n_v = _pixel_grid(index, module)
    n_samples = np.clip(
        np.ceil(2 * np.maximum(np.abs(half_span[:, 0]) / pitch_u, np.abs(half_span[:, 1]) / pitch_v) * 4).astype(np.int64) + 1,
        1, MAX_SAMPLES,
    )  # fmt: skip
    hit = np.repeat(np.arange(n), n_samples)
    first = np.concatenate([[0], np.cumsum(n_samples)[:-1]])
    k = np.arange(len(hit)) - first[hit]
    fraction = np.where(n_samples[hit] > 1, (k + 0.5) / n_samples[hit] * 2 - 1, 0.0)  # -1..1
    u = local[hit, 0] + fraction * half_span[hit, 0]
    v = local[hit, 1] + fraction * half_span[hit, 1]
    ch0 = np.clip(np.floor((u + index.max_hu[module][hit]) / pitch_u[hit]).astype(np.int64), 0, n_u[hit] - 1)
    ch1 = np.clip(np.floor((v + index.hv[module][hit]) / pitch_v[hit]).astype(np.int64), 0, n_v[hit] - 1)
    key = (hit * (1 << 20) + ch0) * (1 << 20) + ch1
    unique, counts = np.unique(key, return_counts=True)
    cell_hit = unique >> 40
    cell_ch0 = (unique >> 20) & ((1 << 20) - 1)
    cell_ch1 = unique & ((1 << 20) - 1)
    value = counts / n_samples[cell_hit]
    centre_u = (cell_ch0 + 0.5) * pitch_u[cell_hit] - index.max_hu[module][cell_hit]
    centre_v = (cell_ch1 + 0.5) * pitch_v[cell_hit] - index.hv[module][cell_hit]
    measured_local = np.zeros((n, 3))
    measured_local[:, 0] = np.bincount(cell_hit, value * centre_u, minlength=n)
    measured_local[:, 1] = np.bincount(cell_hit, value * centre_v, minlength=n)
    cells = pd.DataFrame({"hit": cell_hit, "ch0": cell_ch0, "ch1": cell_ch1, "value": value})
    return to_global(index, module, measured_local), cells


def smear(index: GeometryIndex, module: np.ndarray, position: np.ndarray, rng: np.random.Generator):
    """Gaussian smearing by pitch / sqrt(12) in local u and v; one cell per hit."""
    local = to_local(index, module, position)
    pitch_u, pitch_v, n_u, n_v = _pixel_grid(index, module)
    noise = rng.standard_normal((len(module), 2)) * np.stack([pitch_u, pitch_v], axis=1) / np.sqrt(12.0)
    local[:, :2] += noise
    local[:, 2] = 0.0
    ch0 = np.clip(np.floor((local[:, 0] + index.max_hu[module]) / pitch_u), 0, n_u - 1).astype(np.int64)
    ch1 = np.clip(np.floor((local[:, 1] + index.hv[module]) / pitch_v), 0, n_v - 1).astype(np.int64)
    cells = pd.DataFrame({"hit": np.arange(len(module)), "ch0": ch0, "ch1": ch1, "value": 1.0})
    return to_global(index, module, local), cells


def noise_hits(index: GeometryIndex, n: int, rng: np.random.Generator, distribution: str = "trackml"):
    """``n`` noise hits: (module (n,), position (n, 3) mm on the module plane, cells DataFrame).

    ``distribution``: ``"trackml"`` spreads them over layers like the challenge data
    (:data:`TRACKML_NOISE_PER_LAYER`), then uniformly over the modules of the layer; ``"uniform"``
    picks modules uniformly.
    """
    if distribution == "uniform":
        module = rng.integers(0, len(index.hv), n)
    else:
        weights = np.array([TRACKML_NOISE_PER_LAYER.get((int(v), int(l)), 1)
                            for v, l in zip(index.layer_volume, index.layer_id)], dtype=float)  # fmt: skip
        layer = rng.choice(len(weights), size=n, p=weights / weights.sum())
        n_in_layer = np.bincount(index.module_layer, minlength=len(weights))
        first = np.concatenate([[0], np.cumsum(n_in_layer)[:-1]])
        by_layer = np.argsort(index.module_layer, kind="stable")
        module = by_layer[first[layer] + (rng.random(n) * n_in_layer[layer]).astype(np.int64)]
    v = rng.uniform(-1, 1, n) * index.hv[module]
    half_u = index.min_hu[module] + (index.max_hu[module] - index.min_hu[module]) * (v + index.hv[module]) / (2 * index.hv[module])
    u = rng.uniform(-1, 1, n) * half_u
    position = to_global(index, module, np.stack([u, v, np.zeros(n)], axis=1))
    pitch_u, pitch_v, n_u, n_v = _pixel_grid(index, module)
    ch0 = np.clip(np.floor((u + index.max_hu[module]) / pitch_u), 0, n_u - 1).astype(np.int64)
    ch1 = np.clip(np.floor((v + index.hv[module]) / pitch_v), 0, n_v - 1).astype(np.int64)
    cells = pd.DataFrame({"hit": np.arange(n), "ch0": ch0, "ch1": ch1, "value": rng.uniform(0.05, 1.0, n)})
    return module, position, cells
