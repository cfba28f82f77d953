"""Kink walk: geometry picks the continuation, fragments that continue each other are joined, and
without geometry it reduces to the CC-and-walk (an independent implementation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.geometric import build_geometric_edges, fit_layer_pair_cuts
from gnn4hep.graphs.hit_graph import make_hit_graph
from gnn4hep.pipelines.trackml_config import TrackBuildingConfig
from gnn4hep.pipelines.trackml_tasks import track_candidates
from gnn4hep.tracking.building import components_tracks, kink_walk_tracks, walkthrough_tracks
from gnn4hep.tracking.building.kink_walk import _step_kink, graph_positions
from gnn4hep.tracking.scoring import score_event
from tests.graphs.trackml_toy import trackml_toy_event


def _groups(submission: pd.DataFrame) -> set[frozenset]:
    return {frozenset(g) for g in submission.groupby("track_id")["hit_id"].apply(list)}


def _line(angle: float, radii) -> np.ndarray:
    """Points [mm] on a straight line from the origin at azimuth ``angle`` [rad], z = 0."""
    radii = np.asarray(radii, dtype=np.float64)
    return np.stack([radii * math.cos(angle), radii * math.sin(angle), np.zeros_like(radii)], axis=1)


def test_geometry_beats_a_wrong_high_score():
    # track A: nodes 0-3 on a line at azimuth 0; node 4 lies 0.5 rad off A's direction.
    # 2 -> 4 has the higher score: the CC-and-walk takes it, the kink walk refuses the kink.
    positions = np.vstack([_line(0.0, [100, 200, 300, 400]), _line(0.5, [400])])
    hit_ids = np.arange(10, 15)
    edges = np.array([[0, 1, 2, 2], [1, 2, 3, 4]])
    scores = np.array([0.9, 0.9, 0.6, 0.95])
    kink = kink_walk_tracks(hit_ids, edges, scores, positions, walk_cut=0.1, max_kink=0.15, node_order=np.arange(5))
    assert _groups(kink) == {frozenset({10, 11, 12, 13}), frozenset({14})}
    walk = walkthrough_tracks(hit_ids, edges, scores, score_cut=0.1, node_order=np.arange(5))
    assert _groups(walk) == {frozenset({10, 11, 12, 14}), frozenset({13})}
    # with kink_weight 0 and no kink limit the kink walk is the score walk
    plain = kink_walk_tracks(hit_ids, edges, scores, positions, walk_cut=0.1, max_kink=math.pi, kink_weight=0.0,
                             merge_cut=None, second_max_kink=None, node_order=np.arange(5))
    assert _groups(plain) == _groups(walk)


def _helix(radius: float, arcs, dz_ds: float = 0.7, z0: float = 5.0, sign: float = 1.0) -> np.ndarray:
    """Points [mm] of a helix from the beam line: transverse circle of ``radius`` through the origin
    (centre (0, sign * radius)), at transverse arc lengths ``arcs``, z = z0 + dz_ds * arc."""
    s = np.asarray(arcs, dtype=np.float64)
    phase = s / radius
    return np.stack([radius * np.sin(phase), sign * radius * (1 - np.cos(phase)), z0 + dz_ds * s], axis=1)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_helix_prediction_follows_a_curved_track(sign):
    # a 0.3 GeV track in 2 T (radius 500 mm): the straight prediction kinks by ~0.2 rad per 100 mm,
    # the helix through the beam line predicts each chord to better than 1 mrad (analytic points)
    points = _helix(500.0, [30, 70, 120, 170, 260, 360], sign=sign).tolist()
    for a, c, t in zip(points, points[1:], points[2:]):
        assert _step_kink(a, c, t, helix=True) < 1e-3
        assert _step_kink(a, c, t, helix=False) > 0.05
    positions = np.array(points)
    edges = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    scores = np.full(5, 0.9)
    args = dict(walk_cut=0.1, max_kink=0.03, merge_cut=None, node_order=np.arange(6))
    assert _groups(kink_walk_tracks(np.arange(6), edges, scores, positions, helix=True, **args)) == {frozenset(range(6))}
    assert len(_groups(kink_walk_tracks(np.arange(6), edges, scores, positions, helix=False, **args))) > 1


def test_kink_weight_trades_score_for_straightness():
    # from node 2: 2 -> 3 straight (score 0.5), 2 -> 4 kinked by 0.1 rad (score 0.7), max_kink 0.15.
    positions = np.vstack([_line(0.0, [100, 200, 300, 400]), _line(0.0, [300]) + [[100 * math.cos(0.1), 100 * math.sin(0.1), 0]]])
    edges = np.array([[0, 1, 2, 2], [1, 2, 3, 4]])
    scores = np.array([0.9, 0.9, 0.5, 0.7])
    args = dict(walk_cut=0.1, max_kink=0.15, merge_cut=None, node_order=np.arange(5))
    # value = score - w * kink / max_kink: 0.5 against 0.7 - w * 0.667: the straight edge wins for w > 0.3
    assert {0, 1, 2, 3} in [set(g) for g in _groups(kink_walk_tracks(np.arange(5), edges, scores, positions, kink_weight=3.0, **args))]
    assert {0, 1, 2, 4} in [set(g) for g in _groups(kink_walk_tracks(np.arange(5), edges, scores, positions, kink_weight=0.1, **args))]


def test_short_overlap_edges_are_judged_by_score():
    # node 2b (index 3) sits 3 mm beside node 2 (an overlap hit of the same layer): the edge 2 -> 2b
    # kinks by 90 degrees but is short, so only its score counts; the walk goes 0 1 2 2b 3 and judges
    # 2b -> 3 against the direction 1 -> 2b (kink 0.06 rad < max_kink 0.1).
    positions = np.vstack([_line(0.0, [100, 200, 300]), [[300.0, 3.0, 0.0]], _line(0.0, [400])])
    edges = np.array([[0, 1, 2, 3, 2], [1, 2, 3, 4, 4]])
    scores = np.array([0.9, 0.9, 0.9, 0.9, 0.5])
    sub = kink_walk_tracks(np.arange(5), edges, scores, positions, walk_cut=0.1, max_kink=0.1, merge_cut=None,
                           node_order=np.arange(5))
    assert _groups(sub) == {frozenset(range(5))}


def test_fragments_that_continue_each_other_are_joined():
    # one straight track 0-5 whose middle edge 2 -> 3 scores below walk_cut: two fragments, joined by
    # the merge (edge score above merge_cut, no kink); a kinked gap edge (B turned by 0.4 rad) is not joined.
    positions = _line(0.2, [100, 200, 300, 400, 500, 600])
    edges = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    scores = np.array([0.9, 0.9, 0.05, 0.9, 0.9])
    args = dict(walk_cut=0.1, max_kink=0.15, node_order=np.arange(6))
    assert _groups(kink_walk_tracks(np.arange(6), edges, scores, positions, merge_cut=None, **args)) == {
        frozenset({0, 1, 2}), frozenset({3, 4, 5})}
    assert _groups(kink_walk_tracks(np.arange(6), edges, scores, positions, merge_cut=0.01, **args)) == {frozenset(range(6))}
    assert _groups(kink_walk_tracks(np.arange(6), edges, scores, positions, merge_cut=0.1, **args)) == {
        frozenset({0, 1, 2}), frozenset({3, 4, 5})}
    kinked = np.vstack([positions[:3], _line(0.6, [400, 500, 600])])  # B on another line from the origin
    assert len(_groups(kink_walk_tracks(np.arange(6), edges, scores, kinked, merge_cut=0.01, **args))) == 2


def test_second_pass_rejoins_a_kinked_track_and_keeps_long_ones():
    # A: 8 hits on a straight line (kept after the first pass, keep_hits 7). B: 6 hits whose direction
    # turns by 0.06 rad at its third hit: max_kink 0.03 cuts it in two, the second pass (0.1) rejoins it.
    a = _line(0.0, np.arange(1, 9) * 100.0)
    turn = 1.06
    b = np.vstack([_line(1.0, [100, 200, 300]),
                   _line(1.0, [300])[0] + _line(turn, [100, 200, 300])])
    positions = np.vstack([a, b])
    edges = np.array([[*range(7), *range(8, 13)], [*range(1, 8), *range(9, 14)]])
    scores = np.full(edges.shape[1], 0.9)
    args = dict(walk_cut=0.1, max_kink=0.03, merge_cut=None, node_order=np.arange(14), helix=False, keep_hits=7)
    one = kink_walk_tracks(np.arange(14), edges, scores, positions, second_max_kink=None, **args)
    assert _groups(one) == {frozenset(range(8)), frozenset({8, 9, 10}), frozenset({11, 12, 13})}
    two = kink_walk_tracks(np.arange(14), edges, scores, positions, second_max_kink=0.1, **args)
    assert _groups(two) == {frozenset(range(8)), frozenset(range(8, 14))}


def test_bad_inputs():
    edges, scores = np.array([[0], [1]]), np.array([0.9])
    with pytest.raises(ValueError, match="positions"):
        kink_walk_tracks(np.arange(2), edges, scores, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="positions"):
        kink_walk_tracks(np.arange(2), edges, scores, np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="max_kink"):
        kink_walk_tracks(np.arange(2), edges, scores, np.zeros((2, 3)), max_kink=0.0)
    with pytest.raises(ValueError, match="min_step_mm"):
        kink_walk_tracks(np.arange(2), edges, scores, np.zeros((2, 3)), min_step_mm=0.0)
    with pytest.raises(ValueError, match="edge_scores"):
        kink_walk_tracks(np.arange(2), edges, np.array([0.9, 0.1]), np.zeros((2, 3)))


def _toy_graph(seed: int):
    event = trackml_toy_event(n_particles=120, seed=seed)
    table = hit_table(event)
    cuts = fit_layer_pair_cuts([table], quantile=1.0, min_count=1)
    return event, table, make_hit_graph(table, build_geometric_edges(table, cuts))


def test_reduces_to_the_walkthrough_without_geometry():
    """Random scores on a toy graph: kink_weight 0, no kink limit, no merge and one pass give the CC-and-walk's tracks."""
    event, table, graph = _toy_graph(seed=7)
    rng = np.random.default_rng(3)
    edges = graph.edge_index.numpy()
    scores = rng.random(edges.shape[1])
    order = table["rank"].to_numpy() * 1e5 + np.hypot(table["r"], table["z"]).to_numpy()
    hit_id, positions = graph.hit_id.numpy(), graph_positions(graph.x.numpy())
    for cut in (0.3, 0.7):
        kink = kink_walk_tracks(hit_id, edges, scores, positions, walk_cut=cut, max_kink=math.pi, kink_weight=0.0,
                                merge_cut=None, second_max_kink=None, node_order=order)
        walk = walkthrough_tracks(hit_id, edges, scores, score_cut=cut, node_order=order)
        assert _groups(kink) == _groups(walk)


def test_truth_scores_through_the_stage_function():
    """Truth scores: without a kink limit the kink walk gives the true tracks (the components of the
    true edges, TrackML score 1); with the default limit every pT > 1 GeV particle is still found
    with no fake, and only curling low-pT particles may be split."""
    from gnn4hep.tracking.metrics import track_metrics

    event, table, graph = _toy_graph(seed=5)
    scores = graph.y.numpy().astype(np.float64)
    free = track_candidates(graph, scores, TrackBuildingConfig(builder="kink_walk", walk_cut=0.5, max_kink=math.pi))
    assert len(free) == len(event.hits) and free["hit_id"].is_unique
    assert _groups(free) == _groups(components_tracks(graph.hit_id.numpy(), graph.edge_index.numpy(), scores))
    assert score_event(event.truth, free) == pytest.approx(1.0)
    default = track_candidates(graph, scores, TrackBuildingConfig(builder="kink_walk", walk_cut=0.5))
    high = track_metrics(event.truth, event.particles, default, pt_min=1.0)
    assert high["n_particles"] > 50 and high["efficiency"] == 1.0 and high["n_fake"] == 0 and high["n_duplicate"] == 0
