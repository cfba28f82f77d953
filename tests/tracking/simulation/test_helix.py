"""Helix kernels: curvature, sense of rotation, exactness of the intersections."""

import numpy as np
import pytest

from gnn4hep.tracking.simulation import helix

B = 2.0


def test_radius_formula():
    assert helix.radius_mm(1.0, 1, B) == pytest.approx(1.0 / (0.299792458e-3 * 2.0))


def test_positive_particle_turns_clockwise_in_positive_field():
    pos, mom = np.zeros(3), np.array([1.0, 0.0, 0.0])
    new_pos, _ = helix.helix_at(pos, mom, 1, B, 0.1)
    assert new_pos[1] < 0  # clockwise: from +x heading, bends towards -y
    new_pos, _ = helix.helix_at(pos, mom, -1, B, 0.1)
    assert new_pos[1] > 0


def test_helix_at_keeps_momentum_and_radius():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(50, 3))
    mom = rng.normal(size=(50, 3))
    q = rng.choice([-1, 1], 50)
    theta = rng.uniform(0, 20, 50)
    new_pos, new_mom = helix.helix_at(pos, mom, q, B, theta)
    np.testing.assert_allclose(np.linalg.norm(new_mom, axis=1), np.linalg.norm(mom, axis=1))
    assert helix.distance_to_helix(new_pos, pos, mom, q, B).max() < 1e-6


def test_cylinder_and_plane_intersections_are_exact():
    rng = np.random.default_rng(1)
    n = 200
    pos = np.zeros((n, 3))
    pt = rng.uniform(0.2, 100, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    mom = np.stack([pt * np.cos(phi), pt * np.sin(phi), rng.normal(size=n)], axis=1)
    q = rng.choice([-1, 1], n)
    t1, t2 = helix.intersect_cylinder(pos, mom, q, B, 100.0)
    reach = 2 * helix.radius_mm(pt, q, B) > 100
    assert np.all(np.isfinite(t1[reach]))
    point, _ = helix.helix_at(pos, mom, q, B, t1[reach])
    np.testing.assert_allclose(np.hypot(point[:, 0], point[:, 1]), 100.0, atol=1e-9)
    normal = np.array([np.cos(0.3), np.sin(0.3)])
    centre = np.array([50 * np.cos(0.3), 50 * np.sin(0.3), 0.0])
    r1, r2 = helix.intersect_axial_plane(pos, mom, q, B, centre, normal)
    for root in (r1, r2):
        ok = np.isfinite(root)
        point, _ = helix.helix_at(pos[ok], mom[ok], q[ok], B, root[ok])
        np.testing.assert_allclose((point[:, :2] - centre[:2]) @ normal, 0.0, atol=1e-9)
    tz = helix.intersect_z_plane(pos, mom, q, B, 300.0)
    ok = tz > 0
    point, _ = helix.helix_at(pos[ok], mom[ok], q[ok], B, tz[ok])
    np.testing.assert_allclose(point[:, 2], 300.0, atol=1e-9)


def test_straight_track_limit_is_stable():
    pos, mom = np.zeros(3), np.array([1e4, 0.0, 0.0])
    t1, t2 = helix.intersect_cylinder(pos, mom, 1, B, 1000.0)
    s = helix.path_length(np.nanmin([t1, t2]), mom, 1, B)
    assert s == pytest.approx(1000.0, rel=1e-6)
