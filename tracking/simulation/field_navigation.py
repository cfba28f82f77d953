"""Propagation through the module planes in a non-uniform field: Runge-Kutta-Nystroem steps plus exact crossings.

The uniform field has exact helices (:mod:`.propagation`); the finite solenoid does not: its radial component
(0.15-0.5 T in the end-caps) turns the transverse momentum at the rate B_z - B_r cot(theta) cos(psi) and
changes pT, so no helix about z is exact. Here each particle is followed by one compiled loop (numba, one
particle after the other, no Python per step), with the same navigation rules and material effects as the
helix navigator (see :mod:`.propagation` and :class:`.propagation.PropagationSettings`):

1. **Steps.** :func:`.stepper.rkn_step` (fourth order, field from the bilinear (rho, z) table) with length
   h = min(:data:`MAX_STEP_MM`, :data:`STEP_ANGLE` * p / (K |q| |B|)): at most 0.1 rad of turning per step.
2. **Layer crossings inside a step** are found on the cubic Hermite interpolant of the step (end points and
   directions; its error is far below the 12 mm padding of the layer grids): sign changes of r^2 - r_L^2 on
   each monotonic piece of r (split at the radial extremum) for the barrel cylinders, of z - z_L for the disk
   planes. Barrel crossings keep the outward-only rule (inward-only in a particle's own start volume), z must
   lie in the layer's range (barrel), r in the disk's range (disks). The earliest crossing is taken.
3. **Module crossings** of the modules registered in the grid cell of that point (pre-selected with the
   straight tangent, padded by 1 mm + the sagitta) are solved by Newton's method on partial RKN steps from the
   step's start, to 1e-7 mm from the plane; kept when inside the trapezoid, ahead of the last hit or layer
   point and before the particle stops. They are visited in path order, each re-solved from the state after
   the previous hit's material (multiple scattering, energy loss, optional random end), as in the helix
   navigator. The particle then moves on to the layer surface (or stays at its last hit beyond it).
4. **Stops:** the path limit (``path_limit``, which includes the loop protection), leaving the envelope,
   pT below ``min_pt_gev``, the turning point (largest radius) in the barrel region and/or outside it
   (found on the Hermite interpolant as the sign change of x_T . t_T), the turning-angle limit.

Random numbers come from pools drawn beforehand (two normals per scattering, one uniform per hit with random
ends), consumed in particle order, so results are reproducible. If a pool or the output runs short the
kernel reports it and :func:`propagate_in_field` redraws larger pools and runs again.

Accuracy: every hit lies within 1e-7 mm of its module plane; against an independent fine-step integration of
the same field (scipy DOP853, rtol 1e-11) the hits of particles down to pT = 0.1 GeV and |eta| = 3.5 agree to
better than 1 um (tests/tracking/simulation/test_field_navigation.py).
"""

from __future__ import annotations

import math
from dataclasses import fields

import numba as nb
import numpy as np

from gnn4hep.tracking.simulation import material as material_model
from gnn4hep.tracking.simulation.stepper import (K_GEV_PER_T_MM, field_at, field_table, plane_crossing, rkn_step,
                                                 segment_coord, segment_root, segment_value)

MIN_STEP_MM = 1e-4  # crossings closer than this to the last hit or layer point are that point
MAX_STEP_MM = 50.0  # longest RKN step
STEP_ANGLE = 0.1  # largest bending angle (rad) of one step
MAX_STEPS = 100_000  # per particle: a safety net, never reached by particles that can leave the detector
NEWTON_TOLERANCE_MM = 1e-7
SAME_LAYER_MM = 1.0  # a layer just processed is not crossed again within this path length


@nb.njit(cache=True)
def highland_theta0(p, mass, charge, length, x0_mm):
    """The scalar form of :func:`.material.highland_theta0` (rad): Highland with the Lynch-Dahl logarithm."""
    beta = p / math.sqrt(p * p + mass * mass)
    x = length / x0_mm
    log_term = 1.0 + 0.038 * math.log(max(x * charge * charge / (beta * beta), 1e-12))
    return 0.0136 / (beta * p) * abs(charge) * math.sqrt(x) * max(log_term, 0.0)


