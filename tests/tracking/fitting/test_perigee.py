"""Perigee parameters: conventions, round trips and the analytic Jacobian."""

import numpy as np

from gnn4hep.tracking.fitting.perigee import (
    bound_to_perigee, numerical_perigee_jacobian, particles_to_perigee, perigee_position, perigee_to_bound,
    to_perigee, wrap_angle,
)
from gnn4hep.tracking.fitting.propagation import propagate
from tests.tracking.fitting.generator import planes_at


def test_d0_sign_convention_and_known_values():
    # a straight (very stiff) track along +x passing through (0, 2, 5): PCA (0, 2, 5), phi = 0
    perigee = particles_to_perigee(np.array([[-30.0, 2.0, 5.0]]), np.array([[1e6, 0.0, 0.0]]), np.array([1.0]), 2.0)
    assert np.allclose(perigee[0, :3], [2.0, 5.0, 0.0], atol=1e-6)  # d0 = +2: PCA left of the direction
    assert np.allclose(perigee_position(perigee), [[0.0, 2.0, 5.0]], atol=1e-6)
    # L_z = x p_y - y p_x = -d0 pT at the PCA
    assert np.sign(0.0 * 0.0 - 2.0 * 1e6) == -np.sign(perigee[0, 0])
    # a positive track from the origin turns clockwise: phi decreases along the track
    _, _, rot = perigee_to_bound(np.array([[0.0, 0.0, 0.5, 1.0, 1.0]]))
    start = np.array([[0.0, 0.0, 0.5, 1.0, 1.0]])
    c1, r1 = planes_at(np.array([[100 * np.cos(0.5), 100 * np.sin(0.5), 0.0]]))
    out, _, _, _ = propagate(start, np.zeros((1, 3)), rot, c1, r1, 2.0, jacobian=False)
    assert out[0, 2] < 0.5


def test_round_trip_and_vertex_on_beam_line():
    rng = np.random.default_rng(4)
    n = 100
    perigee = np.stack([rng.normal(0, 1, n), rng.normal(0, 50, n), rng.uniform(-np.pi, np.pi, n),
                        rng.uniform(0.2, 2.9, n), rng.choice([-1, 1], n) / rng.uniform(0.3, 100, n)], -1)
    start, c0, r0 = perigee_to_bound(perigee)
    c1, r1 = planes_at(np.stack([150 * np.cos(perigee[:, 2]), 150 * np.sin(perigee[:, 2]), np.zeros(n)], -1))
    out, _, _, _ = propagate(start, c0, r0, c1, r1, 2.0, jacobian=False)
    back, _ = bound_to_perigee(out, c1, r1, 2.0, jacobian=False)
    diff = back - perigee
    diff[:, 2] = wrap_angle(diff[:, 2])
    assert np.abs(diff).max() < 1e-8
    # a particle produced on the beam line has d0 = 0 and z0 = vz
    at_vertex = to_perigee(np.array([[0.0, 0.0, 12.0]]), np.array([0.3]), np.array([1.0]), np.array([0.5]), 2.0)
    assert np.allclose(at_vertex[0, :3], [0.0, 12.0, 0.3], atol=1e-9)


def test_analytic_perigee_jacobian_matches_numerical():
    rng = np.random.default_rng(5)
    n = 50
    perigee = np.stack([rng.normal(0, 3, n), rng.normal(0, 50, n), rng.uniform(-np.pi, np.pi, n),
                        rng.uniform(0.3, 2.8, n), rng.choice([-1, 1], n) / rng.uniform(0.4, 50, n)], -1)
    start, c0, r0 = perigee_to_bound(perigee)
    c1, r1 = planes_at(np.stack([60 * np.cos(perigee[:, 2] + 0.1), 60 * np.sin(perigee[:, 2] + 0.1), np.zeros(n)], -1))
    out, _, _, _ = propagate(start, c0, r0, c1, r1, 2.0, jacobian=False)
    _, jac = bound_to_perigee(out, c1, r1, 2.0)
    numeric = numerical_perigee_jacobian(out, c1, r1, 2.0)
    assert np.all(np.abs(jac - numeric) / np.maximum(np.abs(numeric), 1.0) < 1e-5)
    # the PCA-motion correction matters when d0 != 0: without it z0 would be off
    assert np.abs(numeric[:, 1, 2]).max() > 1e-3
