"""Per-constituent features, point coordinates, masks and kNN graphs of jets.

Feature set (ParticleNet / Particle Transformer convention, arXiv:1902.08570, 2202.03772), per
constituent i of a jet J, zero where padded:

    Δη = η_i − η_J,  Δφ = φ_i − φ_J (wrapped),  log pT_i,  log E_i,
    log(pT_i / pT_J),  log(E_i / E_J),  ΔR = sqrt(Δη² + Δφ²),
    [charge_i], [PID one-hot: charged hadron, neutral hadron, photon, electron, muon]

(the bracketed ones only when the jets carry PDG ids / charges). The jet axis is the E-scheme sum.

Scaling (:func:`scale_features`): "fixed" (the default) is weaver-core's recipe for these features in
the Particle Transformer data configs (quark/gluon, top, JetClass): (x − shift) × scale with fixed
constants, clipped to ±5, and Δη, Δφ, charge and PID flags as they are; "fitted" is the z-score with
the training set's mean and standard deviation (:func:`standardise`).
"""

from __future__ import annotations

import numpy as np
import torch

from gnn4hep.jets.constituents import Jets, jet_p4, pt_eta_phi, relative_coordinates

KINEMATIC_FEATURES = ("deta", "dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r")
PID_CLASSES = ("is_charged_hadron", "is_neutral_hadron", "is_photon", "is_electron", "is_muon")
_EPS = 1e-8
#: feature -> (shift, scale) of the fixed scaling; features not listed are not scaled.
FIXED_SCALING = {"log_pt": (1.7, 0.7), "log_e": (2.0, 0.7), "log_pt_rel": (-4.7, 0.7), "log_e_rel": (-4.7, 0.7),
                 "delta_r": (0.2, 4.0)}
FIXED_CLIP = 5.0
SCALINGS = ("fixed", "fitted")


def feature_names(jets: Jets, use_pid: bool = True) -> list[str]:
    """Names of the columns :func:`constituent_features` returns for these jets."""
    names = list(KINEMATIC_FEATURES)
    if use_pid and jets.charge is not None:
        names.append("charge")
    if use_pid and jets.pid is not None:
        names += list(PID_CLASSES)
    return names


def pid_one_hot(pid: np.ndarray) -> np.ndarray:
    """(…, 5) one-hot particle type from PDG ids: charged hadron, neutral hadron, γ, e, μ."""
    apid = np.abs(pid)
    electron, muon, photon = apid == 11, apid == 13, apid == 22
    known_neutral_hadron = np.isin(apid, (130, 310, 2112, 3122, 3322, 111))
    hadron = (apid > 100) & ~known_neutral_hadron
    return np.stack([hadron, known_neutral_hadron, photon, electron, muon], axis=-1).astype(np.float32)


def constituent_features(jets: Jets, use_pid: bool = True) -> np.ndarray:
    """(N, M, F) float32 features in the order of :func:`feature_names`; zero where padded."""
    pt, _, _ = pt_eta_phi(jets.p4)
    energy = jets.p4[..., 3].astype(np.float64)
    jet = jet_p4(jets)
    jet_pt = np.hypot(jet[:, 0], jet[:, 1])[:, None]
    jet_e = jet[:, 3][:, None]
    deta, dphi = relative_coordinates(jets)
    logs = [np.log(np.maximum(pt, _EPS)), np.log(np.maximum(energy, _EPS)),
            np.log(np.maximum(pt, _EPS) / np.maximum(jet_pt, _EPS)),
            np.log(np.maximum(energy, _EPS) / np.maximum(jet_e, _EPS))]
    columns = [deta, dphi, *logs, np.hypot(deta, dphi)]
    if use_pid and jets.charge is not None:
        columns.append(jets.charge.astype(np.float64))
    features = np.stack(columns, axis=-1)
    if use_pid and jets.pid is not None:
        features = np.concatenate([features, pid_one_hot(jets.pid)], axis=-1)
    return np.where(jets.mask[..., None], features, 0.0).astype(np.float32)


def point_coordinates(jets: Jets) -> np.ndarray:
    """(N, M, 2) float32 (Δη, Δφ) to the jet axis; zero where padded."""
    deta, dphi = relative_coordinates(jets)
    return np.stack([deta, dphi], axis=-1).astype(np.float32)