@nb.njit(cache=True)
def momentum_after_loss(p, mass, length, dedx):
    """The scalar form of :func:`.material.lose_energy`: |p| (GeV) after the mean loss over ``length`` mm."""
    energy = math.sqrt(p * p + mass * mass) - dedx * length
    return math.sqrt(max(energy * energy - mass * mass, 1e-6))


@nb.njit(cache=True)
def _local_uv(px, py, pz, module, centers, rotations):
    dx = px - centers[module, 0]
    dy = py - centers[module, 1]
    dz = pz - centers[module, 2]
    u = dx * rotations[module, 0, 0] + dy * rotations[module, 1, 0] + dz * rotations[module, 2, 0]
    v = dx * rotations[module, 0, 1] + dy * rotations[module, 1, 1] + dz * rotations[module, 2, 1]
    return u, v


@nb.njit(cache=True)
def _half_width_u(module, v, min_hu, max_hu, hv):
    fraction = min(max((v + hv[module]) / (2.0 * hv[module]), 0.0), 1.0)
    return min_hu[module] + (max_hu[module] - min_hu[module]) * fraction


@nb.njit(cache=True)
def _cell_of(layer, x, y, z, layer_barrel, n_phi, n_second, low2, width2, cell_offset):
    phi = math.atan2(y, x)
    if phi < 0.0:
        phi += 2.0 * math.pi
    second = z if layer_barrel[layer] else math.sqrt(x * x + y * y)
    i_phi = min(int(phi / (2.0 * math.pi) * n_phi[layer]), n_phi[layer] - 1)
    i2 = min(max(int((second - low2[layer]) / width2[layer]), 0), n_second[layer] - 1)
    return cell_offset[layer] + i_phi * n_second[layer] + i2


