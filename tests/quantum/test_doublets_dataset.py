"""Dataset maker and doublet sources (geometric seeding, edge tables, PyG graphs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import Data

from gnn4hep.errors import ConfigError
from gnn4hep.quantum.dataset import reduce_event
from gnn4hep.quantum.doublets import DoubletConfig, doublets_from_graph, layer_index, make_doublets
from gnn4hep.quantum.metrics import true_doublets
from gnn4hep.tracking.io import read_event
from gnn4hep.tracking.toy import make_toy_event


def test_reduce_event_keeps_barrel_drops_double_hits_and_samples_particles(sample_event_prefix):
    event = read_event(sample_event_prefix)
    reduced = reduce_event(event, density=0.5, seed=3)
    assert set(reduced.hits["volume_id"]) <= {8, 13, 17}
    merged = reduced.hits.merge(reduced.truth, on="hit_id")
    signal = merged[merged["particle_id"] != 0]
    assert not signal.duplicated(["particle_id", "volume_id", "layer_id"]).any()
    barrel = event.hits.merge(event.truth, on="hit_id").query("volume_id in [8, 13, 17] and particle_id != 0")
    assert reduced.meta["n_particles"] == int(barrel["particle_id"].nunique() * 0.5)
    assert reduced.truth["weight"].sum() == pytest.approx(1.0, rel=1e-5)
    pt = np.hypot(reduced.truth["tpx"], reduced.truth["tpy"])
    assert (reduced.truth.loc[pt < 1.0, "weight"] == 0).all()
    counts = signal.groupby("particle_id").size()
    short = counts.index[counts < 5]
    assert (reduced.truth.loc[reduced.truth["particle_id"].isin(short), "weight"] == 0).all()
    again = reduce_event(event, density=0.5, seed=3)
    assert again.hits["hit_id"].equals(reduced.hits["hit_id"])
    with pytest.raises(ConfigError, match="density"):
        reduce_event(event, density=0.0)


def test_layer_index_is_qallse_barrel_order(sample_event_prefix):
    hits = read_event(sample_event_prefix, parts=("hits",)).hits.query("volume_id in [8, 13, 17]")
    index = layer_index(hits)
    order = hits.assign(index=index).groupby("index")[["volume_id", "layer_id"]].first()
    expected = [(8, 2), (8, 4), (8, 6), (8, 8), (13, 2), (13, 4), (13, 6), (13, 8), (17, 2), (17, 4)]
    assert list(map(tuple, order.to_numpy().tolist())) == expected


def test_geometric_doublets_cover_true_focus_doublets_and_obey_cuts():
    event = reduce_event(make_toy_event(n_particles=300, seed=2), density=1.0, volumes=None)
    config = DoubletConfig()
    doublets = make_doublets(event.hits, config)
    true = true_doublets(event.hits, event.truth).query("focus")
    found = true.merge(doublets, on=["hit_id_in", "hit_id_out"], how="inner")
    assert len(found) / len(true) > 0.99
    hits = event.hits.set_index("hit_id")
    a, b = hits.loc[doublets["hit_id_in"]], hits.loc[doublets["hit_id_out"]]
    ra, rb = np.hypot(a["x"], a["y"]).to_numpy(), np.hypot(b["x"], b["y"]).to_numpy()
    dr = rb - ra
    assert (dr >= config.min_length).all() and (dr <= config.max_length).all()
    z0 = a["z"].to_numpy() - ra * (b["z"].to_numpy() - a["z"].to_numpy()) / dr
    assert (np.abs(z0) <= config.z0_max + 1e-6).all()


def test_graph_routes_agree_and_orient_by_radius():
    event = make_toy_event(n_particles=40, seed=4)
    doublets = make_doublets(event.hits).sample(frac=1.0, random_state=0)
    scores = np.linspace(0, 1, len(doublets))
    # give half the edges reversed: the graph route must orient them by radius again
    flip = np.arange(len(doublets)) % 2 == 1
    first = np.where(flip, doublets["hit_id_out"], doublets["hit_id_in"])
    second = np.where(flip, doublets["hit_id_in"], doublets["hit_id_out"])
    table = pd.DataFrame({"hit_id_in": first, "hit_id_out": second, "score": scores})
    from_table = doublets_from_graph(table, event.hits, min_score=0.5)
    hit_ids = event.hits["hit_id"].to_numpy()
    position = pd.Series(np.arange(len(hit_ids)), index=hit_ids)
    graph = Data(
        edge_index=torch.tensor(np.stack([position.loc[first].to_numpy(), position.loc[second].to_numpy()])),
        hit_id=torch.tensor(hit_ids),
        edge_scores=torch.tensor(scores, dtype=torch.float64),
    )
    from_graph = doublets_from_graph(graph, event.hits, min_score=0.5)
    pd.testing.assert_frame_equal(from_table, from_graph)
    assert (from_table["score"] >= 0.5).all() and len(from_table) == int((scores >= 0.5).sum())
    expected = doublets[scores >= 0.5][["hit_id_in", "hit_id_out"]].sort_values(["hit_id_in", "hit_id_out"])
    assert np.array_equal(from_table[["hit_id_in", "hit_id_out"]].to_numpy(), expected.to_numpy())


def test_graph_route_errors_name_the_problem():
    event = make_toy_event(n_particles=10, seed=0)
    with pytest.raises(ConfigError, match="hit_id_out"):
        doublets_from_graph(pd.DataFrame({"hit_id_in": [1]}), event.hits)
    with pytest.raises(ConfigError, match="absent"):
        doublets_from_graph(pd.DataFrame({"hit_id_in": [1], "hit_id_out": [10**9]}), event.hits)
    with pytest.raises(ConfigError, match="hit_id"):
        doublets_from_graph(Data(edge_index=torch.zeros((2, 1), dtype=torch.long)), event.hits)


@pytest.mark.parametrize("phi_slices", [3, 5, 53])
def test_each_doublet_once_for_any_number_of_phi_slices(phi_slices):
    # with fewer than 6 slices the +-2-slice window is wider than pi; it must still find each pair once
    event = make_toy_event(n_particles=300, seed=1)
    doublets = make_doublets(event.hits, DoubletConfig(phi_slices=phi_slices))
    assert len(doublets) > 0
    assert not doublets.duplicated(["hit_id_in", "hit_id_out"]).any()


def test_edge_score_csv_is_checked(tmp_path):
    from gnn4hep.errors import InputFileError
    from gnn4hep.quantum.pipeline import read_doublet_source

    good = tmp_path / "edges.csv"
    good.write_text("hit_id_in,hit_id_out,extra\n1,2,x\n3,4,y\n")
    table = read_doublet_source(good)
    assert list(table.columns) == ["hit_id_in", "hit_id_out"] and table["hit_id_in"].tolist() == [1, 3]
    scored = tmp_path / "scored.csv"
    scored.write_text("hit_id_in,hit_id_out,score\n1,2,0.5\n")
    assert read_doublet_source(scored)["score"].tolist() == [0.5]
    bad = tmp_path / "bad.csv"
    bad.write_text("hit_id_in,hit_id_out,score\n1,two,0.5\n")
    with pytest.raises(InputFileError, match="hit_id_out") as info:
        read_doublet_source(bad)
    assert "bad.csv" in str(info.value)
