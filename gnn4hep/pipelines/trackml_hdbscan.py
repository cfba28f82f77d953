"""Stages of the object-condensation + HDBSCAN TrackML pipeline (Lieret & DeZoort, arXiv:2309.16754).

``experiments/trackml_hdbscan.yaml`` runs, in order:

=============================  ================================================================
trackml_simulate               (shared with trackml_gnn) events into ``data/``
trackml_build_graphs           (shared) hit graphs, e.g. module map -> ``graphs/{split}/``
trackml_condensation_train     train :class:`~gnn4hep.models.condensation_net.CondensationNet`
                               with the condensation loss through Lightning (``trainer:``
                               section; checkpoints in ``checkpoints/condensation_net/``, an
                               interrupted run resumes mid-training) -> ``condensation_net.pt``,
                               loss plot
trackml_hdbscan_tracks         cluster coordinates + beta of every test/eval graph, HDBSCAN ->
                               ``submissions/{test,eval}/eventN.csv``
trackml_hdbscan_evaluate       track metrics, TrackML score, efficiency and event-display plots
=============================  ================================================================
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import InputFileError
from gnn4hep.executor import ExecutorConfig
from gnn4hep.pipelines.trackml_config import GraphConfig, TrackingEvaluationConfig, TrackmlDataConfig
from gnn4hep.pipelines.trackml_gnn import SPLITS, _find, _log_time, _split_prefixes, executor
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage
from gnn4hep.training.trainer import TrainerConfig
from gnn4hep.utils.atomic import atomic_write_bytes, atomic_write_text


class CondensationConfig(Section):
    """The ``condensation:`` section: network size, loss and training."""

    hidden: int = Field(64, ge=4)
    cluster_dim: int = Field(8, ge=2, description="dimension of the clustering space")
    n_layers: int = Field(3, ge=0, description="message-passing layers over the hit graph (0: MLP)")
    epochs: Optional[int] = Field(None, ge=1, description="training epochs (null: trainer.max_epochs)")
    learning_rate: Optional[float] = Field(None, gt=0, description="Adam learning rate (null: trainer.learning_rate)")
    q_min: float = Field(0.01, gt=0)
    noise_weight: float = Field(1.0, ge=0, description="s_B, weight of the noise-beta term")
    repulsion_weight: float = Field(1.0, ge=0)
    pt_min: float = Field(0.0, ge=0, description="GeV: particles below it are treated as noise")
    min_hits: int = Field(3, ge=1, description="particles with fewer hits are treated as noise")


class HdbscanConfig(Section):
    """The ``hdbscan:`` section: clustering of the condensation space."""

    min_cluster_size: int = Field(3, ge=2)
    min_samples: Optional[int] = Field(2, ge=1)
    cluster_selection_epsilon: float = Field(0.0, ge=0)
    cluster_selection_method: str = Field("eom", pattern="^(eom|leaf)$")
    beta_noise: float = Field(0.0, ge=0, lt=1, description="hits with beta below it are not clustered (0: all; object hits other than the condensation point may have small beta)")


SECTIONS = {
    "data": TrackmlDataConfig,
    "graph": GraphConfig,
    "condensation": CondensationConfig,
    "trainer": TrainerConfig,
    "hdbscan": HdbscanConfig,
    "evaluation": TrackingEvaluationConfig,
    "executor": ExecutorConfig,
}


def _make_model(cfg: CondensationConfig, in_features: int):
    from gnn4hep.models.condensation_net import CondensationNet

    return CondensationNet(in_features=in_features, hidden=cfg.hidden, cluster_dim=cfg.cluster_dim, n_layers=cfg.n_layers)


def load_condensation_model(path: Path):
    """(model, CondensationConfig) from ``condensation_net.pt`` (weights_only)."""
    if not path.exists():
        raise InputFileError(path, "no such file (run trackml_condensation_train first)")
    from gnn4hep.utils.torch_files import load_torch_file

    content = load_torch_file(path, "condensation model file")
    cfg = CondensationConfig(**content["config"])
    model = _make_model(cfg, int(content["in_features"]))
    model.load_state_dict(content["state_dict"])
    model.eval()
    return model, cfg


@stage("trackml_condensation_train", sections=SECTIONS)
def trackml_condensation_train(ctx: RunContext) -> None:
    """Train the condensation network on the training graphs (Lightning, the ``trainer:`` section)."""
    import torch

    from gnn4hep.graphs.io import graph_files, load_graph
    from gnn4hep.training.condensation import fit_condensation

    cfg: CondensationConfig = ctx.config.condensation
    graphs = [load_graph(path) for path in graph_files(_find(ctx, "graphs", "train"))]
    if not graphs:
        raise ValueError(f"no training graphs in {ctx.path('graphs', 'train')}: run trackml_build_graphs first")
    torch.manual_seed(ctx.seed)
    in_features = int(graphs[0].x.shape[1])
    model = _make_model(cfg, in_features)
    start = time.perf_counter()
    history = fit_condensation(
        model, graphs, ctx.config.trainer, ctx.run_dir, name="condensation_net", seed=ctx.seed, epochs=cfg.epochs,
        learning_rate=cfg.learning_rate, pt_min=cfg.pt_min, min_hits=cfg.min_hits, q_min=cfg.q_min,
        noise_weight=cfg.noise_weight, repulsion_weight=cfg.repulsion_weight, logger=ctx.logger,
    )  # fmt: skip
    ctx.log_metrics({"seconds": time.perf_counter() - start, "n_train": len(graphs), "final_loss": history[-1]}, prefix="condensation_training")
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "config": cfg.model_dump(), "in_features": in_features, "loss_history": torch.tensor(history)}, buffer)
    atomic_write_bytes(ctx.path("condensation_net.pt"), buffer.getvalue())
    ctx.save_figure(_plot_loss(history), "condensation_loss")


def _plot_loss(history: list[float]):
    """Mean training condensation loss per epoch (one point per epoch)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(range(1, len(history) + 1), history, marker="o", ms=3)
    ax.set(xlabel="epoch", ylabel="condensation loss (train)", title="object-condensation training")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class HdbscanTask:
    """Condensation network (``model_path``) + HDBSCAN on the graph ``graph_path``; submission to ``out``."""

    graph_path: Path
    out: Path
    model_path: Path
    cfg: HdbscanConfig