@nb.njit(cache=True)
def _kernel(geometry_i, geometry_f, cell_modules, centers, rotations, r_max, z_max,
            b_rho, b_z, t_step, t_z0,
            active, pos, mom, charge, mass, path_limit, may_end, start_layer, own_volume,
            flags, params, layer_material, normals, uniforms,
            o_particle, o_module, o_pos, o_mom, o_path, o_opos, o_omom):  # fmt: skip
    """Propagate the ``active`` particles; returns (n_hits, status) with status 0 (done), 1 (output full),
    2 (normals pool empty), 3 (uniforms pool empty). See :func:`propagate_in_field` for the arguments."""
    barrel, disks, layer_barrel, layer_volume, n_phi, n_second, cell_offset, module_layer = geometry_i
    disk_z, layer_position, layer_low, layer_high, low2, width2, min_hu, max_hu, hv, half_thickness = geometry_f
    ms, eloss, outward_only, stop_barrel, stop_endcaps, use_material, unrecorded, max_hits = (
        flags[0], flags[1], flags[2], flags[3], flags[4], flags[5], flags[6], flags[7])
    min_pt, max_turning, eta_max, x0_mm, dedx, end_c, end_k = (
        params[0], params[1], params[2], params[3], params[4], params[5], params[6])
    sinh_eta = math.sinh(eta_max) if eta_max < 1e6 else np.inf
    capacity = o_particle.shape[0]
    n_out = 0
    i_norm = 0
    i_unif = 0
    seg = np.empty(13)
    kmax = cell_modules.shape[1]
    cand_s = np.empty(kmax)
    cand_m = np.empty(kmax, np.int64)
    n_barrel = barrel.shape[0]
    n_disks = disks.shape[0]
    for a in range(active.shape[0]):
        i = active[a]
        x, y, z = pos[i, 0], pos[i, 1], pos[i, 2]
        vx, vy, vz = x, y, z
        p = math.sqrt(mom[i, 0] ** 2 + mom[i, 1] ** 2 + mom[i, 2] ** 2)
        tx, ty, tz = mom[i, 0] / p, mom[i, 1] / p, mom[i, 2] / p
        q = charge[i]
        m = mass[i]
        # state after the last material (the vertex first): where the trajectory to the next hit starts
        ox, oy, oz, opx, opy, opz = x, y, z, mom[i, 0], mom[i, 1], mom[i, 2]
        travelled = 0.0
        back = 0.0  # path since the last hit or layer point
        turned = 0.0
        last_layer = -1
        last_layer_path = -1e9
        limit = path_limit[i]
        for _ in range(MAX_STEPS):
            if p * math.sqrt(tx * tx + ty * ty) < min_pt:
                break
            remaining = limit - travelled
            if remaining <= MIN_STEP_MM:
                break
            lam = K_GEV_PER_T_MM * q / p
            bx, by, bz = field_at(x, y, z, b_rho, b_z, t_step, t_z0)
            bmag = math.sqrt(bx * bx + by * by + bz * bz)
            h = MAX_STEP_MM
            if bmag > 0.0:
                h = min(h, STEP_ANGLE * p / (K_GEV_PER_T_MM * abs(q) * bmag))
            last = h >= remaining
            if last:
                h = remaining
            x1, y1, z1, tx1, ty1, tz1 = rkn_step(x, y, z, tx, ty, tz, lam, h, b_rho, b_z, t_step, t_z0)
            seg[0], seg[1], seg[2], seg[3], seg[4], seg[5] = x, y, z, tx, ty, tz
            seg[6], seg[7], seg[8], seg[9], seg[10], seg[11], seg[12] = x1, y1, z1, tx1, ty1, tz1, h
            # radial extremum inside the step (at most one: the step bends by <= 0.1 rad)
            rd0 = x * tx + y * ty
            rd1 = x1 * tx1 + y1 * ty1
            u_ext = -1.0
            if (rd0 > 0.0) != (rd1 > 0.0) and rd0 != 0.0:
                u_ext = segment_root(seg, 2, 0.0, 0.0, 1.0)
            stop_at = np.inf
            if u_ext >= 0.0 and rd0 > 0.0 and (stop_barrel or stop_endcaps):
                xe, ye, ze = segment_coord(seg, u_ext, 0), segment_coord(seg, u_ext, 1), segment_coord(seg, u_ext, 2)
                re = math.sqrt(xe * xe + ye * ye)
                nearest = barrel[0]
                for b in range(n_barrel):
                    if abs(re - layer_position[barrel[b]]) < abs(re - layer_position[nearest]):
                        nearest = barrel[b]
                in_region = layer_low[nearest] <= ze <= layer_high[nearest]
                if ((stop_barrel and in_region) or (stop_endcaps and not in_region)) and re < r_max:
                    stop_at = u_ext * h
            dturn = abs(math.atan2(tx * ty1 - ty * tx1, tx * tx1 + ty * ty1))
            if turned + dturn > max_turning:
                stop_at = min(stop_at, h * (max_turning - turned) / dturn)
            s_cap = min(stop_at, remaining)
            s_end = min(h, s_cap)
            # earliest layer crossing in (0, s_end)
            s_best = np.inf
            l_best = -1
            n_pieces = 2 if u_ext >= 0.0 else 1
            for piece in range(n_pieces):
                ua = 0.0 if piece == 0 else u_ext
                ub = 1.0 if (piece == 1 or u_ext < 0.0) else u_ext
                ra2 = segment_value(seg, ua, 0)
                rb2 = segment_value(seg, ub, 0)
                outward = rb2 > ra2
                for b in range(n_barrel):
                    layer = barrel[b]
                    rl2 = layer_position[layer] ** 2
                    if (ra2 < rl2) == (rb2 < rl2):
                        continue
                    if outward_only and outward == (layer_volume[layer] == own_volume[i]):
                        continue
                    u = segment_root(seg, 0, rl2, ua, ub)
                    s = u * h
                    if s >= s_best or s >= s_end or (layer == last_layer and travelled + s - last_layer_path < SAME_LAYER_MM):
                        continue
                    zc = segment_coord(seg, u, 2)
                    if layer_low[layer] <= zc <= layer_high[layer]:
                        s_best = s
                        l_best = layer
            if z1 != z:
                zlo = min(z, z1)
                zhi = max(z, z1)
                k = np.searchsorted(disk_z, zlo)
                while k < n_disks and disk_z[k] <= zhi:
                    layer = disks[k]
                    zl = disk_z[k]
                    k += 1
                    if (z < zl) == (z1 < zl):
                        continue
                    u = segment_root(seg, 1, zl, 0.0, 1.0)
                    s = u * h
                    if s >= s_best or s >= s_end or (layer == last_layer and travelled + s - last_layer_path < SAME_LAYER_MM):
                        continue
                    xc, yc = segment_coord(seg, u, 0), segment_coord(seg, u, 1)
                    rc = math.sqrt(xc * xc + yc * yc)
                    if layer_low[layer] <= rc <= layer_high[layer]:
                        s_best = s
                        l_best = layer
            if l_best < 0:
                if stop_at < h or last:
                    break
                x, y, z, tx, ty, tz = x1, y1, z1, tx1, ty1, tz1
                travelled += h
                back += h
                turned += dturn
                if x * x + y * y > r_max * r_max or abs(z) > z_max:
                    break
                continue
            # ---- a layer crossing at s_best from the step's start: candidate modules, exact crossings
            layer = l_best
            lx, ly, lz, ltx, lty, ltz = rkn_step(x, y, z, tx, ty, tz, lam, s_best, b_rho, b_z, t_step, t_z0)
            cell = _cell_of(layer, lx, ly, lz, layer_barrel, n_phi, n_second, low2, width2, cell_offset)
            curvature = K_GEV_PER_T_MM * abs(q) * bmag / p
            n_cand = 0
            for kk in range(kmax):
                module = cell_modules[cell, kk]
                if module < 0:
                    break
                wx, wy, wz = rotations[module, 0, 2], rotations[module, 1, 2], rotations[module, 2, 2]
                cx, cy, cz = centers[module, 0], centers[module, 1], centers[module, 2]
                dw = ltx * wx + lty * wy + ltz * wz
                if abs(dw) < 1e-12:
                    continue
                sl = -((lx - cx) * wx + (ly - cy) * wy + (lz - cz) * wz) / dw
                if abs(sl) > 1e4:
                    continue
                uu, vv = _local_uv(lx + ltx * sl, ly + lty * sl, lz + ltz * sl, module, centers, rotations)
                margin = 1.0 + curvature * sl * sl
                if abs(vv) > hv[module] + margin or abs(uu) > _half_width_u(module, vv, min_hu, max_hu, hv) + margin:
                    continue
                ok, s, hx, hy, hz, htx, hty, htz = plane_crossing(x, y, z, tx, ty, tz, lam, s_best + sl, cx, cy, cz,
                                                                  wx, wy, wz, b_rho, b_z, t_step, t_z0,
                                                                  NEWTON_TOLERANCE_MM)
                if not ok or s + back <= MIN_STEP_MM or s >= s_cap:
                    continue
                uu, vv = _local_uv(hx, hy, hz, module, centers, rotations)
                if abs(vv) > hv[module] or abs(uu) > _half_width_u(module, vv, min_hu, max_hu, hv):
                    continue
                # insertion in path order
                j = n_cand
                while j > 0 and cand_s[j - 1] > s:
                    cand_s[j] = cand_s[j - 1]
                    cand_m[j] = cand_m[j - 1]
                    j -= 1
                cand_s[j] = s
                cand_m[j] = module
                n_cand += 1
            # ---- visit them in path order, each re-solved from the state after the previous hit's material
            cx_, cy_, cz_, ctx, cty, ctz = x, y, z, tx, ty, tz
            s_cur = 0.0
            cback = back
            had_hit = False
            ended = False
            for j in range(min(n_cand, max_hits)):
                module = cand_m[j]
                clam = K_GEV_PER_T_MM * q / p
                wx, wy, wz = rotations[module, 0, 2], rotations[module, 1, 2], rotations[module, 2, 2]
                ok, ds, hx, hy, hz, htx, hty, htz = plane_crossing(
                    cx_, cy_, cz_, ctx, cty, ctz, clam, cand_s[j] - s_cur, centers[module, 0], centers[module, 1],
                    centers[module, 2], wx, wy, wz, b_rho, b_z, t_step, t_z0, NEWTON_TOLERANCE_MM)  # fmt: skip
                if not ok or ds + cback <= MIN_STEP_MM:
                    continue
                uu, vv = _local_uv(hx, hy, hz, module, centers, rotations)
                if abs(vv) > hv[module] or abs(uu) > _half_width_u(module, vv, min_hu, max_hu, hv):
                    continue
                if layer_barrel[module_layer[module]] and abs(hz - vz) > math.hypot(hx - vx, hy - vy) * sinh_eta:
                    continue
                if module_layer[module] == start_layer[i]:
                    continue
                if n_out >= capacity:
                    return n_out, 1
                o_particle[n_out] = i
                o_module[n_out] = module
                o_pos[n_out, 0], o_pos[n_out, 1], o_pos[n_out, 2] = hx, hy, hz
                o_mom[n_out, 0], o_mom[n_out, 1], o_mom[n_out, 2] = p * htx, p * hty, p * htz
                o_path[n_out] = travelled + s_cur + ds
                o_opos[n_out, 0], o_opos[n_out, 1], o_opos[n_out, 2] = ox, oy, oz
                o_omom[n_out, 0], o_omom[n_out, 1], o_omom[n_out, 2] = opx, opy, opz
                n_out += 1
                # material of the crossing
                thickness = layer_material[layer] if (use_material and not had_hit) else 2.0 * half_thickness[module]
                cos_incidence = abs(htx * wx + hty * wy + htz * wz)
                length = thickness / max(cos_incidence, 1e-3)
                if ms:
                    if i_norm + 2 > normals.shape[0]:
                        return n_out, 2
                    theta0 = highland_theta0(p, m, q, length, x0_mm)
                    if abs(htz) < 0.9:  # e1 = t x z
                        e1x, e1y, e1z = hty, -htx, 0.0
                    else:  # e1 = t x x
                        e1x, e1y, e1z = 0.0, htz, -hty
                    norm = math.sqrt(e1x * e1x + e1y * e1y + e1z * e1z)
                    e1x, e1y, e1z = e1x / norm, e1y / norm, e1z / norm
                    e2x = hty * e1z - htz * e1y
                    e2y = htz * e1x - htx * e1z
                    e2z = htx * e1y - hty * e1x
                    a1 = normals[i_norm] * theta0
                    a2 = normals[i_norm + 1] * theta0
                    i_norm += 2
                    htx, hty, htz = htx + a1 * e1x + a2 * e2x, hty + a1 * e1y + a2 * e2y, htz + a1 * e1z + a2 * e2z
                    norm = math.sqrt(htx * htx + hty * hty + htz * htz)
                    htx, hty, htz = htx / norm, hty / norm, htz / norm
                if eloss:
                    p = momentum_after_loss(p, m, length, dedx)
                had_hit = True
                cx_, cy_, cz_, ctx, cty, ctz = hx, hy, hz, htx, hty, htz
                ox, oy, oz, opx, opy, opz = hx, hy, hz, p * htx, p * hty, p * htz
                s_cur += ds
                cback = 0.0
                if unrecorded:
                    if i_unif >= uniforms.shape[0]:
                        return n_out, 3
                    draw = uniforms[i_unif]
                    i_unif += 1
                    pt_new = max(p * math.sqrt(htx * htx + hty * hty), 1e-3)
                    if may_end[i] and draw < min(end_c + end_k / (pt_new * pt_new), 0.5):
                        ended = True
                        break
            if ended:
                break
            rest = s_best - s_cur
            if rest > 0.0:
                clam = K_GEV_PER_T_MM * q / p
                cx_, cy_, cz_, ctx, cty, ctz = rkn_step(cx_, cy_, cz_, ctx, cty, ctz, clam, rest, b_rho, b_z, t_step, t_z0)
                cback += rest
                s_cur = s_best
            turned += abs(math.atan2(tx * cty - ty * ctx, tx * ctx + ty * cty))
            x, y, z, tx, ty, tz = cx_, cy_, cz_, ctx, cty, ctz
            travelled += s_cur
            back = cback
            last_layer = layer
            last_layer_path = travelled
    return n_out, 0


