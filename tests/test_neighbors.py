"""Every neighbour-search route against a brute-force numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn4hep import neighbors
from gnn4hep.neighbors import knn_dense, knn_graph, radius_graph

ROUTES = ["dense", "kdtree"] + (["torch_cluster"] if neighbors._HAS_TORCH_CLUSTER else [])


def brute_knn_sets(x: np.ndarray, k: int, batch: np.ndarray, loop: bool) -> set[tuple[int, int]]:
    edges = set()
    for i in range(len(x)):
        same = np.flatnonzero(batch == batch[i])
        if not loop:
            same = same[same != i]
        d = np.linalg.norm(x[same] - x[i], axis=1)
        for j in same[np.argsort(d, kind="stable")[:k]]:
            edges.add((int(j), i))
    return edges


def brute_radius_sets(x: np.ndarray, r: float, batch: np.ndarray, loop: bool) -> set[tuple[int, int]]:
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    close = (d <= r) & (batch[:, None] == batch[None])
    if not loop:
        np.fill_diagonal(close, False)
    t, s = np.nonzero(close)
    return set(zip(s.tolist(), t.tolist()))


def as_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(zip(edge_index[0].tolist(), edge_index[1].tolist()))


@pytest.fixture
def cloud():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(70, 3, generator=gen, dtype=torch.float64)  # continuous: no distance ties
    batch = torch.tensor([0] * 30 + [1] * 5 + [2] * 35)
    return x, batch


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("loop", [False, True])
def test_knn_graph_matches_brute_force(cloud, route, loop):
    x, batch = cloud
    k = 6
    edges = knn_graph(x, k, batch, loop=loop, method=route)
    assert edges.shape[0] == 2 and edges.dtype == torch.long
    expected = brute_knn_sets(x.numpy(), k, batch.numpy(), loop)
    assert as_set(edges) == expected
    assert edges.shape[1] == len(expected)  # no duplicates
    # batch separation
    assert torch.equal(batch[edges[0]], batch[edges[1]])


@pytest.mark.parametrize("route", ROUTES)
def test_knn_graph_small_cloud_gets_all_others(route):
    x = torch.randn(4, 2, dtype=torch.float64)
    edges = knn_graph(x, 10, method=route)
    assert as_set(edges) == {(j, i) for i in range(4) for j in range(4) if i != j}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("loop", [False, True])
def test_radius_graph_matches_brute_force(cloud, route, loop):
    x, batch = cloud
    edges = radius_graph(x, 0.3, batch, loop=loop, method=route)
    assert as_set(edges) == brute_radius_sets(x.numpy(), 0.3, batch.numpy(), loop)
    assert torch.equal(batch[edges[0]], batch[edges[1]])


@pytest.mark.parametrize("route", ROUTES)
def test_radius_graph_cap_keeps_nearest(cloud, route):
    x, batch = cloud
    cap = 3
    edges = radius_graph(x, 0.5, batch, max_num_neighbors=cap, method=route)
    full = brute_radius_sets(x.numpy(), 0.5, batch.numpy(), False)
    xn = x.numpy()
    for i in range(len(x)):
        mine = sorted((np.linalg.norm(xn[j] - xn[i]), j) for j, t in full if t == i)
        got = edges[0][edges[1] == i].tolist()
        assert got == [j for _, j in mine[:cap]]


def test_knn_dense_matches_brute_force_with_mask():
    gen = torch.Generator().manual_seed(1)
    points = torch.rand(3, 12, 2, generator=gen, dtype=torch.float64)
    mask = torch.zeros(3, 12, dtype=torch.bool)
    mask[0, :12] = True
    mask[1, :7] = True
    mask[2, :3] = True  # fewer valid points than k
    k = 4
    idx = knn_dense(points, k, mask)
    assert idx.shape == (3, 12, k)
    for b in range(3):
        valid = np.flatnonzero(mask[b].numpy())
        for i in range(12):
            row = idx[b, i].tolist()
            if not mask[b, i]:
                assert row == [i] * k
                continue
            others = valid[valid != i]
            d = np.linalg.norm(points[b, others].numpy() - points[b, i].numpy(), axis=1)
            want = others[np.argsort(d)[:k]].tolist()
            assert row[: len(want)] == want
            assert row[len(want):] == [i] * (k - len(want))


def test_knn_dense_large_block_split(monkeypatch):
    """Chunking rows of the distance matrix changes nothing."""
    points = torch.rand(2, 50, 3, dtype=torch.float64)
    whole = knn_dense(points, 5)
    monkeypatch.setattr(neighbors, "DENSE_BLOCK_ELEMENTS", 64)
    assert torch.equal(knn_dense(points, 5), whole)


def test_auto_picks_kdtree_for_large_clouds(monkeypatch):
    monkeypatch.setattr(neighbors, "KDTREE_MIN_POINTS", 20)
    x = torch.rand(40, 3, dtype=torch.float64)
    if not neighbors._HAS_TORCH_CLUSTER:
        assert neighbors._choose("auto", x, torch.zeros(40, dtype=torch.long)) == "kdtree"
    assert as_set(knn_graph(x, 3)) == brute_knn_sets(x.numpy(), 3, np.zeros(40), False)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="2-D"):
        knn_graph(torch.zeros(5), 2)
    with pytest.raises(ValueError, match="NaN"):
        knn_graph(torch.tensor([[0.0, float("nan")]]), 1)
    with pytest.raises(ValueError, match="sorted"):
        knn_graph(torch.zeros(3, 2), 1, torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="method"):
        knn_graph(torch.zeros(3, 2), 1, method="magic")
    assert knn_graph(torch.zeros(0, 2), 3).shape == (2, 0)
