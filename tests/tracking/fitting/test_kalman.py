"""Batched Kalman filter + smoother: pulls on generated tracks, padding, linear algebra."""

import numpy as np
import pytest

from gnn4hep.tracking.fitting.kalman import Surfaces, inverse_spd
from gnn4hep.tracking.fitting.perigee import wrap_angle
from gnn4hep.tracking.fitting.track_fit import fit_surfaces
from tests.tracking.fitting.generator import generate


def _pulls(truth, fit):
    diff = fit.perigee - truth
    diff[:, 2] = wrap_angle(diff[:, 2])
    return diff / np.sqrt(np.diagonal(fit.perigee_cov, axis1=1, axis2=2))


@pytest.mark.parametrize("scatter", [True, False])
def test_pulls_are_standard_normal(scatter):
    truth, surfaces = generate(4000, seed=11, scatter=scatter)
    fit = fit_surfaces(surfaces, material=scatter)
    assert fit.ok.all()
    pulls = _pulls(truth, fit)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.1), pulls.mean(axis=0)
    assert np.all((pulls.std(axis=0) > 0.9) & (pulls.std(axis=0) < 1.1)), pulls.std(axis=0)
    assert abs((fit.chi2 / fit.ndf).mean() - 1.0) < 0.05
    assert np.all(fit.ndf == 2 * 10 - 5)


def test_ignoring_material_underestimates_errors():
    """The noise model is what makes the pulls right: without it the pulls of scattered tracks widen."""
    truth, surfaces = generate(2000, seed=12, pt_range=(1.0, 3.0))
    fit = fit_surfaces(surfaces, material=False)
    assert _pulls(truth, fit)[:, 4].std() > 1.3


def test_padding_does_not_change_the_fit():
    truth, surfaces = generate(50, seed=13)
    short = surfaces.take(slice(0, 50))
    short = Surfaces(*(getattr(short, f)[:, :7] for f in ("centers", "rotations", "thickness", "measurements", "variances", "mask")))
    padded = Surfaces(*(getattr(short, f).copy() for f in ("centers", "rotations", "thickness", "measurements", "variances", "mask")))
    pad = lambda a: np.concatenate([a, np.repeat(a[:, -1:], 3, axis=1)], axis=1)  # noqa: E731
    padded = Surfaces(pad(padded.centers), pad(padded.rotations), pad(padded.thickness),
                      pad(padded.measurements) + 5.0 * (np.arange(10) >= 7)[None, :, None], pad(padded.variances),
                      np.concatenate([padded.mask, np.zeros((50, 3), bool)], axis=1))
    a, b = fit_surfaces(short), fit_surfaces(padded)
    assert np.allclose(a.perigee, b.perigee, rtol=1e-9, atol=1e-12)
    assert np.allclose(a.perigee_cov, b.perigee_cov, rtol=1e-7, atol=1e-18)
    assert np.allclose(a.chi2, b.chi2) and np.all(a.ndf == b.ndf)
    assert np.all(b.hit_chi2[:, 7:] == 0)


def test_outlier_has_large_smoothed_chi2():
    truth, surfaces = generate(200, seed=14)
    surfaces.measurements[:, 5, 0] += 1.0  # 1 mm off in u: 70 sigma
    fit = fit_surfaces(surfaces)
    assert np.all(np.argmax(fit.hit_chi2, axis=1) == 5)
    assert np.all(fit.hit_chi2[:, 5] > 100)


def test_inverse_spd_matches_numpy():
    rng = np.random.default_rng(15)
    a = rng.normal(size=(100, 5, 5))
    spd = a @ a.transpose(0, 2, 1) + 0.1 * np.eye(5)
    assert np.allclose(inverse_spd(spd), np.linalg.inv(spd), rtol=1e-8, atol=1e-8)


def test_threads_and_chunks_give_the_same_fit():
    truth, surfaces = generate(900, seed=15)
    one = fit_surfaces(surfaces)
    threaded = fit_surfaces(surfaces, chunk=200, workers=2)
    for name in ("perigee", "perigee_cov", "chi2", "ndf", "hit_chi2", "ok"):
        assert np.array_equal(getattr(one, name), getattr(threaded, name)), name
