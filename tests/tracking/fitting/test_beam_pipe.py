"""Beam-pipe scattering in the perigee covariance: against the Highland formula and straight-line geometry by hand."""

import importlib

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking.fitting import FitConfig, refit
from gnn4hep.tracking.fitting.beam_pipe import (TRACKML_BEAM_PIPE_RADIUS_MM, TRACKML_BEAM_PIPE_X0,
                                                beam_pipe_covariance, pipe_crossing)
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event

MUON = 0.1056584
refit_module = importlib.import_module("gnn4hep.tracking.fitting.refit")  # the module (the package exports the function)


def _highland_by_hand(p, mass, x):
    """PDG eq. 34.15 written out: 13.6 MeV / (beta c p) sqrt(x) (1 + 0.038 ln(x / beta^2)), x = path / X0."""
    beta = p / np.sqrt(p**2 + mass**2)
    return 0.0136 / (beta * p) * np.sqrt(x) * (1.0 + 0.038 * np.log(x / beta**2))


@pytest.mark.parametrize("theta", [0.4, 1.1, np.pi / 2, 2.6])
def test_straight_track_from_the_beam_line_gets_the_highland_kink_at_the_pipe(theta):
    p = 8.0  # GeV: over 19 mm in 2 T the track turns by 0.7 mrad x sin(theta): a straight line
    perigee = np.array([[0.0, 12.0, 0.7, theta, -1.0 / p]])
    added = beam_pipe_covariance(perigee, 2.0, MUON)[0]
    sin_t = np.sin(theta)
    theta0 = _highland_by_hand(p, MUON, TRACKML_BEAM_PIPE_X0 / sin_t)
    r = TRACKML_BEAM_PIPE_RADIUS_MM
    var_phi, var_theta = theta0**2 / sin_t**2, theta0**2
    # a kink dphi at transverse distance R moves the line's PCA by R dphi; dtheta moves z0 by R dtheta / sin^2
    expected = {(0, 0): r**2 * var_phi, (2, 2): var_phi, (3, 3): var_theta, (1, 1): r**2 * var_theta / sin_t**4}
    for (i, j), value in expected.items():
        assert added[i, j] == pytest.approx(value, rel=2e-3), (i, j)
    assert abs(added[0, 2]) == pytest.approx(r * var_phi, rel=2e-3)
    assert abs(added[1, 3]) == pytest.approx(r * var_theta / sin_t**2, rel=2e-3)
    # the two kinks are independent; the curvature couples them at the level of R / rho (rho = 5 m at
    # pT = 3 GeV: 0.4%)
    for i, j in [(0, 1), (0, 3), (1, 2), (2, 3)]:
        assert abs(added[i, j]) < 1e-2 * np.sqrt(added[i, i] * added[j, j]), (i, j)
    assert np.all(added[4] == 0.0) and np.all(added[:, 4] == 0.0)  # no energy loss term


def test_the_crossing_lies_on_the_pipe_and_outside_tracks_get_nothing():
    rng = np.random.default_rng(3)
    n = 50
    perigee = np.stack([rng.uniform(-2, 2, n), rng.normal(0, 50, n), rng.uniform(-np.pi, np.pi, n),
                        rng.uniform(0.2, 2.9, n), rng.choice([-1, 1], n) / rng.uniform(0.3, 10, n)], -1)
    point, _ = pipe_crossing(perigee, 2.0, TRACKML_BEAM_PIPE_RADIUS_MM)
    # the chord approximation: off the cylinder by about |d0| times the turning angle (< 0.1 mm here)
    assert np.allclose(np.hypot(point[:, 0], point[:, 1]), TRACKML_BEAM_PIPE_RADIUS_MM, atol=0.1)
    outside = perigee.copy()
    outside[:, 0] = 25.0  # a secondary made beyond the pipe
    outside[3, 2] = np.nan
    assert np.all(beam_pipe_covariance(outside, 2.0, MUON) == 0.0)
    # scattering grows as 1/p: a 1 GeV track gets about 25x the variance of a 5 GeV one (log term aside)
    slow, fast = perigee[:1].copy(), perigee[:1].copy()
    slow[0, 4], fast[0, 4] = 1.0, 0.2
    ratio = beam_pipe_covariance(slow, 2.0, MUON)[0, 2, 2] / beam_pipe_covariance(fast, 2.0, MUON)[0, 2, 2]
    assert 20 < ratio < 30


def test_refit_adds_the_pipe_to_the_trackml_perigee_covariance_only(monkeypatch):
    detector = read_detector()
    event = simulate_event(GunSource(n_particles=40, pt_gev=(1.0, 20.0), eta=(-2.0, 2.0)), detector, seed=4,
                           config=SimulationConfig(digitisation="smear", hit_efficiency=1.0))
    candidates = pd.DataFrame({"hit_id": event.truth["hit_id"], "track_id": event.truth["particle_id"].astype(np.int64)})
    config = FitConfig(field="uniform", material_model="trackml", hit_errors="pitch", split_bad=False, attach_orphans=False)
    _, with_pipe = refit(event, candidates, detector, config)
    calls = []

    def no_pipe(perigee, *args, **kwargs):
        calls.append(len(perigee))
        return np.zeros((len(perigee), 5, 5))

    monkeypatch.setattr(refit_module, "beam_pipe_covariance", no_pipe)
    _, without = refit(event, candidates, detector, config)
    assert calls == [len(without)]
    for model in ("sensors", "simulator"):  # the simulator has no pipe, nor the bare sensors
        refit(event, candidates, detector, FitConfig(field="uniform", material_model=model, hit_errors="pitch",
                                                     split_bad=False, attach_orphans=False))
    assert calls == [len(without)]
    monkeypatch.undo()
    assert with_pipe["fitted"].all()
    perigee = without[["d0", "z0", "phi", "theta", "qop"]].to_numpy()
    expected = beam_pipe_covariance(perigee, 2.0, config.mass_gev)
    assert np.allclose(with_pipe["cov_00"], without["cov_00"] + expected[:, 0, 0], rtol=1e-9)
    assert np.allclose(with_pipe["cov_11"], without["cov_11"] + expected[:, 1, 1], rtol=1e-9)
    assert np.allclose(with_pipe["cov_02"], without["cov_02"] + expected[:, 0, 2], rtol=1e-9, atol=1e-15)
    assert (with_pipe["sigma_d0"] > without["sigma_d0"]).all()
    # the pipe's share of sigma_d0 for 1-20 GeV tracks: R theta_0 / sin(theta), a few um against 10-20 um
    assert np.median(np.sqrt(expected[:, 0, 0]) / without["sigma_d0"]) > 0.02
