"""Interaction network: shapes, node-order equivariance, gradients, equal routes (Data vs tensors, batch vs single)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from gnn4hep.graphs.heptrkx import geometric_edge_features
from gnn4hep.models.interaction_network import InteractionNetwork
from gnn4hep.nn.interaction_layer import InteractionLayer
from tests.graphs.toy_graphs import toy_graph


def _model(**kwargs):
    torch.manual_seed(0)
    return InteractionNetwork(**{"node_features": 3, "edge_features": 4, "hidden": 16, "n_iterations": 3, **kwargs}).eval()


def _graph(seed=0):
    graph = toy_graph(6, seed=seed)
    graph.edge_attr = geometric_edge_features(graph.x, graph.edge_index)
    return graph


def test_output_shape_and_data_route_equals_tensor_route():
    model, graph = _model(), _graph()
    logits = model(graph)
    assert logits.shape == (graph.edge_index.shape[1],)
    assert torch.equal(logits, model(graph.x, graph.edge_index, graph.edge_attr))


def test_node_permutation_equivariance():
    model, graph = _model(), _graph()
    perm = torch.randperm(graph.x.shape[0], generator=torch.Generator().manual_seed(1))
    inverse = torch.argsort(perm)
    logits = model(graph.x, graph.edge_index, graph.edge_attr)
    permuted = model(graph.x[perm], inverse[graph.edge_index], graph.edge_attr)
    assert torch.allclose(logits, permuted, atol=1e-5)
    edge_perm = torch.randperm(graph.edge_index.shape[1], generator=torch.Generator().manual_seed(2))
    assert torch.allclose(logits[edge_perm], model(graph.x, graph.edge_index[:, edge_perm], graph.edge_attr[edge_perm]), atol=1e-5)


def test_batch_equals_graphs_one_by_one():
    model = _model()
    graphs = [_graph(0), _graph(1), _graph(2)]
    batched = model(Batch.from_data_list(graphs))
    single = torch.cat([model(g) for g in graphs])
    assert torch.allclose(batched, single, atol=1e-5)


def test_gradient_reaches_every_parameter():
    model, graph = _model(), _graph()
    model.train()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(graph), graph.y)
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_messages_travel_n_iterations_hops():
    # on a chain 0->1->2->3->4->5, the logit of the last edge depends on node 0 only when the
    # network passes messages far enough
    x = torch.rand(6, 3)
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    for iterations, reaches in ((1, False), (3, False), (4, True)):
        model = _model(edge_features=0, n_iterations=iterations)
        changed = x.clone()
        changed[0] += 1.0
        delta = (model(x, edge_index) - model(changed, edge_index)).abs()
        assert bool(delta[4] > 0) == reaches  # exactly unchanged when out of reach


def test_shared_weights_and_unidirectional_variants():
    graph = _graph()
    shared = _model(shared_weights=True, n_iterations=5)
    assert len(shared.layers) == 1
    assert shared(graph).shape == (graph.edge_index.shape[1],)
    assert _model(bidirectional=False)(graph).shape == (graph.edge_index.shape[1],)
    assert sum(p.numel() for p in shared.parameters()) < sum(p.numel() for p in _model(n_iterations=5).parameters())


def test_layer_is_residual_and_keeps_shapes():
    layer = InteractionLayer(hidden=8)
    x, e = torch.rand(5, 8), torch.rand(4, 8)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    for module in layer.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.zeros_(module.weight)
            torch.nn.init.zeros_(module.bias)
    x_new, e_new = layer(x, edge_index, e)
    assert torch.equal(x_new, x) and torch.equal(e_new, e)  # zero MLPs: identity through the residuals


def test_bad_inputs_raise_clear_errors():
    model, graph = _model(), _graph()
    with pytest.raises(ValueError, match="edge_attr of shape"):
        model(graph.x, graph.edge_index)
    with pytest.raises(ValueError, match="node_features=3"):
        model(torch.rand(5, 4), graph.edge_index, graph.edge_attr)
    with pytest.raises(ValueError, match="n_iterations"):
        InteractionNetwork(n_iterations=0)


@pytest.mark.parametrize("kwargs", [{}, {"bidirectional": False, "shared_weights": True}, {"edge_features": 0}])
def test_chunked_cpu_inference_equals_one_piece(kwargs, monkeypatch):
    """Gradient-free CPU calls evaluate the edge and node maps in row chunks (gnn4hep.nn.row_chunks); any chunk
    size, uneven ones included, gives the logits of the one-piece route that training uses (gradients on)."""
    import gnn4hep.nn.row_chunks as row_chunks

    model, graph = _model(**kwargs), _graph()
    attr = graph.edge_attr if model.edge_features else None
    one_piece = model(graph.x, graph.edge_index, attr).detach()  # gradients on: no chunks
    assert graph.edge_index.shape[1] > 40
    for chunk in (1, 7, 40, 10**6):
        monkeypatch.setattr(row_chunks, "CHUNK_ROWS", chunk)
        with torch.inference_mode():
            chunked = model(graph.x, graph.edge_index, attr)
        torch.testing.assert_close(chunked, one_piece, rtol=0, atol=1e-6)


def test_in_row_chunks_chunks_only_without_gradients():
    from gnn4hep.nn.row_chunks import in_row_chunks

    calls = []

    def rows(part):
        calls.append(part)
        return torch.arange(10.0)[part, None] * 2

    expected = torch.arange(10.0)[:, None] * 2
    assert torch.equal(in_row_chunks(rows, 10, torch.device("cpu"), chunk=3), expected)
    assert calls == [slice(0, 10)]  # gradients on: one call, the autograd graph of the unchunked code
    calls.clear()
    with torch.inference_mode():
        assert torch.equal(in_row_chunks(rows, 10, torch.device("cpu"), chunk=3), expected)
    assert calls == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
