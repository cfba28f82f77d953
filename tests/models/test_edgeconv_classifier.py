"""EdgeConv classifier: shapes, dynamic kNN graphs, node-order equivariance, gradients, batch vs single."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from gnn4hep.graphs.heptrkx import geometric_edge_features
from gnn4hep.models.edgeconv_classifier import EdgeConvClassifier
from gnn4hep.neighbors import knn_graph
from tests.graphs.toy_graphs import toy_graph


def _model(**kwargs):
    torch.manual_seed(0)
    return EdgeConvClassifier(**{"node_features": 3, "edge_features": 4, "hidden": 16, "n_layers": 2, "k": 4, **kwargs}).eval()


def _graph(seed=0):
    graph = toy_graph(6, seed=seed)
    graph.edge_attr = geometric_edge_features(graph.x, graph.edge_index)
    return graph


def _edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


def test_shapes_and_routes():
    model, graph = _model(), _graph()
    logits = model(graph)
    assert logits.shape == (graph.edge_index.shape[1],)
    assert torch.equal(logits, model(graph.x, graph.edge_index, graph.edge_attr))


def test_first_knn_graph_is_in_input_space_and_later_ones_are_dynamic():
    model, graph = _model(), _graph()
    graphs = model.knn_graphs(graph.x)
    assert len(graphs) == 2 and all(g.shape == (2, graph.x.shape[0] * 4) for g in graphs)
    assert _edge_set(graphs[0]) == _edge_set(knn_graph(graph.x, 4))
    assert _edge_set(graphs[1]) != _edge_set(graphs[0])  # recomputed in the learned feature space


def test_node_permutation_equivariance():
    model, graph = _model(), _graph()
    perm = torch.randperm(graph.x.shape[0], generator=torch.Generator().manual_seed(1))
    inverse = torch.argsort(perm)
    logits = model(graph.x, graph.edge_index, graph.edge_attr)
    assert torch.allclose(logits, model(graph.x[perm], inverse[graph.edge_index], graph.edge_attr), atol=1e-5)


def test_batch_equals_graphs_one_by_one():
    model = _model()
    graphs = [_graph(0), _graph(1)]
    batch = Batch.from_data_list(graphs)
    assert torch.allclose(model(batch), torch.cat([model(g) for g in graphs]), atol=1e-5)
    # without the batch vector kNN would cross graphs and change the result
    assert not torch.allclose(model(batch.x, batch.edge_index, batch.edge_attr), model(batch), atol=1e-5)


def test_gradient_reaches_every_parameter():
    model, graph = _model(), _graph()
    model.train()
    torch.nn.functional.binary_cross_entropy_with_logits(model(graph), graph.y).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_bad_inputs():
    model, graph = _model(), _graph()
    with pytest.raises(ValueError, match="edge_attr of shape"):
        model(graph.x, graph.edge_index)
    with pytest.raises(ValueError, match="n_layers and k"):
        EdgeConvClassifier(k=0)
    assert _model(edge_features=0)(graph.x, graph.edge_index).shape == (graph.edge_index.shape[1],)
