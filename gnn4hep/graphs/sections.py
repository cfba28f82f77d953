"""Graph sections: cut an event's hit graph into eta-phi sectors so that each GNN training step is small.

A full mu = 200 event graph is too large for one CPU training step (issue 13: ~12 s per step at
300k edges). Training on sections (Exa.TrkX / acorn train on sub-graphs the same way; Ju et al.,
arXiv:2103.06995) bounds the step cost by the section size.

Sectors: ``n_phi`` equal phi slices of (-pi, pi] times ``n_eta`` equal eta slices of
[-eta_max, eta_max] (the outer slices are open-ended). An edge belongs to the *core* of the sector
that holds its source (inner) hit, so cores partition the edges; a section is the sector widened by
``overlap_phi`` [rad] and ``overlap_eta`` on each side, and holds every edge whose source hit lies in
that widened sector, with both endpoints (a target hit may lie outside the widened sector). Every
edge is therefore in at least one section (its core one), and near the sector borders in the
neighbouring sections too, with context hits across the border. ``core_edge`` (E_s,) bool marks
the edges of a section's own core, so that metrics can count each edge once.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from gnn4hep.graphs.schema import PHI_SCALE

#: per-node and per-edge attributes of the hit-graph schema (other attributes are copied as they are)
NODE_KEYS = ("x", "hit_id", "particle_id", "pt", "layer")
EDGE_KEYS = ("y", "edge_attr")


def _node_phi_eta(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """phi [rad] and eta of each node from ``x`` = (r/1000, phi/pi, z/1000, eta, ...)."""
    x = data.x.detach().cpu().numpy()
    return x[:, 1].astype(np.float64) * PHI_SCALE, x[:, 3].astype(np.float64)


def sector_of(phi: np.ndarray, eta: np.ndarray, n_phi: int, n_eta: int = 1, eta_max: float = 4.0) -> np.ndarray:
    """(N,) int64 sector index (phi slice * n_eta + eta slice) of each hit."""
    phi_bin = np.clip(np.floor((np.asarray(phi) + np.pi) / (2 * np.pi / n_phi)), 0, n_phi - 1).astype(np.int64)
    eta_bin = np.clip(np.floor((np.asarray(eta) + eta_max) / (2 * eta_max / n_eta)), 0, n_eta - 1).astype(np.int64)
    return phi_bin * n_eta + eta_bin


def _in_widened(phi: np.ndarray, eta: np.ndarray, sector: int, n_phi: int, n_eta: int, eta_max: float,
                overlap_phi: float, overlap_eta: float) -> np.ndarray:
    i_phi, i_eta = divmod(sector, n_eta)
    width = 2 * np.pi / n_phi
    centre = -np.pi + (i_phi + 0.5) * width
    distance = np.abs((phi - centre + np.pi) % (2 * np.pi) - np.pi)
    inside = distance <= width / 2 + overlap_phi
    if n_eta > 1:
        step = 2 * eta_max / n_eta
        low = -np.inf if i_eta == 0 else -eta_max + i_eta * step - overlap_eta
        high = np.inf if i_eta == n_eta - 1 else -eta_max + (i_eta + 1) * step + overlap_eta
        inside &= (eta >= low) & (eta <= high)
    return inside


def graph_sections(data: Data, n_phi: int, n_eta: int = 1, overlap_phi: float = 0.1, overlap_eta: float = 0.1,
                   eta_max: float = 4.0) -> list[Data]:
    """The sections (module docstring) of a hit graph, as graphs of the same schema.

    Args:
        data: hit graph (``x`` with phi/pi in column 1 and eta in column 3, ``edge_index`` (2, E)).
        n_phi, n_eta: slices in phi and eta (n_phi * n_eta sectors; 1, 1 gives the whole graph).
        overlap_phi: widening of each sector in phi [rad]; overlap_eta: in eta.

    Returns:
        Non-empty sections; each has the node and edge attributes of ``data`` restricted to it (nodes
        renumbered), ``core_edge`` (E_s,) bool, ``section`` (int) and ``section_edges`` (E_s,) int64
        (the positions of its edges in ``data.edge_index``).
    """
    if n_phi < 1 or n_eta < 1:
        raise ValueError("graph_sections needs n_phi >= 1 and n_eta >= 1")
    phi, eta = _node_phi_eta(data)
    edge_index = data.edge_index.detach().cpu().numpy()
    source, target = edge_index
    core = sector_of(phi, eta, n_phi, n_eta, eta_max)[source]
    sections = []
    for sector in range(n_phi * n_eta):
        edges = np.flatnonzero(_in_widened(phi, eta, sector, n_phi, n_eta, eta_max, overlap_phi, overlap_eta)[source])
        if len(edges) == 0:
            continue
        nodes = np.unique(edge_index[:, edges])
        renumber = np.full(len(phi), -1, dtype=np.int64)
        renumber[nodes] = np.arange(len(nodes))
        part = Data(edge_index=torch.from_numpy(renumber[edge_index[:, edges]]))
        node_t, edge_t = torch.from_numpy(nodes), torch.from_numpy(edges)
        for key in data.keys():
            value = data[key]
            if key == "edge_index":
                continue
            if key in NODE_KEYS and isinstance(value, torch.Tensor):
                part[key] = value[node_t]
            elif key in EDGE_KEYS and isinstance(value, torch.Tensor):
                part[key] = value[edge_t]
            else:
                part[key] = value
        part.core_edge = torch.from_numpy(core[edges] == sector)
        part.section = int(sector)
        part.section_edges = edge_t
        sections.append(part)
    return sections