def _geometry(index):
    """The index arrays in the kernel's layout (cached on the index object's id)."""
    entry = _GEOMETRY.get(id(index))
    if entry is not None and entry[0] is index:
        return entry[1]
    barrel = np.flatnonzero(index.layer_barrel)
    barrel = barrel[np.argsort(index.layer_position[barrel], kind="stable")].astype(np.int64)
    disks = np.flatnonzero(~index.layer_barrel)
    disks = disks[np.argsort(index.layer_position[disks], kind="stable")].astype(np.int64)
    as_i = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    as_f = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    geometry_i = (barrel, disks, np.ascontiguousarray(index.layer_barrel, dtype=np.bool_), as_i(index.layer_volume),
                  as_i(index.n_phi), as_i(index.n_second), as_i(index.cell_offset), as_i(index.module_layer))  # fmt: skip
    geometry_f = (as_f(index.layer_position[disks]), as_f(index.layer_position), as_f(index.layer_low),
                  as_f(index.layer_high), as_f(index.low2), as_f(index.width2), as_f(index.min_hu), as_f(index.max_hu),
                  as_f(index.hv), as_f(index.half_thickness))  # fmt: skip
    arrays = (geometry_i, geometry_f, as_i(index.cell_modules), as_f(index.centers), as_f(index.rotations),
              float(index.r_max), float(index.z_max))  # fmt: skip
    _GEOMETRY.clear()
    _GEOMETRY[id(index)] = (index, arrays)
    return arrays


