"""The hit-graph schema shared by graph construction, edge classifiers and track building.

A hit graph is a :class:`torch_geometric.data.Data` with these attributes (N hits, E directed edges):

===================  ===========  ==========  =======================================================
attribute            dtype        shape       meaning
===================  ===========  ==========  =======================================================
``x``                float32      (N, F)      node features; columns 0..2 are always
                                              (r/1000 [m], phi/pi, z/1000 [m]) (HEP.TrkX scaling);
                                              more may follow, named in ``feature_names``
``edge_index``       int64        (2, E)      directed edges; row 0 = inner hit (source),
                                              row 1 = outer hit (target); values in [0, N)
``y``                float32      (E,)        1 when both hits belong to the same particle and are
                                              consecutive along it (HEP.TrkX files: the file's y)
``feature_names``    list[str]    F           optional: names of the columns of ``x``
``edge_attr``        float32      (E, A)      optional edge features
``hit_id``           int64        (N,)        optional TrackML hit_id of each node
``particle_id``      int64        (N,)        optional TrackML particle_id (0 = noise)
``pt``               float32      (N,)        optional transverse momentum [GeV] of the hit's particle
``edge_scores``      float32      (E,)        optional edge-classifier probabilities in [0, 1]
``event_id``         int          scalar      optional event number
===================  ===========  ==========  =======================================================

:func:`validate_graph` checks a graph against this table and raises a ``ValueError`` naming the
attribute at fault.
"""

from __future__ import annotations

from typing import Any

import torch

#: Names of the first three columns of ``x`` (HEP.TrkX scaling).
BASE_FEATURES: tuple[str, ...] = ("r", "phi", "z")
#: Scale factors of the base features: x[:, 0] = r / R_SCALE_MM, x[:, 1] = phi / pi, x[:, 2] = z / Z_SCALE_MM.
R_SCALE_MM: float = 1000.0
PHI_SCALE: float = float(torch.pi)
Z_SCALE_MM: float = 1000.0

#: Attributes every hit graph has.
REQUIRED_ATTRIBUTES: tuple[str, ...] = ("x", "edge_index", "y")
#: Optional per-node attributes: name -> dtype (each of shape (N,)).
NODE_ATTRIBUTES: dict[str, torch.dtype] = {
    "hit_id": torch.int64,
    "particle_id": torch.int64,
    "pt": torch.float32,
}
#: Optional per-edge attributes: name -> dtype (first dimension E).
EDGE_ATTRIBUTES: dict[str, torch.dtype] = {
    "y": torch.float32,
    "edge_attr": torch.float32,
    "edge_scores": torch.float32,
}


def _tensor(data: Any, name: str) -> torch.Tensor | None:
    value = getattr(data, name, None)
    if value is None:
        return None
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"hit graph attribute '{name}' must be a torch.Tensor, got {type(value).__name__}")
    return value


def validate_graph(data: Any) -> None:
    """Check ``data`` against the hit-graph schema; raise ``ValueError`` naming the attribute.

    Args:
        data: a ``torch_geometric.data.Data`` (anything with the attributes works).

    Raises:
        ValueError: a required attribute is missing, or an attribute has the wrong dtype or shape,
            non-finite values, or edge indices outside [0, N).
    """
    for name in REQUIRED_ATTRIBUTES:
        if _tensor(data, name) is None:
            raise ValueError(f"hit graph has no '{name}' (required: {', '.join(REQUIRED_ATTRIBUTES)})")
    x = data.x
    if x.dtype != torch.float32:
        raise ValueError(f"hit graph attribute 'x' must be float32, got {x.dtype}")
    if x.dim() != 2 or x.shape[1] < len(BASE_FEATURES):
        raise ValueError(f"hit graph attribute 'x' must have shape (N, F>=3), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("hit graph attribute 'x' has NaN or infinite values")
    n_nodes = x.shape[0]
    names = getattr(data, "feature_names", None)
    if names is not None:
        if len(names) != x.shape[1]:
            raise ValueError(f"hit graph attribute 'feature_names' has {len(names)} names for {x.shape[1]} columns of 'x'")
    edge_index = data.edge_index
    if edge_index.dtype != torch.int64:
        raise ValueError(f"hit graph attribute 'edge_index' must be int64, got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"hit graph attribute 'edge_index' must have shape (2, E), got {tuple(edge_index.shape)}")
    n_edges = edge_index.shape[1]
    if n_edges and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n_nodes):
        raise ValueError(f"hit graph attribute 'edge_index' has indices outside [0, {n_nodes})")
    for name, dtype in EDGE_ATTRIBUTES.items():
        value = _tensor(data, name)
        if value is None:
            continue
        if value.dtype != dtype:
            raise ValueError(f"hit graph attribute '{name}' must be {dtype}, got {value.dtype}")
        expected_dim = 2 if name == "edge_attr" else 1
        if value.dim() != expected_dim or value.shape[0] != n_edges:
            shape = "(E, A)" if expected_dim == 2 else "(E,)"
            raise ValueError(f"hit graph attribute '{name}' must have shape {shape} with E={n_edges}, got {tuple(value.shape)}")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"hit graph attribute '{name}' has NaN or infinite values")
    for name, dtype in NODE_ATTRIBUTES.items():
        value = _tensor(data, name)
        if value is None:
            continue
        if value.dtype != dtype:
            raise ValueError(f"hit graph attribute '{name}' must be {dtype}, got {value.dtype}")
        if value.shape != (n_nodes,):
            raise ValueError(f"hit graph attribute '{name}' must have shape (N,) with N={n_nodes}, got {tuple(value.shape)}")
