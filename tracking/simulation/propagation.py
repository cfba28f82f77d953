"""Vectorised propagation of charged particles through the module planes of the detector.

:func:`propagate` takes the field: in the TrackML finite solenoid (or any :class:`~.stepper.FieldTable`)
particles are stepped with Runge-Kutta-Nystroem by the compiled navigator of :mod:`.field_navigation`, which
applies the same navigation rules and material effects as described here. In a uniform field (a number or a
:class:`~gnn4hep.tracking.field.UniformField`) the helix navigator below is exact. Both apply the loop
protection (``PropagationSettings.loop_fraction``, :func:`loop_path_mm`) as a per-particle path limit.

In the uniform field each particle moves on an exact helix (:mod:`.helix`) between module crossings.
All active particles advance together, one *layer crossing* per step (numpy over particles, never a
Python loop over particles or modules):

1. The next crossing of a layer surface (cylinder r = r_L or disk z = z_L) within the detector
   envelope, the path-length limit and (barrel) the next turn. Only the reachable surfaces are
   tested: the barrel cylinders (10 in TrackML, closed-form roots and z), and the next
   :data:`DISKS_AHEAD` disk planes in the direction of p_z, found by binary search in the z-sorted
   disk list. When none of those disks is crossed inside its r range, the particle is moved to
   8 mm before the last of them without hits (a pure navigation step), so no crossing is skipped. Radii and the
   outward test use r^2(theta) = r0^2 + 2 (a sin(theta) + b (1 - cos(theta))) / omega
   + 2 (1 - cos(theta)) / omega^2 (a = x.t, b = x.n), so no 3-vector is built per (particle, layer).
2. The modules registered in the grid cell of that point (:mod:`.geometry_index`) are pre-selected
   with the straight-line extrapolation of the local tangent to each module plane (bounds padded by
   1 mm plus twice the sagitta), then intersected exactly (analytic: barrel planes contain z, disk
   planes are z = const) and kept when the point lies inside the module's trapezoid in local (u, v).
   This includes both modules of an overlap.
3. The accepted crossings are visited in path order. Each is recomputed on the current helix (the
   previous crossing may have scattered the particle), recorded as a hit, and followed by the
   material of that crossing (:mod:`.material`): the layer's effective material for the first module
   of a layer crossing, the module's silicon for further (overlap) modules; multiple scattering and
   energy loss as enabled. Optionally the particle then ends with probability
   :func:`~.material.unrecorded_end_probability` (interactions whose products are not recorded).
4. The particle moves on to the layer surface (or stays at its last hit if that lies beyond it).

Loopers are followed turn after turn until they leave the envelope, fall below ``min_pt_gev`` or
exceed ``max_path_mm``. A barrel layer that the helix cannot reach within the current turn is
searched again at the next step, so slow loopers keep hitting the same layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnn4hep.tracking.field import UniformField
from gnn4hep.tracking.simulation import helix
from gnn4hep.tracking.simulation.field_navigation import propagate_in_field
from gnn4hep.tracking.simulation.stepper import FieldTable, field_at
from gnn4hep.tracking.simulation.geometry_index import GeometryIndex
from gnn4hep.tracking.simulation.material import highland_theta0, lose_energy, scatter, unrecorded_end_probability

MIN_STEP_MM = 1e-4  # crossings closer than this to the current point are the current point
DISKS_AHEAD = 6  # disk planes tested per step (the next ones in z along p_z)
START_LAYER_MM = {True: 4.0, False: 8.0}  # barrel / disk: module planes lie within 1.6 / 5.6 mm of the surface


@dataclass
class PropagationSettings:
    """Options of :func:`propagate` (lengths in mm, momenta in GeV).

    ``layer_material_mm``: optional (n_layers,) silicon-equivalent thickness at normal incidence of
    each layer (sensor plus supports, services), used for the first module of each layer crossing
    instead of the module's own 2 * module_t. ``unrecorded_ends``: end particles at random after a
    hit with :func:`~.material.unrecorded_end_probability` (only those flagged in ``propagate``'s
    ``may_end``). ``barrel_eta_max``: barrel hits seen from the production vertex at a larger
    |pseudorapidity| are not produced (the TrackML navigation acceptance; None: no limit).
    ``skip_start_layer``: a particle produced inside a layer (within :data:`START_LAYER_MM` of its
    surface) makes no hit on that layer, as when the navigation starts from the layer it is on.
    ``inward_start_volume`` (with ``barrel_outward_only``): a particle produced moving inward inside
    a barrel volume crosses the barrel layers of that volume inward only (see
    :func:`_inward_start_volume`).
    ``loop_fraction``: the loop protection of the challenge simulation (ACTS): a particle stops after this
    fraction of one full turn of path, 2 pi p / (K |q| |B|) with p and |B| at the production vertex
    (:func:`loop_path_mm`; None: no limit).
    """

    multiple_scattering: bool = True
    energy_loss: bool = False
    max_path_mm: float = 12_000.0
    max_turns: float | None = None
    barrel_outward_only: bool = True
    stop_turning_in_barrel: bool = True
    stop_turning_in_endcaps: bool = False
    min_pt_gev: float = 0.01
    max_steps: int = 400
    max_hits_per_crossing: int = 4
    layer_material_mm: np.ndarray | None = None
    unrecorded_ends: bool = False
    barrel_eta_max: float | None = None
    skip_start_layer: bool = False
    inward_start_volume: bool = False
    loop_fraction: float | None = None


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


class _Frame:
    """Per-particle helix constants (see :func:`helix.frame`), plus a = x.t and b = x.n (mm)."""

    def __init__(self, pos, mom, q, b_tesla):
        self.t, self.n, self.omega, self.pt, self.tan_lambda = helix.frame(mom, q, b_tesla)
        self.z = pos[:, 2]
        self.rho2 = pos[:, 0] ** 2 + pos[:, 1] ** 2
        self.a = pos[:, 0] * self.t[:, 0] + pos[:, 1] * self.t[:, 1]
        self.b = pos[:, 0] * self.n[:, 0] + pos[:, 1] * self.n[:, 1]

    def kernel(self, k=slice(None)):
        """The :func:`helix.frame` tuple of rows ``k``, for the helix kernels' ``helix_frame``."""
        return self.t[k], self.n[k], self.omega[k], self.pt[k], self.tan_lambda[k]

    def rho2_at(self, theta, k=slice(None)):
        """r^2 (mm^2) after turning angle theta ((n,) or (n, L) with rows k)."""
        col = (lambda x: x[k][:, None]) if np.ndim(theta) == 2 else (lambda x: x[k])
        half = np.sin(0.5 * theta)
        one_minus_cos = 2.0 * half * half
        inv = 1.0 / col(self.omega)
        return col(self.rho2) + 2.0 * inv * (col(self.a) * np.sin(theta) + col(self.b) * one_minus_cos) + 2.0 * one_minus_cos * inv * inv


