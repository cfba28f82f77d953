"""Vectorised propagation of charged particles through the module planes of the detector.

Each particle moves on an exact helix (:mod:`.helix`) in the uniform field between module crossings.
All active particles advance together, one *layer crossing* per step (numpy over particles, never a
Python loop over particles or modules):

1. For every layer, the next crossing of the layer surface (cylinder r = r_L or disk z = z_L) within
   the detector envelope, the path-length limit and (barrel) the next turn; the earliest one is the
   particle's next layer crossing. Particles with none are done (they left the detector).
2. The modules registered in the grid cell of that point (:mod:`.geometry_index`) are intersected
   exactly (analytic: barrel planes contain z, disk planes are z = const) and kept when the point lies
   inside the module's trapezoid in local (u, v). This includes both modules of an overlap.
3. The accepted crossings are visited in path order. Each is recomputed on the current helix (the
   previous crossing may have scattered the particle), recorded as a hit, and followed by multiple
   scattering (and energy loss when enabled) at that module.
4. The particle moves on to the layer surface (or stays at its last hit if that lies beyond it).

Loopers are followed turn after turn until they leave the envelope, fall below ``min_pt_gev`` or
exceed ``max_path_mm``. A barrel layer that the helix cannot reach within the current turn is
searched again at the next step, so slow loopers keep hitting the same layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnn4hep.tracking.simulation import helix
from gnn4hep.tracking.simulation.geometry_index import GeometryIndex
from gnn4hep.tracking.simulation.material import highland_theta0, lose_energy, scatter

MIN_STEP_MM = 1e-4  # crossings closer than this to the current point are the current point


@dataclass
class PropagationSettings:
    """Options of :func:`propagate` (lengths in mm, momenta in GeV)."""

    multiple_scattering: bool = True
    energy_loss: bool = False
    max_path_mm: float = 12_000.0
    max_turns: float | None = None
    barrel_outward_only: bool = True
    stop_turning_in_barrel: bool = True
    min_pt_gev: float = 0.01
    max_steps: int = 400
    max_hits_per_crossing: int = 4


@dataclass
class PropagationResult:
    """Module crossings (hits before digitisation), one row per crossing, in production order.

    Attributes:
        particle: (n_hits,) row of the particle in the input arrays.
        module: (n_hits,) row of the module in the detector table.
        position: (n_hits, 3) mm, exactly on the helix segment and on the module plane.
        momentum: (n_hits, 3) GeV, entering the module (before its scattering).
        path: (n_hits,) mm, path length from the production vertex.
        origin_position, origin_momentum: (n_hits, 3) the state the helix segment to this hit
            started from (previous hit after scattering, or the vertex); for exactness checks.
    """

    particle: np.ndarray
    module: np.ndarray
    position: np.ndarray
    momentum: np.ndarray
    path: np.ndarray
    origin_position: np.ndarray
    origin_momentum: np.ndarray


def _next_layer_crossing(index: GeometryIndex, pos, mom, q, b, theta_min, theta_limit, outward_only):
    """Earliest layer crossing of each particle: (layer (n,), theta (n,)), layer -1 if none."""
    n = len(pos)
    best_theta = np.full(n, np.inf)
    best_layer = np.full(n, -1, dtype=np.int64)
    barrel = np.flatnonzero(index.layer_barrel)
    disks = np.flatnonzero(~index.layer_barrel)
    P, M, Q = pos[:, None, :], mom[:, None, :], q[:, None]
    _, _, omega, _, tan_lambda = helix.frame(mom, q, b)
    # barrel cylinders: two roots per turn, z inside the layer's extent
    t1, t2 = helix.intersect_cylinder(P, M, Q, b, index.layer_position[barrel][None, :])
    candidates = []
    outward = []
    if outward_only:
        for theta in (t1, t2):
            x, p = helix.helix_at(P, M, Q, b, np.where(np.isfinite(theta), theta, 0.0))
            outward.append(np.sum(x[..., :2] * p[..., :2], axis=-1) > 0)
    for k, theta in enumerate((t1, t2, t1 + helix.TWO_PI, t2 + helix.TWO_PI)):
        z = pos[:, 2:3] + theta / omega[:, None] * tan_lambda[:, None]
        ok = (theta > theta_min[:, None]) & (z >= index.layer_low[barrel]) & (z <= index.layer_high[barrel])
        if outward_only:
            ok &= outward[k % 2]
        candidates.append(np.where(ok, theta, np.inf))
    theta_barrel = np.minimum.reduce(candidates)
    # disks: one crossing, r inside the layer's extent
    theta_disk = helix.intersect_z_plane(P, M, Q, b, index.layer_position[disks][None, :])
    ok = np.isfinite(theta_disk) & (theta_disk > theta_min[:, None]) & (theta_disk < theta_limit[:, None])
    safe = np.where(ok, theta_disk, 0.0)
    point, _ = helix.helix_at(P, M, Q, b, safe)
    r = np.hypot(point[..., 0], point[..., 1])
    ok &= (r >= index.layer_low[disks]) & (r <= index.layer_high[disks])
    theta_disk = np.where(ok, theta_disk, np.inf)
    all_theta = np.full((n, index.n_layers), np.inf)
    all_theta[:, barrel] = theta_barrel
    all_theta[:, disks] = theta_disk
    best_layer = np.argmin(all_theta, axis=1)
    best_theta = all_theta[np.arange(n), best_layer]
    found = best_theta < theta_limit
    return np.where(found, best_layer, -1), best_theta


def _module_crossing(index: GeometryIndex, pos, mom, q, b, module, theta_target):
    """Crossing of each particle's helix with ``module`` (same shape as theta_target) nearest to
    ``theta_target``: returns (theta, position, momentum, inside_bounds)."""
    rot = index.rotations[module]
    centre = index.centers[module]
    is_disk = np.abs(rot[..., 2, 2]) > 0.5
    r1, r2 = helix.intersect_axial_plane(pos, mom, q, b, centre, rot[..., :2, 2])
    best = np.full(theta_target.shape, np.nan)
    for root in (r1, r2):
        shifted = root + helix.TWO_PI * np.round((theta_target - root) / helix.TWO_PI)
        closer = np.isfinite(shifted) & ~(np.abs(shifted - theta_target) >= np.abs(best - theta_target))
        best = np.where(closer, shifted, best)
    theta = np.where(is_disk, helix.intersect_z_plane(pos, mom, q, b, centre[..., 2]), best)
    finite = np.isfinite(theta)
    point, momentum = helix.helix_at(pos, mom, q, b, np.where(finite, theta, 0.0))
    delta = point - centre
    u = np.sum(delta * rot[..., :, 0], axis=-1)
    v = np.sum(delta * rot[..., :, 1], axis=-1)
    hv = index.hv[module]
    half_u = index.min_hu[module] + (index.max_hu[module] - index.min_hu[module]) * (v + hv) / (2 * hv)
    inside = finite & (np.abs(v) <= hv) & (np.abs(u) <= half_u)
    return theta, point, momentum, inside


def propagate(
    index: GeometryIndex,
    vertex: np.ndarray,
    momentum: np.ndarray,
    charge: np.ndarray,
    mass: np.ndarray,
    b_tesla: float,
    rng: np.random.Generator,
    settings: PropagationSettings | None = None,
    max_path: np.ndarray | None = None,
) -> PropagationResult:
    """Propagate particles (vertex (n, 3) mm, momentum (n, 3) GeV, charge (n,) e, mass (n,) GeV).

    ``max_path`` (n,) mm optionally ends each particle earlier than ``settings.max_path_mm`` (where
    it decays or interacts). Neutral particles and particles with pT < ``settings.min_pt_gev``
    produce no hits. Random
    numbers (scattering) come from ``rng`` in a fixed order, so results are reproducible.
    """
    settings = settings or PropagationSettings()
    pos = np.array(vertex, dtype=np.float64).reshape(-1, 3)
    mom = np.array(momentum, dtype=np.float64).reshape(-1, 3)
    charge = np.asarray(charge, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    travelled = np.zeros(len(pos))
    path_limit = np.full(len(pos), settings.max_path_mm)
    if max_path is not None:
        path_limit = np.minimum(path_limit, np.asarray(max_path, dtype=np.float64))
    turned = np.zeros(len(pos))  # turning angle from the vertex, rad
    max_turning = np.inf if settings.max_turns is None else helix.TWO_PI * settings.max_turns
    pt = np.hypot(mom[:, 0], mom[:, 1])
    active = np.flatnonzero((charge != 0) & (pt >= settings.min_pt_gev) & np.all(np.isfinite(mom), axis=1))
    out: dict[str, list] = {k: [] for k in PropagationResult.__dataclass_fields__}
    for _ in range(settings.max_steps):
        if len(active) == 0:
            break
        P, M, Q = pos[active], mom[active], charge[active]
        p_abs = np.linalg.norm(M, axis=1)
        to_theta = helix.turning_angle(1.0, M, Q, b_tesla)  # rad per mm of path
        theta_min = MIN_STEP_MM * to_theta
        z_exit = helix.intersect_z_plane(P, M, Q, b_tesla, np.where(M[:, 2] >= 0, index.z_max, -index.z_max))
        z_exit = np.where(np.isfinite(z_exit) & (z_exit > 0), z_exit, np.inf)
        theta_exit = np.minimum(_first_forward(helix.intersect_cylinder(P, M, Q, b_tesla, index.r_max), theta_min), z_exit)
        theta_limit = np.minimum(theta_exit, (path_limit[active] - travelled[active]) * to_theta)
        theta_limit = np.minimum(theta_limit, max_turning - turned[active])
        if settings.stop_turning_in_barrel:
            theta_limit = np.minimum(theta_limit, _barrel_turning_point(index, P, M, Q, b_tesla, theta_min))
        layer, theta_layer = _next_layer_crossing(
            index, P, M, Q, b_tesla, theta_min, theta_limit, settings.barrel_outward_only
        )
        keep = layer >= 0
        active, P, M, Q, layer, theta_layer = (a[keep] for a in (active, P, M, Q, layer, theta_layer))
        theta_limit, to_theta, p_abs = theta_limit[keep], to_theta[keep], p_abs[keep]
        if len(active) == 0:
            break
        # candidate modules of the crossed layer, exact crossings, sorted by path
        point, _ = helix.helix_at(P, M, Q, b_tesla, theta_layer)
        modules = index.cell_modules[index.cells_of(layer, point)]  # (n, K)
        present = modules >= 0
        safe_modules = np.where(present, modules, 0)
        theta, _, _, inside = _module_crossing(
            index, P[:, None], M[:, None], Q[:, None], b_tesla, safe_modules, theta_layer[:, None] * np.ones(modules.shape)
        )
        valid = present & inside & (theta > MIN_STEP_MM * to_theta[:, None]) & (theta < theta_limit[:, None])
        order = np.argsort(np.where(valid, theta, np.inf), axis=1, kind="stable")
        sorted_modules = np.take_along_axis(safe_modules, order, axis=1)
        sorted_valid = np.take_along_axis(valid, order, axis=1)
        path_target = np.take_along_axis(theta, order, axis=1) / to_theta[:, None]  # mm from the start
        consumed = np.zeros(len(active))
        for j in range(min(settings.max_hits_per_crossing, modules.shape[1])):
            rows = np.flatnonzero(sorted_valid[:, j])
            if len(rows) == 0:
                break
            who = active[rows]
            P0, M0, Q0 = pos[who], mom[who], charge[who]
            rate = helix.turning_angle(1.0, M0, Q0, b_tesla)
            target = (path_target[rows, j] - consumed[rows]) * rate
            th, hit_pos, hit_mom, ok = _module_crossing(index, P0, M0, Q0, b_tesla, sorted_modules[rows, j], target)
            ok &= th > MIN_STEP_MM * rate
            rows, who, th, hit_pos, hit_mom = rows[ok], who[ok], th[ok], hit_pos[ok], hit_mom[ok]
            step = th / rate[ok]
            module = sorted_modules[rows, j]
            out["particle"].append(who)
            out["module"].append(module)
            out["position"].append(hit_pos)
            out["momentum"].append(hit_mom)
            out["path"].append(travelled[who] + step)
            out["origin_position"].append(P0[ok])
            out["origin_momentum"].append(M0[ok])
            # material of the crossed module
            normal = index.rotations[module][:, :, 2]
            cos_incidence = np.abs(np.sum(normal * hit_mom, axis=1)) / np.linalg.norm(hit_mom, axis=1)
            silicon = 2.0 * index.half_thickness[module] / np.maximum(cos_incidence, 1e-3)
            new_mom = hit_mom
            if settings.multiple_scattering:
                theta0 = highland_theta0(np.linalg.norm(hit_mom, axis=1), mass[who], charge[who], silicon)
                new_mom = scatter(new_mom, theta0, rng)
            if settings.energy_loss:
                new_mom = lose_energy(new_mom, mass[who], silicon)
            pos[who], mom[who] = hit_pos, new_mom
            travelled[who] += step
            turned[who] += th
            consumed[rows] += step
        # move on to the layer surface when the last hit (if any) lies before it
        remaining = theta_layer / to_theta - consumed
        ahead = remaining > 0
        who = active[ahead]
        if len(who):
            rate = helix.turning_angle(1.0, mom[who], charge[who], b_tesla)
            pos[who], mom[who] = helix.helix_at(pos[who], mom[who], charge[who], b_tesla, remaining[ahead] * rate)
            travelled[who] += remaining[ahead]
            turned[who] += remaining[ahead] * rate
        pt_now = np.hypot(mom[active, 0], mom[active, 1])
        alive = (travelled[active] < path_limit[active]) & (pt_now >= settings.min_pt_gev)
        active = active[alive & (turned[active] < max_turning)]
    return _collect(out)


def _barrel_turning_point(index: GeometryIndex, pos, mom, q, b, theta_min):
    """Turning angle of the next point of largest radius when it lies in the barrel region, else inf.

    r^2(theta) = const + 2 sqrt(A^2 + B^2) sin(theta - atan2(B, A)) / omega with A = x.t and
    B = x.n + 1/omega, so the maximum is at theta = atan2(B, A) + pi/2.
    """
    t, n, omega, _, _ = helix.frame(mom, q, b)
    a = np.sum(pos[:, :2] * t, axis=1)
    bb = np.sum(pos[:, :2] * n, axis=1) + 1.0 / omega
    theta = np.mod(np.arctan2(bb, a) + 0.5 * np.pi, helix.TWO_PI)
    theta = np.where(theta <= theta_min, theta + helix.TWO_PI, theta)
    point, _ = helix.helix_at(pos, mom, q, b, theta)
    radius = np.hypot(point[:, 0], point[:, 1])
    barrel = np.flatnonzero(index.layer_barrel)
    nearest = barrel[np.argmin(np.abs(radius[:, None] - index.layer_position[barrel]), axis=1)]
    in_barrel = (point[:, 2] >= index.layer_low[nearest]) & (point[:, 2] <= index.layer_high[nearest])
    return np.where(in_barrel & (radius < index.r_max), theta, np.inf)


def _first_forward(roots, theta_min):
    """Smallest root > theta_min of (theta1, theta2) in [0, 2 pi), else the next turn; inf if none."""
    t1, t2 = roots
    best = np.full(np.shape(t1), np.inf)
    for theta in (t1, t2, t1 + helix.TWO_PI, t2 + helix.TWO_PI):
        best = np.where(np.isfinite(theta) & (theta > theta_min) & (theta < best), theta, best)
    return best


def _collect(out: dict[str, list]) -> PropagationResult:
    if not out["particle"]:
        empty3 = np.zeros((0, 3))
        return PropagationResult(np.zeros(0, np.int64), np.zeros(0, np.int64), empty3, empty3,
                                 np.zeros(0), empty3, empty3)  # fmt: skip
    return PropagationResult(**{k: np.concatenate(v) for k, v in out.items()})
