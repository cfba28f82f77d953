"""Three-point helix seed: exact on noiseless helix points."""

import numpy as np

from gnn4hep.tracking.fitting.perigee import perigee_to_bound
from gnn4hep.tracking.fitting.propagation import bound_to_global, propagate
from gnn4hep.tracking.fitting.seeding import three_point_seed
from tests.tracking.fitting.generator import planes_at


def test_three_point_seed_recovers_the_helix():
    rng = np.random.default_rng(6)
    n = 200
    perigee = np.stack([np.zeros(n), rng.normal(0, 30, n), rng.uniform(-np.pi, np.pi, n),
                        rng.uniform(0.3, 2.8, n), rng.choice([-1, 1], n) / rng.uniform(0.5, 100, n)], -1)
    state, c, r = perigee_to_bound(perigee)
    points, states = [], []
    for radius in (30.0, 120.0, 400.0):
        guess = np.stack([radius * np.cos(perigee[:, 2]), radius * np.sin(perigee[:, 2]), np.zeros(n)], -1)
        c1, r1 = planes_at(guess)
        state, _, _, _ = propagate(state, c, r, c1, r1, 2.0, jacobian=False)
        c, r = c1, r1
        points.append(bound_to_global(state, c, r))
        states.append(state)
    phi, theta, qop = three_point_seed(*points, 2.0)
    assert np.allclose(np.angle(np.exp(1j * (phi - states[0][:, 2]))), 0.0, atol=1e-9)
    assert np.allclose(theta, perigee[:, 3], atol=1e-9)
    assert np.allclose(qop, perigee[:, 4], rtol=1e-7, atol=1e-12)


def test_collinear_points_give_zero_curvature():
    x = np.array([[10.0, 0.0, 1.0]]), np.array([[20.0, 0.0, 2.0]]), np.array([[30.0, 0.0, 3.0]])
    phi, theta, qop = three_point_seed(*x, 2.0)
    assert qop[0] == 0.0 and abs(phi[0]) < 1e-12 and np.isclose(theta[0], np.arctan2(1.0, 0.1))
