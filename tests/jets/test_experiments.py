"""One-step smoke tests of experiments/jets_qg.yaml and the training pieces (tiny data, 1 epoch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gnn4hep.errors import ConfigError
from gnn4hep.jets.io import write_particle_transformer
from gnn4hep.runner.run import run_experiment

from .conftest import make_jets

REPO = Path(__file__).resolve().parents[2]
TINY = ["recipe.max_epochs=1", "recipe.batch_size=16", "trainer.progress_bar=false",
        "jet_models.pfn_phi_sizes=[16,16]", "jet_models.pfn_f_sizes=[16]", "jet_models.mpnn_hidden=8",
        "jet_models.mpnn_iterations=1", "jet_models.image_size=8", "jet_models.bdt_max_iter=10",
        "jet_models.part_embed_dims=[16,16]", "jet_models.part_pair_embed_dims=[8]", "jet_models.part_num_heads=2",
        "jet_models.part_num_layers=1", "jet_models.part_num_cls_layers=1"]


@pytest.fixture
def part_dirs(tmp_path):
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    train_dir.mkdir(), test_dir.mkdir()
    write_particle_transformer(make_jets(64, 20, seed=1, with_pid=False), train_dir / "toy")
    write_particle_transformer(make_jets(32, 20, seed=2, with_pid=False), test_dir / "toy")
    return train_dir, test_dir


def test_jets_qg_smoke(tmp_path, part_dirs):
    train_dir, test_dir = part_dirs
    run = run_experiment(REPO / "experiments" / "jets_qg.yaml",
                         [f"data.path={train_dir}", "models=[pfn,efn,particlenet_lite,mpnn,cnn,bdt]", *TINY],
                         out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"pfn", "efn", "particlenet_lite", "mpnn", "cnn", "bdt"}
    assert (run / "plots" / "roc.png").is_file() and (run / "results.md").is_file()
    split = json.loads((run / "data_split.json").read_text())
    assert split["n_train"] + split["n_val"] + split["n_test"] == 64
    scores = np.load(run / "test_scores.npz")
    labels = scores["labels"]
    assert labels.shape == (split["n_test"],) and 0 < labels.sum() < len(labels)
    for name, values in metrics.items():
        assert {"auc", "accuracy", "rej30", "rej50", "n_params"} <= set(values)
        assert scores[name].shape == (split["n_test"],)
        # the metrics of the saved test scores, by another route: AUC as the Mann-Whitney pair count
        assert values["auc"] == pytest.approx(_pairwise_auc(labels, scores[name]), abs=1e-12), name
        assert values["accuracy"] == pytest.approx(np.mean((scores[name] >= 0.5) == (labels == 1)), abs=1e-12), name


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a random signal jet > score of a random background jet), ties counting one half:
    the area under the ROC curve (Hanley & McNeil 1982), by brute force over every pair."""
    signal, background = scores[labels == 1], scores[labels == 0]
    wins = (signal[:, None] > background[None, :]).sum() + 0.5 * (signal[:, None] == background[None, :]).sum()
    return float(wins / (len(signal) * len(background)))


def test_particle_transformer_is_selectable(tmp_path, part_dirs):
    train_dir, _ = part_dirs
    run = run_experiment(REPO / "experiments" / "jets_qg.yaml",
                         [f"data.path={train_dir}", "models=[part]", "trainer.limit_train_batches=1", *TINY],
                         out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"part"} and 0 <= metrics["part"]["auc"] <= 1
    assert 0 < metrics["part"]["n_params"] < 20_000  # the tiny sizes of TINY, not the paper's 2.1M
    assert np.isfinite(np.load(run / "test_scores.npz")["part"]).all()


def test_jets_qg_test_path(tmp_path, part_dirs):
    train_dir, test_dir = part_dirs
    run = run_experiment(REPO / "experiments" / "jets_qg.yaml",
                         [f"data.path={train_dir}", f"data.test_path={test_dir}", "models=[efn,bdt]", *TINY],
                         out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"efn", "bdt"}
    assert json.loads((run / "data_split.json").read_text())["n_test"] == 32


def test_jets_cv_stage(tmp_path, part_dirs):
    train_dir, _ = part_dirs
    run = run_experiment(REPO / "experiments" / "jets_qg.yaml",
                         [f"data.path={train_dir}", "stages=[jets_cv]", "cv.folds=2", "models=[efn,bdt]", "recipe.epochs={efn: 1}", *TINY],
                         out=tmp_path / "run")
    cv = json.loads((run / "cv.json").read_text())
    assert set(cv) == {"efn", "bdt"} and len(cv["efn"]["auc_per_fold"]) == 2
    assert cv["bdt"]["auc"] == pytest.approx(np.mean(cv["bdt"]["auc_per_fold"]))
    assert "± " in (run / "cv.md").read_text()


def test_bad_model_name_and_missing_data(tmp_path, part_dirs):
    train_dir, _ = part_dirs
    with pytest.raises(ConfigError, match="unknown model"):
        run_experiment(REPO / "experiments" / "jets_qg.yaml", [f"data.path={train_dir}", "models=[xgb]", *TINY],
                       out=tmp_path / "run1")
    with pytest.raises(ConfigError, match="data.path"):
        run_experiment(REPO / "experiments" / "jets_qg.yaml", ["stages=[jets_tag]", *TINY], out=tmp_path / "run2")
    with pytest.raises(ConfigError, match="unknown key"):
        run_experiment(REPO / "experiments" / "jets_qg.yaml", ["data.colour=red"], out=tmp_path / "run3")
    # the training recipe lives in `recipe:`; the same key under `trainer:` would be ignored, so it is an error
    with pytest.raises(ConfigError, match=r"trainer.max_epochs: .*set recipe.max_epochs instead"):
        run_experiment(REPO / "experiments" / "jets_qg.yaml", [f"data.path={train_dir}", "trainer.max_epochs=3",
                                                                "models=[bdt]"], out=tmp_path / "run4")


def test_jets_top_smoke(tmp_path, part_dirs):
    train_dir, _ = part_dirs
    run = run_experiment(REPO / "experiments" / "jets_top.yaml",
                         [f"data.path={train_dir}", "models=[efn,cnn,bdt]", *TINY], out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"efn", "cnn", "bdt"}
    assert all({"auc", "accuracy", "rej30", "rej50"} <= set(v) for v in metrics.values())


@pytest.mark.slow
def test_jets_top_generates_then_tags(tmp_path):
    run = run_experiment(REPO / "experiments" / "jets_top.yaml",
                         ["data.n_jets=6", "data.workers=1", "models=[efn,bdt]", *TINY], out=tmp_path / "run")
    assert (run / "data" / "jets.h5").is_file()
    assert json.loads((run / "data_split.json").read_text())["n_test"] > 0
