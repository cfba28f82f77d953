"""The field models against independent routes: quadrature, Biot-Savart, Maxwell's equations."""

import numpy as np
import pytest
from scipy import integrate

from gnn4hep.tracking.field import (TRACKML_FIELD, TRACKML_SEGMENTED, TRACKML_SOLENOID, SegmentedSolenoidField, SolenoidField,
                                    UniformField, bulirsch_cel,
                                    field_from_metadata, field_from_name)


def test_bulirsch_cel_matches_direct_quadrature():
    rng = np.random.default_rng(1)
    for kc, p, c, s in zip(rng.uniform(0.05, 1, 6), rng.uniform(0.01, 2, 6), rng.normal(size=6), rng.normal(size=6)):
        integrand = lambda t: (c * np.cos(t) ** 2 + s * np.sin(t) ** 2) / (  # noqa: E731
            (np.cos(t) ** 2 + p * np.sin(t) ** 2) * np.sqrt(np.cos(t) ** 2 + kc**2 * np.sin(t) ** 2))
        reference = integrate.quad(integrand, 0, np.pi / 2, epsabs=1e-13, epsrel=1e-13, limit=200)[0]
        assert bulirsch_cel(kc, p, c, s) == pytest.approx(reference, rel=1e-10, abs=1e-12)


def test_solenoid_on_axis_equals_textbook_formula():
    field = SolenoidField(radius_mm=1000.0, half_length_mm=2000.0, b_center_tesla=2.0)
    z = np.linspace(-4000, 4000, 41)
    a, b = 1000.0, 2000.0
    mu0_n_i = 2.0 * np.hypot(a, b) / b
    expected = mu0_n_i / 2 * ((z + b) / np.hypot(z + b, a) - (z - b) / np.hypot(z - b, a))
    points = np.c_[np.zeros_like(z), np.zeros_like(z), z]
    np.testing.assert_allclose(field.exact(points)[:, 2], expected, rtol=1e-12)
    np.testing.assert_allclose(field.exact(points)[:, :2], 0.0, atol=1e-12)
    assert field.exact(np.zeros((1, 3)))[0, 2] == pytest.approx(2.0, rel=1e-12)


def _biot_savart(point, radius, half_length, mu0_n_i, n_loops=1500, n_phi=720):
    """mu0 n I times the field of a stack of current loops (midpoint rule in z and phi), brute force."""
    zc = -half_length + (np.arange(n_loops) + 0.5) * (2 * half_length / n_loops)
    phi = (np.arange(n_phi) + 0.5) * (2 * np.pi / n_phi)
    src = np.stack(np.broadcast_arrays(radius * np.cos(phi)[None], radius * np.sin(phi)[None], zc[:, None]), -1)
    dl = np.stack([-np.sin(phi), np.cos(phi), np.zeros_like(phi)], -1) * radius * (2 * np.pi / n_phi)
    r = point - src
    cross = np.cross(np.broadcast_to(dl, r.shape), r) / np.linalg.norm(r, axis=-1, keepdims=True) ** 3
    return mu0_n_i * cross.sum(axis=(0, 1)) * (2 * half_length / n_loops) / (4 * np.pi)


@pytest.mark.parametrize("point", [(500.0, 0.0, 1000.0), (0.0, 800.0, 2900.0), (-300.0, -200.0, -1800.0),
                                   (700.0, 700.0, 2500.0)])
def test_solenoid_equals_biot_savart_of_current_loops(point):
    field = TRACKML_SOLENOID
    a, b = field.radius_mm, field.half_length_mm
    mu0_n_i = field.b_center_tesla * np.hypot(a, b) / b
    # the loops sit around the solenoid's centre z_c: the point relative to it
    expected = _biot_savart(np.asarray(point) - np.array([0.0, 0.0, field.center_z_mm]), a, b, mu0_n_i)
    np.testing.assert_allclose(field.exact(np.asarray([point]))[0], expected, atol=2e-4)


def _assert_table_matches_closed_form(field, seed: int, n_points: int) -> np.ndarray:
    """The interpolated table within 1e-4 T of the closed form inside the tracker, exact outside the table;
    returns the tracker points (mm) it checked."""
    rng = np.random.default_rng(seed)
    points = np.c_[rng.uniform(-1100, 1100, (n_points, 2)), rng.uniform(-3500, 3500, n_points)]
    # the tracker (outer radius 1025 mm); the fitted current sheet lies beyond it, where B jumps
    points = points[np.hypot(points[:, 0], points[:, 1]) < 1030]
    np.testing.assert_allclose(field(points), field.exact(points), atol=1e-4)
    outside = np.array([[0.0, 0.0, 5000.0], [2000.0, 0.0, 0.0]])
    np.testing.assert_allclose(field(outside), field.exact(outside), rtol=1e-12)
    return points


