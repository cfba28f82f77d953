"""Runner stages that train and evaluate an edge classifier on HEP.TrkX ``.npz`` hit graphs.

``heptrkx_train``: read the graphs of ``data.train_dir`` (or, when no directory is given, extract
``data.archive`` to a temporary folder and split it by EVENT into train and test parts), hold out
``data.val_fraction`` of the training events for validation, train the ``model`` with the
``trainer`` and ``classifier`` sections, save ``edge_classifier.pt`` and plot the loss curves.

``heptrkx_evaluate``: load ``edge_classifier.pt`` (weights_only), score the test graphs, log
edge_auc, edge_efficiency and edge_purity at ``evaluation.edge_cut`` to metrics.json, and plot the
edge ROC and score distributions.
"""

from __future__ import annotations

import atexit
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Optional

from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import ConfigError
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage
from gnn4hep.training.edge_training import EdgeModelConfig, EdgeTrainingConfig
from gnn4hep.training.trainer import TrainerConfig

DEFAULT_ARCHIVE = Path("../shared/data/heptrkx/train.tar.gz")
_EXTRACTED: dict[Path, Path] = {}


class HeptrkxDataConfig(Section):
    """The ``data:`` section of the HEP.TrkX stages."""

    train_dir: Optional[Path] = Field(None, description="folder of training .npz graphs")
    test_dir: Optional[Path] = Field(None, description="folder of test .npz graphs")
    archive: Path = Field(DEFAULT_ARCHIVE, description="tar.gz of .npz graphs, used when train_dir is not given")
    test_fraction: float = Field(0.1, ge=0, lt=1, description="archive route: fraction of EVENTS held out for testing")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="fraction of training EVENTS held out for validation")
    split_seed: int = Field(0, ge=0, description="seed of the event splits")
    max_graphs: Optional[int] = Field(None, ge=1, description="use at most this many training graphs")
    max_test_graphs: Optional[int] = Field(None, ge=1, description="evaluate at most this many test graphs")
    edge_features: bool = Field(True, description="add (dr, dphi, dz, dR) edge features")


class EdgeEvaluationConfig(Section):
    """The ``evaluation:`` section: the score cut of the edge efficiency and purity."""

    edge_cut: float = Field(0.5, ge=0, le=1)


def _resolve(path: Path) -> Path:
    """``path`` as given when it exists (relative to the working directory), else relative to the repository root."""
    if path.is_absolute() or path.exists():
        return path
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root / path if (repo_root / path).exists() else path


def _extract(archive: Path) -> Path:
    """Extract ``archive`` once per process into a temporary folder (removed at exit)."""
    archive = archive.resolve()
    if archive not in _EXTRACTED:
        folder = Path(tempfile.mkdtemp(prefix="gnn4hep_heptrkx_"))
        atexit.register(shutil.rmtree, folder, True)
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".npz")]
            tar.extractall(folder, members=members, filter="data")
        _EXTRACTED[archive] = folder
    return _EXTRACTED[archive]


def resolve_graph_files(cfg: HeptrkxDataConfig) -> tuple[list[Path], list[Path]]:
    """(train_files, test_files) from the directories or, failing those, from the split archive."""
    from gnn4hep.graphs.heptrkx import list_graph_files, split_by_event

    if cfg.train_dir is not None and cfg.test_dir is not None:
        return list_graph_files(_resolve(cfg.train_dir)), list_graph_files(_resolve(cfg.test_dir))
    if cfg.train_dir is not None or cfg.test_dir is not None:
        given = "train_dir" if cfg.train_dir is not None else "test_dir"
        missing = "test_dir" if given == "train_dir" else "train_dir"
        raise ConfigError(f"data.{given} is set but data.{missing} is not: give both, or neither to use data.archive")
    archive = _resolve(cfg.archive)
    if not archive.is_file():
        raise ConfigError(
            f"data.archive '{cfg.archive}' not found (looked in the working directory and the repository root), and "
            "data.train_dir/data.test_dir are not set. The HEP.TrkX graphs ship as ../shared/data/heptrkx/train.tar.gz "
            "next to the repository (see ../shared/data/README.md; they come from the public HepTrkX-quantum "
            "repository); or pass -o data.train_dir=DIR -o data.test_dir=DIR with folders of .npz graphs."
        )
    files = list_graph_files(_extract(archive))
    return split_by_event(files, cfg.test_fraction, cfg.split_seed)


def _load(files: list[Path], edge_features: bool) -> list:
    from gnn4hep.graphs.heptrkx import load_heptrkx_graph

    return [load_heptrkx_graph(f, edge_features=edge_features) for f in files]


