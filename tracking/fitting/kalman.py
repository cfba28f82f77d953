"""Batched Kalman filter and Rauch-Tung-Striebel smoother on planar surfaces (numpy, all tracks at once).

State: bound parameters p = (l0, l1, phi, theta, qop) on each track's k-th measurement surface
(see :mod:`gnn4hep.tracking.fitting.propagation`); the measurement is m = H p = (l0, l1) with
H = [I_2 0], covariance V = diag(sigma_u^2, sigma_v^2). Tracks of different lengths are padded to
L surfaces: a padded surface repeats the track's last surface (the propagation is the identity) and
carries no measurement and no material.

For k = 0 .. L-1 (``p_k`` is the state arriving at surface k, before its scattering):

    prediction  p_k|k-1 = f(p_k-1|k-1),   P_k|k-1 = F_k (P_k-1|k-1 + Q_k-1) F_k^T
    gain        S = H P H^T + V,   K = P H^T S^-1
    update      p_k|k = p_k|k-1 + K r,    r = m_k - H p_k|k-1,   chi2 += r^T S^-1 r
                P_k|k = P - K (P H^T)^T
    smoother    C_k = P_k|k F_k+1^T P_k+1|k^-1
                p_k|n = p_k|k + C_k (p_k+1|n - p_k+1|k),  P_k|n = P_k|k + C_k (P_k+1|n - P_k+1|k) C_k^T

f is the analytic helix-to-plane propagation in a uniform field (F_k has the rows of theta and q/p of the
identity: only its first three rows are kept), or the Runge-Kutta propagation of
:mod:`~gnn4hep.tracking.fitting.stepper` in any other field (F_k's q/p row is that of the identity: four rows
kept), F_k its Jacobian, Q_k the multiple-scattering noise
at surface k (:mod:`gnn4hep.tracking.fitting.material`), with the crossing angle of the reference
trajectory (the linearisation point) and the momentum of the filtered state. The smoothed residual chi2 of hit k,
r^T (V - H P_k|n H^T)^-1 r with r = m_k - H p_k|n, equals its leave-one-out (unbiased) chi2 and
drives outlier rejection. Shapes: T tracks, L surfaces; arrays (T, L, ...).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from gnn4hep.tracking.fitting.material import (MUON_MASS_GEV, crossing_path_mm, qop_after_loss,
                                                scattering_variance_along)
from gnn4hep.tracking.fitting.propagation import bound_to_global, direction, propagate_from
from gnn4hep.tracking.fitting.stepper import propagate_field, uniform_bz

#: A plane crossing that misses by more than this (mm) counts as not reached (the surface is skipped).
MISS_TOLERANCE_MM = 1e-3
_EYE_ROWS = np.eye(5)[:4]  # the first rows of the identity Jacobian


@dataclass
class Surfaces:
    """Per-track surface sequences, padded: centres (T, L, 3), rotations (T, L, 3, 3),
    thickness (T, L) mm (full thickness, 0 for no material), measurements (T, L, 2) mm local,
    variances (T, L, 2) mm^2, mask (T, L) True for real measurements; loss_thickness (T, L) mm, the
    material of the energy loss where it differs from the scattering's (None: ``thickness``); transverse (T, L)
    bool, surfaces whose material path ignores the polar crossing angle (the real data's barrel,
    :func:`~gnn4hep.tracking.fitting.material.crossing_cos`; None: none)."""

    centers: np.ndarray
    rotations: np.ndarray
    thickness: np.ndarray
    measurements: np.ndarray
    variances: np.ndarray
    mask: np.ndarray
    loss_thickness: np.ndarray | None = None
    transverse: np.ndarray | None = None

    def take(self, rows) -> "Surfaces":
        """The tracks ``rows`` (any numpy index: array, slice, or (rows, columns) tuple)."""
        return Surfaces(*(None if getattr(self, f) is None else getattr(self, f)[rows] for f in SURFACE_FIELDS))


SURFACE_FIELDS = ("centers", "rotations", "thickness", "measurements", "variances", "mask", "loss_thickness",
                  "transverse")


@dataclass
class KalmanResult:
    """Output of :func:`kalman_smoother` for T tracks and L surfaces.

    smoothed (T, L, 5) and smoothed_cov (T, L, 5, 5): smoothed states on every surface;
    chi2 (T,) sum of filtered chi2 increments; ndf (T,) = 2 n_hits - 5 (hits used); hit_chi2 (T, L)
    smoothed residual chi2 of each hit (0 on padding, inf on surfaces the reference could not reach);
    ok (T,) False where the state or covariance is not finite or positive, or < 3 hits were used.
    """

    smoothed: np.ndarray
    smoothed_cov: np.ndarray
    chi2: np.ndarray
    ndf: np.ndarray
    hit_chi2: np.ndarray
    ok: np.ndarray


class Workspace:
    """Scratch arrays of :func:`kalman_smoother` (predictions, their covariances, Jacobian rows),
    kept between calls.

    A fresh array of megabytes is mapped anew by the allocator and costs a page fault per 4 kB on
    first touch: for 2500 tracks of 10 surfaces these scratch arrays are ~9 MB, ~2200 faults, at
    every call. Each thread gets its own workspace (:func:`thread_workspace`); it keeps the largest
    arrays it was asked for (bounded by the fitter's chunk: under 20 MB for 3000-track chunks).
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """An uninitialised float64 array of ``shape``, in the same memory at each call for ``name``."""
        size = int(np.prod(shape))
        flat = self._arrays.get(name)
        if flat is None or flat.size < size:
            flat = self._arrays[name] = np.empty(size)
        return flat[:size].reshape(shape)


_THREAD = threading.local()


def thread_workspace() -> Workspace:
    """The calling thread's :class:`Workspace`."""
    if not hasattr(_THREAD, "workspace"):
        _THREAD.workspace = Workspace()
    return _THREAD.workspace


def inverse_spd(m: np.ndarray) -> np.ndarray:
    """Inverse of symmetric positive-definite (n, k, k) matrices by Cholesky, element-wise over n.

    Several times faster than ``np.linalg.inv`` for many small matrices (it loops over the k^3 / 3
    entries, not over n). Non-positive pivots give NaN rows, which the fit flags as failures.
    """
    k, n = m.shape[1], len(m)
    cols = np.ascontiguousarray(m.transpose(1, 2, 0))  # (k, k, n): every entry a contiguous row

    def total(terms):  # left-to-right sum of a non-empty list of (n,) arrays, zeros when empty
        acc = None
        for term in terms:
            acc = term if acc is None else acc + term
        return np.zeros(n) if acc is None else acc

    low = [[None] * k for _ in range(k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(k):
            low[j][j] = np.sqrt(cols[j, j] - total([low[j][p] * low[j][p] for p in range(j)]))
            for i in range(j + 1, k):
                low[i][j] = (cols[i, j] - total([low[i][p] * low[j][p] for p in range(j)])) / low[j][j]
        inv_low = [[None] * k for _ in range(k)]  # inverse of the lower factor
        for i in range(k):
            inv_low[i][i] = 1.0 / low[i][i]
            for j in range(i):
                inv_low[i][j] = -total([low[i][p] * inv_low[p][j] for p in range(j, i)]) * inv_low[i][i]
    out = np.empty((k, k, n))
    for i in range(k):
        for j in range(i, k):
            out[i, j] = total([inv_low[p][i] * inv_low[p][j] for p in range(j, k)])
            out[j, i] = out[i, j]
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def _t(m: np.ndarray) -> np.ndarray:
    """Contiguous transpose of (n, a, b) matrices (matmul is several times faster on it)."""
    return np.ascontiguousarray(m.transpose(0, 2, 1))


def transport(ref, ref_pos, rotations, new_centers, new_rotations, field):
    """Reference states (n, 5) to the next planes in ``field`` (B_z in tesla or a field object).

    Returns (new_ref, rows (n, k, 5): the first k rows of the Jacobian (k = 3 in a uniform field, 4
    otherwise), s, miss, new_position, new_direction).
    """
    bz = uniform_bz(field)
    if bz is not None:
        return propagate_from(ref, ref_pos, rotations, new_centers, new_rotations, bz)
    return propagate_field(ref, ref_pos, rotations, new_centers, new_rotations, field)


def kalman_smoother(surfaces: Surfaces, seed: np.ndarray, seed_cov: np.ndarray, b_tesla,
                    mass_gev: float = MUON_MASS_GEV, material: bool = True,
                    reference: np.ndarray | None = None, workspace: Workspace | None = None,
                    energy_loss: bool = True) -> KalmanResult:
    """Forward Kalman filter and RTS smoother for T tracks at once, linearised about a reference.

    The prediction is p_k|k-1 = f(r_k-1) + F_k (p_k-1|k-1 - r_k-1) with F_k the Jacobian at the
    reference state r_k-1. Without ``reference``, the reference is the noiseless helix of the seed
    (r_0 = seed, r_k = f(r_k-1)); with it (e.g. the smoothed states of a previous pass) r_k is given.
    Linearising about a fixed trajectory, rather than the running estimate, avoids the bias of an
    extended Kalman filter whose first estimates are poor (two hits of one layer 1 mm apart under a
    wide seed covariance give direction errors of tens of mrad, and errors of second order).

    Args:
        surfaces: the padded surfaces (the first surface of every track holds a measurement).
        seed: (T, 5) state on each track's first surface; seed_cov: (T, 5, 5).
        b_tesla: the field: B_z in tesla (uniform) or a :class:`~gnn4hep.tracking.field.MagneticField`. mass_gev: mass hypothesis for the scattering. material: add scattering noise.
        reference: optional (T, L, 5) reference states on every surface.
        workspace: scratch arrays (:class:`Workspace`); the calling thread's by default.
        energy_loss: with ``material``, the mean ionisation loss at each surface lowers |q/p| of the state
            and of its reference (the filter runs along the particle's motion).
    """
    n_tracks, n_surf = surfaces.mask.shape
    workspace = thread_workspace() if workspace is None else workspace
    pred = workspace.array("pred", (n_surf, n_tracks, 5))
    pred_cov = workspace.array("pred_cov", (n_surf, n_tracks, 5, 5))
    filt = np.empty((n_surf, n_tracks, 5))
    filt_cov = np.empty((n_surf, n_tracks, 5, 5))
    # F's last 5 - nr rows are those of the identity: only its first nr rows A_k are kept, with A_k^T
    nr = 3 if uniform_bz(b_tesla) is not None else 4
    rows_t = workspace.array("rows_t", (n_surf, n_tracks, 5, nr))
    chi2 = np.zeros(n_tracks)
    ok = np.ones(n_tracks, dtype=bool)
    state, cov = seed.astype(np.float64), seed_cov.astype(np.float64)
    ref = state if reference is None else reference[:, 0]
    reached = np.ones((n_tracks, n_surf), dtype=bool)
    here_c, here_r = surfaces.centers[:, 0], surfaces.rotations[:, 0]  # the surface the state is on
    ref_pos = bound_to_global(ref, here_c, here_r)  # global position and direction of the reference
    ref_dir = direction(ref[:, 2], ref[:, 3])
    for k in range(n_surf):
        if k > 0:
            ref_next, rows, _, miss, pos_next, dir_next = transport(
                ref, ref_pos, here_r, surfaces.centers[:, k], surfaces.rotations[:, k], b_tesla)
            hit = miss < MISS_TOLERANCE_MM  # False for NaN
            # a surface the reference helix cannot reach is skipped (identity step, no update); its
            # hit is reported with an infinite chi2 so outlier rejection drops it first
            reached[:, k] = hit
            if not hit.all():
                rows = np.where(hit[:, None, None], rows, _EYE_ROWS[:nr])
                ref_next = np.where(hit[:, None], ref_next, ref)
                pos_next = np.where(hit[:, None], pos_next, ref_pos)
                dir_next = np.where(hit[:, None], dir_next, ref_dir)
            rows_t[k] = rows.transpose(0, 2, 1)
            delta = state - ref
            state = pred[k]
            np.add(ref_next[:, :nr], np.einsum("nij,nj->ni", rows, delta), out=state[:, :nr])
            np.add(ref_next[:, nr:], delta[:, nr:], out=state[:, nr:])  # F's rows of the identity
            ref, ref_pos, ref_dir = ref_next, pos_next, dir_next
            if reference is not None:  # the next step starts from the given reference state
                given = reference[:, k]
                given_pos = bound_to_global(given, surfaces.centers[:, k], surfaces.rotations[:, k])
                ref = np.where(hit[:, None], given, ref)
                ref_pos = np.where(hit[:, None], given_pos, ref_pos)
            if hit.all():
                here_c, here_r = surfaces.centers[:, k], surfaces.rotations[:, k]
            else:
                here_c = np.where(hit[:, None], surfaces.centers[:, k], here_c)
                here_r = np.where(hit[:, None, None], surfaces.rotations[:, k], here_r)
            top = rows @ cov  # (T, nr, 5)
            new = pred_cov[k]
            new[:, :nr, :nr] = top @ rows_t[k]
            new[:, :nr, nr:] = top[:, :, nr:]
            new[:, nr:, :nr] = new[:, :nr, nr:].transpose(0, 2, 1)
            new[:, nr:, nr:] = cov[:, nr:, nr:]
            cov = new
        else:
            pred[k], pred_cov[k] = state, cov
        m = surfaces.mask[:, k] & reached[:, k]
        # update with H = [I_2 0], written out on the 2 x 2 innovation covariance S = P[:2, :2] + V
        s00 = cov[:, 0, 0] + surfaces.variances[:, k, 0]
        s11 = cov[:, 1, 1] + surfaces.variances[:, k, 1]
        s01 = cov[:, 0, 1]
        ph0, ph1 = cov[:, :, 0], cov[:, :, 1]  # columns of P H^T, (T, 5) each
        r0 = surfaces.measurements[:, k, 0] - state[:, 0]
        r1 = surfaces.measurements[:, k, 1] - state[:, 1]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # diverged fits: flagged below
            det = s00 * s11 - s01 * s01
            det = np.where(np.abs(det) > 1e-300, det, 1e-300)
            i00, i11, i01 = s11 / det, s00 / det, -s01 / det
            gain = np.empty((n_tracks, 5, 2))
            gain[:, :, 0] = np.where(m[:, None], ph0 * i00[:, None] + ph1 * i01[:, None], 0.0)
            gain[:, :, 1] = np.where(m[:, None], ph0 * i01[:, None] + ph1 * i11[:, None], 0.0)
            g0, g1 = gain[:, :, 0], gain[:, :, 1]
            state = filt[k]
            np.add(pred[k], g0 * r0[:, None] + g1 * r1[:, None], out=state)
            ph_t = np.empty((n_tracks, 2, 5))  # (P H^T)^T
            ph_t[:, 0], ph_t[:, 1] = ph0, ph1
            np.subtract(cov, gain @ ph_t, out=filt_cov[k])  # P - K (P H^T)^T
            chi2 += np.where(m, i00 * r0 * r0 + 2.0 * i01 * r0 * r1 + i11 * r1 * r1, 0.0)
        cov = filt_cov[k]
        if material and k < n_surf - 1:
            thick = np.where(m, surfaces.thickness[:, k], 0.0)
            # the crossing angle and sin(theta) of the reference, the momentum of the filtered state
            transverse = None if surfaces.transverse is None else surfaces.transverse[:, k]
            var_phi, var_theta = scattering_variance_along(ref_dir, state[:, 4], here_r[:, :, 2], thick, mass_gev,
                                                           transverse=transverse)
            cov = cov.copy()
            cov[:, 2, 2] += var_phi
            cov[:, 3, 3] += var_theta
            if energy_loss:  # mean loss on the state and its reference (d qop' / d qop = 1 + O(dE / E))
                loss = thick if surfaces.loss_thickness is None else np.where(m, surfaces.loss_thickness[:, k], 0.0)
                path = crossing_path_mm(ref_dir, here_r[:, :, 2], loss, transverse)
                state = state.copy()
                state[:, 4] = qop_after_loss(state[:, 4], path, mass_gev)
                ref = ref.copy()
                ref[:, 4] = qop_after_loss(ref[:, 4], path, mass_gev)
    smooth, smooth_cov = filt, filt_cov  # overwritten in place, last surface first
    for k in range(n_surf - 2, -1, -1):
        with np.errstate(invalid="ignore", over="ignore"):  # diverged tracks: NaN, flagged below
            # P F^T: the last 5 - nr columns of F^T are unit vectors
            p_ft = np.empty_like(filt_cov[k])
            p_ft[:, :, :nr] = filt_cov[k] @ rows_t[k + 1]
            p_ft[:, :, nr:] = filt_cov[k][:, :, nr:]
            gain = p_ft @ inverse_spd(pred_cov[k + 1])
            smooth[k] += np.einsum("nij,nj->ni", gain, smooth[k + 1] - pred[k + 1])
            smooth_cov[k] += gain @ (smooth_cov[k + 1] - pred_cov[k + 1]) @ _t(gain)
    smooth = smooth.transpose(1, 0, 2)
    smooth_cov = smooth_cov.transpose(1, 0, 2, 3)
    r0 = surfaces.measurements[:, :, 0] - smooth[:, :, 0]
    r1 = surfaces.measurements[:, :, 1] - smooth[:, :, 1]
    # r^T (V - H P H^T)^-1 r, the 2 x 2 inverse written out
    c00 = surfaces.variances[:, :, 0] - smooth_cov[:, :, 0, 0]
    c11 = surfaces.variances[:, :, 1] - smooth_cov[:, :, 1, 1]
    c01, c10 = -smooth_cov[:, :, 0, 1], -smooth_cov[:, :, 1, 0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        det = c00 * c11 - c01 * c10
        det = np.where(np.abs(det) > 1e-300, det, 1e-300)
        hit_chi2 = (c11 / det * r0**2 + (-c01 / det + -c10 / det) * r0 * r1 + c00 / det * r1**2)
    hit_chi2 = np.where(surfaces.mask, np.where(reached, hit_chi2, np.inf), 0.0)
    diag = np.diagonal(smooth_cov[:, 0], axis1=1, axis2=2)
    used = surfaces.mask & reached
    ok &= np.all(np.isfinite(smooth[:, 0]), axis=1) & np.all(diag > 0, axis=1) & np.isfinite(chi2)
    ok &= used.sum(axis=1) >= 3
    ndf = 2 * used.sum(axis=1) - 5
    return KalmanResult(smooth, smooth_cov, chi2, ndf, hit_chi2, ok)
