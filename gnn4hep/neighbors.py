"""Neighbour search for point clouds and graphs: k nearest neighbours and fixed-radius neighbours.

Why this module exists: torch-geometric's ``knn_graph``/``radius_graph`` and ``DynamicEdgeConv``
need ``pyg-lib`` (not on PyPI) or ``torch-cluster`` (compiles from source, about 19 minutes), so
gnn4hep keeps its own small implementation with the same conventions. Routes:

* ``"torch_cluster"``: used automatically when ``torch_cluster`` is importable;
* ``"kdtree"``: ``scipy.spatial.cKDTree`` on CPU, chosen for clouds larger than
  :data:`KDTREE_MIN_POINTS` points (hit clouds of a tracking detector);
* ``"dense"``: padded batches with ``torch.cdist`` + ``topk`` (rows in chunks, so memory stays
  bounded), chosen for small clouds such as jets and on GPU.

Every route gives the same neighbour sets (up to ties at equal distance); ``tests/test_neighbors.py``
checks each against a brute-force numpy reference.

Edge convention (PyG, ``flow="source_to_target"``): ``edge_index[0]`` is the neighbour ``j``
(source), ``edge_index[1]`` the centre ``i`` (target). Points of different ``batch`` values are
never connected. ``batch`` must be sorted (as PyG's ``Batch`` makes it).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
from torch import Tensor

#: Clouds (per batch element) larger than this use the k-d tree on CPU.
KDTREE_MIN_POINTS = 5000
#: Elements of a distance block computed at once by the dense route.
DENSE_BLOCK_ELEMENTS = 1 << 24

_HAS_TORCH_CLUSTER = importlib.util.find_spec("torch_cluster") is not None
METHODS = ("auto", "dense", "kdtree", "torch_cluster")


def _check_points(x: Tensor, name: str = "x") -> None:
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor (N, D), got {getattr(x, 'shape', type(x))}")
    if x.numel() and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")


def _batch_vector(x: Tensor, batch: Tensor | None) -> Tensor:
    if batch is None:
        return torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    if batch.shape != (x.shape[0],):
        raise ValueError(f"batch must have shape ({x.shape[0]},), got {tuple(batch.shape)}")
    if batch.numel() > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted (non-decreasing), as torch_geometric.data.Batch makes it")
    return batch.long()


def _choose(method: str, x: Tensor, batch: Tensor) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "torch_cluster" and not _HAS_TORCH_CLUSTER:
        raise ValueError("method='torch_cluster' but torch_cluster is not installed")
    if method != "auto":
        return method
    if _HAS_TORCH_CLUSTER:
        return "torch_cluster"
    if x.device.type == "cpu" and x.shape[0] > 0:
        largest = int(torch.bincount(batch).max())
        if largest > KDTREE_MIN_POINTS:
            return "kdtree"
    return "dense"


def _segments(batch: np.ndarray):
    """(start, stop) of each run of equal batch values."""
    if batch.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(batch)) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [batch.size]])
    return list(zip(starts.tolist(), stops.tolist()))


def _dense_knn(points: Tensor, k: int, mask: Tensor, include_self: bool) -> tuple[Tensor, Tensor]:
    """k nearest valid neighbours in a padded batch, by blocks of rows.

    Returns (indices (B,N,k), distances (B,N,k)); entries without a neighbour have distance inf.
    """
    B, N, _ = points.shape
    k_eff = min(k, N)
    indices = torch.empty(B, N, k_eff, dtype=torch.long, device=points.device)
    distances = torch.empty(B, N, k_eff, dtype=points.dtype, device=points.device)
    rows = max(1, DENSE_BLOCK_ELEMENTS // max(1, B * N))
    columns_valid = mask[:, None, :]
    for start in range(0, N, rows):
        stop = min(N, start + rows)
        d = torch.cdist(points[:, start:stop], points)  # (B, rows, N)
        bad = ~columns_valid.expand(B, stop - start, N)
        if not include_self:
            eye = torch.arange(start, stop, device=points.device)
            self_mask = torch.zeros(stop - start, N, dtype=torch.bool, device=points.device)
            self_mask[torch.arange(stop - start, device=points.device), eye] = True
            bad = bad | self_mask[None]
        d = d.masked_fill(bad, float("inf"))
        dist, idx = torch.topk(d, k_eff, dim=-1, largest=False, sorted=True)
        indices[:, start:stop] = idx
        distances[:, start:stop] = dist
    distances = distances.masked_fill(~mask[:, :, None], float("inf"))
    if k_eff < k:  # fewer points than k: pad with "no neighbour"
        pad = k - k_eff
        indices = torch.cat([indices, indices.new_zeros(B, N, pad)], dim=-1)
        distances = torch.cat([distances, distances.new_full((B, N, pad), float("inf"))], dim=-1)
    return indices, distances


def knn_dense(points: Tensor, k: int, mask: Tensor | None = None) -> Tensor:
    """Indices of the k nearest valid neighbours (self excluded) in a padded batch of clouds.

    Args:
        points: (B, N, D) coordinates; padded entries may hold anything finite.
        k: neighbours per point.
        mask: (B, N) bool, True for real points (None: all real).

    Returns:
        (B, N, k) long indices into dimension 1, nearest first. Where a cloud has fewer than
        k other valid points, and for padded centres, the missing entries hold the centre's own
        index (so ``indices == arange(N)[:, None]`` marks them; such a self-edge carries a zero
        difference ``x_j - x_i`` in EdgeConv).
    """
    if points.dim() != 3:
        raise ValueError(f"points must be (B, N, D), got {tuple(points.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    B, N, _ = points.shape
    if mask is None:
        mask = torch.ones(B, N, dtype=torch.bool, device=points.device)
    elif mask.shape != (B, N):
        raise ValueError(f"mask must have shape {(B, N)}, got {tuple(mask.shape)}")
    mask = mask.bool()
    if N == 0:
        return torch.empty(B, 0, k, dtype=torch.long, device=points.device)
    indices, distances = _dense_knn(points, k, mask, include_self=False)
    own = torch.arange(N, device=points.device)[None, :, None].expand_as(indices)
    return torch.where(torch.isinf(distances), own, indices)


def _knn_kdtree(x: np.ndarray, k: int, batch: np.ndarray, loop: bool) -> np.ndarray:
    from scipy.spatial import cKDTree

    sources, targets = [], []
    for start, stop in _segments(batch):
        pts = x[start:stop]
        n = stop - start
        want = k if loop else k + 1
        dist, idx = cKDTree(pts).query(pts, k=want)
        dist, idx = dist.reshape(n, want), idx.reshape(n, want)
        centre = np.arange(n)[:, None]
        keep = np.isfinite(dist)
        if not loop:
            is_self = idx == centre
            keep &= ~is_self
            # rows where self was not returned (ties): drop the farthest instead
            full = keep.sum(axis=1) > k
            keep[full, want - 1] = False
        rows, cols = np.nonzero(keep)
        sources.append(idx[rows, cols] + start)
        targets.append(rows + start)
    if not sources:
        return np.empty((2, 0), dtype=np.int64)
    return np.stack([np.concatenate(sources), np.concatenate(targets)]).astype(np.int64)


def knn_graph(x: Tensor, k: int, batch: Tensor | None = None, loop: bool = False, *, method: str = "auto") -> Tensor:
    """Edges from each point's k nearest neighbours (same batch element only).

    Args:
        x: (N, D) coordinates.
        k: neighbours per point (with ``loop=True`` the point itself counts as one of them).
        batch: (N,) sorted batch index of each point, or None (one cloud).
        loop: include self-loops.
        method: "auto" (see module docstring), "dense", "kdtree" or "torch_cluster".

    Returns:
        (2, E) long edge_index, row 0 = neighbour j (source), row 1 = centre i (target),
        grouped by centre, nearest first; E = N·k unless a cloud has ≤ k points, in which case
        its points get every other point of their cloud.
    """
    _check_points(x)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    batch = _batch_vector(x, batch)
    route = _choose(method, x, batch)
    if x.shape[0] == 0:
        return torch.empty(2, 0, dtype=torch.long, device=x.device)
    if route == "torch_cluster":
        import torch_cluster

        return torch_cluster.knn_graph(x, k, batch, loop=loop, flow="source_to_target")
    if route == "kdtree":
        edges = _knn_kdtree(x.detach().cpu().double().numpy(), k, batch.cpu().numpy(), loop)
        return torch.from_numpy(edges).to(x.device)
    from torch_geometric.utils import to_dense_batch

    dense, mask = to_dense_batch(x.detach(), batch)
    indices, distances = _dense_knn(dense, k, mask, include_self=loop)
    counts = torch.bincount(batch)
    offsets = torch.cumsum(counts, 0) - counts
    valid = torch.isfinite(distances)  # (B, Nmax, k)
    b, i, slot = torch.nonzero(valid, as_tuple=True)
    source = indices[b, i, slot] + offsets[b]
    target = i + offsets[b]
    return torch.stack([source, target])


def _radius_kdtree(x: np.ndarray, r: float, batch: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    pairs = []
    for start, stop in _segments(batch):
        found = cKDTree(x[start:stop]).query_pairs(r, output_type="ndarray")
        if len(found):
            pairs.append(found.astype(np.int64) + start)
    if not pairs:
        return np.empty((2, 0), dtype=np.int64)
    p = np.concatenate(pairs)
    return np.stack([np.concatenate([p[:, 0], p[:, 1]]), np.concatenate([p[:, 1], p[:, 0]])])


def _radius_dense(x: Tensor, r: float, batch: Tensor) -> Tensor:
    n = x.shape[0]
    rows = max(1, DENSE_BLOCK_ELEMENTS // max(1, n))
    sources, targets = [], []
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        d = torch.cdist(x[start:stop], x)
        close = (d <= r) & (batch[start:stop, None] == batch[None, :])
        close[torch.arange(stop - start, device=x.device), torch.arange(start, stop, device=x.device)] = False
        t, s = torch.nonzero(close, as_tuple=True)
        sources.append(s)
        targets.append(t + start)
    return torch.stack([torch.cat(sources), torch.cat(targets)])


def radius_graph(
    x: Tensor,
    r: float,
    batch: Tensor | None = None,
    loop: bool = False,
    max_num_neighbors: int | None = None,
    *,
    method: str = "auto",
) -> Tensor:
    """Edges between points closer than ``r`` (Euclidean distance ≤ r, same batch element).

    Args:
        x: (N, D) coordinates.
        r: radius, in the units of ``x``.
        batch: (N,) sorted batch index, or None.
        loop: include self-loops.
        max_num_neighbors: keep at most this many neighbours per centre, the nearest ones
            (torch_cluster keeps an arbitrary subset); None keeps all.
        method: "auto", "dense", "kdtree" or "torch_cluster".

    Returns:
        (2, E) long edge_index (row 0 neighbour j, row 1 centre i), sorted by centre then distance.
    """
    _check_points(x)
    if not r > 0:
        raise ValueError(f"r must be > 0, got {r}")
    if max_num_neighbors is not None and max_num_neighbors < 1:
        raise ValueError(f"max_num_neighbors must be >= 1 or None, got {max_num_neighbors}")
    batch = _batch_vector(x, batch)
    route = _choose(method, x, batch)
    if x.shape[0] == 0:
        return torch.empty(2, 0, dtype=torch.long, device=x.device)
    if route == "torch_cluster":
        import torch_cluster

        cap = max_num_neighbors if max_num_neighbors is not None else x.shape[0]
        return torch_cluster.radius_graph(x, r, batch, loop=loop, max_num_neighbors=cap)
    if route == "kdtree":
        edges = torch.from_numpy(_radius_kdtree(x.detach().cpu().double().numpy(), r, batch.cpu().numpy()))
        edges = edges.to(x.device)
    else:
        edges = _radius_dense(x.detach(), r, batch)
    if loop:
        own = torch.arange(x.shape[0], device=x.device)
        edges = torch.cat([edges, torch.stack([own, own])], dim=1)
    # order by centre, then distance; then cap per centre
    dist = (x.detach()[edges[0]] - x.detach()[edges[1]]).norm(dim=-1).double()
    order = np.lexsort((dist.cpu().numpy(), edges[1].cpu().numpy()))
    edges = edges[:, torch.from_numpy(order).to(x.device)]
    if max_num_neighbors is not None and edges.shape[1]:
        target = edges[1]
        first = torch.ones_like(target, dtype=torch.bool)
        first[1:] = target[1:] != target[:-1]
        group_start = torch.cummax(torch.where(first, torch.arange(len(target), device=x.device), 0), 0).values
        rank = torch.arange(len(target), device=x.device) - group_start
        edges = edges[:, rank < max_num_neighbors]
    return edges
