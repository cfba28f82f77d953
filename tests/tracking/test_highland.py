"""``highland_theta0`` against the published Highland-Lynch-Dahl formula and numbers worked by hand.

PDG Review of Particle Physics, "Passage of particles through matter", eq. 34.15:

    theta_0 = 13.6 MeV / (beta c p) * z * sqrt(x/X0) * (1 + 0.038 ln(x z^2 / (X0 beta^2)))

(accurate to 11 % for 1e-3 < x/X0 < 100). Silicon: X0 = 21.82 g/cm^2 / 2.329 g/cm^3 = 9.37 cm (PDG
"Atomic and nuclear properties of materials").
"""

from __future__ import annotations

import numpy as np
import pytest

from gnn4hep.tracking.simulation.material import SILICON_X0_MM, highland_theta0


def test_one_radiation_length_at_beta_one_is_13_6_mrad_over_p():
    """At x = X0, beta = 1, z = 1 the logarithm vanishes: theta_0 = 13.6 MeV / p exactly, the formula's
    published constant; 13.6 mrad at 1 GeV/c, 1.36 mrad at 10 GeV/c."""
    theta = highland_theta0(np.array([1.0, 10.0]), 0.0, 1.0, np.array([SILICON_X0_MM, SILICON_X0_MM]))
    np.testing.assert_allclose(theta, [13.6e-3, 1.36e-3], rtol=1e-12)
    # z = 2 through X0/4: x z^2 / X0 = 1 again, so theta_0 = 13.6 mrad * 2 * sqrt(1/4) = 13.6 mrad
    assert highland_theta0(1.0, 0.0, 2.0, SILICON_X0_MM / 4) == pytest.approx(13.6e-3, rel=1e-12)


def test_muon_through_a_300_micron_silicon_sensor_worked_by_hand():
    """A 1 GeV/c muon (m = 105.658 MeV) crossing 300 um of silicon at normal incidence:

    E = sqrt(1 + 0.105658^2) = 1.005566 GeV, beta = 1 / 1.005566 = 0.994465, beta p = 0.994465 GeV;
    x/X0 = 0.3 mm / 93.7 mm = 3.2017e-3, sqrt(x/X0) = 0.056583;
    ln(x/(X0 beta^2)) = ln(3.2017e-3 / 0.988961) = ln(3.23744e-3) = -5.73298;
    1 + 0.038 * (-5.73298) = 0.782147;
    theta_0 = (13.6e-3 / 0.994465) * 0.056583 * 0.782147 = 0.0136757 * 0.056583 * 0.782147 = 0.6052 mrad.
    """
    assert SILICON_X0_MM == pytest.approx(93.7, rel=1e-3)
    assert highland_theta0(1.0, 0.1056583755, 1.0, 0.3) == pytest.approx(0.6052e-3, rel=2e-4)
    # a 1 GeV/c muon at 60 degrees crosses twice the silicon: the angle grows by sqrt(2) times the log term ratio
    ratio = (1 + 0.038 * np.log(2 * 3.23744e-3)) / 0.782147
    assert highland_theta0(1.0, 0.1056583755, 1.0, 0.6) / highland_theta0(1.0, 0.1056583755, 1.0, 0.3) == pytest.approx(
        np.sqrt(2) * ratio, rel=1e-6)


def test_charge_sign_does_not_matter_and_arrays_broadcast():
    p = np.array([0.5, 1.0, 2.0])
    np.testing.assert_array_equal(highland_theta0(p, 0.13957039, -1.0, 0.3), highland_theta0(p, 0.13957039, 1.0, 0.3))
    assert highland_theta0(p, 0.13957039, 1.0, 0.3).shape == (3,)