def test_interpolated_field_within_1e4_tesla_of_closed_form():
    _assert_table_matches_closed_form(TRACKML_SOLENOID, seed=2, n_points=5000)


def test_solenoid_field_is_divergence_and_curl_free_in_the_tracker():
    rng = np.random.default_rng(3)
    points = np.c_[rng.uniform(100, 700, (20, 2)), rng.uniform(-3000, 3000, 20)]
    h = 0.01
    jac = np.empty((len(points), 3, 3))
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        jac[:, :, j] = (TRACKML_SOLENOID.exact(points + step) - TRACKML_SOLENOID.exact(points - step)) / (2 * h)
    divergence = np.trace(jac, axis1=1, axis2=2)
    curl = np.stack([jac[:, 2, 1] - jac[:, 1, 2], jac[:, 0, 2] - jac[:, 2, 0], jac[:, 1, 0] - jac[:, 0, 1]], 1)
    scale = np.abs(jac).max()
    assert np.abs(divergence).max() < 1e-6 * scale * 1e3
    assert np.abs(curl).max() < 1e-6 * scale * 1e3


def test_names_and_metadata_round_trip():
    assert field_from_name("uniform")(np.zeros((2, 3)))[:, 2].tolist() == [2.0, 2.0]
    for field in (UniformField(1.5), TRACKML_SOLENOID):
        again = field_from_metadata(field.metadata())
        points = np.array([[100.0, 200.0, 2000.0]])
        np.testing.assert_array_equal(again(points), field(points))
    with pytest.raises(ValueError, match="unknown field 'dipole'"):
        field_from_name("dipole")


