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

#: Noise hits per volume_id in the real TrackML sample event (event000000001, which has 829 noise
#: hits, particle_id 0, in its truth): the challenge's noise is concentrated in the outer strips.
#: Within a volume the sample's noise is uniform over modules: spreading these counts uniformly over
#: the modules of each volume predicts its 48 per-layer noise counts with chi2 = 41.4 for 39 degrees
#: of freedom, so noise hits pick a volume with these weights and then one of its modules uniformly
#: (a per-layer table would only add Poisson noise: many layers hold 2 to 8 sample noise hits).
TRACKML_NOISE_PER_VOLUME = {7: 37, 8: 82, 9: 33, 12: 54, 13: 246, 14: 49, 16: 24, 17: 266, 18: 38}

#: Noise hits per signal hit in the real full event 1001: its hits file holds 93,680 hits and its
#: particles file sums to 76,210 nhits, so 17,470 hits (18.6% of all) are noise, 0.229 per signal hit.
TRACKML_NOISE_FRACTION = 17_470 / 76_210


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


def _pixel_index(x, half, pitch, n):
    """Pixel number (int64) of local coordinate ``x`` mm along one axis of half-length ``half``,
    pixels of ``pitch`` mm numbered 0..n-1 from -half (clipped into the module)."""
    channel = np.floor((x + half) / pitch).astype(np.int64)
    np.maximum(channel, 0, out=channel)
    return np.minimum(channel, n - 1, out=channel)


def _channels(index: GeometryIndex, module: np.ndarray, u: np.ndarray, v: np.ndarray):
    """Pixel (ch0, ch1) holding local (u, v) mm on ``module``, counted from the -u, -v corner."""
    pitch_u, pitch_v, n_u, n_v = _pixel_grid(index, module)
    return _pixel_index(u, index.max_hu[module], pitch_u, n_u), _pixel_index(v, index.hv[module], pitch_v, n_v)


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
    # the pixel of each sample as in _channels, with the per-hit grid gathered once per sample
    ch0 = _pixel_index(u, index.max_hu[module][hit], pitch_u[hit], n_u[hit])
    ch1 = _pixel_index(v, index.hv[module][hit], pitch_v[hit], n_v[hit])
    # ch0 and ch1 are monotonic along each straight path, so a pixel's samples are consecutive:
    # run-length encoding gives the cells (in path order) without sorting.
    change = np.ones(len(hit), dtype=bool)
    change[1:] = (hit[1:] != hit[:-1]) | (ch0[1:] != ch0[:-1]) | (ch1[1:] != ch1[:-1])
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, len(hit)))
    cell_hit, cell_ch0, cell_ch1 = hit[starts], ch0[starts], ch1[starts]
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
    pitch_u, pitch_v, _, _ = _pixel_grid(index, module)
    noise = rng.standard_normal((len(module), 2)) * np.stack([pitch_u, pitch_v], axis=1) / np.sqrt(12.0)
    local[:, :2] += noise
    local[:, 2] = 0.0
    ch0, ch1 = _channels(index, module, local[:, 0], local[:, 1])
    cells = pd.DataFrame({"hit": np.arange(len(module)), "ch0": ch0, "ch1": ch1, "value": 1.0})
    return to_global(index, module, local), cells


def noise_hits(index: GeometryIndex, n: int, rng: np.random.Generator, distribution: str = "trackml"):
    """``n`` noise hits: (module (n,), position (n, 3) mm on the module plane, cells DataFrame).

    ``distribution``: ``"trackml"`` spreads them over volumes like the challenge data
    (:data:`TRACKML_NOISE_PER_VOLUME`), then uniformly over the modules of the volume; ``"uniform"``
    picks modules uniformly.
    """
    if distribution == "uniform":
        module = rng.integers(0, len(index.hv), n)
    else:
        volume_of_module = index.module_ids[:, 0]
        volumes, group = np.unique(volume_of_module, return_inverse=True)
        weights = np.array([TRACKML_NOISE_PER_VOLUME.get(int(v), 1) for v in volumes], dtype=float)
        chosen = rng.choice(len(weights), size=n, p=weights / weights.sum())
        n_in_volume = np.bincount(group, minlength=len(volumes))
        first = np.concatenate([[0], np.cumsum(n_in_volume)[:-1]])
        by_volume = np.argsort(group, kind="stable")
        module = by_volume[first[chosen] + (rng.random(n) * n_in_volume[chosen]).astype(np.int64)]
    v = rng.uniform(-1, 1, n) * index.hv[module]
    u = rng.uniform(-1, 1, n) * index.half_width_u(module, v)
    position = to_global(index, module, np.stack([u, v, np.zeros(n)], axis=1))
    ch0, ch1 = _channels(index, module, u, v)
    cells = pd.DataFrame({"hit": np.arange(n), "ch0": ch0, "ch1": ch1, "value": rng.uniform(0.05, 1.0, n)})
    return module, position, cells
