"""Substructure observables against brute-force references; images; metrics; the BDT."""

from __future__ import annotations

import numpy as np
import pytest

from gnn4hep.jets import substructure
from gnn4hep.jets.constituents import Jets, from_pt_y_phi, invariant_mass
from gnn4hep.utils.angles import wrap_phi
from gnn4hep.jets.images import jet_images
from gnn4hep.jets.metrics import background_efficiency, tagging_metrics

from .conftest import make_jets


def exclusive_kt_axes(p4: np.ndarray, n: int) -> np.ndarray:
    """Reference exclusive kT clustering (large R, E-scheme) by brute force."""
    objs = [p.astype(np.float64) for p in p4]
    while len(objs) > n:
        best, pair = np.inf, None
        for a in range(len(objs)):
            for b in range(a + 1, len(objs)):
                pa, pb = objs[a], objs[b]
                ya = 0.5 * np.log((pa[3] + pa[2]) / (pa[3] - pa[2]))
                yb = 0.5 * np.log((pb[3] + pb[2]) / (pb[3] - pb[2]))
                dphi = wrap_phi(np.arctan2(pa[1], pa[0]) - np.arctan2(pb[1], pb[0]))
                d = min(pa[0] ** 2 + pa[1] ** 2, pb[0] ** 2 + pb[1] ** 2) * ((ya - yb) ** 2 + dphi**2)
                if d < best:
                    best, pair = d, (a, b)
        a, b = pair
        merged = objs[a] + objs[b]
        objs = [o for i, o in enumerate(objs) if i not in pair] + [merged]
    return np.array(objs)


def reference_tau(p4: np.ndarray, n: int, radius: float) -> float:
    if len(p4) <= n:
        return 0.0
    axes = exclusive_kt_axes(p4, n)
    rap = lambda p: 0.5 * np.log((p[..., 3] + p[..., 2]) / (p[..., 3] - p[..., 2]))
    phi = lambda p: np.arctan2(p[..., 1], p[..., 0])
    dr = np.sqrt((rap(p4)[:, None] - rap(axes)[None]) ** 2 + wrap_phi(phi(p4)[:, None] - phi(axes)[None]) ** 2)
    pt = np.hypot(p4[:, 0], p4[:, 1])
    return float((pt * dr.min(1)).sum() / (pt.sum() * radius))


def test_nsubjettiness_matches_brute_force():
    jets = make_jets(8, 9, seed=7, with_pid=False)
    taus = substructure.nsubjettiness(jets, radius=0.8)
    for j in range(len(jets)):
        p4 = jets.p4[j][jets.mask[j]].astype(np.float64)
        for n in (1, 2, 3):
            assert taus[j, n - 1] == pytest.approx(reference_tau(p4, n, 0.8), rel=1e-6, abs=1e-9)
    # τ_N decreases with N
    assert np.all(taus[:, 1] <= taus[:, 0] + 1e-12) and np.all(taus[:, 2] <= taus[:, 1] + 1e-12)


def test_two_prong_jets_have_small_tau21():
    jets = make_jets(40, 30, seed=8, with_pid=False)
    obs = substructure.substructure_observables(jets, radius=0.8)
    assert set(obs) == set(substructure.OBSERVABLES)
    assert np.median(obs["tau21"][jets.labels == 1]) < np.median(obs["tau21"][jets.labels == 0])


def test_softdrop_removes_a_soft_wide_angle_particle():
    pt = np.array([[100.0, 80.0, 3.0], [100.0, 80.0, 0.0]])
    y = np.array([[0.0, 0.2, -0.35], [0.0, 0.2, 0.0]])
    phi = np.array([[0.0, 0.1, 0.3], [0.0, 0.1, 0.0]])
    p4 = from_pt_y_phi(pt, y, phi)
    mask = np.array([[True, True, True], [True, True, False]])
    jets = Jets(np.where(mask[..., None], p4, 0), mask, np.array([1, 1]))
    groomed = substructure.softdrop_mass(jets, radius=0.8)
    two_prong = invariant_mass(p4[0, :2].sum(0))
    assert groomed[0] == pytest.approx(two_prong, rel=1e-5)  # z = 3/183 < 0.1: dropped
    assert groomed[1] == pytest.approx(two_prong, rel=1e-5)  # z = 80/180: kept
    full = invariant_mass(p4[0].sum(0))
    assert full > two_prong + 1  # the soft particle did carry mass


def test_images_are_normalised_and_rotated():
    jets = make_jets(10, 30, seed=9, with_pid=False)
    images = jet_images(jets, size=40, extent=0.8)
    assert images.shape == (10, 1, 40, 40)
    np.testing.assert_allclose(images.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    # after rotation the two-prong (signal) jets spread along Δφ (rows), not Δη (columns)
    rows = np.arange(40) - 19.5
    signal = images[jets.labels == 1, 0]
    spread_rows = (signal.sum(2) * rows**2).sum(1)
    spread_cols = (signal.sum(1) * rows**2).sum(1)
    assert np.all(spread_rows >= spread_cols)
    # flip: more intensity in the upper half (rows >= 20) and right half
    assert np.all(signal[:, 20:].sum((1, 2)) >= signal[:, :20].sum((1, 2)) - 1e-6)


def test_metrics_known_values():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    m = tagging_metrics(labels, scores)
    assert m["auc"] == pytest.approx(15 / 16)
    assert m["accuracy"] == pytest.approx(6 / 8)
    # ROC points (tpr, fpr): (0,0) (.75,0) (.75,.25) (1,.25) ... -> ε_S=0.5 reached at ε_B=0
    assert background_efficiency(labels, scores, 0.5) == 0.0
    assert m["rej50"] == float("inf")
    # ε_S = 0.9 lies between (0.75, 0.25) and (1, 0.25): ε_B = 0.25
    assert background_efficiency(labels, scores, 0.9) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="both classes"):
        tagging_metrics(np.ones(3), np.ones(3))


def test_interpolation_between_roc_points():
    labels = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # ROC: (0,0) (0.5,0) (0.5,0.5) (1,0.5) (1,1); ε_S = 0.75 -> between (0.5,0.5) and (1,0.5)
    assert background_efficiency(labels, scores, 0.75) == pytest.approx(0.5)
    assert background_efficiency(labels, scores, 0.25) == pytest.approx(0.0)


def test_bdt_learns_two_prong_jets():
    from gnn4hep.jets.bdt import SubstructureBDT

    train, test = make_jets(200, 30, seed=10, with_pid=False), make_jets(100, 30, seed=11, with_pid=False)
    bdt = SubstructureBDT(radius=0.8, max_iter=50).fit(train)
    scores = bdt.predict_scores(test)
    assert scores.shape == (100,)
    assert tagging_metrics(test.labels, scores)["auc"] > 0.8
