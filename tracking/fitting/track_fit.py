"""Fit of padded measurement sequences: three-point seed, Kalman filter + smoother, perigee.

:func:`fit_surfaces` is the array-level fitter used by :func:`gnn4hep.tracking.fitting.refit`:

1. seed (phi, theta, q/p) from the helix through three well-spread measurements (see
   :func:`seed_states`) (:mod:`~gnn4hep.tracking.fitting.seeding`), on the first surface at the first
   measurement, with a wide diagonal covariance (``SEED_SIGMAS``) so the seed carries no weight;
2. Kalman filter + RTS smoother (:mod:`~gnn4hep.tracking.fitting.kalman`), linearised about the
   seed's noiseless helix;
3. ``iterations - 1`` further passes linearised about the smoothed states of the previous pass
   (re-seeded with the same wide covariance, so no hit is counted twice);
4. perigee parameters at the beam line from the smoothed state on the first surface (no material
   between the beam line and the first hit), with covariance J P J^T.

Tracks are processed in chunks of ``chunk`` to bound memory (under 1.6 kB per track and surface); chunks
of 2000-3000 tracks keep the working arrays small enough that they are reused rather than mapped
afresh (5000-track chunks cost ~150k page faults per 100k tracks, about 10% slower on one core).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from gnn4hep.tracking.fitting.kalman import KalmanResult, Surfaces, kalman_smoother
from gnn4hep.tracking.fitting.material import MUON_MASS_GEV
from gnn4hep.tracking.fitting.perigee import bound_to_perigee
from gnn4hep.tracking.fitting.propagation import bound_to_global, propagate
from gnn4hep.tracking.fitting.seeding import robust_seed
from gnn4hep.tracking.fitting.stepper import bz_at, propagate_field, uniform_bz

#: Seed standard deviations of (l0 mm, l1 mm, phi, theta); q/p gets SEED_QOP_REL * |q/p| + SEED_QOP_ABS.
SEED_SIGMAS = np.array([1.0, 10.0, 0.05, 0.05])
SEED_QOP_REL, SEED_QOP_ABS = 1.0, 0.05


@dataclass
class TrackFit:
    """Fit of T tracks: perigee (T, 5), perigee_cov (T, 5, 5), chi2 (T,), ndf (T,), hit_chi2 (T, L),
    ok (T,), and the last Kalman pass (smoothed states on every surface)."""

    perigee: np.ndarray
    perigee_cov: np.ndarray
    chi2: np.ndarray
    ndf: np.ndarray
    hit_chi2: np.ndarray
    ok: np.ndarray
    kalman: KalmanResult | None = None
    hit_residual: np.ndarray | None = None  # (T, L, 2) smoothed residual m - H p_k|n (mm), 0 on padding


def seed_covariance(qop: np.ndarray) -> np.ndarray:
    """Wide diagonal seed covariance (T, 5, 5)."""
    cov = np.zeros((len(qop), 5, 5))
    idx = np.arange(4)
    cov[:, idx, idx] = SEED_SIGMAS**2
    cov[:, 4, 4] = (SEED_QOP_REL * np.abs(qop) + SEED_QOP_ABS) ** 2
    return cov


def effective_bz(points: np.ndarray, n_hits: np.ndarray, field) -> np.ndarray | float:
    """B_z (tesla) for each track's helix seed: the mean over its first, middle and last hit (T,), or the
    uniform field's B_z."""
    bz = uniform_bz(field)
    if bz is not None:
        return bz
    rows = np.arange(len(n_hits))
    picks = np.stack([points[rows, 0], points[rows, (n_hits - 1) // 2], points[rows, n_hits - 1]], 1)
    return bz_at(field, picks).mean(axis=1)


def seed_states(surfaces: Surfaces, b_tesla) -> np.ndarray:
    """Three-point seeds (T, 5) on the first surface of each track.

    The triplet is chosen by :func:`~gnn4hep.tracking.fitting.seeding.robust_seed` among spread-out
    triplets (first / middle / last hit and others): the literal first three hits often lie in one
    layer (overlapping modules, 1 to 3 mm apart) where the three-point curvature is meaningless, and
    a wrong hit among the three must not spoil the linearisation. The seed helix is then carried back
    to the first surface. |q/p| is capped at 10 e/GeV (pT > 0.1 GeV). In a non-uniform field (``b_tesla``
    a field object) the helix uses each track's :func:`effective_bz` and the seed is carried back by the
    Runge-Kutta propagator.
    """
    n = surfaces.mask.sum(axis=1)
    points = bound_to_global(surfaces.measurements, surfaces.centers, surfaces.rotations)  # (l0, l1) only
    triplet, phi, theta, qop = robust_seed(points, n, effective_bz(points, n, b_tesla))
    qop = np.clip(qop, -10.0, 10.0)
    start = np.concatenate([surfaces.measurements[:, 0], np.stack([phi, theta, qop], -1)], -1)
    moved = np.flatnonzero(triplet[:, 0] != 0)  # seeds from a later hit, carried back to the first surface
    if len(moved) == 0:
        return start
    first = triplet[moved, 0]
    state = np.concatenate([surfaces.measurements[moved, first], start[moved, 2:]], -1)
    if uniform_bz(b_tesla) is not None:
        back, _, _, miss = propagate(state, surfaces.centers[moved, first], surfaces.rotations[moved, first],
                                     surfaces.centers[moved, 0], surfaces.rotations[moved, 0], uniform_bz(b_tesla),
                                     jacobian=False)
    else:
        back, _, _, miss, _, _ = propagate_field(state, points[moved, first], surfaces.rotations[moved, first],
                                                 surfaces.centers[moved, 0], surfaces.rotations[moved, 0], b_tesla,
                                                 jacobian=False)
    reached = np.isfinite(miss) & (miss <= 1e-3)
    start[moved[reached]] = back[reached]
    return start


def _fit_chunk(surfaces: Surfaces, b_tesla, mass_gev, material, iterations, seed=None) -> TrackFit:
    state = seed_states(surfaces, b_tesla) if seed is None else seed
    reference = None
    for _ in range(max(iterations, 1)):
        result = kalman_smoother(surfaces, state, seed_covariance(state[:, 4]), b_tesla, mass_gev, material, reference)
        good = np.all(np.isfinite(result.smoothed), axis=(1, 2))
        state = np.where(good[:, None], result.smoothed[:, 0], state)
        reference = np.where(good[:, None, None], result.smoothed, result.smoothed if reference is None else reference)
    perigee, jac = bound_to_perigee(result.smoothed[:, 0], surfaces.centers[:, 0], surfaces.rotations[:, 0], b_tesla)
    cov = jac @ result.smoothed_cov[:, 0] @ jac.transpose(0, 2, 1)
    cov = 0.5 * (cov + cov.transpose(0, 2, 1))
    ok = result.ok & np.all(np.isfinite(perigee), axis=1) & np.all(np.diagonal(cov, axis1=1, axis2=2) > 0, axis=1)
    residual = np.where(surfaces.mask[:, :, None], surfaces.measurements - result.smoothed[:, :, :2], 0.0)
    return TrackFit(perigee, cov, result.chi2, result.ndf, result.hit_chi2, ok, result, residual)


def fit_surfaces(surfaces: Surfaces, b_tesla=2.0, mass_gev: float = MUON_MASS_GEV,
                 material: bool = True, iterations: int = 1, chunk: int = 3000,
                 keep_states: bool = False, workers: int = 1) -> TrackFit:
    """Fit T padded tracks (each with >= 3 measurements, the first three real).

    Tracks are sorted by their number of measurements and fitted in chunks of ``chunk``, each chunk
    padded only to its own longest track (a few long loopers do not inflate every batch).

    Args:
        surfaces: padded surfaces and measurements (see :class:`~gnn4hep.tracking.fitting.kalman.Surfaces`).
        b_tesla: the field: B_z (T) of a uniform field, or a :class:`~gnn4hep.tracking.field.MagneticField`
            (propagation by :mod:`~gnn4hep.tracking.fitting.stepper`). mass_gev: mass hypothesis of the scattering (muon by default).
        material: add multiple-scattering noise at each surface.
        iterations: Kalman passes (further passes re-linearise on the previous smoothed track).
        chunk: tracks per batch. keep_states: keep the smoothed states (``kalman``) of a one-chunk fit.
        workers: threads fitting chunks at once (numpy releases the GIL in its array loops; about
            1.5x faster on 2 cores). Keep 1 inside processes that already run in parallel.
    """
    n, width = surfaces.mask.shape
    fields = ("perigee", "perigee_cov", "chi2", "ndf", "hit_chi2", "ok", "hit_residual")
    if n == 0:
        return TrackFit(np.zeros((0, 5)), np.zeros((0, 5, 5)), np.zeros(0), np.zeros(0, np.int64),
                        np.zeros((0, width)), np.zeros(0, bool), None, np.zeros((0, width, 2)))
    if n <= chunk:
        part = _fit_chunk(surfaces, b_tesla, mass_gev, material, iterations)
        return part if keep_states else TrackFit(*(getattr(part, f) for f in fields[:6]), None, part.hit_residual)
    lengths = surfaces.mask.sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    out = TrackFit(np.empty((n, 5)), np.empty((n, 5, 5)), np.empty(n), np.empty(n, np.int64), np.zeros((n, width)),
                   np.empty(n, bool), None, np.zeros((n, width, 2)))
    # chunks of at most ``chunk`` tracks and chunk * 16 padded surfaces (bounded memory), of equal
    # size (10k tracks: 4 x 2500, not 3 x 3000 + 1000: small chunks cost more per track)
    padded = np.maximum.accumulate(lengths[order])
    size = -(-n // -(-n // chunk))
    bounds, start = [], 0
    while start < n:
        stop = min(start + size, n)
        stop = max(start + 1, min(stop, start + int(chunk * 16 // max(padded[stop - 1], 1))))
        bounds.append((start, stop))
        start = stop

    def fit_part(bound):
        rows = order[bound[0]:bound[1]]
        top = int(lengths[rows].max())
        part_surfaces = surfaces.take(rows)
        part_surfaces = part_surfaces.take((slice(None), slice(0, top)))
        return rows, top, _fit_chunk(part_surfaces, b_tesla, mass_gev, material, iterations)

    if workers > 1:
        with ThreadPoolExecutor(min(workers, len(bounds))) as pool:
            parts = pool.map(fit_part, bounds)
            for rows, top, part in parts:
                _store(out, rows, top, part, fields)
    else:
        for bound in bounds:
            _store(out, *fit_part(bound), fields)
    return out


def _store(out: TrackFit, rows: np.ndarray, top: int, part: TrackFit, fields) -> None:
    for f in fields:
        target = getattr(out, f)
        if f in ("hit_chi2", "hit_residual"):
            target[rows, :top] = getattr(part, f)
        else:
            target[rows] = getattr(part, f)