def hdbscan_event(task: HdbscanTask) -> dict[str, float]:
    """Per-event work of ``trackml_hdbscan_tracks`` (run by :mod:`gnn4hep.executor`); returns the
    seconds of inference and of building."""
    import torch

    from gnn4hep.graphs.io import load_graph
    from gnn4hep.pipelines.trackml_tasks import cached
    from gnn4hep.tracking.building.hdbscan_builder import hdbscan_tracks

    model, _ = cached("condensation_net", task.model_path, lambda: load_condensation_model(task.model_path))
    cfg = task.cfg
    graph = load_graph(task.graph_path)
    start = time.perf_counter()
    with torch.inference_mode():
        coordinates, beta = model(graph.x, graph.edge_index)
    middle = time.perf_counter()
    submission = hdbscan_tracks(
        graph.hit_id.numpy(), coordinates.numpy(), beta.numpy(), beta_noise=cfg.beta_noise,
        min_cluster_size=cfg.min_cluster_size, min_samples=cfg.min_samples,
        cluster_selection_epsilon=cfg.cluster_selection_epsilon, cluster_selection_method=cfg.cluster_selection_method,
    )  # fmt: skip
    seconds = {"inference": middle - start, "building": time.perf_counter() - middle}
    atomic_write_text(task.out, submission.to_csv(index=False))
    return seconds


@stage("trackml_hdbscan_tracks", sections=SECTIONS)
def trackml_hdbscan_tracks(ctx: RunContext) -> None:
    """Cluster coordinates and beta of each test/eval graph, HDBSCAN, one submission per event."""
    from gnn4hep.graphs.io import graph_files

    model_path = _find(ctx, "condensation_net.pt")
    load_condensation_model(model_path)  # a clear error here when it is missing
    tasks = [(split, HdbscanTask(path, ctx.path("submissions", split, f"{path.stem}.csv"), model_path, ctx.config.hdbscan))
             for split in SPLITS for path in graph_files(_find(ctx, "graphs", split))]
    results = executor(ctx).map(hdbscan_event, [task for _, task in tasks], description="hdbscan")
    test = [result for (split, _), result in zip(tasks, results) if split == "test"]
    for name in ("inference", "building"):
        _log_time(ctx, name, sum(result[name] for result in test), len(test))


@stage("trackml_hdbscan_evaluate", sections=SECTIONS)
def trackml_hdbscan_evaluate(ctx: RunContext) -> None:
    """Track metrics, TrackML score and plots of the HDBSCAN submissions (test: headline keys; eval events apart)."""
    from gnn4hep.pipelines.trackml_report import evaluate_tracks

    evaluate_tracks(ctx, _split_prefixes(ctx), ctx.config.evaluation, edges=False)
