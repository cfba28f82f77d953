"""PFN and EFN: shapes, permutation invariance, IRC safety of the EFN and its absence in the PFN."""

from __future__ import annotations

import numpy as np
import torch

from gnn4hep.jets.constituents import Jets, from_pt_y_phi
from gnn4hep.jets.features import constituent_features, momentum_fractions, point_coordinates
from gnn4hep.models.efn import EnergyFlowNetwork
from gnn4hep.models.pfn import ParticleFlowNetwork


def efn_inputs(jets: Jets) -> dict:
    return {"weights": torch.from_numpy(momentum_fractions(jets)).double(),
            "points": torch.from_numpy(point_coordinates(jets)).double(),
            "mask": torch.from_numpy(jets.mask)}


def pfn_inputs(jets: Jets) -> dict:
    return {"features": torch.from_numpy(constituent_features(jets, use_pid=False)).double(),
            "mask": torch.from_numpy(jets.mask)}


def base_jet(m_pad: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 6
    pt, y, phi = rng.uniform(5, 80, n), rng.normal(0, 0.15, n), rng.normal(0, 0.15, n)
    return pt, y, phi


def as_jets(pt, y, phi, m_pad: int = 12) -> Jets:
    n = len(pt)
    p4 = np.zeros((1, m_pad, 4))
    p4[0, :n] = from_pt_y_phi(pt, y, phi)
    mask = np.zeros((1, m_pad), bool)
    mask[0, :n] = True
    return Jets(p4, mask, np.array([1]))


def models():
    torch.manual_seed(0)
    return EnergyFlowNetwork().double().eval(), ParticleFlowNetwork(input_dim=7).double().eval()


def test_shapes_and_permutation_invariance():
    efn, pfn = models()
    pt, y, phi = base_jet()
    jets = as_jets(pt, y, phi)
    perm = np.random.default_rng(0).permutation(len(pt))
    shuffled = as_jets(pt[perm], y[perm], phi[perm])
    assert efn(**efn_inputs(jets)).shape == (1, 2)
    torch.testing.assert_close(efn(**efn_inputs(jets)), efn(**efn_inputs(shuffled)))
    torch.testing.assert_close(pfn(**pfn_inputs(jets)), pfn(**pfn_inputs(shuffled)))


def test_efn_is_irc_safe_and_pfn_is_not():
    efn, pfn = models()
    pt, y, phi = base_jet()
    jets = as_jets(pt, y, phi)
    # collinear split: the hardest particle becomes two of 30% and 70% of its pT, same direction
    collinear = as_jets(np.r_[pt[1:], 0.3 * pt[0], 0.7 * pt[0]], np.r_[y[1:], y[0], y[0]],
                        np.r_[phi[1:], phi[0], phi[0]])
    # soft emission: a 1e-7 GeV particle at a wide angle
    soft = as_jets(np.r_[pt, 1e-7], np.r_[y, 0.35], np.r_[phi, -0.3])
    with torch.no_grad():
        reference_efn = efn(**efn_inputs(jets))
        reference_pfn = pfn(**pfn_inputs(jets))
        for changed in (collinear, soft):
            torch.testing.assert_close(efn(**efn_inputs(changed)), reference_efn, atol=1e-6, rtol=1e-6)
            # the PFN's output moves by far more than numerical noise
            assert (pfn(**pfn_inputs(changed)) - reference_pfn).abs().max() > 1e-3


def test_efn_latent_exact_under_zero_weight_and_split():
    """At the level of the latent sum the invariances are exact algebra."""
    efn, _ = models()
    gen = torch.Generator().manual_seed(1)
    z = torch.rand(1, 5, generator=gen, dtype=torch.float64)
    points = torch.randn(1, 5, 2, generator=gen, dtype=torch.float64) * 0.2
    mask = torch.ones(1, 5, dtype=torch.bool)
    latent = efn.latent(z, points, mask)
    split_z = torch.cat([z[:, :4], z[:, 4:] * 0.4, z[:, 4:] * 0.6], 1)
    split_points = torch.cat([points, points[:, 4:]], 1)
    torch.testing.assert_close(efn.latent(split_z, split_points, torch.ones(1, 6, dtype=torch.bool)), latent)
    zero_z = torch.cat([z, torch.zeros(1, 1, dtype=torch.float64)], 1)
    far = torch.cat([points, torch.tensor([[[0.3, -0.2]]], dtype=torch.float64)], 1)
    torch.testing.assert_close(efn.latent(zero_z, far, torch.ones(1, 6, dtype=torch.bool)), latent)


def test_padding_is_ignored():
    efn, pfn = models()
    pt, y, phi = base_jet()
    short, long = as_jets(pt, y, phi, m_pad=6), as_jets(pt, y, phi, m_pad=20)
    torch.testing.assert_close(efn(**efn_inputs(short)), efn(**efn_inputs(long)))
    torch.testing.assert_close(pfn(**pfn_inputs(short)), pfn(**pfn_inputs(long)))