_NAV_CACHE: dict[int, tuple] = {}


def _navigation(index: GeometryIndex):
    """Cached per index: barrel layers, z-sorted disks, per-module axes (u, v, normal) as (m, 3)."""
    entry = _NAV_CACHE.get(id(index))
    if entry is None or entry[0] is not index:
        barrel = np.flatnonzero(index.layer_barrel)
        disks = np.flatnonzero(~index.layer_barrel)
        disks = disks[np.argsort(index.layer_position[disks], kind="stable")]
        axes = tuple(np.ascontiguousarray(index.rotations[:, :, k]) for k in range(3))
        entry = (index, barrel, disks, index.layer_position[disks], axes)
        _NAV_CACHE.clear()
        _NAV_CACHE[id(index)] = entry
    return entry[1:]


def _next_layer_crossing(index: GeometryIndex, fr: _Frame, theta_min, theta_limit, outward_only, own_volume):
    """Earliest layer crossing of each particle: (layer (n,), theta (n,)); layer -1 if none before
    ``theta_limit``, -2 for a navigation point (the farthest disk tested, none of them crossed).

    With ``outward_only``, barrel layers are crossed outward only, except the layers of each
    particle's ``own_volume`` (n,) (-1: none), which are crossed inward only (see
    :func:`_inward_start_volume`)."""
    barrel, disks, disk_z, _ = _navigation(index)
    n = len(theta_min)
    omega, tan_lambda = fr.omega, fr.tan_lambda
    # barrel cylinders: (2B - D) tau^2 + 2 A tau - D = 0 (see helix.intersect_cylinder)
    radius = index.layer_position[barrel]
    big_a = (omega * fr.a)[:, None]
    big_b = (omega * fr.b + 1.0)[:, None]
    big_d = 0.5 * omega[:, None] ** 2 * (radius[None, :] ** 2 - fr.rho2[:, None])
    t1, t2 = helix._half_angle_roots(2.0 * big_b - big_d, big_a, -big_d)
    z_per_theta = (tan_lambda / omega)[:, None]
    low, high = index.layer_low[barrel], index.layer_high[barrel]
    theta_barrel = np.full((n, len(barrel)), np.inf)
    own = index.layer_volume[barrel][None, :] == own_volume[:, None]
    for root in (t1, t2):
        outward = ((big_a * np.cos(root) + big_b * np.sin(root)) > 0) != own if outward_only else True
        for theta in (root, root + helix.TWO_PI):
            z = fr.z[:, None] + theta * z_per_theta
            ok = (theta > theta_min[:, None]) & (z >= low) & (z <= high) & outward
            theta_barrel = np.where(ok & (theta < theta_barrel), theta, theta_barrel)
    k_barrel = np.argmin(theta_barrel, axis=1)
    best_theta = theta_barrel[np.arange(n), k_barrel]
    best_layer = barrel[k_barrel]
    # disks: the next DISKS_AHEAD planes along p_z, theta increasing with the plane index
    forward = tan_lambda > 0
    start = np.where(forward, np.searchsorted(disk_z, fr.z, side="right"), np.searchsorted(disk_z, fr.z, side="left") - 1)
    step = np.where(forward, 1, -1)
    slots = start[:, None] + step[:, None] * np.arange(DISKS_AHEAD)[None, :]
    exists = (slots >= 0) & (slots < len(disks)) & (tan_lambda != 0)[:, None]
    slots = np.clip(slots, 0, len(disks) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta_disk = (omega / np.where(tan_lambda != 0, tan_lambda, 1.0))[:, None] * (disk_z[slots] - fr.z[:, None])
    exists &= theta_disk > theta_min[:, None]
    theta_safe = np.where(exists, theta_disk, 0.0)
    layer = disks[slots]
    rho2 = fr.rho2_at(theta_safe)
    inside = exists & (rho2 >= index.layer_low[layer] ** 2) & (rho2 <= index.layer_high[layer] ** 2)
    first = np.argmax(inside, axis=1)
    rows = np.arange(n)
    any_inside = inside[rows, first]
    disk_theta = np.where(any_inside, theta_disk[rows, first], np.inf)
    use_disk = disk_theta < best_theta
    best_theta = np.where(use_disk, disk_theta, best_theta)
    best_layer = np.where(use_disk, layer[rows, first], best_layer)
    # none of the tested disks crossed: navigate towards the last one tested if all of them exist,
    # stopping short of its module envelope (the next step tests that disk again)
    short = (omega / np.where(tan_lambda != 0, np.abs(tan_lambda), 1.0)) * START_LAYER_MM[False]
    nav = theta_disk[:, -1] - short
    nav_theta = np.where(~any_inside & exists[:, -1] & (nav > theta_min), nav, np.inf)
    use_nav = nav_theta < best_theta
    best_theta = np.where(use_nav, nav_theta, best_theta)
    best_layer = np.where(use_nav, -2, best_layer)
    found = best_theta < theta_limit
    return np.where(found, best_layer, -1), best_theta


def _module_crossing(index: GeometryIndex, pos, mom, q, b, module, theta_target):
    """Crossing of each particle's helix with ``module`` (same shape as theta_target) nearest to
    ``theta_target``: returns (theta, position, momentum, inside_bounds)."""
    rot = index.rotations[module]
    centre = index.centers[module]
    is_disk = np.abs(rot[..., 2, 2]) > 0.5
    fr = helix.frame(mom, q, b)  # computed once for the three kernels below
    r1, r2 = helix.intersect_axial_plane(pos, mom, q, b, centre, rot[..., :2, 2], helix_frame=fr)
    best = np.full(theta_target.shape, np.nan)
    for root in (r1, r2):
        shifted = root + helix.TWO_PI * np.round((theta_target - root) / helix.TWO_PI)
        closer = np.isfinite(shifted) & ~(np.abs(shifted - theta_target) >= np.abs(best - theta_target))
        best = np.where(closer, shifted, best)
    theta = np.where(is_disk, helix.intersect_z_plane(pos, mom, q, b, centre[..., 2], helix_frame=fr), best)
    finite = np.isfinite(theta)
    point, momentum = helix.helix_at(pos, mom, q, b, np.where(finite, theta, 0.0), helix_frame=fr)
    delta = point - centre
    u = np.sum(delta * rot[..., :, 0], axis=-1)
    v = np.sum(delta * rot[..., :, 1], axis=-1)
    inside = finite & (np.abs(v) <= index.hv[module]) & (np.abs(u) <= index.half_width_u(module, v))
    return theta, point, momentum, inside


def _candidate_pairs(index: GeometryIndex, layer, point, direction, omega):
    """(row, module) pairs whose padded bounds contain the tangent's crossing of the module plane."""
    _, _, _, (axis_u, axis_v, axis_w) = _navigation(index)
    modules = index.cell_modules[index.cells_of(layer, point)]  # (n, K)
    row, col = np.nonzero(modules >= 0)
    module = modules[row, col]
    delta = point[row] - index.centers[module]
    d = direction[row]
    w = np.einsum("ij,ij->i", delta, axis_w[module])
    dw = np.einsum("ij,ij->i", d, axis_w[module])
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(np.abs(dw) > 1e-12, -w / dw, np.inf)
    s = np.where(np.isfinite(s), s, 1e9)
    at = delta + d * s[:, None]
    u = np.einsum("ij,ij->i", at, axis_u[module])
    v = np.einsum("ij,ij->i", at, axis_v[module])
    margin = 1.0 + omega[row] * s * s  # 1 mm + twice the sagitta of the arc of length |s|
    half_u = index.half_width_u(module, v)
    keep = (np.abs(v) <= index.hv[module] + margin) & (np.abs(u) <= half_u + margin) & (np.abs(s) < 1e8)
    return row[keep], module[keep]


def propagate(
    index: GeometryIndex,
    vertex: np.ndarray,
    momentum: np.ndarray,
    charge: np.ndarray,
    mass: np.ndarray,
    field,
    rng: np.random.Generator,
    settings: PropagationSettings | None = None,
    max_path: np.ndarray | None = None,
    may_end: np.ndarray | None = None,
) -> PropagationResult:
    """Propagate particles (vertex (n, 3) mm, momentum (n, 3) GeV, charge (n,) e, mass (n,) GeV).

    ``field``: B_z in tesla or a :class:`~gnn4hep.tracking.field.UniformField` (exact helices, below), or a
    :class:`~gnn4hep.tracking.field.SolenoidField` or a :class:`~.stepper.FieldTable` (Runge-Kutta-Nystroem
    steps, :mod:`.field_navigation`, same navigation rules and material). Hits come grouped by step in the uniform field and by particle
    in the solenoid.

    ``max_path`` (n,) mm optionally ends each particle earlier than ``settings.max_path_mm`` (where
    it decays or interacts). ``may_end`` (n,) bool marks the particles that may end at random when
    ``settings.unrecorded_ends`` is set (default: all). Neutral particles and particles with
    pT < ``settings.min_pt_gev`` produce no hits. Random numbers (scattering, ends) come from
    ``rng`` in a fixed order, so results are reproducible.
    """
    settings = settings or PropagationSettings()
    pos = np.array(vertex, dtype=np.float64).reshape(-1, 3)
    mom = np.array(momentum, dtype=np.float64).reshape(-1, 3)
    origin = pos.copy()
    charge = np.asarray(charge, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    travelled = np.zeros(len(pos))
    path_limit = np.full(len(pos), settings.max_path_mm)
    if max_path is not None:
        path_limit = np.minimum(path_limit, np.asarray(max_path, dtype=np.float64))
    may_end = np.ones(len(pos), bool) if may_end is None else np.asarray(may_end, bool)
    turned = np.zeros(len(pos))  # turning angle from the vertex, rad
    max_turning = np.inf if settings.max_turns is None else helix.TWO_PI * settings.max_turns
    pt = np.hypot(mom[:, 0], mom[:, 1])
    active = np.flatnonzero((charge != 0) & (pt >= settings.min_pt_gev) & np.all(np.isfinite(mom), axis=1))
    start_layer = _start_layer(index, origin) if settings.skip_start_layer else np.full(len(pos), -1)
    use_own = settings.inward_start_volume and settings.barrel_outward_only
    own_volume = _inward_start_volume(index, origin, mom) if use_own else np.full(len(pos), -1)
    if settings.loop_fraction is not None:
        path_limit = np.minimum(path_limit, loop_path_mm(origin, mom, charge, field, settings.loop_fraction))
    b_tesla = _uniform_b(field)
    if b_tesla is None:
        columns = propagate_in_field(index, pos, mom, charge, mass, field, rng, settings, path_limit, may_end,
                                     start_layer, own_volume, active)
        return PropagationResult(**columns)
    out: dict[str, list] = {k: [] for k in PropagationResult.__dataclass_fields__}
    for _ in range(settings.max_steps):
        if len(active) == 0:
            break
        P, M, Q = pos[active], mom[active], charge[active]
        fr = _Frame(P, M, Q, b_tesla)
        p_abs = np.linalg.norm(M, axis=1)
        to_theta = fr.omega * fr.pt / p_abs  # rad per mm of path
        theta_min = MIN_STEP_MM * to_theta
        with np.errstate(divide="ignore", invalid="ignore"):
            z_exit = fr.omega * (np.where(M[:, 2] >= 0, index.z_max, -index.z_max) - fr.z) / fr.tan_lambda
        z_exit = np.where(np.isfinite(z_exit) & (z_exit > 0), z_exit, np.inf)
        theta_exit = np.minimum(_first_forward(helix.intersect_cylinder(P, M, Q, b_tesla, index.r_max), theta_min), z_exit)
        theta_limit = np.minimum(theta_exit, (path_limit[active] - travelled[active]) * to_theta)
        theta_limit = np.minimum(theta_limit, max_turning - turned[active])
        if settings.stop_turning_in_barrel or settings.stop_turning_in_endcaps:
            theta_limit = np.minimum(theta_limit, _turning_point(index, P, M, Q, b_tesla, theta_min, fr,
                                                                 settings.stop_turning_in_barrel,
                                                                 settings.stop_turning_in_endcaps))
        layer, theta_layer = _next_layer_crossing(index, fr, theta_min, theta_limit, settings.barrel_outward_only,
                                                  own_volume[active])
        keep = layer != -1
        keep_rows = np.flatnonzero(keep)
        active, P, M, Q, layer, theta_layer, to_theta = (a[keep] for a in (active, P, M, Q, layer, theta_layer, to_theta))
        omega, theta_limit = fr.omega[keep], theta_limit[keep]
        if len(active) == 0:
            break
        # candidate modules of the crossed layer, exact crossings, sorted by path
        surface = np.flatnonzero(layer >= 0)
        point, direction = helix.helix_at(P[surface], M[surface], Q[surface], b_tesla, theta_layer[surface],
                                          helix_frame=fr.kernel(keep_rows[surface]))
        direction /= np.linalg.norm(direction, axis=1)[:, None]
        rows, modules = _candidate_pairs(index, layer[surface], point, direction, omega[surface])
        rows = surface[rows]
        theta, _, _, inside = _module_crossing(index, P[rows], M[rows], Q[rows], b_tesla, modules, theta_layer[rows])
        valid = inside & (theta > MIN_STEP_MM * to_theta[rows]) & (theta < theta_limit[rows])
        rows, modules, theta = rows[valid], modules[valid], theta[valid]
        order = np.lexsort((theta, rows))
        rows, modules, theta = rows[order], modules[order], theta[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
        path_target = theta / to_theta[rows]  # mm from the start of the step
        consumed = np.zeros(len(active))
        ended = np.zeros(len(active), bool)
        had_hit = np.zeros(len(active), bool)
        for j in range(settings.max_hits_per_crossing):
            sel = np.flatnonzero(rank == j)
            sel = sel[~ended[rows[sel]]]
            if len(sel) == 0:
                break
            r_sel, module = rows[sel], modules[sel]
            who = active[r_sel]
            P0, M0, Q0 = pos[who], mom[who], charge[who]
            rate = helix.turning_angle(1.0, M0, Q0, b_tesla)
            target = (path_target[sel] - consumed[r_sel]) * rate
            th, hit_pos, hit_mom, ok = _module_crossing(index, P0, M0, Q0, b_tesla, module, target)
            ok &= th > MIN_STEP_MM * rate
            if settings.barrel_eta_max is not None:
                ok &= ~_beyond_barrel_acceptance(index, module, hit_pos, origin[who], settings.barrel_eta_max)
            ok &= index.module_layer[module] != start_layer[who]
            r_sel, who, module, th, hit_pos, hit_mom = r_sel[ok], who[ok], module[ok], th[ok], hit_pos[ok], hit_mom[ok]
            first_in_layer, P0, M0, rate = ~had_hit[r_sel], P0[ok], M0[ok], rate[ok]
            had_hit[r_sel] = True
            step = th / rate
            out["particle"].append(who)
            out["module"].append(module)
            out["position"].append(hit_pos)
            out["momentum"].append(hit_mom)
            out["path"].append(travelled[who] + step)
            out["origin_position"].append(P0)
            out["origin_momentum"].append(M0)
            new_mom = _material(index, settings, module, layer[r_sel], first_in_layer, hit_mom, mass[who], charge[who], rng)
            pos[who], mom[who] = hit_pos, new_mom
            travelled[who] += step
            turned[who] += th
            consumed[r_sel] += step
            if settings.unrecorded_ends:
                u = rng.random(len(who))
                stop = may_end[who] & (u < unrecorded_end_probability(np.hypot(new_mom[:, 0], new_mom[:, 1])))
                ended[r_sel[stop]] = True
                path_limit[who[stop]] = travelled[who[stop]]
        # move on to the layer surface when the last hit (if any) lies before it
        remaining = theta_layer / to_theta - consumed
        ahead = (remaining > 0) & ~ended
        who = active[ahead]
        if len(who):
            rate = helix.turning_angle(1.0, mom[who], charge[who], b_tesla)
            pos[who], mom[who] = helix.helix_at(pos[who], mom[who], charge[who], b_tesla, remaining[ahead] * rate)
            travelled[who] += remaining[ahead]
            turned[who] += remaining[ahead] * rate
        pt_now = np.hypot(mom[active, 0], mom[active, 1])
        alive = (travelled[active] < path_limit[active]) & (pt_now >= settings.min_pt_gev) & ~ended
        active = active[alive & (turned[active] < max_turning)]
    return _collect(out)


def _uniform_b(field) -> float | None:
    """B_z (T) of a uniform field given as a number or UniformField; None for other fields."""
    if isinstance(field, FieldTable):
        return None
    if isinstance(field, UniformField):
        return float(field.b_tesla)
    if isinstance(field, (int, float, np.floating)):
        return float(field)
    return None


def loop_path_mm(vertex, momentum, charge, field, fraction: float) -> np.ndarray:
    """Loop-protection path limit (mm) of each particle: ``fraction`` * 2 pi p / (K |q| |B(vertex)|).

    One full turn of a helix in the field |B| has the 3-D path length 2 pi p / (K |q| |B|) (p in GeV,
    K = 0.299792458e-3 GeV / (T mm)); ACTS's propagator stops a particle after ``loopFraction`` of it, with p
    and B taken where the propagation starts. Neutral particles get inf.
    """
    vertex = np.asarray(vertex, dtype=np.float64).reshape(-1, 3)
    p = np.linalg.norm(np.asarray(momentum, dtype=np.float64).reshape(-1, 3), axis=1)
    b_value = _uniform_b(field)
    if b_value is not None:
        b = np.full(len(p), abs(b_value))
    elif isinstance(field, FieldTable):
        b = np.array([np.linalg.norm(field_at(*v, field.b_rho, field.b_z, field.step_mm, field.z0_mm)) for v in vertex])
    else:
        b = np.linalg.norm(field(vertex), axis=1)
    q = np.abs(np.asarray(charge, dtype=np.float64))
    with np.errstate(divide="ignore"):
        turn = 2.0 * np.pi * p / (helix.C_GEV_PER_T_MM * q * b)
    return np.where(q * b > 0, fraction * turn, np.inf)


def _material(index, settings, module, layer, first_in_layer, momentum, mass, charge, rng):
    """Momentum after the material of a crossing (scattering draws 2 normals per crossing)."""
    normal = index.rotations[module][:, :, 2]
    p = np.linalg.norm(momentum, axis=1)
    cos_incidence = np.abs(np.sum(normal * momentum, axis=1)) / p
    thickness = 2.0 * index.half_thickness[module]
    if settings.layer_material_mm is not None:
        thickness = np.where(first_in_layer, np.asarray(settings.layer_material_mm)[layer], thickness)
    path = thickness / np.maximum(cos_incidence, 1e-3)
    new_mom = momentum
    if settings.multiple_scattering:
        new_mom = scatter(new_mom, highland_theta0(p, mass, charge, path), rng)
    if settings.energy_loss:
        new_mom = lose_energy(new_mom, mass, path)
    return new_mom


def _start_layer(index: GeometryIndex, vertex):
    """Layer whose envelope holds each vertex (n, 3) mm, -1 if none."""
    r = np.hypot(vertex[:, 0], vertex[:, 1])
    along = np.where(index.layer_barrel[None, :], r[:, None], vertex[:, 2:3])
    across = np.where(index.layer_barrel[None, :], vertex[:, 2:3], r[:, None])
    width = np.where(index.layer_barrel, START_LAYER_MM[True], START_LAYER_MM[False])
    inside = (np.abs(along - index.layer_position) <= width) & (across >= index.layer_low) & (across <= index.layer_high)
    return np.where(inside.any(axis=1), np.argmax(inside, axis=1), -1)


def _inward_start_volume(index: GeometryIndex, vertex, momentum):
    """Barrel volume id (n,) of each particle produced moving inward inside a barrel volume, else -1.

    The challenge simulation navigates volume by volume. A particle made moving inward (x_T . p_T < 0,
    a secondary from an interaction in a support or sensor) is taken inward through the layers of
    the barrel volume it starts in (hits on the way in), and once it turns outward it gets no further
    hit in that volume: its next hits are in the next volume out. In the truth of the real sample
    event (event000000001) the inward-made particles with barrel hits follow this (e.g. a proton made
    at r = 119 mm moving inward has no pixel hit but hits every short-strip layer; a particle made at
    r = 200 mm hits 8/8, 8/6, 8/4 on the way in, then 13/2...; one made at r = 355 mm hits 13/2 on the
    way in, then 17/2). The volume is that of the nearest barrel layer in radius (the support tube at
    r = 200 mm counts as pixel, as in the data), if the vertex lies within that layer's z range and
    not inside the innermost layer's envelope (a vertex in the beam pipe has no volume).
    """
    barrel = np.flatnonzero(index.layer_barrel)
    r = np.hypot(vertex[:, 0], vertex[:, 1])
    nearest = barrel[np.argmin(np.abs(r[:, None] - index.layer_position[barrel][None, :]), axis=1)]
    inner = index.layer_position[barrel].min() - START_LAYER_MM[True]
    in_z = (vertex[:, 2] >= index.layer_low[nearest]) & (vertex[:, 2] <= index.layer_high[nearest])
    inward = vertex[:, 0] * momentum[:, 0] + vertex[:, 1] * momentum[:, 1] < 0
    return np.where(inward & in_z & (r >= inner), index.layer_volume[nearest], -1)


def _beyond_barrel_acceptance(index: GeometryIndex, module, position, vertex, eta_max: float):
    """True for barrel hits whose |pseudorapidity| seen from the production vertex exceeds eta_max."""
    barrel = index.layer_barrel[index.module_layer[module]]
    rho = np.hypot(position[:, 0] - vertex[:, 0], position[:, 1] - vertex[:, 1])
    dz = np.abs(position[:, 2] - vertex[:, 2])
    return barrel & (dz > rho * np.sinh(eta_max))


def _turning_point(index: GeometryIndex, pos, mom, q, b, theta_min, fr: _Frame, in_barrel=True, in_endcaps=False):
    """Turning angle of the next point of largest radius when it lies in the barrel region (and/or
    outside it, inside the envelope), else inf.

    r^2(theta) = const + 2 sqrt(A^2 + B^2) sin(theta - atan2(B, A)) / omega with A = x.t and
    B = x.n + 1/omega, so the maximum is at theta = atan2(B, A) + pi/2.
    """
    a = fr.a
    bb = fr.b + 1.0 / fr.omega
    theta = np.mod(np.arctan2(bb, a) + 0.5 * np.pi, helix.TWO_PI)
    theta = np.where(theta <= theta_min, theta + helix.TWO_PI, theta)
    point, _ = helix.helix_at(pos, mom, q, b, theta, helix_frame=fr.kernel())
    radius = np.hypot(point[:, 0], point[:, 1])
    barrel = np.flatnonzero(index.layer_barrel)
    nearest = barrel[np.argmin(np.abs(radius[:, None] - index.layer_position[barrel]), axis=1)]
    in_barrel_region = (point[:, 2] >= index.layer_low[nearest]) & (point[:, 2] <= index.layer_high[nearest])
    where = (in_barrel & in_barrel_region) | (in_endcaps & ~in_barrel_region)
    return np.where(where & (radius < index.r_max), theta, np.inf)


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
