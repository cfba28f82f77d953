"""Digitisation: true module crossings to measured hits and pixel cells, plus noise hits.

``trackml`` (default): the response of the real TrackML modules, calibrated on the real sample event by
``benchmarks/cluster_shapes.py``. A straight segment of the particle's path through a charge-collecting
depth D = f * 2 * module_t, centred on the module mid-plane, is drifted towards the readout side with a
Lorentz shift along u (a point at depth w moves by tan_L * (w + s D / 2), s = +1 or -1 the readout side)
and projected on the pitch_u x pitch_v grid (ch0 along u, ch1 along v from the module's -u, -v corner).
Every cell the projection crosses, however briefly, is a cell (no threshold: real pixel values go down to
1.7e-5 mm). Its ``value`` is the 3D path length (mm) in it for pixels, times 1 + 0.10 N(0, 1)
(:data:`TRACKML_VALUE_SIGMA`), and 1 for strips, as in the real cells files. The measured position is the
value-weighted mean of the cell centres minus the drift correction s * tan_L * D along u; like the real
hits it is then off the true crossing by s * tan_L * D / 2 (+9.0, -15.0, -14.0 um in volumes 8, 13, 17;
real: +9.1, -14.4, -15.7 um, :data:`gnn4hep.tracking.fitting.hit_errors.OFFSETS_MM`).

:data:`TRACKML_RESPONSE` (f, tan_L, s per volume) is the grid-search optimum of the Jaccard overlap of the
predicted and the real cell sets of all true hits of the real sample event (event000000001, predicted from
each hit's truth position and momentum): 0.997 (pixel barrel, 1255 hits), 0.996 (pixel end-caps, 1376),
0.996 (short-strip barrel, 1020), 0.993 (short-strip end-caps, 619), 1.000 (long-strip barrel, 196),
0.999 (long-strip end-caps, 232); the earlier ``clusters`` model scores 0.436, 0.904, 0.612, 0.923, 0.608,
0.952. The barrels collect charge over half the nominal thickness (f = 0.5), the end-caps over all of it
(f = 1). On true pT > 1 GeV hits, the pixel barrel's v extent (distinct ch1) against the straight-track
extent through the full thickness, e_v = 2 module_t |d_v / d_w| / pitch_v, has slope 0.499 and intercept
0.991 in the real event; 0.993 and 0.785 with ``clusters``, 0.500 and 1.024 with ``trackml`` (a Pythia
mu = 50 event). The summed pixel value per mm of path through 2 module_t is 0.498 real, 1.99 ``clusters``
(fractions summing to 1 per hit), 0.501 ``trackml`` in the pixel barrel; 0.990, 3.32, 1.002 in the pixel
end-caps.

``clusters``: the earlier geometric model: the straight path through the full thickness (entry and exit at
local w = -t and +t) is sampled finely; every pixel it crosses becomes a cell whose ``value`` is the
fraction of the path inside it; the measured position is the value-weighted mean of the cell centres.
``smear``: Gaussian local smearing by pitch / sqrt(12) in u and v, one cell per hit.

Noise hits are uniform over the sensitive area of the modules chosen. With ``trackml`` each gets the cluster
of a straight track from the origin through it (real noise clusters are wider along u: 2.3 cells in the
pixels and the strips, against 1.5 and 1.1 simulated; ``benchmarks/cluster_shapes.py``); otherwise one cell.
Units: mm, GeV. Shapes: n hits, arrays (n,) or (n, 3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.simulation.geometry_index import GeometryIndex

MAX_SAMPLES = 256  # samples per hit along its path through the sensor (``clusters``)

#: volume_id -> (depth fraction f, tan of the Lorentz angle tan_L, readout side s, binary strips): the
#: response of the real TrackML modules, fitted by ``benchmarks/cluster_shapes.py`` on the real sample event
#: (module docstring). Grid: f in 0.40-1.10 (step 0.05), tan_L in -0.20-0.20 (step 0.01), s = +-1; the
#: end-caps' optimum has tan_L = 0 (their u extents of 1.03 cells leave no drift to see).
TRACKML_RESPONSE = {
    7: (1.0, 0.0, 1, False), 8: (0.5, -0.12, 1, False), 9: (1.0, 0.0, 1, False),
    12: (1.0, 0.0, 1, True), 13: (0.5, -0.12, -1, True), 14: (1.0, 0.0, 1, True),
    16: (1.0, 0.0, 1, True), 17: (0.5, -0.08, -1, True), 18: (1.0, 0.0, 1, True),
}  # fmt: skip
#: relative spread of a real pixel cell's value about the path length in it: the real sample event's pixel cells
#: matched to the predicted ones (8,776 barrel, 2,202 end-cap) have value / path quantiles 0.83, 0.93, 1.00,
#: 1.07, 1.18 at 5, 25, 50, 75, 95 % in both: a Gaussian of sigma 0.105 and 0.100 (interquartile range / 1.349,
#: ``value_sigma`` in ``benchmarks/cluster_shapes.py``). Summed over a cluster it leaves the real 0.033 (barrel)
#: and 0.10 (end-caps) relative spread of the charge per path length.
TRACKML_VALUE_SIGMA = 0.10
#: the response of modules in other volumes: pixels over the full thickness, no drift
DEFAULT_RESPONSE = (1.0, 0.0, 1, False)

#: Noise hits per volume_id in the real TrackML sample event (event000000001, which has 829 noise
#: hits, particle_id 0, in its truth). Kept for the ``"volumes"`` noise distribution only: the default
#: (``"trackml"``) spreads noise uniformly over the modules (:data:`TRACKML_NOISE_PER_MODULE`).
TRACKML_NOISE_PER_VOLUME = {7: 37, 8: 82, 9: 33, 12: 54, 13: 246, 14: 49, 16: 24, 17: 266, 18: 38}

#: MEASURED: the challenge's noise hits are uniform over the 18,728 modules, whatever their size, pitch or
#: volume. The sample event's 829 noise hits give 0.033-0.065 per module in every volume (0.044 overall; per
#: m^2 they range 2-40, per million cells 0.08-12); the volume counts against a uniform share per module
#: give chi2 = 16.5 for 8 degrees of freedom (p = 0.04; largest pulls -2.7 in the pixel barrel, +2.3 in
#: volume 18), its 48 layer counts chi2 = 61.6 for 47 (p = 0.08). In the real full
#: event 1001 the hits left after a replay of its particles (real hits minus the simulated signal) are
#: 0.73-1.24 per module in every pixel-barrel and strip-barrel layer (0.93 expected: 17,470 noise hits over
#: 18,728 modules), where the per-volume weights above predict 0.69 in the pixel barrel. A replay of event
#: 1001 with the per-volume weights has 40 of its 48 layers within 15% of the real hit counts, 47 with noise
#: uniform per module (benchmarks/simulation_realism.py; 46 with the expected noise counts in place of a
#: draw): the weights' -z / +z end-cap asymmetry (24 against 38 hits in the long-strip end-caps) was a
#: fluctuation of the 829 sample hits.
TRACKML_NOISE_PER_MODULE = 17_470 / 18_728

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


def response_of(index: GeometryIndex, module: np.ndarray, table: dict | None = None):
    """Per hit (depth fraction f, tan_L, readout side s, binary) arrays (n,) of ``module`` from the volume
    table ``table`` (:data:`TRACKML_RESPONSE` when None)."""
    table = TRACKML_RESPONSE if table is None else table
    volume = index.module_ids[module, 0]
    size = int(max(max(table, default=0), volume.max(initial=0))) + 1
    lookup = np.tile(np.array(DEFAULT_RESPONSE, dtype=np.float64), (size, 1))
    for key, row in table.items():
        lookup[key] = row
    row = lookup[volume]
    return row[:, 0], row[:, 1], row[:, 2], row[:, 3] > 0


def trackml_clusters(index: GeometryIndex, module: np.ndarray, position: np.ndarray, momentum: np.ndarray,
                     response: dict | None = None, rng: np.random.Generator | None = None):
    """Clusters with the real TrackML response (module docstring). ``position`` (n, 3) mm: the true crossing
    at the module's mid-plane, ``momentum`` (n, 3) GeV (only its direction is used), ``response``: a
    volume table like :data:`TRACKML_RESPONSE` (the default). Exact: the projected segment is cut at every
    pixel boundary it crosses (no sampling). With ``rng``, each pixel value is multiplied by
    1 + :data:`TRACKML_VALUE_SIGMA` * N(0, 1) (floored at 1e-3) before the centroid; without, values are exact
    path lengths. Returns (measured (n, 3) mm, cells DataFrame with columns
    ``hit`` (row 0..n-1), ``ch0``, ``ch1``, ``value``: mm of path for pixels, 1 for strips)."""
    n = len(module)
    fraction, tan_lorentz, side, binary = response_of(index, module, response)
    local = to_local(index, module, position)
    direction = np.einsum("nji,nj->ni", index.rotations[module], momentum)
    dw = np.where(np.abs(direction[:, 2]) < 1e-9, 1e-9, direction[:, 2])
    depth = fraction * 2 * index.half_thickness[module]
    slope_u, slope_v = direction[:, 0] / dw, direction[:, 1] / dw
    # the drifted segment from w = -D/2 to w = +D/2, parameter q in [0, 1]
    u0 = local[:, 0] - slope_u * depth / 2 + tan_lorentz * (side - 1) * depth / 2
    u1 = local[:, 0] + slope_u * depth / 2 + tan_lorentz * (side + 1) * depth / 2
    v0, v1 = local[:, 1] - slope_v * depth / 2, local[:, 1] + slope_v * depth / 2
    pitch_u, pitch_v, n_u, n_v = _pixel_grid(index, module)
    half_u, half_v = index.max_hu[module], index.hv[module]
    hits, params = [np.arange(n)], [np.zeros(n)]
    for x0, x1, half, pitch, n_ch in ((u0, u1, half_u, pitch_u, n_u), (v0, v1, half_v, pitch_v, n_v)):
        c0, c1 = _pixel_index(x0, half, pitch, n_ch), _pixel_index(x1, half, pitch, n_ch)
        count = np.abs(c1 - c0)  # boundaries crossed inside the module (channels are clipped to it)
        hit = np.repeat(np.arange(n), count)
        first = np.cumsum(count) - count
        boundary = np.minimum(c0, c1)[hit] + 1 + np.arange(len(hit)) - first[hit]
        span = x1 - x0
        params.append((boundary * pitch[hit] - half[hit] - x0[hit]) / span[hit])
        hits.append(hit)
    hit, start = np.concatenate(hits), np.concatenate(params)
    order = np.lexsort((start, hit))
    hit, start = hit[order], start[order]
    end = np.append(start[1:], 1.0)
    end[np.append(hit[1:] != hit[:-1], True)] = 1.0
    keep = end > start  # a corner crossed in u and v at once leaves an empty piece
    hit, start, length = hit[keep], start[keep], (end - start)[keep]
    middle = start + length / 2
    ch0 = _pixel_index(u0[hit] + middle * (u1 - u0)[hit], half_u[hit], pitch_u[hit], n_u[hit])
    ch1 = _pixel_index(v0[hit] + middle * (v1 - v0)[hit], half_v[hit], pitch_v[hit], n_v[hit])
    # the projection is straight, so the pieces of one cell are consecutive: run-length encode them
    change = np.ones(len(hit), dtype=bool)
    change[1:] = (hit[1:] != hit[:-1]) | (ch0[1:] != ch0[:-1]) | (ch1[1:] != ch1[:-1])
    starts = np.flatnonzero(change)
    share = np.add.reduceat(length, starts) if len(starts) else np.zeros(0)
    cell_hit, cell_ch0, cell_ch1 = hit[starts], ch0[starts], ch1[starts]
    path = depth * np.linalg.norm(direction, axis=1) / np.abs(dw)  # mm of path through the depth D
    value = np.where(binary[cell_hit], 1.0, share * path[cell_hit])
    if rng is not None:
        spread = np.maximum(1.0 + TRACKML_VALUE_SIGMA * rng.standard_normal(len(value)), 1e-3)
        value = np.where(binary[cell_hit], value, value * spread)
    weight = value / np.bincount(cell_hit, value, minlength=n)[cell_hit]
    centre_u = (cell_ch0 + 0.5) * pitch_u[cell_hit] - half_u[cell_hit]
    centre_v = (cell_ch1 + 0.5) * pitch_v[cell_hit] - half_v[cell_hit]
    measured_local = np.zeros((n, 3))
    measured_local[:, 0] = np.bincount(cell_hit, weight * centre_u, minlength=n) - side * tan_lorentz * depth
    measured_local[:, 1] = np.bincount(cell_hit, weight * centre_v, minlength=n)
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


def noise_hits(index: GeometryIndex, n: int, rng: np.random.Generator, distribution: str = "trackml",
               response: str = "clusters"):
    """``n`` noise hits: (module (n,), position (n, 3) mm on the module plane, cells DataFrame).

    ``distribution``: ``"trackml"`` (or its older name ``"uniform"``) picks modules uniformly, as the
    challenge's noise is spread (:data:`TRACKML_NOISE_PER_MODULE`); ``"volumes"`` spreads them over volumes
    like the sample event's noise (:data:`TRACKML_NOISE_PER_VOLUME`), then uniformly over the modules of
    the volume. ``response``: ``"trackml"`` gives each the :func:`trackml_clusters` cluster of
    a straight track from the origin through it; otherwise one cell of uniform value in 0.05-1.
    """
    if distribution in ("trackml", "uniform"):
        module = rng.integers(0, len(index.hv), n)
    elif distribution == "volumes":
        volume_of_module = index.module_ids[:, 0]
        volumes, group = np.unique(volume_of_module, return_inverse=True)
        weights = np.array([TRACKML_NOISE_PER_VOLUME.get(int(v), 1) for v in volumes], dtype=float)
        chosen = rng.choice(len(weights), size=n, p=weights / weights.sum())
        n_in_volume = np.bincount(group, minlength=len(volumes))
        first = np.concatenate([[0], np.cumsum(n_in_volume)[:-1]])
        by_volume = np.argsort(group, kind="stable")
        module = by_volume[first[chosen] + (rng.random(n) * n_in_volume[chosen]).astype(np.int64)]
    else:
        raise ValueError(f"unknown noise distribution {distribution!r}; choose trackml, uniform or volumes")
    v = rng.uniform(-1, 1, n) * index.hv[module]
    u = rng.uniform(-1, 1, n) * index.half_width_u(module, v)
    position = to_global(index, module, np.stack([u, v, np.zeros(n)], axis=1))
    if response == "trackml":
        _, cells = trackml_clusters(index, module, position, position, rng=rng)
        return module, position, cells
    ch0, ch1 = _channels(index, module, u, v)
    cells = pd.DataFrame({"hit": np.arange(n), "ch0": ch0, "ch1": ch1, "value": rng.uniform(0.05, 1.0, n)})
    return module, position, cells
