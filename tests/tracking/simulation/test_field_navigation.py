"""Propagation in the solenoid field: every hit against an independent fine-step integration, and the
Runge-Kutta-Nystroem navigator against the exact helix navigator in a uniform field."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from gnn4hep.tracking.field import TRACKML_SOLENOID
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource
from gnn4hep.tracking.simulation.geometry_index import cached_index
from gnn4hep.tracking.simulation.material import mass_of
from gnn4hep.tracking.simulation.propagation import PropagationSettings, loop_path_mm, propagate
from gnn4hep.tracking.simulation.simulator import SimulationConfig
from gnn4hep.tracking.simulation.stepper import field_table

K = 0.299792458e-3  # GeV / (T mm)


@pytest.fixture(scope="module")
def index():
    return cached_index(read_detector())


def _particles(n, seed, pt, eta, vertex_mm=(0.0, 0.0)):
    table = GunSource(n_particles=n, pt_gev=pt, eta=eta).generate(np.random.default_rng(seed), 0)
    rng = np.random.default_rng(seed + 100)
    table["vx"] += rng.normal(0, vertex_mm[0], n)
    table["vy"] += rng.normal(0, vertex_mm[0], n)
    table["vz"] += rng.normal(0, vertex_mm[1], n)
    table["q"] = np.where(np.arange(n) % 2 == 0, 1, -1)  # both charges
    return table


def _columns(table):
    return (table[["vx", "vy", "vz"]].to_numpy(float), table[["px", "py", "pz"]].to_numpy(float),
            table["q"].to_numpy(float), mass_of(table.particle_type))  # fmt: skip


def _reference(start, momentum, charge, length):
    """scipy DOP853 (rtol 1e-10) of dx/ds = t, dt/ds = K q / p t x B(x) in the solenoid (its own numpy
    evaluation of the field table), over path [0, length] mm; dense output."""
    p = np.linalg.norm(momentum)

    def rhs(_, y):
        b = TRACKML_SOLENOID(y[None, :3])[0]
        return np.concatenate([y[3:], K * charge / p * np.cross(y[3:], b)])

    y0 = np.concatenate([start, momentum / p])
    return solve_ivp(rhs, (0.0, length + 1.0), y0, method="DOP853", rtol=1e-10, atol=1e-9, dense_output=True).sol


def _deviations(index, result, start, start_momentum, charge, start_path):
    """Distance (mm) of each hit from the reference trajectory's crossing of the hit's module plane."""
    deviations = []
    for k in np.unique(start_path[1]):
        rows = np.flatnonzero(start_path[1] == k)
        sol = _reference(start[rows[0]], start_momentum[rows[0]], charge[rows[0]], result.path[rows].max() - start_path[0][rows[0]])
        for row in rows:
            w = index.rotations[result.module[row]][:, 2]
            centre = index.centers[result.module[row]]
            s = result.path[row] - start_path[0][row]
            for _ in range(4):  # Newton along the reference trajectory onto the module plane
                y = sol(s)
                s -= np.dot(y[:3] - centre, w) / np.dot(y[3:], w)
            deviations.append(np.linalg.norm(sol(s)[:3] - result.position[row]))
    return np.array(deviations)


def test_every_hit_matches_a_fine_step_reference_in_the_solenoid(index):
    """No scattering: each particle's hits against one DOP853 integration from its vertex (< 10 um; 0.95 um
    measured on 40 particles of pT 0.1-0.3 GeV, 0.007 um above 0.3 GeV)."""
    soft = _particles(6, 1, (0.1, 0.3), (-3.5, 3.5), vertex_mm=(0.5, 50.0))
    hard = _particles(6, 2, (0.3, 20.0), (-3.5, 3.5), vertex_mm=(0.5, 50.0))
    for table in (soft, hard):
        vertex, momentum, charge, mass = _columns(table)
        assert (charge > 0).any() and (charge < 0).any()
        result = propagate(index, vertex, momentum, charge, mass, TRACKML_SOLENOID, np.random.default_rng(0),
                           PropagationSettings(multiple_scattering=False, max_path_mm=4_000.0))
        assert len(np.unique(result.particle)) >= 0.8 * len(table)
        assert np.abs(result.position[:, 2]).max() > 1_500.0  # end-cap hits, where B_r matters
        start = (np.zeros(len(result.particle)), result.particle)
        dev = _deviations(index, result, vertex[result.particle], momentum[result.particle], charge[result.particle], start)
        assert dev.max() < 0.010, dev.max()
        # on its module plane
        w = index.rotations[result.module][:, :, 2]
        assert np.abs(np.sum((result.position - index.centers[result.module]) * w, axis=1)).max() < 1e-6


def test_scattered_hits_follow_the_field_from_the_previous_hit(index):
    """With scattering and energy loss each hit lies on the trajectory from the state after the previous
    hit's material (origin_position, origin_momentum)."""
    table = _particles(5, 3, (0.1, 2.0), (-3.5, 3.5))
    vertex, momentum, charge, mass = _columns(table)
    result = propagate(index, vertex, momentum, charge, mass, TRACKML_SOLENOID, np.random.default_rng(1),
                       SimulationConfig(trackml_material=True, energy_loss=True).propagation_settings(index))
    previous = np.r_[-1, result.particle[:-1]] == result.particle
    start_path = np.where(previous, np.r_[0.0, result.path[:-1]], 0.0)
    segment = np.arange(len(result.particle))  # one reference per hit, from its origin state
    dev = _deviations(index, result, result.origin_position, result.origin_momentum, charge[result.particle],
                      (start_path, segment))
    assert dev.max() < 0.010, dev.max()
    kink = np.linalg.norm(result.origin_momentum[1:] / np.linalg.norm(result.origin_momentum[1:], axis=1)[:, None]
                          - result.momentum[:-1] / np.linalg.norm(result.momentum[:-1], axis=1)[:, None], axis=1)
    assert np.median(kink[previous[1:]]) > 1e-4  # the material did deflect