SECTIONS = {
    "data": HeptrkxDataConfig,
    "model": EdgeModelConfig,
    "trainer": TrainerConfig,
    "classifier": EdgeTrainingConfig,
    "evaluation": EdgeEvaluationConfig,
}


@stage("heptrkx_train", sections=SECTIONS)
def heptrkx_train(ctx: RunContext) -> None:
    """Train an edge classifier on HEP.TrkX graphs (validation split by event)."""
    from gnn4hep.graphs.heptrkx import split_by_event
    from gnn4hep.training.edge_training import build_edge_model, fit_edge_classifier
    from gnn4hep.training.trainer import plot_loss_curves
    from gnn4hep.utils.atomic import atomic_write_json

    cfg: HeptrkxDataConfig = ctx.config.data
    train_files, test_files = resolve_graph_files(cfg)
    if cfg.max_graphs is not None:
        train_files = train_files[: cfg.max_graphs]
    fit_files, val_files = split_by_event(train_files, cfg.val_fraction, cfg.split_seed + 1) if cfg.val_fraction > 0 else (train_files, [])
    atomic_write_json(
        ctx.path("split.json"),
        {"train": [f.name for f in fit_files], "validation": [f.name for f in val_files], "test": [f.name for f in test_files]},
    )
    fit_graphs, val_graphs = _load(fit_files, cfg.edge_features), _load(val_files, cfg.edge_features)
    ctx.logger.info(f"  {len(fit_graphs)} training and {len(val_graphs)} validation graphs; {len(test_files)} test graphs")
    first = fit_graphs[0]
    edge_dim = first.edge_attr.shape[1] if getattr(first, "edge_attr", None) is not None else 0
    model = build_edge_model(ctx.config.model, first.x.shape[1], edge_dim)
    start = time.perf_counter()
    model, path = fit_edge_classifier(
        model, fit_graphs, val_graphs, ctx.config.trainer, ctx.config.classifier, ctx.run_dir, "edge_classifier", ctx.config.model
    )
    seconds = time.perf_counter() - start
    ctx.logger.info(f"  trained in {seconds:.1f} s; model saved to {path.name}")
    ctx.log_metrics(
        {
            "n_train_graphs": len(fit_graphs),
            "n_val_graphs": len(val_graphs),
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "train_seconds": seconds,
        }
    )
    figure = plot_loss_curves(ctx.run_dir, "edge_classifier")
    if figure is not None:
        ctx.save_figure(figure, "loss_curves")


@stage("heptrkx_evaluate", sections=SECTIONS)
def heptrkx_evaluate(ctx: RunContext) -> None:
    """Score the test graphs: edge AUC, efficiency and purity at evaluation.edge_cut; ROC and score plots."""
    import torch

    from gnn4hep.graphs.heptrkx import event_number
    from gnn4hep.training.edge_classifier import predict_edge_scores
    from gnn4hep.training.edge_metrics import edge_metrics, plot_edge_roc, plot_score_distributions
    from gnn4hep.training.edge_training import load_edge_model

    cfg: HeptrkxDataConfig = ctx.config.data
    cut = ctx.config.evaluation.edge_cut
    _, test_files = resolve_graph_files(cfg)
    if cfg.max_test_graphs is not None:
        test_files = test_files[: cfg.max_test_graphs]
    if not test_files:
        raise ConfigError("no test graphs: set data.test_dir, or data.test_fraction > 0 with the archive")
    graphs = _load(test_files, cfg.edge_features)
    model = load_edge_model(ctx.path("edge_classifier.pt"))
    start = time.perf_counter()
    scores = predict_edge_scores(model, graphs, batch_size=ctx.config.trainer.batch_size)
    seconds = time.perf_counter() - start
    all_scores, truth = torch.cat(scores), torch.cat([g.y for g in graphs])
    metrics = edge_metrics(all_scores, truth, cut)
    events = {event_number(f) for f in test_files if f.name.startswith("event")}
    metrics.update({"n_test_graphs": len(graphs), "n_test_events": len(events), "inference_seconds": seconds})
    ctx.log_metrics(metrics)
    ctx.logger.info(
        f"  test: {len(graphs)} graphs, AUC {metrics['edge_auc']:.4f}, efficiency {metrics['edge_efficiency']:.4f}, "
        f"purity {metrics['edge_purity']:.4f} at cut {cut:g}"
    )
    ctx.save_figure(plot_edge_roc(all_scores, truth, cut, label=ctx.config.model.type), "edge_roc")
    ctx.save_figure(plot_score_distributions(all_scores, truth, cut), "edge_score_distributions")
