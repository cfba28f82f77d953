"""Stages of the TrackML GNN pipeline (Exa.TrkX-class): events -> hit graphs -> edge classifier ->
edge scores -> track candidates -> Kalman refit -> TrackML score.

Stages (run in this order by ``experiments/trackml_gnn.yaml``; each reads the files the previous one
wrote, so they can also be run one at a time with ``gnn4hep run ... -o stages=[...]`` and ``--resume``):

=========================  ==================================================================
trackml_simulate           simulate train/test events into ``data/`` unless data.train_dir /
                           data.test_dir are given
trackml_build_graphs       fit the graph builder on training events, write
                           ``graphs/{train,test,eval}/eventN.pt`` (weights_only-safe)
trackml_train              train the edge classifier -> ``edge_classifier.pt``
trackml_infer              ``edge_scores/{test,eval}/eventN.parquet`` (hit ids, score, truth)
trackml_build_tracks       ``submissions/{test,eval}/eventN.csv`` (hit_id, track_id)
trackml_refit              (:mod:`~gnn4hep.pipelines.trackml_refit`) Kalman refit:
                           ``refitted/{test,eval}/eventN.csv``, ``track_params/{test,eval}/eventN.parquet``
trackml_evaluate           edge AUC/efficiency/purity, track metrics, TrackML score (of the refitted
                           candidates when they exist, and of the raw ones: ``*_before_refit``), plots
=========================  ==================================================================

Time per stage per event is logged under ``time_per_event`` (seconds).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.errors import ConfigError
from gnn4hep.pipelines.trackml_config import (
    GraphConfig,
    RefitConfig,
    TrackBuildingConfig,
    TrackingEvaluationConfig,
    TrackmlDataConfig,
)
from gnn4hep.pipelines.trackml_data import eval_event_prefixes, read_available, simulate_missing, split_event_prefixes
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage
from gnn4hep.training.edge_training import EdgeModelConfig, EdgeTrainingConfig
from gnn4hep.training.trainer import TrainerConfig
from gnn4hep.utils.atomic import atomic_write_bytes, atomic_write_text

#: Every stage declares every section, so one config file is valid for any subset of the stages.
SECTIONS = {
    "data": TrackmlDataConfig,
    "graph": GraphConfig,
    "model": EdgeModelConfig,
    "classifier": EdgeTrainingConfig,
    "trainer": TrainerConfig,
    "tracks": TrackBuildingConfig,
    "refit": RefitConfig,
    "evaluation": TrackingEvaluationConfig,
}
SPLITS = ("test", "eval")


def _log_time(ctx: RunContext, name: str, seconds: float, n_events: int) -> None:
    ctx.log_metrics({name: seconds / max(n_events, 1)}, prefix="time_per_event")


def _find(ctx: RunContext, *parts: str) -> Path:
    """``<run>/parts`` when it exists, else the same path in data.from_run (when set)."""
    here = ctx.run_dir.joinpath(*parts)
    earlier = ctx.config.data.from_run
    if not here.exists() and earlier is not None and Path(earlier).joinpath(*parts).exists():
        return Path(earlier).joinpath(*parts)
    return here


def _data_config(ctx: RunContext) -> TrackmlDataConfig:
    """data section, with train_dir taken from data.from_run when that run simulated its own."""
    cfg: TrackmlDataConfig = ctx.config.data
    if cfg.from_run is not None and cfg.path is None and cfg.train_dir is None and (Path(cfg.from_run) / "data" / "train").is_dir():
        cfg = cfg.model_copy(update={"train_dir": Path(cfg.from_run) / "data" / "train"})
    return cfg


def _split_prefixes(ctx: RunContext) -> dict[str, list[Path]]:
    cfg = _data_config(ctx)
    train, test = split_event_prefixes(ctx.run_dir, cfg)
    return {"train": train, "test": test, "eval": eval_event_prefixes(cfg)}


@stage("trackml_simulate", sections=SECTIONS)
def trackml_simulate(ctx: RunContext) -> None:
    """Simulate the training and test events that data.train_dir / data.test_dir do not give."""
    simulate_missing(ctx.run_dir, _data_config(ctx), ctx.seed, ctx.logger)
    counts = {split: len(prefixes) for split, prefixes in _split_prefixes(ctx).items()}
    ctx.log_metrics(counts, prefix="n_events")


@stage("trackml_build_graphs", sections=SECTIONS)
def trackml_build_graphs(ctx: RunContext) -> None:
    """Fit the graph builder on training events and write the hit graph of every event."""
    from gnn4hep.graphs.features import hit_table
    from gnn4hep.graphs.graph_metrics import graph_metrics, mean_metrics
    from gnn4hep.graphs.io import save_graph
    from gnn4hep.pipelines.trackml_graphs import event_graph, fit_graph_builder, load_graph_builder

    cfg: GraphConfig = ctx.config.graph
    prefixes = _split_prefixes(ctx)
    earlier = _find(ctx, "graph_builder")
    if earlier.parent != ctx.run_dir:
        ctx.logger.info(f"  graph builder of {earlier.parent} reused; no training graphs built")
        state = load_graph_builder(cfg, earlier)
        prefixes["train"] = []
    else:
        fit_tables = [hit_table(read_available(p)) for p in prefixes["train"][: cfg.max_fit_events]]
        if cfg.fit_extra_dir is not None:
            from gnn4hep.tracking.io import list_events

            extra = sorted(list_events(cfg.fit_extra_dir)) if Path(cfg.fit_extra_dir).is_dir() else []
            if not extra:
                raise ConfigError(f"graph.fit_extra_dir: no TrackML events in {cfg.fit_extra_dir}")
            fit_tables += [hit_table(read_available(Path(cfg.fit_extra_dir) / name)) for name in extra]
            ctx.logger.info(f"  {len(extra)} extra fit events from {cfg.fit_extra_dir}")
        start = time.perf_counter()
        state = fit_graph_builder(fit_tables, cfg, out_dir=ctx.path("graph_builder"), seed=ctx.seed)
        ctx.log_metrics({"fit_seconds": time.perf_counter() - start}, prefix="graph")
        del fit_tables
    for split, split_prefixes in prefixes.items():
        per_event, seconds = [], 0.0
        for prefix in split_prefixes:
            event = read_available(prefix)
            start = time.perf_counter()
            table, graph = event_graph(event, state, cfg)
            seconds += time.perf_counter() - start
            if event.truth is not None:
                per_event.append(graph_metrics(table, graph.edge_index.numpy()))
            save_graph(graph, ctx.path("graphs", split, f"{Path(prefix).name}.pt"))
        if split == "test":
            _log_time(ctx, "graph", seconds, len(split_prefixes))
        if per_event:
            ctx.log_metrics(mean_metrics(per_event), prefix=f"graph_{split}")
            summary = mean_metrics(per_event)
            ctx.logger.info(
                f"  {split}: {len(per_event)} graphs, efficiency {summary['efficiency']:.4f} "
                f"(pT>1: {summary['efficiency_pt1']:.4f}), purity {summary['purity']:.4f}, "
                f"{summary['n_edges']:.0f} edges/event"
            )


def _load_split(ctx: RunContext, split: str) -> list:
    from gnn4hep.graphs.io import graph_files, load_graph

    return [load_graph(path) for path in graph_files(_find(ctx, "graphs", split))]


@stage("trackml_train", sections=SECTIONS)
def trackml_train(ctx: RunContext) -> None:
    """Train the edge classifier on the training graphs (val_fraction held out)."""
    from gnn4hep.training.edge_training import build_edge_model, fit_edge_classifier
    from gnn4hep.training.trainer import plot_loss_curves

    graphs = _load_split(ctx, "train")
    if not graphs:
        raise ValueError(f"no training graphs in {ctx.path('graphs', 'train')}: run trackml_build_graphs first")
    n_val = int(round(ctx.config.data.val_fraction * len(graphs)))
    if len(graphs) - n_val < 1:
        n_val = 0
    train, val = graphs[n_val:], graphs[:n_val]
    edge_dim = int(graphs[0].edge_attr.shape[1]) if getattr(graphs[0], "edge_attr", None) is not None else 0
    model = build_edge_model(ctx.config.model, int(graphs[0].x.shape[1]), edge_dim)
    start = time.perf_counter()
    fit_edge_classifier(model, train, val, ctx.config.trainer, ctx.config.classifier, ctx.run_dir, name="edge_classifier", model_config=ctx.config.model)
    ctx.log_metrics({"seconds": time.perf_counter() - start, "n_train": len(train), "n_val": len(val)}, prefix="training")
    figure = plot_loss_curves(ctx.run_dir, "edge_classifier")
    if figure is not None:
        ctx.save_figure(figure, "edge_classifier_loss")


@stage("trackml_infer", sections=SECTIONS)
def trackml_infer(ctx: RunContext) -> None:
    """Edge scores of the test (and extra evaluation) graphs, one parquet file per event."""
    import torch

    from gnn4hep.graphs.io import graph_files, load_graph
    from gnn4hep.training.edge_classifier import predict_edge_scores
    from gnn4hep.training.edge_training import load_edge_model

    model = load_edge_model(_find(ctx, "edge_classifier.pt"))
    for split in SPLITS:
        files = graph_files(ctx.path("graphs", split))
        seconds = 0.0
        for path in files:
            graph = load_graph(path)
            start = time.perf_counter()
            with torch.inference_mode():
                scores = predict_edge_scores(model, [graph], batch_size=1)[0]
            seconds += time.perf_counter() - start
            hit_id = graph.hit_id.numpy()
            edges = graph.edge_index.numpy()
            table = pd.DataFrame(
                {"source_hit_id": hit_id[edges[0]], "target_hit_id": hit_id[edges[1]], "edge_score": scores.numpy().astype(np.float32), "y": graph.y.numpy()}
            )
            buffer = table.to_parquet(index=False)
            atomic_write_bytes(ctx.path("edge_scores", split, f"{path.stem}.parquet"), buffer)
        if split == "test":
            _log_time(ctx, "inference", seconds, len(files))


@stage("trackml_build_tracks", sections=SECTIONS)
def trackml_build_tracks(ctx: RunContext) -> None:
    """Track candidates from the edge scores (CC or CC-and-walk), one submission CSV per event."""
    from gnn4hep.graphs.io import graph_files, load_graph
    from gnn4hep.graphs.layers import LAYER_RANK
    from gnn4hep.tracking.building import components_tracks, walkthrough_tracks

    cfg: TrackBuildingConfig = ctx.config.tracks
    for split in SPLITS:
        files = graph_files(ctx.path("graphs", split))
        seconds = 0.0
        for path in files:
            graph = load_graph(path)
            scores = pd.read_parquet(ctx.path("edge_scores", split, f"{path.stem}.parquet"))["edge_score"].to_numpy()
            hit_id, edges = graph.hit_id.numpy(), graph.edge_index.numpy()
            start = time.perf_counter()
            if cfg.builder == "components":
                submission = components_tracks(hit_id, edges, scores, score_cut=cfg.score_cut, min_hits=cfg.min_hits)
            else:
                x = graph.x.numpy()
                order = LAYER_RANK[graph.layer.numpy()] * 1e4 + np.hypot(x[:, 0], x[:, 2])
                submission = walkthrough_tracks(hit_id, edges, scores, cfg.score_cut, cfg.walk_cut, order, cfg.min_hits)
            seconds += time.perf_counter() - start
            atomic_write_text(ctx.path("submissions", split, f"{path.stem}.csv"), submission.to_csv(index=False))
        if split == "test":
            _log_time(ctx, "building", seconds, len(files))


@stage("trackml_evaluate", sections=SECTIONS)
def trackml_evaluate(ctx: RunContext) -> None:
    """Edge and track metrics, TrackML score and plots over the test events (and extra events).

    When ``trackml_refit`` wrote ``refitted/`` candidates, those are the final tracks (headline keys)
    and the builder's candidates are scored as well, under ``*_before_refit`` keys.
    """
    from gnn4hep.pipelines.trackml_report import evaluate_tracks

    evaluate_tracks(ctx, _split_prefixes(ctx), ctx.config.evaluation, edges=True)
