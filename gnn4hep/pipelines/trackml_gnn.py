"""Stages of the TrackML GNN pipeline (Exa.TrkX-class): events -> hit graphs -> edge classifier ->
edge scores -> track candidates -> Kalman refit -> TrackML score.

Stages (run in this order by ``experiments/trackml_gnn.yaml``; each reads the files the previous one
wrote, so they can also be run one at a time with ``gnn4hep run ... -o stages=[...]`` and ``--resume``;
the stage contracts of docs/architecture.md):

=========================  ==================================================================
trackml_simulate           simulate train/test events into ``data/`` unless data.train_dir /
                           data.test_dir are given
trackml_build_graphs       fit the graph builder on training events, write
                           ``graphs/{train,test,eval}/eventN.pt`` (weights_only-safe)
trackml_train_filter       (:mod:`~gnn4hep.pipelines.trackml_filter`, when ``filter.enabled``) train the
                           edge filter -> ``filter/edge_filter.pt``
trackml_filter             cut the graphs with it -> ``filtered_graphs/{train,test,eval}/eventN.pt``,
                           which the next three stages then read instead of ``graphs/``
trackml_train              train the edge classifier -> ``edge_classifier.pt`` (on eta-phi sections
                           of the graphs when ``graph.train_sections`` > 0, :mod:`gnn4hep.graphs.sections`)
trackml_infer              ``edge_scores/{test,eval}/eventN.parquet`` (hit ids, score, truth)
trackml_build_tracks       ``submissions/{test,eval}/eventN.csv`` (hit_id, track_id)
trackml_refit              (:mod:`~gnn4hep.pipelines.trackml_refit`) Kalman refit:
                           ``refitted/{test,eval}/eventN.csv``, ``track_params/{test,eval}/eventN.parquet``
trackml_evaluate           edge AUC/efficiency/purity, track metrics, TrackML score (of the refitted
                           candidates when they exist, and of the raw ones: ``*_before_refit``), plots
=========================  ==================================================================

Time per stage per event is logged under ``time_per_event`` (seconds of the work itself, summed over
the test events and divided by their number; file reading and worker start-up are excluded).

Per-event work (simulation, graph building, inference, track building, refit, scoring) is a map over
events through the ``executor:`` section (:mod:`gnn4hep.executor`: serial, local processes, or a Dask
cluster); the functions it maps are in :mod:`~gnn4hep.pipelines.trackml_tasks`. Results do not depend
on the executor: events keep their order and seeds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import yaml

from gnn4hep.errors import ConfigError
from gnn4hep.executor import ExecutorConfig, make_executor
from gnn4hep.pipelines.trackml_config import (
    FilterConfig,
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
    "executor": ExecutorConfig,
    "filter": FilterConfig,
}
SPLITS = ("test", "eval")


def executor(ctx: RunContext, simulation: bool = False):
    """The executor of the ``executor:`` section. For simulation with local processes,
    ``data.workers`` (the older setting) raises the number of processes when it is larger."""
    cfg: ExecutorConfig = getattr(ctx.config, "executor", None) or ExecutorConfig()
    data = getattr(ctx.config, "data", None)
    if simulation and cfg.kind == "processes" and data is not None and data.workers > cfg.workers:
        cfg = cfg.model_copy(update={"workers": data.workers})
    return make_executor(cfg)


def _log_time(ctx: RunContext, name: str, seconds: float, n_events: int) -> None:
    ctx.log_metrics({name: seconds / max(n_events, 1)}, prefix="time_per_event")


def _find(ctx: RunContext, *parts: str) -> Path:
    """``<run>/parts`` when it exists, else the same path in data.from_run (when set and it has it)."""
    here = ctx.run_dir.joinpath(*parts)
    earlier = ctx.config.data.from_run
    if not here.exists() and earlier is not None and Path(earlier).joinpath(*parts).exists():
        return Path(earlier).joinpath(*parts)
    return here


def graph_folder(ctx: RunContext) -> str:
    """The graphs the GNN stages read: ``filtered_graphs`` when filter.enabled, else ``graphs``."""
    return "filtered_graphs" if ctx.config.filter.enabled else "graphs"


def _data_config(ctx: RunContext) -> TrackmlDataConfig:
    """data section, with train_dir taken from data.from_run: the events that run simulated, or else the
    data.train_dir it read them from (its config.yaml)."""
    cfg: TrackmlDataConfig = ctx.config.data
    if cfg.from_run is not None and cfg.path is None and cfg.train_dir is None:
        earlier = _earlier_train_dir(Path(cfg.from_run))
        if earlier is not None:
            cfg = cfg.model_copy(update={"train_dir": earlier})
    return cfg


def _earlier_train_dir(earlier: Path, depth: int = 0) -> Optional[Path]:
    """The training events of the run folder ``earlier``: its data/train, else its config's data.train_dir,
    else those of its own data.from_run (a chain of runs, followed up to 8 deep)."""
    own = earlier / "data" / "train"
    if own.is_dir():
        return own
    config = earlier / "config.yaml"
    if not config.is_file():
        return None
    data = (yaml.safe_load(config.read_text()) or {}).get("data") or {}
    if data.get("train_dir"):
        return Path(data["train_dir"])
    if data.get("from_run") and depth < 8:
        return _earlier_train_dir(Path(data["from_run"]), depth + 1)
    return None


def _split_prefixes(ctx: RunContext) -> dict[str, list[Path]]:
    cfg = _data_config(ctx)
    train, test = split_event_prefixes(ctx.run_dir, cfg)
    return {"train": train, "test": test, "eval": eval_event_prefixes(cfg)}


@stage("trackml_simulate", sections=SECTIONS)
def trackml_simulate(ctx: RunContext) -> None:
    """Simulate the training and test events that data.train_dir / data.test_dir do not give."""
    simulate_missing(ctx.run_dir, _data_config(ctx), ctx.seed, ctx.logger, executor=executor(ctx, simulation=True))
    counts = {split: len(prefixes) for split, prefixes in _split_prefixes(ctx).items()}
    ctx.log_metrics(counts, prefix="n_events")


@stage("trackml_build_graphs", sections=SECTIONS)
def trackml_build_graphs(ctx: RunContext) -> None:
    """Fit the graph builder on training events and write the hit graph of every event."""
    from gnn4hep.graphs.features import hit_table
    from gnn4hep.graphs.graph_metrics import mean_metrics
    from gnn4hep.pipelines.trackml_graphs import fit_graph_builder
    from gnn4hep.pipelines.trackml_tasks import GraphTask, build_graph

    cfg: GraphConfig = ctx.config.graph
    prefixes = _split_prefixes(ctx)
    builder_dir = _find(ctx, "graph_builder")
    if builder_dir.parent != ctx.run_dir:
        ctx.logger.info(f"  graph builder of {builder_dir.parent} reused; no training graphs built")
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
        fit_graph_builder(fit_tables, cfg, out_dir=ctx.path("graph_builder"), seed=ctx.seed,
                          trainer=getattr(ctx.config, "trainer", None), logger=ctx.logger)
        ctx.log_metrics({"fit_seconds": time.perf_counter() - start}, prefix="graph")
        del fit_tables
    # every event's graph is built with the builder as saved, whichever process builds it
    # graphs that only feed the edge filter need no edge_attr (it computes its own pair features)
    edge_features = not ctx.config.filter.enabled
    tasks = [(split, GraphTask(Path(p), ctx.path("graphs", split, f"{Path(p).name}.pt"), builder_dir, cfg, edge_features))
             for split, split_prefixes in prefixes.items() for p in split_prefixes]
    results = executor(ctx).map(build_graph, [task for _, task in tasks], description="graphs")
    for split, split_prefixes in prefixes.items():
        done = [result for (name, _), result in zip(tasks, results) if name == split]
        if split == "test":
            _log_time(ctx, "graph", sum(r["seconds"] for r in done), len(split_prefixes))
        per_event = [r["metrics"] for r in done if r["metrics"] is not None]
        if per_event:
            summary = mean_metrics(per_event)
            ctx.log_metrics(summary, prefix=f"graph_{split}")
            ctx.logger.info(
                f"  {split}: {len(per_event)} graphs, efficiency {summary['efficiency']:.4f} "
                f"(pT>1: {summary['efficiency_pt1']:.4f}), purity {summary['purity']:.4f}, "
                f"{summary['n_edges']:.0f} edges/event"
            )


def _load_split(ctx: RunContext, split: str) -> list:
    from gnn4hep.graphs.io import graph_files, load_graph

    return [load_graph(path) for path in graph_files(_find(ctx, graph_folder(ctx), split))]


@stage("trackml_train", sections=SECTIONS)
def trackml_train(ctx: RunContext) -> None:
    """Train the edge classifier on the training graphs (val_fraction held out)."""
    from gnn4hep.training.edge_training import build_edge_model, fit_edge_classifier
    from gnn4hep.training.trainer import plot_loss_curves

    graphs = _load_split(ctx, "train")
    if not graphs:
        first = "trackml_filter" if ctx.config.filter.enabled else "trackml_build_graphs"
        raise ValueError(f"no training graphs in {ctx.path(graph_folder(ctx), 'train')}: run {first} first")
    n_val = int(round(ctx.config.data.val_fraction * len(graphs)))
    if len(graphs) - n_val < 1:
        n_val = 0
    train, val = graphs[n_val:], graphs[:n_val]
    cfg: GraphConfig = ctx.config.graph
    if cfg.train_sections > 0:
        from gnn4hep.graphs.sections import graph_sections

        def cut(parts: list) -> list:
            return [section for graph in parts for section in graph_sections(
                graph, cfg.train_sections, cfg.section_eta, cfg.section_overlap, cfg.section_overlap)]

        train, val = cut(train), cut(val)
        ctx.logger.info(f"  training on {len(train)} sections ({cfg.train_sections} x {cfg.section_eta} per graph), "
                        f"{len(val)} validation sections")
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
    from gnn4hep.graphs.io import graph_files
    from gnn4hep.pipelines.trackml_tasks import InferTask, infer_edges

    model_path = _find(ctx, "edge_classifier.pt")
    if not model_path.is_file():
        from gnn4hep.errors import InputFileError

        raise InputFileError(model_path, "no such model file (run the training stage first)")
    tasks = [(split, InferTask(path, ctx.path("edge_scores", split, f"{path.stem}.parquet"), model_path))
             for split in SPLITS for path in graph_files(_find(ctx, graph_folder(ctx), split))]
    seconds = executor(ctx).map(infer_edges, [task for _, task in tasks], description="inference")
    _log_split_time(ctx, "inference", tasks, seconds)


def _log_split_time(ctx: RunContext, name: str, tasks: list[tuple[str, object]], seconds: list[float]) -> None:
    """time_per_event.<name> over the test events of ``tasks`` ((split, task) pairs)."""
    test = [value for (split, _), value in zip(tasks, seconds) if split == "test"]
    _log_time(ctx, name, sum(test), len(test))


@stage("trackml_build_tracks", sections=SECTIONS)
def trackml_build_tracks(ctx: RunContext) -> None:
    """Track candidates from the edge scores (CC or CC-and-walk), one submission CSV per event."""
    from gnn4hep.graphs.io import graph_files
    from gnn4hep.pipelines.trackml_tasks import TracksTask, build_tracks

    cfg: TrackBuildingConfig = ctx.config.tracks
    tasks = [(split, TracksTask(path, _find(ctx, "edge_scores", split, f"{path.stem}.parquet"),
                                ctx.path("submissions", split, f"{path.stem}.csv"), cfg))
             for split in SPLITS for path in graph_files(_find(ctx, graph_folder(ctx), split))]
    seconds = executor(ctx).map(build_tracks, [task for _, task in tasks], description="track building")
    _log_split_time(ctx, "building", tasks, seconds)


@stage("trackml_evaluate", sections=SECTIONS)
def trackml_evaluate(ctx: RunContext) -> None:
    """Edge and track metrics, TrackML score and plots over the test events (and extra events).

    When ``trackml_refit`` wrote ``refitted/`` candidates, those are the final tracks (headline keys)
    and the builder's candidates are scored as well, under ``*_before_refit`` keys.
    """
    from gnn4hep.pipelines.trackml_report import evaluate_tracks

    evaluate_tracks(ctx, _split_prefixes(ctx), ctx.config.evaluation, edges=True)
