"""Edge-classifier Lightning module: weighted loss, automatic pos_weight, training works, save/load round trip."""

from __future__ import annotations

import pytest
import torch

from gnn4hep.graphs.heptrkx import geometric_edge_features
from gnn4hep.models.interaction_network import InteractionNetwork
from gnn4hep.training.edge_classifier import EdgeClassifierModule, count_pos_weight, predict_edge_scores
from gnn4hep.training.edge_metrics import edge_metrics
from gnn4hep.training.edge_training import EdgeModelConfig, EdgeTrainingConfig, build_edge_model, fit_edge_classifier, load_edge_model
from gnn4hep.training.trainer import TrainerConfig
from tests.graphs.toy_graphs import toy_graph


def _graphs(seeds):
    graphs = []
    for seed in seeds:
        graph = toy_graph(8, seed=seed)
        graph.edge_attr = geometric_edge_features(graph.x, graph.edge_index)
        graphs.append(graph)
    return graphs


def test_loss_is_weighted_bce():
    module = EdgeClassifierModule(InteractionNetwork(hidden=8, n_iterations=1), pos_weight=3.0)
    logits, y = torch.tensor([0.2, -1.0, 2.0]), torch.tensor([1.0, 0.0, 1.0])
    probabilities = torch.sigmoid(logits)
    manual = -(3.0 * y * torch.log(probabilities) + (1 - y) * torch.log(1 - probabilities)).mean()
    assert torch.allclose(module.loss(logits, y), manual)
    with pytest.raises(ValueError, match="pos_weight"):
        EdgeClassifierModule(InteractionNetwork(hidden=8, n_iterations=1), pos_weight=-1.0)


def test_count_pos_weight():
    graphs = _graphs([0, 1])
    y = torch.cat([g.y for g in graphs])
    assert count_pos_weight(graphs) == pytest.approx(float((y == 0).sum() / (y == 1).sum()))


def test_predict_scores_batched_equals_single():
    torch.manual_seed(0)
    model = InteractionNetwork(edge_features=4, hidden=8, n_iterations=2)
    graphs = _graphs([0, 1, 2])
    batched = predict_edge_scores(model, graphs, batch_size=2)
    assert [s.shape[0] for s in batched] == [g.edge_index.shape[1] for g in graphs]
    for scores, graph in zip(batched, graphs):
        assert torch.allclose(scores, predict_edge_scores(model, [graph])[0], atol=1e-6)
        assert bool(((scores >= 0) & (scores <= 1)).all())
    assert model.training  # mode restored


def test_predict_scores_accepts_a_lazy_dataset(tmp_path):
    from gnn4hep.graphs.heptrkx import HeptrkxDataset
    from tests.graphs.toy_graphs import write_toy_folder

    write_toy_folder(tmp_path, range(3), sectors=1, n_tracks=4)
    dataset = HeptrkxDataset(tmp_path, edge_features=True)
    torch.manual_seed(0)
    model = InteractionNetwork(edge_features=4, hidden=8, n_iterations=1)
    scores = predict_edge_scores(model, dataset, batch_size=2)
    assert [s.shape[0] for s in scores] == [dataset[i].edge_index.shape[1] for i in range(3)]


def test_fit_learns_toy_graphs_and_round_trips(tmp_path):
    torch.manual_seed(0)
    config = EdgeModelConfig(hidden=16, n_iterations=2)
    model = build_edge_model(config, node_features=3, edge_features=4)
    train, val = _graphs(range(12)), _graphs(range(100, 104))
    trainer_config = TrainerConfig(max_epochs=6, learning_rate=5e-3, batch_size=4, progress_bar=False, accelerator="cpu")
    before = edge_metrics(torch.cat(predict_edge_scores(model, val)), torch.cat([g.y for g in val]))["edge_auc"]
    model, path = fit_edge_classifier(model, train, val, trainer_config, EdgeTrainingConfig(), tmp_path, "edge", config)
    scores = torch.cat(predict_edge_scores(model, val))
    after = edge_metrics(scores, torch.cat([g.y for g in val]))["edge_auc"]
    assert after > max(before, 0.8)
    assert (tmp_path / "logs" / "edge" / "metrics.csv").exists()
    payload = torch.load(path, weights_only=True)
    y = torch.cat([g.y for g in train])
    assert payload["pos_weight"] == pytest.approx(float((y == 0).sum() / (y == 1).sum()), rel=1e-5)
    reloaded = load_edge_model(path)
    assert torch.allclose(torch.cat(predict_edge_scores(reloaded, val)), scores, atol=1e-6)


def test_load_edge_model_errors(tmp_path):
    from gnn4hep.errors import InputFileError

    with pytest.raises(InputFileError, match="no such model file"):
        load_edge_model(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(InputFileError, match="not an edge-classifier file"):
        load_edge_model(tmp_path / "other.pt")
