"""Graph sections: cores partition the edges, sections cover every edge, attributes follow their nodes."""

from __future__ import annotations

import numpy as np
import pytest

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.hit_graph import make_hit_graph
from gnn4hep.graphs.ring_map import build_ring_map_edges, fit_ring_map
from gnn4hep.graphs.sections import graph_sections
from tests.graphs.trackml_toy import trackml_toy_event


@pytest.fixture(scope="module")
def graph():
    tables = [hit_table(trackml_toy_event(n_particles=150, seed=seed)) for seed in range(4)]
    ring_map = fit_ring_map(tables[:3])
    return make_hit_graph(tables[3], build_ring_map_edges(tables[3], ring_map), event_id=3)


@pytest.mark.parametrize(("n_phi", "n_eta", "overlap"), [(8, 1, 0.1), (4, 3, 0.2), (6, 2, 0.0)])
def test_sections_cover_every_edge(graph, n_phi, n_eta, overlap):
    sections = graph_sections(graph, n_phi, n_eta, overlap, overlap)
    n_edges = graph.edge_index.shape[1]
    core_count = np.zeros(n_edges, dtype=int)
    seen = np.zeros(n_edges, dtype=bool)
    for part in sections:
        positions = part.section_edges.numpy()
        seen[positions] = True
        core_count[positions[part.core_edge.numpy()]] += 1
        # every attribute follows its edge or node: the section's edges are the original ones
        hit_id = part.hit_id.numpy()
        original = graph.edge_index.numpy()[:, positions]
        np.testing.assert_array_equal(hit_id[part.edge_index.numpy()], graph.hit_id.numpy()[original])
        np.testing.assert_array_equal(part.y.numpy(), graph.y.numpy()[positions])
        np.testing.assert_array_equal(part.edge_attr.numpy(), graph.edge_attr.numpy()[positions])
        assert part.x.shape[0] == len(hit_id) == part.pt.shape[0] == part.layer.shape[0]
    assert seen.all()
    assert (core_count == 1).all()  # the cores partition the edges
    if overlap > 0:
        assert sum(part.edge_index.shape[1] for part in sections) > n_edges  # borders are shared
    assert max(part.edge_index.shape[1] for part in sections) < n_edges  # each section is smaller


def test_one_sector_is_the_whole_graph(graph):
    (whole,) = graph_sections(graph, 1, 1, 0.0, 0.0)
    assert whole.edge_index.shape[1] == graph.edge_index.shape[1] and bool(whole.core_edge.all())
