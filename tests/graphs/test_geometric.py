"""Layer table, truth, geometric doublets and graph metrics (toy event and the real sample event)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn4hep.errors import InputFileError
from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.geometric import (
    phi_window_pairs,
    build_geometric_edges,
    fit_layer_pair_cuts,
    heptrkx_cuts,
)
from gnn4hep.graphs.graph_metrics import graph_metrics
from gnn4hep.graphs.hit_graph import make_hit_graph
from gnn4hep.graphs.io import load_graph, save_graph
from gnn4hep.graphs.layers import LAYER_TABLE, N_LAYERS, default_layer_pairs, layer_index
from gnn4hep.utils.angles import wrap_phi
from gnn4hep.graphs.schema import validate_graph
from gnn4hep.graphs.truth import consecutive_pairs, hit_rank_along_particle
from gnn4hep.tracking.io import read_event
from tests.graphs.trackml_toy import trackml_toy_event


@pytest.fixture(scope="module")
def toy_table():
    return hit_table(trackml_toy_event(n_particles=150, seed=3))


def test_layer_table_unique_and_lookup():
    assert N_LAYERS == 48
    assert LAYER_TABLE[["volume_id", "layer_id"]].drop_duplicates().shape[0] == 48
    index = layer_index(np.array([8, 7, 9]), np.array([2, 14, 2]))
    ranks = LAYER_TABLE.set_index("layer").loc[index, "rank"].tolist()
    assert ranks == [0, 4, 4]
    with pytest.raises(InputFileError, match="volume_id=3"):
        layer_index(np.array([3]), np.array([2]))
    pairs = default_layer_pairs()
    rank = LAYER_TABLE.set_index("layer")["rank"]
    assert (rank.loc[pairs.layer_a].to_numpy() <= rank.loc[pairs.layer_b].to_numpy()).all()


def test_window_pairs_matches_brute_force():
    rng = np.random.default_rng(0)
    phi_a = rng.uniform(-np.pi, np.pi, 60)
    phi_b = np.sort(rng.uniform(-np.pi, np.pi, 80))
    i, j = phi_window_pairs(phi_a, phi_b, 0.3)
    brute = np.argwhere(np.abs(wrap_phi(phi_b[None, :] - phi_a[:, None])) <= 0.3)
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(map(tuple, brute.tolist()))


def test_consecutive_pairs_count(toy_table):
    pairs = consecutive_pairs(toy_table)
    pid = toy_table["particle_id"].to_numpy()
    counts = np.bincount(np.unique(pid[pid != 0], return_inverse=True)[1])
    assert pairs.shape[1] == int((counts - 1).sum())
    rank = hit_rank_along_particle(pid, toy_table["distance"].to_numpy())
    assert (np.abs(rank[pairs[0]] - rank[pairs[1]]) == 1).all()
    assert (rank[pid == 0] == -1).all()


def test_fitted_cuts_keep_every_true_pair(toy_table):
    cuts = fit_layer_pair_cuts([toy_table], quantile=1.0, margin=1.05, min_count=1)
    edges = build_geometric_edges(toy_table, cuts)
    metrics = graph_metrics(toy_table, edges)
    assert metrics["efficiency"] == 1.0
    # every consecutive pair is an edge (efficiency 1), each edge once: purity = pairs / edges, counted apart
    assert len(set(map(tuple, edges.T.tolist()))) == edges.shape[1]
    assert metrics["purity"] == consecutive_pairs(toy_table).shape[1] / edges.shape[1] < 1
    # tighter cuts give a subset
    tight = cuts.assign(dphi_max=cuts["dphi_max"] / 4)
    fewer = build_geometric_edges(toy_table, tight)
    all_keys = set(map(tuple, edges.T.tolist()))
    assert set(map(tuple, fewer.T.tolist())) <= all_keys


def test_heptrkx_cuts_are_applied(toy_table):
    edges = build_geometric_edges(toy_table, heptrkx_cuts(toy_table))
    r, phi, z = (toy_table[c].to_numpy() for c in ("r", "phi", "z"))
    s, t = edges
    dr = r[t] - r[s]
    assert (dr > 0).all()
    assert (np.abs(wrap_phi(phi[t] - phi[s]) / dr) < 0.0006).all()
    assert (np.abs(z[s] - r[s] * (z[t] - z[s]) / dr) < 200).all()
    pt1 = graph_metrics(toy_table, edges)["efficiency_pt1"]
    assert pt1 > 0.9  # barrel-only toy: HEP.TrkX cuts keep nearly all pT > 1 GeV pairs


def test_graph_schema_and_io_roundtrip(toy_table, tmp_path):
    cuts = fit_layer_pair_cuts([toy_table], quantile=1.0, min_count=1)
    graph = make_hit_graph(toy_table, build_geometric_edges(toy_table, cuts), event_id=7)
    validate_graph(graph)
    assert graph.y.sum() > 0
    path = save_graph(graph, tmp_path / "event7.pt")
    loaded = load_graph(path)
    torch.testing.assert_close(loaded.edge_index, graph.edge_index)
    torch.testing.assert_close(loaded.edge_attr, graph.edge_attr)
    assert loaded.feature_names == graph.feature_names and loaded.event_id == 7
    (tmp_path / "bad.pt").write_bytes(b"nonsense")
    with pytest.raises(InputFileError, match="bad.pt"):
        load_graph(tmp_path / "bad.pt")


def test_real_sample_event_geometric_graph(sample_event_prefix):
    event = read_event(sample_event_prefix)
    table = hit_table(event)
    assert {"n_cells", "charge"} <= set(table.columns)
    cuts = fit_layer_pair_cuts([table], quantile=1.0, min_count=1)
    metrics = graph_metrics(table, build_geometric_edges(table, cuts))
    assert metrics["efficiency"] == 1.0 and metrics["n_true_pairs"] > 4000
    # cuts fitted on pT > 0.5 GeV pairs keep every pT > 1 GeV pair and are much purer
    cuts_05 = fit_layer_pair_cuts([table], pt_min=0.5, quantile=1.0, min_count=1)
    metrics_05 = graph_metrics(table, build_geometric_edges(table, cuts_05))
    assert metrics_05["efficiency_pt1"] == 1.0
    assert metrics_05["purity"] > 3 * metrics["purity"]
