"""Per-constituent features, momentum fractions and kNN graphs of jets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn4hep.jets import features as F
from gnn4hep.jets.constituents import Jets, from_pt_y_phi
from gnn4hep.utils.angles import wrap_phi

from .conftest import make_jets


def test_feature_values_on_a_two_particle_jet():
    p4 = from_pt_y_phi(np.array([[30.0, 10.0, 0.0]]), np.array([[0.0, 0.0, 0.0]]), np.array([[0.1, -0.1, 0.0]]))
    jets = Jets(p4, np.array([[True, True, False]]), np.array([1]))
    feats = F.constituent_features(jets)
    names = F.feature_names(jets)
    assert names == list(F.KINEMATIC_FEATURES)
    col = {n: feats[0, :, i] for i, n in enumerate(names)}
    jet_phi = np.arctan2(30 * np.sin(0.1) - 10 * np.sin(0.1), 30 * np.cos(0.1) + 10 * np.cos(0.1))
    np.testing.assert_allclose(col["dphi"][:2], [0.1 - jet_phi, -0.1 - jet_phi], atol=1e-6)
    np.testing.assert_allclose(col["deta"][:2], [0, 0], atol=1e-6)
    np.testing.assert_allclose(col["log_pt"][:2], np.log([30, 10]), rtol=1e-6)
    jet_pt = np.hypot(30 * np.cos(0.1) + 10 * np.cos(0.1), 30 * np.sin(0.1) - 10 * np.sin(0.1))
    np.testing.assert_allclose(col["log_pt_rel"][:2], np.log(np.array([30, 10]) / jet_pt), rtol=1e-5)
    np.testing.assert_allclose(col["delta_r"][:2], np.abs(col["dphi"][:2]), atol=1e-6)
    assert np.all(feats[0, 2] == 0)  # padding


def test_pid_features_and_padding(jets):
    feats = F.constituent_features(jets)
    names = F.feature_names(jets)
    assert feats.shape == (len(jets), jets.max_constituents, len(names))
    assert "charge" in names and "is_photon" in names
    onehot = feats[..., names.index("is_charged_hadron"):]
    assert np.all(onehot[jets.mask].sum(-1) == 1)  # every test pid has exactly one type
    assert np.all(feats[~jets.mask] == 0)
    photon = jets.pid == 22
    assert np.all(feats[..., names.index("is_photon")][photon] == 1)
    assert F.constituent_features(jets, use_pid=False).shape[-1] == len(F.KINEMATIC_FEATURES)


def test_momentum_fractions_sum_to_one(jets):
    z = F.momentum_fractions(jets)
    np.testing.assert_allclose(z.sum(1), 1.0, rtol=1e-5)
    assert np.all(z[~jets.mask] == 0)


def test_wrap_phi():
    np.testing.assert_allclose(wrap_phi(np.array([3 * np.pi / 2, -3 * np.pi / 2, 0.5])), [-np.pi / 2, np.pi / 2, 0.5])


def test_standardise_uses_training_stats(jets):
    feats = F.constituent_features(jets)
    scaled, stats = F.standardise(feats, jets.mask)
    np.testing.assert_allclose(scaled[jets.mask].mean(0), 0, atol=1e-4)
    again, _ = F.standardise(feats, jets.mask, stats)
    np.testing.assert_array_equal(scaled, again)


@pytest.mark.parametrize("space", ["etaphi", "features"])
def test_jet_graphs_match_brute_force(space):
    jets = make_jets(6, 25, seed=4)
    k = 5
    graphs = F.jet_graphs(jets, k=k, space=space)
    assert graphs.num_graphs == 6
    coords = F.point_coordinates(jets) if space == "etaphi" else F.constituent_features(jets)
    for g in range(6):
        data = graphs.get_example(g)
        n = int(jets.multiplicity[g])
        assert data.num_nodes == n and int(data.y) == jets.labels[g]
        pts = coords[g, :n].astype(np.float64)
        d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        expected = {(int(j), i) for i in range(n) for j in np.argsort(d[i])[: min(k, n - 1)]}
        assert set(zip(data.edge_index[0].tolist(), data.edge_index[1].tolist())) == expected
        torch.testing.assert_close(data.pos, torch.from_numpy(F.point_coordinates(jets)[g, :n]))
    with pytest.raises(ValueError, match="space"):
        F.jet_graphs(jets, space="xyz")


def test_fixed_scaling_is_weavers_recipe_on_a_hand_computed_constituent():
    # one constituent of pT 20 GeV, E 30 GeV in a jet of pT 500 GeV, E 600 GeV at ΔR 0.1 (Δη 0.06, Δφ 0.08)
    names = list(F.KINEMATIC_FEATURES)
    raw = np.array([[[0.06, 0.08, np.log(20), np.log(30), np.log(20 / 500), np.log(30 / 600), 0.1]]], np.float32)
    scaled = F.scale_fixed(raw, names, np.array([[True]]))[0, 0]
    expected = [0.06, 0.08, (np.log(20) - 1.7) * 0.7, (np.log(30) - 2.0) * 0.7, (np.log(0.04) + 4.7) * 0.7,
                (np.log(0.05) + 4.7) * 0.7, (0.1 - 0.2) * 4.0]
    np.testing.assert_allclose(scaled, expected, rtol=1e-6)


def test_fixed_scaling_clips_scaled_columns_only_and_keeps_padding_zero(jets):
    names = F.feature_names(jets)
    raw = F.constituent_features(jets)
    raw[0, 0, names.index("log_pt")] = 100.0  # (100 - 1.7) * 0.7 = 68.8 -> clipped to 5
    raw[0, 1, names.index("log_pt_rel")] = -40.0  # -> -5
    raw[0, 2, names.index("deta")] = 9.0  # Δη is not scaled, so not clipped either
    scaled, stats = F.scale_features(raw, names, jets.mask, "fixed")
    assert stats is None
    assert scaled[0, 0, names.index("log_pt")] == 5.0 and scaled[0, 1, names.index("log_pt_rel")] == -5.0
    assert scaled[0, 2, names.index("deta")] == 9.0
    assert np.all(scaled[~jets.mask] == 0)
    pid_columns = [names.index(n) for n in ("charge", *F.PID_CLASSES)]
    np.testing.assert_array_equal(scaled[..., pid_columns], raw[..., pid_columns])
    with pytest.raises(ValueError, match="scaling"):
        F.scale_features(raw, names, jets.mask, "minmax")
    with pytest.raises(ValueError, match="names"):
        F.scale_fixed(raw, names[:-1], jets.mask)


def test_make_inputs_scales_as_configured(jets):
    from gnn4hep.jets.inputs import InputSettings, make_inputs

    fixed = make_inputs(jets, {"features", "vectors"}, InputSettings())
    fitted_settings = InputSettings(scaling="fitted")
    fitted = make_inputs(jets, {"features"}, fitted_settings)
    raw = F.constituent_features(jets)
    names = F.feature_names(jets)
    np.testing.assert_array_equal(fixed["features"].numpy(), F.scale_fixed(raw, names, jets.mask))
    np.testing.assert_allclose(fitted["features"].numpy()[jets.mask].mean(0), 0, atol=1e-4)
    assert fitted_settings.stats is not None
    np.testing.assert_array_equal(fixed["vectors"].numpy(), np.where(jets.mask[..., None], jets.p4, 0))