def test_offset_solenoid_is_the_centred_one_shifted_by_its_centre():
    """B(x, y, z) of a solenoid centred at z_c equals the centred solenoid's at (x, y, z - z_c): closed form,
    interpolated table (the kernels' route) and the metadata round trip."""
    centred = SolenoidField(1177.0, 2586.0, 1.989)
    shifted = SolenoidField(1177.0, 2586.0, 1.989, center_z_mm=-138.0)
    rng = np.random.default_rng(7)
    points = np.c_[rng.uniform(-700, 700, (400, 2)), rng.uniform(-3000, 3000, 400)]
    moved = points - np.array([0.0, 0.0, -138.0])
    np.testing.assert_allclose(shifted.exact(points), centred.exact(moved), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(shifted(points), shifted.exact(points), atol=1e-4)
    # the field at the centre is b_center_tesla, along z
    np.testing.assert_allclose(shifted.exact(np.array([[0.0, 0.0, -138.0]]))[0], [0.0, 0.0, 1.989], atol=1e-12)
    # 0.5 m from the ends the offset matters: the shifted field is not the centred one
    ends = np.array([[300.0, 0.0, 2200.0], [300.0, 0.0, -2200.0]])
    assert np.all(np.abs(shifted.exact(ends)[:, 2] - centred.exact(ends)[:, 2]) > 0.02)
    np.testing.assert_array_equal(field_from_metadata(shifted.metadata())(points), shifted(points))
    # records written before the centre existed read as centred
    old = {k: v for k, v in shifted.metadata().items() if k != "center_z_mm"}
    assert field_from_metadata(old) == centred


def _field_fit_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "field_fit.py"
    spec = importlib.util.spec_from_file_location("field_fit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_segments(rng, n: int, z_half_mm: float) -> dict:
    """n synthetic chords (mid point, dx [mm], momentum p [GeV], charge q) inside the tracker, for field_fit.py."""
    rho, phi = rng.uniform(50, 1000, n), rng.uniform(-np.pi, np.pi, n)
    mid = np.c_[rho * np.cos(phi), rho * np.sin(phi), rng.uniform(-z_half_mm, z_half_mm, n)]
    theta, direction_phi = rng.uniform(0.15, np.pi - 0.15, n), rng.uniform(-np.pi, np.pi, n)
    unit = np.c_[np.sin(theta) * np.cos(direction_phi), np.sin(theta) * np.sin(direction_phi), np.cos(theta)]
    dx = unit * rng.uniform(30, 300, n)[:, None]
    p = unit * rng.uniform(1.0, 10.0, n)[:, None]
    q = rng.choice([-1.0, 1.0], n)
    return {"mid": mid, "dx": dx, "p": p, "q": q, "particle": np.arange(n)}


def test_field_fit_recovers_a_known_offset_solenoid():
    """benchmarks/field_fit.py on synthetic segments: dp = K q dx x <B> of a known solenoid (centre +150 mm, axis
    at (-120, 80) mm) with 0.5 MeV of scattering noise perpendicular to p; the six-parameter fit finds it from
    the default start."""
    from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM

    field_fit = _field_fit_module()
    truth = (1100.0, 2500.0, 1.95, 150.0, -120.0, 80.0)
    rng = np.random.default_rng(11)
    n = 1500
    seg = _random_segments(rng, n, 2500.0)
    dx, q, p = seg["dx"], seg["q"], seg["p"]
    seg["dp"] = C_GEV_PER_T_MM * q[:, None] * np.cross(dx, field_fit.chord_mean_b(seg, truth))
    e1, e2 = field_fit.perpendicular_basis(p)
    seg["dp"] += 5e-4 * (rng.normal(size=(n, 1)) * e1 + rng.normal(size=(n, 1)) * e2)
    params, sigma, _ = field_fit.fit_solenoid(seg)
    assert np.all(np.abs(params - truth) < 4 * sigma + 1e-9), (params, sigma)
    assert np.all(np.abs(params - truth) < [20.0, 10.0, 0.003, 5.0, 5.0, 5.0]), (params, sigma)
    # the fits on the z axis cannot describe it: worse costs on the same segments
    on_axis, _, _ = field_fit.fit_solenoid(seg, field_fit.START[:4])
    centred, _, _ = field_fit.fit_solenoid(seg, field_fit.START[:3])
    cost = [np.sum(np.square(field_fit.residuals(x, seg, e1, e2))) for x in (params, on_axis, centred)]
    assert cost[1] > 2 * cost[0] and cost[2] > cost[1]


def test_field_fit_profile_finds_a_weaker_centre():
    """field_fit.py --profile on synthetic segments of a solenoid whose field is 0.6 % weaker at |z| < 0.6 m than the
    model's (the scale a 0.5 % low fitted momentum would need) and equal elsewhere: the profile sees it, and gives
    f = 1 on segments of the model itself."""
    from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM

    field_fit = _field_fit_module()
    model = (1266.5, 2614.8, 1.989, -150.4, -142.3, -157.2)
    rng = np.random.default_rng(12)
    n = 3000
    seg = _random_segments(rng, n, 2200.0)
    mid, dx, q, p = seg["mid"], seg["dx"], seg["q"], seg["p"]
    e1, e2 = field_fit.perpendicular_basis(p)
    noise = 5e-4 * (rng.normal(size=(n, 1)) * e1 + rng.normal(size=(n, 1)) * e2)
    # the true field, integrated here with its own 33-point trapezoid along the chord
    fractions = np.linspace(-0.5, 0.5, 33)
    points = mid[:, None, :] + fractions[None, :, None] * dx[:, None, :]
    b = field_fit.model_b(points.reshape(-1, 3), model).reshape(points.shape)
    for scale_centre, expected in ((1.0, 1.0), (0.994, 0.994)):
        scaled = b * np.where(np.abs(points[..., 2:]) < 600.0, scale_centre, 1.0)
        mean = np.trapezoid(scaled, fractions, axis=1)
        seg["dp"] = C_GEV_PER_T_MM * q[:, None] * np.cross(dx, mean) + noise
        result = field_fit.profile_study(seg, model)
        knots, factors, sigma = (np.asarray(result[k]) for k in ("knots_mm", "factors", "sigma"))
        centre, outside = np.abs(knots) < 300.0, (np.abs(knots) > 900.0) & (np.abs(knots) < 2100.0)
        assert np.all(np.abs(factors[centre] - expected) < 0.0015), (factors, sigma)  # 0.6 % resolved
        assert np.all(np.abs(factors[outside] - 1.0) < 4 * sigma[outside] + 0.001), (factors, sigma)
        assert np.all(sigma[centre] < 0.001)


def test_one_sheet_segment_is_the_solenoid():
    """A single segment of strength mu0 n I spanning the solenoid's length is the solenoid itself."""
    a, b, b0, zc = 1177.0, 2586.0, 1.989, -138.0
    segment = SegmentedSolenoidField(a, (zc - b, zc + b), (b0 * np.hypot(a, b) / b,))
    rng = np.random.default_rng(4)
    points = np.c_[rng.uniform(-1500, 1500, (300, 2)), rng.uniform(-4000, 4000, 300)]
    np.testing.assert_allclose(segment.exact(points), SolenoidField(a, b, b0, zc).exact(points), rtol=1e-11, atol=1e-13)


def test_sheet_segments_superpose():
    """Two adjacent segments of one strength are one longer segment; the field is linear in the strengths."""
    rng = np.random.default_rng(5)
    points = np.c_[rng.uniform(-1000, 1000, (200, 2)), rng.uniform(-3500, 3500, 200)]
    split = SegmentedSolenoidField(1100.0, (-2500.0, 300.0, 2600.0), (2.1, 2.1))
    whole = SegmentedSolenoidField(1100.0, (-2500.0, 2600.0), (2.1,))
    np.testing.assert_allclose(split.exact(points), whole.exact(points), rtol=1e-10, atol=1e-12)
    one = SegmentedSolenoidField(1100.0, (-2500.0, 300.0, 2600.0), (1.0, 0.0)).exact(points)
    other = SegmentedSolenoidField(1100.0, (-2500.0, 300.0, 2600.0), (0.0, 1.0)).exact(points)
    mixed = SegmentedSolenoidField(1100.0, (-2500.0, 300.0, 2600.0), (2.0, -0.5)).exact(points)
    np.testing.assert_allclose(mixed, 2.0 * one - 0.5 * other, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("point", [(400.0, 300.0, -2300.0), (0.0, 900.0, 1900.0), (650.0, -650.0, 200.0)])
def test_segmented_sheet_equals_biot_savart_of_its_loops(point):
    """Brute-force loops of each segment's current (unequal currents, so the segments do not merge)."""
    edges, strengths = (-2700.0, -900.0, 800.0, 2600.0), (2.3, 1.9, 1.2)
    field = SegmentedSolenoidField(1177.0, edges, strengths)
    expected = sum(_biot_savart(np.asarray(point) - np.array([0.0, 0.0, 0.5 * (lo + hi)]), 1177.0, 0.5 * (hi - lo), k,
                                n_loops=800)
                   for lo, hi, k in zip(edges[:-1], edges[1:], strengths))
    np.testing.assert_allclose(field.exact(np.asarray([point]))[0], expected, atol=2e-4)


def test_segmented_field_table_metadata_and_name():
    points = _assert_table_matches_closed_form(TRACKML_SEGMENTED, seed=6, n_points=4000)
    assert field_from_name("segmented") is TRACKML_SEGMENTED
    again = field_from_metadata(TRACKML_SEGMENTED.metadata())
    assert again == TRACKML_SEGMENTED
    np.testing.assert_array_equal(again(points), TRACKML_SEGMENTED(points))
    # where the data are dense (|z| < 1.5 m) the two fits agree within 0.02 T; near the sheet's ends they do not
    central = points[np.abs(points[:, 2]) < 1500]
    assert np.max(np.abs(TRACKML_SEGMENTED(central) - TRACKML_SOLENOID(central))) < 0.02
    with pytest.raises(ValueError, match="edges_mm"):
        SegmentedSolenoidField(1177.0, (0.0, -1.0), (1.0,))
    with pytest.raises(ValueError, match="edges_mm"):
        SegmentedSolenoidField(1177.0, (0.0, 1.0, 2.0), (1.0,))


def test_solenoid_with_its_axis_off_the_beam_line_is_the_translated_field():
    """B of a solenoid whose axis crosses (x0, y0) at point p is the on-axis solenoid's B at p - (x0, y0, 0)."""
    on_axis = SolenoidField(TRACKML_FIELD.radius_mm, TRACKML_FIELD.half_length_mm, TRACKML_FIELD.b_center_tesla,
                            TRACKML_FIELD.center_z_mm)
    shift = np.array([TRACKML_FIELD.axis_x_mm, TRACKML_FIELD.axis_y_mm, 0.0])
    assert np.hypot(*shift[:2]) > 100.0
    rng = np.random.default_rng(7)
    points = np.c_[rng.uniform(-1000, 1000, (3000, 2)), rng.uniform(-3500, 3500, 3000)]
    np.testing.assert_allclose(TRACKML_FIELD.exact(points), on_axis.exact(points - shift), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(TRACKML_FIELD(points), on_axis(points - shift), rtol=1e-12, atol=1e-14)
    # on the beam line B_r no longer vanishes: it points away from the axis
    beam_line = TRACKML_FIELD.exact(np.array([[0.0, 0.0, 1500.0]]))[0]
    assert np.dot(beam_line[:2], -shift[:2]) > 0 and np.hypot(*beam_line[:2]) > 0.01
    assert field_from_name("trackml") is TRACKML_FIELD
    assert field_from_metadata(TRACKML_FIELD.metadata()) == TRACKML_FIELD
    old = {k: v for k, v in TRACKML_SOLENOID.metadata().items() if not k.startswith("axis")}
    assert field_from_metadata(old) == TRACKML_SOLENOID  # records from before the axis existed