_GEOMETRY: dict[int, tuple] = {}

#: The PropagationSettings the kernel implements (max_steps counts the helix navigator's layer steps: unused here).
#: A new setting with a non-default value is refused rather than silently ignored.
KERNEL_SETTINGS = ("multiple_scattering", "energy_loss", "max_path_mm", "max_turns", "barrel_outward_only",
                   "stop_turning_in_barrel", "stop_turning_in_endcaps", "min_pt_gev", "max_steps",
                   "max_hits_per_crossing", "layer_material_mm", "unrecorded_ends", "barrel_eta_max",
                   "skip_start_layer", "inward_start_volume", "loop_fraction")  # fmt: skip


def propagate_in_field(index, pos, mom, charge, mass, field, rng, settings, path_limit, may_end, start_layer,
                       own_volume, active):  # fmt: skip
    """Run the kernel on the ``active`` rows; returns the columns of a
    :class:`~.propagation.PropagationResult` as a dict (hits grouped by particle, in path order).

    Arguments as prepared by :func:`.propagation.propagate`: ``pos``, ``mom`` (n, 3) mm / GeV, ``charge``,
    ``mass`` (n,), ``field`` (a number, UniformField or SolenoidField), ``path_limit`` (n,) mm, ``may_end``
    (n,) bool, ``start_layer`` and ``own_volume`` (n,) int (-1: none), ``active`` (k,) rows to propagate.
    """
    unknown = [f.name for f in fields(settings) if f.name not in KERNEL_SETTINGS and getattr(settings, f.name) != f.default]
    if unknown:
        raise NotImplementedError(f"propagation setting(s) {unknown} are not implemented in the field navigator")
    table = field_table(field)
    n_active = len(active)
    flags = np.array([settings.multiple_scattering, settings.energy_loss, settings.barrel_outward_only,
                      settings.stop_turning_in_barrel, settings.stop_turning_in_endcaps,
                      settings.layer_material_mm is not None, settings.unrecorded_ends,
                      settings.max_hits_per_crossing], dtype=np.int64)  # fmt: skip
    max_turning = np.inf if settings.max_turns is None else 2.0 * np.pi * settings.max_turns
    eta_max = np.inf if settings.barrel_eta_max is None else settings.barrel_eta_max
    params = np.array([settings.min_pt_gev, max_turning, eta_max, material_model.SILICON_X0_MM,
                       material_model.SILICON_DEDX_GEV_PER_MM, material_model.END_CONSTANT,
                       material_model.END_PER_PT2], dtype=np.float64)  # fmt: skip
    layer_material = np.zeros(index.n_layers) if settings.layer_material_mm is None else np.array(
        settings.layer_material_mm, dtype=np.float64, order="C")
    geometry = _geometry(index)
    capacity = max(64, 40 * n_active)
    while True:
        normals = rng.standard_normal(2 * capacity) if settings.multiple_scattering else np.zeros(0)
        uniforms = rng.random(capacity) if settings.unrecorded_ends else np.zeros(0)
        out = {"particle": np.empty(capacity, np.int64), "module": np.empty(capacity, np.int64),
               "position": np.empty((capacity, 3)), "momentum": np.empty((capacity, 3)), "path": np.empty(capacity),
               "origin_position": np.empty((capacity, 3)), "origin_momentum": np.empty((capacity, 3))}  # fmt: skip
        n_hits, status = _kernel(*geometry, table.b_rho, table.b_z, table.step_mm, table.z0_mm,
                                 np.array(active, np.int64), pos, mom, charge, mass, np.array(path_limit, np.float64),
                                 np.asarray(may_end, np.bool_), np.asarray(start_layer, np.int64),
                                 np.asarray(own_volume, np.int64), flags, params, layer_material, normals, uniforms,
                                 *out.values())  # fmt: skip
        if status == 0:
            return {k: v[:n_hits] for k, v in out.items()}
        capacity *= 2