def test_stepper_reproduces_the_helix_navigator_in_a_uniform_field(index):
    """The same particles (displaced, inward-made, loopers, forward) in a uniform 2 T table: the same
    hits on the same modules as the exact helix navigator, with every TrackML navigation rule on."""
    table = _particles(1500, 4, (0.1, 10.0), (-3.5, 3.5), vertex_mm=(40.0, 100.0))
    args = (index, *_columns(table))
    settings = SimulationConfig(multiple_scattering=False).propagation_settings(index)
    helix = propagate(*args, 2.0, np.random.default_rng(0), settings)
    stepped = propagate(*args, field_table(2.0), np.random.default_rng(0), settings)
    key = lambda r: r.particle * 100_000 + r.module  # noqa: E731
    order_h, order_s = np.argsort(key(helix), kind="stable"), np.argsort(key(stepped), kind="stable")
    np.testing.assert_array_equal(key(helix)[order_h], key(stepped)[order_s])
    assert np.abs(helix.position[order_h] - stepped.position[order_s]).max() < 5e-3
    assert np.abs(helix.path[order_h] - stepped.path[order_s]).max() < 5e-3


def test_loop_protection_stops_at_a_fraction_of_a_turn(index):
    table = _particles(400, 5, (0.1, 0.4), (-0.5, 0.5))
    vertex, momentum, charge, mass = _columns(table)
    turn = loop_path_mm(vertex, momentum, charge, TRACKML_SOLENOID, 1.0)
    b0 = np.linalg.norm(TRACKML_SOLENOID(vertex), axis=1)
    np.testing.assert_allclose(turn, 2 * np.pi * np.linalg.norm(momentum, axis=1) / (K * b0))
    free = propagate(index, vertex, momentum, charge, mass, TRACKML_SOLENOID, np.random.default_rng(0),
                     PropagationSettings(barrel_outward_only=False, stop_turning_in_barrel=False))
    limited = propagate(index, vertex, momentum, charge, mass, TRACKML_SOLENOID, np.random.default_rng(0),
                        PropagationSettings(barrel_outward_only=False, stop_turning_in_barrel=False, loop_fraction=0.5))
    assert (free.path > 0.5 * turn[free.particle]).any()
    assert (limited.path <= 0.5 * turn[limited.particle]).all()
    assert len(limited.particle) < 0.8 * len(free.particle)


def test_kernel_field_is_the_field_model():
    """Inside the detector envelope (r < 1.1 m, |z| < 3.1 m) the compiled lookup equals the field model's
    own evaluation (same table, bilinear)."""
    from gnn4hep.tracking.simulation.stepper import field_at

    rng = np.random.default_rng(7)
    rho, phi = rng.uniform(0, 1100, 500), rng.uniform(-np.pi, np.pi, 500)
    points = np.stack([rho * np.cos(phi), rho * np.sin(phi), rng.uniform(-3100, 3100, 500)], 1)
    table = field_table(TRACKML_SOLENOID)
    kernel = np.array([field_at(*p, table.b_rho, table.b_z, table.step_mm, table.z0_mm) for p in points])
    np.testing.assert_allclose(kernel, TRACKML_SOLENOID(points), atol=1e-12)
    assert np.abs(kernel[:, :2]).max() > 0.1  # B_r is there


def test_rkn_step_is_fourth_order_on_a_helix():
    """Against the exact helix in 2 T: the error over a fixed path falls as h^4 (x16 per halving)."""
    from gnn4hep.tracking.simulation import helix
    from gnn4hep.tracking.simulation.stepper import propagate_states

    table = field_table(2.0)
    momentum = np.array([[0.3, 0.1, 0.4]])
    p = np.linalg.norm(momentum)
    start = np.array([[10.0, -5.0, 3.0]])
    length = np.array([1_000.0])
    theta = helix.turning_angle(length, momentum, np.array([1.0]), 2.0)
    exact, _ = helix.helix_at(start, momentum, np.array([1.0]), 2.0, theta)
    errors = []
    for step in (40.0, 20.0, 10.0):
        x, t = propagate_states(start, momentum / p, np.array([K / p]), length, step, table.b_rho, table.b_z,
                                table.step_mm, table.z0_mm)  # fmt: skip
        errors.append(np.linalg.norm(x - exact))
        assert abs(np.linalg.norm(t) - 1) < 1e-12
    assert errors[2] < 1e-3
    assert 12 < errors[0] / errors[1] < 40 and 12 < errors[1] / errors[2] < 40


