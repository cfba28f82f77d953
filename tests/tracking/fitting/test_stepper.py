"""Runge-Kutta propagation in a field: against the exact helix (uniform B), Jacobian against finite differences."""

import numpy as np
import pytest

from gnn4hep.tracking.field import TRACKML_FIELD, TRACKML_SOLENOID, SolenoidField, UniformField
from gnn4hep.tracking.fitting.perigee import bound_to_perigee, particles_to_perigee, to_perigee
from gnn4hep.tracking.fitting.propagation import bound_to_global, propagate
from gnn4hep.tracking.fitting.stepper import propagate_field
from gnn4hep.tracking.io import read_detector


@pytest.fixture(scope="module")
def module_pairs():
    """Tracks from pixel-barrel modules (volume 8, layer 2) to the strip modules they reach: barrel
    (volume 13, layer 4) for central tracks, end-cap disks (volume 14, layer 6, |z| ~ 1.8 m) for forward ones."""
    detector = read_detector()
    rng = np.random.default_rng(4)
    modules, centers, rotations = detector.modules, detector.centers, detector.rotations
    n = 600
    start = rng.choice(np.flatnonzero((modules["volume_id"] == 8) & (modules["layer_id"] == 2)), n)
    phi0 = np.arctan2(centers[start, 1], centers[start, 0])
    params = np.stack([rng.uniform(-5, 5, n), rng.uniform(-20, 20, n), phi0 + rng.normal(0, 0.02, n),
                       np.where(np.arange(n) < n // 2, rng.uniform(1.2, 1.9, n), rng.uniform(0.25, 0.45, n)),
                       rng.choice([-1.0, 1.0], n) / rng.uniform(1.0, 20.0, n)], -1)
    position = bound_to_global(params, centers[start], rotations[start])
    target = np.empty(n, np.int64)
    for half, (volume, layer) in enumerate([(13, 4), (14, 6)]):
        rows = slice(0, n // 2) if half == 0 else slice(n // 2, n)
        pool = np.flatnonzero((modules["volume_id"] == volume) & (modules["layer_id"] == layer))
        if half == 0:  # the module nearest in azimuth and z where the straight line meets r ~ 700 mm
            z_at = position[rows, 2] + 700.0 / np.tan(params[rows, 3])
            key_z = np.abs(centers[pool, 2][None, :] - z_at[:, None]) / 1000.0
        else:  # disk modules at the track's azimuth, radius ~ |z| tan(theta)
            r_at = np.abs(centers[pool, 2]).mean() * np.tan(params[rows, 3])
            key_z = np.abs(np.hypot(centers[pool, 0], centers[pool, 1])[None, :] - r_at[:, None]) / 1000.0
            key_z += 1e3 * (centers[pool, 2][None, :] < 0)
        dphi = np.angle(np.exp(1j * (np.arctan2(centers[pool, 1], centers[pool, 0])[None, :] - phi0[rows, None])))
        target[rows] = pool[np.argmin(np.abs(dphi) + key_z, axis=1)]
    return params, position, rotations[start], centers[target], rotations[target], centers[start]


def test_runge_kutta_in_a_uniform_field_matches_the_exact_helix(module_pairs):
    params, position, rot0, c1, rot1, c0 = module_pairs
    exact, jac, s_exact, miss_exact = propagate(params, c0, rot0, c1, rot1, 2.0)
    stepped, rows, s, miss, _, _ = propagate_field(params, position, rot0, c1, rot1, UniformField(2.0))
    both = (miss_exact < 1e-6) & np.isfinite(miss)
    assert both.mean() > 0.95
    # over 300-1800 mm of path, 1 um: a tenth of the best hit resolution (pixels, 10 um)
    assert np.abs(stepped[both, :2] - exact[both, :2]).max() < 1e-3
    assert np.abs(stepped[both, 2:] - exact[both, 2:]).max() < 1e-6
    assert np.allclose(s[both], s_exact[both], atol=1e-3)
    # the transported Jacobian equals the helix's analytic one (its theta row is the identity's)
    scale = np.abs(jac[both, :4]) + np.array([1e-3, 1e-3, 1e-6, 1e-6, 1e-3])
    assert np.all(np.abs(rows[both] - jac[both, :4]) <= 1e-3 * scale)


@pytest.mark.parametrize("field", [TRACKML_SOLENOID, TRACKML_FIELD], ids=["on-axis", "axis-off-beam-line"])
def test_transported_jacobian_matches_finite_differences_in_the_solenoid(module_pairs, field):
    params, position, rot0, c1, rot1, c0 = module_pairs
    _, rows, _, miss, end, _ = propagate_field(params, position, rot0, c1, rot1, field)
    ok = np.isfinite(miss)
    assert ok.mean() > 0.95
    # B jumps across the current sheet: tracks that reach it (the target planes are unbounded) have no smooth map
    # (with the axis at (-142, -157) mm, one of 600 ends 1299 mm from it, past the sheet at 1267 mm)
    ok &= np.hypot(end[:, 0] - field.axis_x_mm, end[:, 1] - field.axis_y_mm) < field.radius_mm - 10.0
    assert ok.mean() > 0.95
    steps = np.array([1e-4, 1e-4, 1e-7, 1e-7])
    numeric = np.empty((len(params), 4, 5))
    for j in range(5):
        shift = np.zeros_like(params)
        shift[:, j] = steps[j] if j < 4 else 1e-6 * np.abs(params[:, 4])
        plus = propagate_field(params + shift, bound_to_global(params + shift, c0, rot0), rot0, c1, rot1,
                               field, jacobian=False)[0]
        minus = propagate_field(params - shift, bound_to_global(params - shift, c0, rot0), rot0, c1, rot1,
                                field, jacobian=False)[0]
        numeric[:, :, j] = (plus - minus)[:, :4] / (2.0 * shift[:, j : j + 1])
    ok &= np.all(np.isfinite(numeric), axis=(1, 2))
    # forward tracks cross the end of the solenoid: theta changes there (B_r), and its row is not the identity's
    assert np.abs(numeric[ok, 3, 4]).max() > 1e-3
    # 2e-3 relative: the step length depends on q/p (at most MAX_TURN per step), which the differences of
    # the discrete map see (1.1e-3 for d theta / d qop of 1.5 GeV forward tracks); everything else < 3e-4
    scale = np.abs(numeric[ok]) + np.array([1e-2, 1e-2, 1e-5, 1e-5, 1e-2])
    assert np.all(np.abs(rows[ok] - numeric[ok]) <= 2e-3 * scale)
    assert np.median(np.abs(rows[ok] - numeric[ok]) / scale) < 1e-5


def test_axis_offset_equals_translating_the_tracks(module_pairs):
    """Propagating in a solenoid whose axis is off the beam line equals propagating the translated tracks and
    planes in the same solenoid on the z axis (positions shifted back, directions and Jacobians unchanged)."""
    params, position, rot0, c1, rot1, _ = module_pairs
    on_axis = SolenoidField(TRACKML_FIELD.radius_mm, TRACKML_FIELD.half_length_mm, TRACKML_FIELD.b_center_tesla,
                            TRACKML_FIELD.center_z_mm)
    shift = np.array([TRACKML_FIELD.axis_x_mm, TRACKML_FIELD.axis_y_mm, 0.0])
    out, rows, s, miss, pos, direction = propagate_field(params, position, rot0, c1, rot1, TRACKML_FIELD)
    out_t, rows_t, s_t, miss_t, pos_t, dir_t = propagate_field(params, position - shift, rot0, c1 - shift, rot1, on_axis)
    ok = np.isfinite(miss) & np.isfinite(miss_t)
    assert ok.mean() > 0.95
    np.testing.assert_allclose(pos[ok], pos_t[ok] + shift, atol=1e-6)
    np.testing.assert_allclose(direction[ok], dir_t[ok], atol=1e-9)
    np.testing.assert_allclose(out[ok], out_t[ok], atol=1e-6)
    np.testing.assert_allclose(rows[ok], rows_t[ok], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s[ok], s_t[ok], atol=1e-6)
    # and the offset matters: the on-axis field without the translation lands elsewhere
    assert np.abs(propagate_field(params, position, rot0, c1, rot1, on_axis)[0][ok, :2] - out[ok, :2]).max() > 0.1


def test_unreachable_plane_is_flagged():
    params = np.array([[0.0, 0.0, 0.0, 1.5, 1.0 / 0.2]])  # pT 0.2 GeV: a circle of radius 334 mm
    rot = np.eye(3)[None]
    far = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    plane = np.eye(3)[[0, 1, 2]].T[None].repeat(2, 0)
    plane[:, :, 2] = [1.0, 0.0, 0.0]  # normal along x at x = 2000 mm: beyond the circle
    far[:, 0] = 2000.0
    out, _, _, miss, _, _ = propagate_field(np.repeat(params, 2, 0), np.zeros((2, 3)), rot.repeat(2, 0), far, plane,
                                            TRACKML_SOLENOID)
    assert np.all(np.isinf(miss)) and np.all(np.isnan(out))


def test_perigee_in_the_field_round_trip():
    """Particles from the beam line: the perigee of their state on a far plane comes back to the start."""
    rng = np.random.default_rng(9)
    n = 200
    theta = rng.uniform(0.3, 2.8, n)
    pt = rng.uniform(0.5, 20.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    q = rng.choice([-1.0, 1.0], n)
    vertex = np.stack([np.zeros(n), np.zeros(n), rng.normal(0, 50, n)], -1)
    momentum = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt / np.tan(theta)], -1)
    truth = particles_to_perigee(vertex, momentum, q, TRACKML_SOLENOID)
    assert np.allclose(truth[:, 0], 0.0, atol=1e-6) and np.allclose(truth[:, 1], vertex[:, 2], atol=1e-6)
    # out to a plane normal to the track at ~400 mm of path, then back
    start = np.stack([np.zeros(n), np.zeros(n), phi, theta, q / np.hypot(pt, momentum[:, 2])], -1)
    direction = momentum / np.linalg.norm(momentum, axis=1, keepdims=True)
    centers = vertex + 400.0 * direction
    normal = direction
    u = np.cross(normal, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    rotations = np.stack([u, np.cross(normal, u), normal], axis=2)
    eye = np.broadcast_to(np.eye(3), (n, 3, 3))
    state, _, _, miss, _, _ = propagate_field(start, vertex, eye, centers, rotations, TRACKML_SOLENOID, jacobian=False)
    assert np.all(np.isfinite(miss))
    back, jac = bound_to_perigee(state, centers, rotations, TRACKML_SOLENOID)
    assert np.allclose(back[:, :2], truth[:, :2], atol=1e-4)
    assert np.allclose(back[:, 2:], truth[:, 2:], atol=1e-8)
    assert np.all(np.isfinite(jac))
    # in the uniform field the same route agrees with the closed-form perigee
    uniform = particles_to_perigee(vertex, momentum, q, UniformField(2.0))
    assert np.allclose(uniform, to_perigee(vertex, phi, theta, start[:, 4], 2.0), atol=1e-6)


def test_degenerate_geometry_is_a_miss_not_an_exception():
    """A track already on the target plane that runs within it (w . t = 0 exactly), or along the z axis,
    cannot be carried onto it: miss = inf and NaN parameters (the old kernel raised ZeroDivisionError in
    the straight move dist / (w . t) and in the Jacobian's 1 / sin(theta)^2); non-finite starts too."""
    barrel = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # columns u = z, v = x, w = (0, 1, 0)
    endcap = np.eye(3)
    cases = [  # (params, start position, plane rotation)
        ([0.0, 0.0, 0.0, 1.0, 0.5], [300.0, 0.0, 100.0], barrel),  # phi = 0: t = (sin 1, 0, cos 1) in the plane y = 0
        ([0.0, 0.0, 0.3, 0.0, 0.5], [10.0, 0.0, 100.0], endcap),  # theta = 0 on a disk: along the z axis
        ([0.0, 0.0, np.nan, 1.0, 0.5], [300.0, 0.0, 100.0], barrel),
        ([0.0, 0.0, 0.3, 1.0, np.inf], [300.0, 0.0, 100.0], barrel),
        ([0.0, 0.0, 0.3, 1.0, 0.5], [np.nan, 0.0, 100.0], barrel),
    ]
    for params, position, rotation in cases:
        out, rows, _, miss, _, _ = propagate_field(np.array([params]), np.array([position]), rotation[None],
                                                   np.array([position]), rotation[None], TRACKML_SOLENOID)
        assert np.isinf(miss[0]) and np.all(np.isnan(out)), params
    # control: the same start with a direction that crosses the plane stays where it is, with the identity
    params = np.array([[0.0, 0.0, 1.2, 1.0, 0.5]])
    position = np.array([[300.0, 0.0, 100.0]])
    out, rows, s, miss, _, _ = propagate_field(params, position, barrel[None], position, barrel[None], TRACKML_SOLENOID)
    assert miss[0] == 0.0 and abs(s[0]) < 1e-5 and np.allclose(out, params)
    assert np.allclose(rows[0], np.eye(5)[:4], atol=1e-6)
