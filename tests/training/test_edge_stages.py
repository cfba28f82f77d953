"""Smoke test of experiments/heptrkx_in.yaml (tiny synthetic HEP.TrkX graphs, 1 epoch) and its data errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gnn4hep.errors import ConfigError
from gnn4hep.runner.run import run_experiment
from tests.graphs.toy_graphs import write_toy_folder

CONFIG = Path(__file__).resolve().parents[2] / "experiments" / "heptrkx_in.yaml"
SMALL = ["model.hidden=8", "model.n_iterations=1", "trainer.max_epochs=1", "trainer.batch_size=4", "trainer.num_threads=1"]


def _recomputed_edge_metrics(run: Path, test_dir: Path, cut: float = 0.5) -> dict[str, float]:
    """Edge AUC, efficiency and purity of the saved model on the test graphs, scored one graph at a
    time and counted by brute force (AUC as the fraction of correctly ordered true/fake edge pairs)."""
    import numpy as np

    from gnn4hep.graphs.heptrkx import list_graph_files, load_heptrkx_graph
    from gnn4hep.training.edge_training import load_edge_model

    model = load_edge_model(run / "edge_classifier.pt").eval()
    scores, truth = [], []
    with torch.no_grad():
        for path in list_graph_files(test_dir):
            graph = load_heptrkx_graph(path, edge_features=True)
            scores.append(torch.sigmoid(model(graph)).numpy())
            truth.append(graph.y.numpy() > 0.5)
    scores, truth = np.concatenate(scores), np.concatenate(truth)
    positives, negatives = scores[truth], scores[~truth]
    order = (positives[:, None] > negatives[None, :]).mean() + 0.5 * (positives[:, None] == negatives[None, :]).mean()
    selected = scores > cut
    return {"edge_auc": float(order), "edge_efficiency": float(selected[truth].mean()),
            "edge_purity": float(truth[selected].mean())}


def test_heptrkx_in_smoke(tmp_path):
    write_toy_folder(tmp_path / "train", range(8), sectors=2, n_tracks=6)
    write_toy_folder(tmp_path / "test", range(100, 102), sectors=2, n_tracks=6)
    overrides = [f"data.train_dir={tmp_path / 'train'}", f"data.test_dir={tmp_path / 'test'}", *SMALL]
    run = run_experiment(CONFIG, overrides, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    for key, value in _recomputed_edge_metrics(run, tmp_path / "test").items():
        assert metrics[key] == pytest.approx(value, abs=1e-5), key  # float32 scores, batched vs one by one
    assert metrics["n_test_graphs"] == 4 and metrics["n_test_events"] == 2
    assert metrics["n_train_graphs"] + metrics["n_val_graphs"] == 16
    split = json.loads((run / "split.json").read_text())
    events = lambda names: {name.split("_")[0] for name in names}  # noqa: E731
    assert not events(split["train"]) & events(split["validation"])
    for plot in ("loss_curves", "edge_roc", "edge_score_distributions"):
        assert (run / "plots" / f"{plot}.png").exists()
    payload = torch.load(run / "edge_classifier.pt", weights_only=True)
    assert payload["model_config"]["type"] == "interaction_network"


def test_heptrkx_edgeconv_smoke(tmp_path):
    write_toy_folder(tmp_path / "train", range(4), sectors=2, n_tracks=6)
    write_toy_folder(tmp_path / "test", range(100, 101), sectors=2, n_tracks=6)
    overrides = [f"data.train_dir={tmp_path / 'train'}", f"data.test_dir={tmp_path / 'test'}", "model.type=edgeconv", "model.k=4", *SMALL]
    run = run_experiment(CONFIG, overrides, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    for key, value in _recomputed_edge_metrics(run, tmp_path / "test").items():
        assert metrics[key] == pytest.approx(value, abs=1e-5), key


def test_archive_route_splits_by_event(tmp_path):
    import tarfile

    write_toy_folder(tmp_path / "graphs" / "train", range(10), sectors=2, n_tracks=4)
    archive = tmp_path / "graphs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "graphs" / "train", arcname="train")
    overrides = [f"data.archive={archive}", "data.test_fraction=0.2", *SMALL]
    run = run_experiment(CONFIG, overrides, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_test_events"] == 2 and metrics["n_test_graphs"] == 4
    split = json.loads((run / "split.json").read_text())
    test_events = {name.split("_")[0] for name in split["test"]}
    assert not test_events & {name.split("_")[0] for name in split["train"] + split["validation"]}


def test_missing_data_errors_say_where_to_get_it(tmp_path):
    with pytest.raises(ConfigError, match=r"data.archive .*not found.*shared/data/heptrkx/train.tar.gz"):
        run_experiment(CONFIG, [f"data.archive={tmp_path / 'none.tar.gz'}", *SMALL], out=tmp_path / "run1")
    with pytest.raises(ConfigError, match="data.train_dir is set but data.test_dir is not"):
        run_experiment(CONFIG, [f"data.train_dir={tmp_path}", *SMALL], out=tmp_path / "run2")
    with pytest.raises(ConfigError, match="unknown key 'model.hiden'"):
        run_experiment(CONFIG, ["model.hiden=3"], out=tmp_path / "run3")