def test_kernel_material_formulas_are_the_material_model():
    from gnn4hep.tracking.simulation import material
    from gnn4hep.tracking.simulation.field_navigation import highland_theta0, momentum_after_loss

    rng = np.random.default_rng(8)
    p, mass, length = rng.uniform(0.05, 50, 200), rng.choice([0.000511, 0.1396, 0.9383], 200), rng.uniform(0.1, 20, 200)
    charge = rng.choice([-1.0, 1.0], 200)
    kernel = [highland_theta0(*args, material.SILICON_X0_MM) for args in zip(p, mass, charge, length)]
    np.testing.assert_allclose(kernel, material.highland_theta0(p, mass, charge, length), rtol=1e-12)
    direction = rng.normal(size=(200, 3))
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    after = material.lose_energy(direction * p[:, None], mass, length)
    kernel = [momentum_after_loss(*args, material.SILICON_DEDX_GEV_PER_MM) for args in zip(p, mass, length)]
    np.testing.assert_allclose(kernel, np.linalg.norm(after, axis=1), rtol=1e-12)


def test_forward_tracks_lose_transverse_momentum_in_the_solenoid_end(index):
    """B_r at the solenoid's end turns p_T into p_z: forward tracks (no material) reach |z| > 2.2 m with
    0.1-1% less pT (the real sample event's truth: median 0.9952 of the vertex pT there, with its material;
    this field without material: 0.9974), while a uniform field keeps pT exactly."""
    table = _particles(300, 9, (1.0, 2.0), (1.5, 2.5))  # 0.9959 measured
    table["pz"] *= np.where(np.arange(300) % 3 == 0, -1, 1)  # both end-caps
    vertex, momentum, charge, mass = _columns(table)
    settings = PropagationSettings(multiple_scattering=False)
    for field, low, high in ((TRACKML_SOLENOID, 0.99, 0.999), (2.0, 1 - 1e-9, 1 + 1e-9)):
        result = propagate(index, vertex, momentum, charge, mass, field, np.random.default_rng(0), settings)
        far = np.abs(result.position[:, 2]) > 2_200
        ratio = np.hypot(*result.momentum[far, :2].T) / np.hypot(*momentum[result.particle[far], :2].T)
        assert far.sum() > 200
        assert low < np.median(ratio) < high


def test_particles_stop_where_their_pt_falls_below_the_cut(index):
    """Forward low-pT tracks lose pT in the solenoid's end field; with a stop at 0.1 GeV each track's hits are
    the hits it makes without the stop up to where its pT falls below 0.1 GeV (same modules and positions),
    and the hits it loses all lie beyond that point."""
    table = _particles(300, 11, (0.105, 0.14), (1.5, 2.5))
    table["pz"] *= np.where(np.arange(300) % 3 == 0, -1, 1)  # both end-caps
    vertex, momentum, charge, mass = _columns(table)
    runs = {cut: propagate(index, vertex, momentum, charge, mass, TRACKML_SOLENOID, np.random.default_rng(0),
                           PropagationSettings(multiple_scattering=False, min_pt_gev=cut)) for cut in (0.01, 0.1)}
    free, stopped = runs[0.01], runs[0.1]
    lost = 0
    for particle in np.unique(free.particle):
        a = np.flatnonzero(free.particle == particle)
        a = a[np.argsort(free.path[a])]
        b = np.flatnonzero(stopped.particle == particle)
        b = b[np.argsort(stopped.path[b])]
        assert len(b) <= len(a)
        np.testing.assert_array_equal(stopped.module[b], free.module[a[: len(b)]])
        np.testing.assert_allclose(stopped.position[b], free.position[a[: len(b)]], atol=1e-9)
        if len(b) < len(a):
            lost += len(a) - len(b)
            assert np.hypot(*free.momentum[a[len(b)], :2]) < 0.1
    assert lost > 50
    # pT is tested at the start of each Runge-Kutta step, so a hit inside the step that crosses the cut keeps
    # up to 1% less (0.0990 measured)
    assert (np.hypot(*stopped.momentum[:, :2].T) > 0.098).all()
    assert (np.hypot(*free.momentum[:, :2].T) < 0.098).sum() > 50


def test_realistic_sources_stop_at_the_real_data_pt_cut():
    from gnn4hep.tracking.simulation.batch import default_config

    assert default_config("replay:x.csv").stop_pt_gev == 0.1
    assert default_config("pythia").stop_pt_gev == 0.1
    assert default_config("quick").propagation_settings().min_pt_gev == SimulationConfig().stop_pt_gev == 0.01
    assert default_config("replay:x.csv").propagation_settings().min_pt_gev == 0.1