def momentum_fractions(jets: Jets) -> np.ndarray:
    """(N, M) float32 z_i = pT_i / Σ_j pT_j (the EFN energy weights); zero where padded."""
    pt, _, _ = pt_eta_phi(jets.p4)
    pt = np.where(jets.mask, pt, 0.0)
    return (pt / np.maximum(pt.sum(axis=1, keepdims=True), _EPS)).astype(np.float32)


def standardise(features: np.ndarray, mask: np.ndarray, stats: tuple[np.ndarray, np.ndarray] | None = None):
    """Scale features to zero mean, unit variance over real constituents; padding stays 0.

    Returns (scaled, (mean, std)); pass the training set's stats to scale validation/test sets.
    """
    if stats is None:
        real = features[mask]
        mean, std = real.mean(axis=0), real.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        stats = (mean.astype(np.float32), std.astype(np.float32))
    scaled = (features - stats[0]) / stats[1]
    return np.where(mask[..., None], scaled, 0.0).astype(np.float32), stats


def scale_fixed(features: np.ndarray, names: list[str], mask: np.ndarray) -> np.ndarray:
    """(N, M, F) features with :data:`FIXED_SCALING` applied to the named columns and clipped to
    ±:data:`FIXED_CLIP`; the other columns unchanged; padding stays 0."""
    if len(names) != features.shape[-1]:
        raise ValueError(f"{len(names)} feature names for {features.shape[-1]} feature columns")
    shift = np.array([FIXED_SCALING.get(name, (0.0, 1.0))[0] for name in names], dtype=np.float32)
    scale = np.array([FIXED_SCALING.get(name, (0.0, 1.0))[1] for name in names], dtype=np.float32)
    scaled = (features - shift) * scale
    clipped = np.array([name in FIXED_SCALING for name in names])
    scaled = np.where(clipped, np.clip(scaled, -FIXED_CLIP, FIXED_CLIP), scaled)
    return np.where(mask[..., None], scaled, 0.0).astype(np.float32)


def scale_features(features: np.ndarray, names: list[str], mask: np.ndarray, scaling: str = "fixed",
                   stats: tuple[np.ndarray, np.ndarray] | None = None):
    """Scaled (N, M, F) features and the fitted stats (None for "fixed"); see the module docstring."""
    if scaling == "fixed":
        return scale_fixed(features, names, mask), None
    if scaling == "fitted":
        return standardise(features, mask, stats)
    raise ValueError(f"feature scaling must be one of {SCALINGS}, got {scaling!r}")


def jet_graphs(jets: Jets, k: int = 16, space: str = "etaphi", use_pid: bool = True):
    """One PyG ``Batch`` of kNN graphs, one graph per jet.

    Args:
        k: neighbours per constituent (jets with ≤ k constituents are fully connected).
        space: "etaphi" for kNN in (Δη, Δφ); "features" for kNN in the full feature space.

    Each graph has ``x`` (n_i, F) features, ``pos`` (n_i, 2) (Δη, Δφ), ``edge_index`` (row 0 the
    neighbour j, row 1 the centre i, from :func:`gnn4hep.neighbors.knn_graph`) and ``y``.
    """
    from torch_geometric.data import Batch, Data

    from gnn4hep.neighbors import knn_graph

    if space not in ("etaphi", "features"):
        raise ValueError(f"space must be 'etaphi' or 'features', got {space!r}")
    features = torch.from_numpy(constituent_features(jets, use_pid))
    points = torch.from_numpy(point_coordinates(jets))
    mask = torch.from_numpy(jets.mask)
    x, pos = features[mask], points[mask]
    batch = torch.repeat_interleave(torch.arange(len(jets)), mask.sum(dim=1))
    edge_index = knn_graph(pos if space == "etaphi" else x, k, batch)
    n_nodes = mask.sum(dim=1)
    offsets = torch.cumsum(n_nodes, 0) - n_nodes
    edge_graph = batch[edge_index[1]]
    edges_per_graph = torch.bincount(edge_graph, minlength=len(jets)).tolist()
    local_edges = (edge_index - offsets[edge_graph]).split(edges_per_graph, dim=1)
    xs, poss = x.split(n_nodes.tolist()), pos.split(n_nodes.tolist())
    labels = torch.from_numpy(jets.labels)
    return Batch.from_data_list([
        Data(x=xs[i], pos=poss[i], edge_index=local_edges[i], y=labels[i : i + 1]) for i in range(len(jets))
    ])
