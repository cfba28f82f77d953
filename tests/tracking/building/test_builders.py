"""Track builders: valid submissions, exact results on small graphs, perfect scores on truth edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.geometric import build_geometric_edges, fit_layer_pair_cuts
from gnn4hep.graphs.hit_graph import make_hit_graph
from gnn4hep.tracking.building import components_tracks, labels_to_submission, walkthrough_tracks
from gnn4hep.tracking.scoring import score_event
from tests.graphs.trackml_toy import trackml_toy_event


def _groups(submission: pd.DataFrame) -> set[frozenset]:
    return {frozenset(g) for g in submission.groupby("track_id")["hit_id"].apply(list)}


def test_labels_to_submission_covers_every_hit():
    sub = labels_to_submission(np.array([10, 11, 12, 13, 14]), np.array([0, 0, -1, 5, -1]), min_hits=1)
    assert sub["hit_id"].tolist() == [10, 11, 12, 13, 14]
    assert _groups(sub) == {frozenset({10, 11}), frozenset({12}), frozenset({13}), frozenset({14})}
    small = labels_to_submission(np.array([1, 2, 3]), np.array([0, 0, 1]), min_hits=2)
    assert _groups(small) == {frozenset({1, 2}), frozenset({3})}
    with pytest.raises(ValueError, match="unique"):
        labels_to_submission(np.array([1, 1]), np.array([0, 0]))


def test_components_on_a_small_graph():
    hit_ids = np.arange(100, 107)
    edges = np.array([[0, 1, 3, 4, 5], [1, 2, 4, 5, 6]])
    scores = np.array([0.9, 0.8, 0.9, 0.1, 0.7])
    sub = components_tracks(hit_ids, edges, scores, score_cut=0.5)
    assert _groups(sub) == {frozenset({100, 101, 102}), frozenset({103, 104}), frozenset({105, 106})}
    with pytest.raises(ValueError, match="edge_scores"):
        components_tracks(hit_ids, edges, scores[:3])
    with pytest.raises(ValueError, match="outside"):
        components_tracks(hit_ids, np.array([[0], [9]]), np.array([0.9]))


def test_walkthrough_resolves_a_branch():
    # 0 -> 1 -> 2 and 1 -> 3 (a branch): the walk follows the higher score 1 -> 3
    hit_ids = np.arange(5)
    edges = np.array([[0, 1, 1, 3], [1, 2, 3, 4]])
    scores = np.array([0.9, 0.6, 0.95, 0.9])
    sub = walkthrough_tracks(hit_ids, edges, scores, score_cut=0.5, node_order=np.arange(5))
    assert _groups(sub) == {frozenset({0, 1, 3, 4}), frozenset({2})}
    cc = components_tracks(hit_ids, edges, scores, score_cut=0.5)
    assert len(_groups(cc)) == 1


@pytest.mark.parametrize("builder", ["components", "walkthrough"])
def test_truth_scores_give_perfect_tracks(builder):
    event = trackml_toy_event(n_particles=120, seed=5)
    table = hit_table(event)
    cuts = fit_layer_pair_cuts([table], quantile=1.0, min_count=1)
    graph = make_hit_graph(table, build_geometric_edges(table, cuts))
    edges, scores = graph.edge_index.numpy(), graph.y.numpy()
    order = table["rank"].to_numpy() * 1e5 + np.hypot(table["r"], table["z"]).to_numpy()
    if builder == "components":
        sub = components_tracks(graph.hit_id.numpy(), edges, scores)
    else:
        sub = walkthrough_tracks(graph.hit_id.numpy(), edges, scores, node_order=order)
    assert len(sub) == len(event.hits) and sub["hit_id"].is_unique
    assert score_event(event.truth, sub) == pytest.approx(1.0)
