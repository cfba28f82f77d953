"""Edge filter: training keeps the target efficiency on held-out toy events while cutting fakes; the
saved model reloads (weights_only) to the same scores; the public API of gnn4hep.graphs.edge_filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gnn4hep.errors import InputFileError
from gnn4hep.graphs.edge_filter import edge_filter_scores, filter_edges, load_edge_filter
from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.graph_metrics import graph_metrics
from gnn4hep.graphs.pair_features import feature_names
from gnn4hep.graphs.ring_map import build_ring_map_edges, fit_ring_map
from gnn4hep.graphs.truth import edge_truth, hit_rank_along_particle
from gnn4hep.training.edge_filter_training import EdgeSamples, sample_edges, save_edge_filter, train_edge_filter
from tests.graphs.trackml_toy import trackml_toy_event


def _truth(table, edges):
    pid = table["particle_id"].to_numpy()
    return edge_truth(edges, pid, hit_rank_along_particle(pid, table["distance"].to_numpy()))


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    tables = [hit_table(trackml_toy_event(n_particles=300, seed=seed)) for seed in range(12)]
    ring_map = fit_ring_map(tables[:6])
    graphs = [(t, build_ring_map_edges(t, ring_map, margin=0.5, tolerance=0.05)) for t in tables[6:]]
    samples = [sample_edges(t, e, _truth(t, e), np.random.default_rng(i), fake_fraction=0.5) for i, (t, e) in enumerate(graphs[:4])]
    model, info = train_edge_filter(EdgeSamples.concat(samples[1:]), samples[0], hidden=(32, 32), epochs=8,
                                    batch_size=1024, seed=0, target_efficiency=0.99)
    return model, info, graphs


def test_filter_keeps_the_target_efficiency_on_held_out_events(trained):
    model, info, graphs = trained
    assert info["efficiency"] >= 0.99  # on the validation event the cut was chosen on
    for table, edges in graphs[4:]:  # never seen in training or validation
        keep = filter_edges(model, table, edges, info["threshold"])
        before, after = graph_metrics(table, edges), graph_metrics(table, edges[:, keep])
        assert after["efficiency"] / before["efficiency"] >= 0.98  # ~99% of the builder's true edges kept
        y = _truth(table, edges) > 0.5
        assert keep[~y].mean() < 0.7  # while a good share of the fakes goes
        assert after["purity"] > before["purity"]


def test_saved_filter_reloads_to_the_same_scores(trained, tmp_path):
    model, info, graphs = trained
    path = save_edge_filter(tmp_path / "edge_filter.pt", model, feature_names(False), info["threshold"], {"seed": 0})
    assert set(torch.load(path, weights_only=True)) == {"state_dict", "config", "feature_names", "threshold", "extra"}
    loaded = load_edge_filter(path)
    assert loaded.threshold == pytest.approx(info["threshold"]) and not loaded.cell_features
    table, edges = graphs[-1]
    scores = edge_filter_scores(loaded, table, torch.from_numpy(edges))  # torch edge_index accepted
    assert scores.dtype == np.float32 and scores.shape == (edges.shape[1],)
    model.cell_features = False
    np.testing.assert_array_equal(scores, edge_filter_scores(model, table, edges))
    np.testing.assert_array_equal(filter_edges(loaded, table, edges, 0.3), scores >= 0.3)


def test_chunked_scores_equal_one_pass_scores(trained, monkeypatch):
    """edge_filter_scores works in chunks of CHUNK_EDGES; any chunk size gives the scores of one pass of the MLP
    over all pair features (computed here directly)."""
    import gnn4hep.graphs.edge_filter as edge_filter
    from gnn4hep.graphs.pair_features import pair_features

    model, _, graphs = trained
    model.cell_features = False
    table, edges = graphs[-1]
    with torch.inference_mode():
        direct = torch.sigmoid(model(torch.from_numpy(pair_features(table, edges)))).numpy()
    for chunk in (7, 1000, edges.shape[1] + 1):
        monkeypatch.setattr(edge_filter, "CHUNK_EDGES", chunk)
        np.testing.assert_allclose(edge_filter.edge_filter_scores(model, table, edges), direct, rtol=0, atol=1e-6)


def test_bad_files_and_missing_cells(trained, tmp_path):
    model, info, graphs = trained
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(InputFileError):
        load_edge_filter(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(InputFileError, match="not an edge filter"):
        load_edge_filter(tmp_path / "other.pt")
    model.cell_features = True
    table, edges = graphs[-1]
    with pytest.raises(ValueError, match="cells"):
        edge_filter_scores(model, table, edges, cells=None)
    model.cell_features = False


def test_training_is_reproducible():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2000, 5)).astype(np.float32)
    y = (features[:, 0] + 0.3 * rng.normal(size=2000) > 1).astype(np.float32)
    data = EdgeSamples(features, y, np.ones(2000, np.float32), np.ones(2000, np.float32))
    first = train_edge_filter(data, None, hidden=(8,), epochs=2, batch_size=256, seed=5)
    second = train_edge_filter(data, None, hidden=(8,), epochs=2, batch_size=256, seed=5)
    for a, b in zip(first[0].state_dict().values(), second[0].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert first[1]["threshold"] == second[1]["threshold"]


def test_focused_samples_weigh_exactly_the_slow_true_edges_zero():
    rng = np.random.default_rng(1)
    n = 500
    y = (rng.random(n) < 0.3).astype(np.float32)
    pt = np.where(y > 0.5, rng.uniform(0.1, 3.0, n), 0.0).astype(np.float32)
    weight = np.where(y > 0.5, 1.0, 10.0).astype(np.float32)
    samples = EdgeSamples(rng.normal(size=(n, 3)).astype(np.float32), y, weight, pt)
    focused = samples.focused(1.0)
    expected = [0.0 if (y[i] > 0.5 and pt[i] <= 1.0) else weight[i] for i in range(n)]  # edge by edge
    assert focused.weight.tolist() == expected
    assert focused.features is samples.features and focused.y is samples.y
    assert samples.focused(0.0) is samples


def test_focused_filter_cuts_fakes_harder_at_the_fast_edges_efficiency():
    """Toy: fast (pT 2 GeV) true edges sit near x = 0, slow (0.5 GeV) ones fill 1.5 < x < 4 densely, fakes are
    uniform in |x| < 4. Trained on all true edges, the filter ranks the slow band above the fast edges' tails, so a
    cut keeping 99 % of the fast edges keeps the band's fakes too (about 0.64 of all fakes); focused on
    pT > 1 GeV it keeps only the fast peak (about 0.33). Either cut keeps 99 % of the held-out fast true edges,
    counted edge by edge."""
    torch.set_num_threads(1)

    def toy(seed, n=6000):
        rng = np.random.default_rng(seed)
        kind = rng.choice(3, size=n, p=[0.2, 0.4, 0.4])  # fast true, slow true, fake
        x = np.select([kind == 0, kind == 1], [rng.normal(0, 0.5, n), rng.uniform(1.5, 4, n)], rng.uniform(-4, 4, n))
        features = np.stack([x, rng.normal(size=n)], axis=1).astype(np.float32)
        y = (kind < 2).astype(np.float32)
        pt = np.select([kind == 0, kind == 1], [2.0, 0.5], 0.0).astype(np.float32)
        return EdgeSamples(features, y, np.ones(n, np.float32), pt)

    train, val = toy(0), toy(1)
    kept_fakes = {}
    for pt_min in (0.0, 1.0):
        model, info = train_edge_filter(train.focused(pt_min), val.focused(pt_min), hidden=(16,), epochs=20,
                                        batch_size=256, learning_rate=0.01, seed=0, target_efficiency=0.99, target_pt_min=1.0)
        scores = torch.sigmoid(model(torch.from_numpy(val.features))).detach().numpy()
        keep = scores >= info["threshold"]
        fast = (val.y > 0.5) & (val.pt > 1.0)
        assert sum(bool(k) for k, f in zip(keep, fast) if f) >= 0.99 * fast.sum()
        kept_fakes[pt_min] = keep[val.y < 0.5].mean()
    assert kept_fakes[1.0] < 0.45 < 0.55 < kept_fakes[0.0]


def test_focus_without_fast_true_edges_is_an_error():
    samples = EdgeSamples(np.zeros((4, 2), np.float32), np.array([1, 0, 1, 0], np.float32), np.ones(4, np.float32),
                          np.array([0.5, 0, 0.7, 0], np.float32))
    with pytest.raises(ValueError, match="nonzero weight"):
        train_edge_filter(samples.focused(1.0), None, hidden=(4,), epochs=1)
