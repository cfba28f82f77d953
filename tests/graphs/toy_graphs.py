"""Tiny synthetic hit graphs in the HEP.TrkX scaling, for tests (learnable: true edges follow smooth tracks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from gnn4hep.graphs.heptrkx import write_heptrkx_graph

LAYERS_M = np.array([0.032, 0.072, 0.116, 0.172, 0.26])


def toy_graph_arrays(n_tracks: int = 12, seed: int = 0, window: float = 0.05):
    """(x (N, 3), edge_index (2, E), y (E,)) of straight-ish tracks through 5 barrel layers.

    Candidate edges join hits on adjacent layers with |dphi/pi| < window; y = same track.
    """
    rng = np.random.default_rng(seed)
    phi0 = rng.uniform(-0.2, 0.2, n_tracks)
    curvature = rng.normal(0.0, 0.3, n_tracks)
    cot_theta = rng.uniform(-1.0, 1.0, n_tracks)
    rows, track, layer = [], [], []
    for t in range(n_tracks):
        for index, r in enumerate(LAYERS_M):
            phi = phi0[t] + curvature[t] * r + rng.normal(0, 1e-3)
            rows.append((r, phi, r * cot_theta[t]))
            track.append(t)
            layer.append(index)
    x = np.array(rows, dtype=np.float32)
    track, layer = np.array(track), np.array(layer)
    edges = []
    for index in range(len(LAYERS_M) - 1):
        inner, outer = np.flatnonzero(layer == index), np.flatnonzero(layer == index + 1)
        dphi = np.abs(x[outer][None, :, 1] - x[inner][:, None, 1])
        i, o = np.nonzero(dphi < window)
        edges.append(np.stack([inner[i], outer[o]]))
    edge_index = np.concatenate(edges, axis=1)
    y = (track[edge_index[0]] == track[edge_index[1]]).astype(np.float32)
    return x, edge_index, y


def toy_graph(n_tracks: int = 12, seed: int = 0, n_extra_features: int = 0) -> Data:
    """A ``Data`` hit graph (optionally with random extra node columns)."""
    x, edge_index, y = toy_graph_arrays(n_tracks, seed)
    x = torch.from_numpy(x)
    if n_extra_features:
        x = torch.cat([x, torch.randn(x.shape[0], n_extra_features, generator=torch.Generator().manual_seed(seed))], dim=1)
    return Data(x=x, edge_index=torch.from_numpy(edge_index), y=torch.from_numpy(y))


def write_toy_folder(folder: Path, events: range, sectors: int = 2, n_tracks: int = 10) -> list[Path]:
    """Write event<NNN>_g<SSS>.npz toy graphs into ``folder``; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for event in events:
        for sector in range(sectors):
            x, edge_index, y = toy_graph_arrays(n_tracks, seed=event * 100 + sector)
            files.append(write_heptrkx_graph(folder / f"event{event:09d}_g{sector:03d}.npz", x, edge_index, y))
    return files
