"""Track extension: helix-layer crossings, the attachment rule, the layer table."""

import numpy as np
import pytest

from gnn4hep.tracking.fitting.extension import best_attachments, helix_crossings, layer_surfaces
from gnn4hep.tracking.fitting.perigee import particles_to_perigee
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation.helix import distance_to_helix


@pytest.fixture(scope="module")
def particles():
    """(vertex (n, 3) mm, momentum (n, 3) GeV, charge (n,)) of pT 0.4-20 GeV, |eta| < 2.5 tracks."""
    rng = np.random.default_rng(4)
    n = 400
    pt, eta, phi = rng.uniform(0.4, 20.0, n), rng.uniform(-2.5, 2.5, n), rng.uniform(-np.pi, np.pi, n)
    momentum = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    vertex = np.stack([rng.normal(0, 0.015, n), rng.normal(0, 0.015, n), rng.normal(0, 55.0, n)], -1)
    return vertex, momentum, rng.choice([-1.0, 1.0], n)


@pytest.fixture(scope="module")
def perigee(particles):
    return particles_to_perigee(*particles, 2.0)


@pytest.mark.parametrize("barrel, position", [(True, 115.0), (True, 660.0), (False, 1300.0), (False, -820.0)])
def test_crossings_lie_on_the_helix_and_the_surface(particles, perigee, barrel, position):
    crossing = helix_crossings(perigee, barrel, position, 2.0)
    found = np.all(np.isfinite(crossing), axis=1)
    assert found.sum() > 50
    p, point = perigee[found], crossing[found]
    if barrel:
        # the barrel crossing treats the chord as perpendicular to d0: off by about |d0| * turn
        assert np.allclose(np.hypot(point[:, 0], point[:, 1]), position, atol=0.05)
    else:
        assert np.allclose(point[:, 2], position)
        assert np.all(np.sign(point[:, 2] - p[:, 1]) == np.sign(np.cos(p[:, 3])))  # forwards along the track
    vertex, momentum, charge = (a[found] for a in particles)
    assert distance_to_helix(point, vertex, momentum, charge, 2.0).max() < 1e-6  # the simulator's helix


def test_low_pt_helices_do_not_reach_outer_barrel(perigee):
    radius = 0.5 / (0.299792458e-3 * 2.0)  # helix radius of pT = 0.5 GeV in 2 T: 834 mm
    crossing = helix_crossings(perigee, True, 2.0 * radius + 10.0, 2.0)
    pt = np.sin(perigee[:, 3]) / np.abs(perigee[:, 4])
    assert (pt < 0.49).sum() > 0
    assert np.all(np.isnan(crossing[pt < 0.49]))
    assert np.all(np.isfinite(crossing[pt > 0.52]))


def test_attachment_takes_the_smallest_increment_per_hit_and_per_module():
    pair_hit = np.array([10, 10, 11, 12, 13, 14])
    pair_track = np.array([0, 1, 1, 1, 2, 2])
    pair_module = np.array([5, 5, 6, 6, 7, 8])
    delta = np.array([4.0, 2.0, 3.0, 1.0, 20.0, np.inf])
    accepted = best_attachments(pair_hit, pair_track, pair_module, delta, chi2_cut=15.0)
    # hit 10 -> track 1 (2 < 4); hits 11 and 12 share track 1's module 6: only 12 (1 < 3); 13, 14 fail
    assert sorted(zip(pair_hit[accepted], pair_track[accepted])) == [(10, 1), (12, 1)]


def test_layer_table_knows_barrels_and_endcaps():
    layers = layer_surfaces(read_detector())
    barrel_volumes = set(layers.index.get_level_values(0)[layers["barrel"].to_numpy()])
    assert barrel_volumes == {8, 13, 17}
    assert len(layers) == 48
