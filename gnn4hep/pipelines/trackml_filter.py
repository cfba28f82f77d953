"""Stages of the edge filter, between graph building and the GNN (issue 13, stage 2 of
graph -> filter -> GNN -> tracks):

=========================  ==================================================================
trackml_train_filter       train :class:`~gnn4hep.models.edge_filter.EdgeFilterMLP` on the pair
                           features of the training graphs (``graphs/train``), the first
                           ``data.val_fraction`` of them held out to choose the cut ->
                           ``filter/edge_filter.pt`` (:func:`gnn4hep.graphs.edge_filter.load_edge_filter`);
                           with ``filter.cell_features`` and ``filter.no_cells_variant`` also the
                           filter without cluster shapes, ``filter/edge_filter_no_cells.pt``; with
                           ``filter.no_cells_pt_min`` that variant (or the only filter, without
                           cell features) trains and sets its cut on the true edges of faster particles
trackml_filter             apply it to every graph: ``filtered_graphs/{train,test,eval}/eventN.pt``
                           (the hit-graph schema, with ``edge_attr``), which the GNN stages read
                           when ``filter.enabled``; events without cells get the no-cells filter, and so
                           do ``data.eval_events`` (real events) unless ``filter.eval_cells``: clusters
                           of today's simulator differ from real ones (on the real sample event a
                           cluster-shape filter kept 71% of the graph's true edges, the no-cells one 99.4%)
=========================  ==================================================================

Both read the events again (hit table and cells) next to their graphs; a graph's nodes are the
event's hits in file order. Metrics: ``filter_training`` (threshold, validation efficiency, kept
fake share, seconds), ``filter_{split}`` (graph metrics after the filter, as ``graph_{split}`` before
it), ``filter_variant.{split}_no_cells_events`` (events scored by the no-cells filter) and
``time_per_event.filter`` (scoring and cutting, test events).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from gnn4hep.errors import InputFileError
from gnn4hep.pipelines.trackml_gnn import SECTIONS, _find, _log_time, _split_prefixes, executor
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage

FILTER_FILE = ("filter", "edge_filter.pt")
NO_CELLS_FILE = ("filter", "edge_filter_no_cells.pt")


def _event_graph_pairs(ctx: RunContext, split: str, prefixes: list[Path]) -> list[tuple[Path, Path]]:
    """(event prefix, graph file) of the events of ``split`` whose graph exists."""
    folder = _find(ctx, "graphs", split)
    pairs = [(Path(p), folder / f"{Path(p).name}.pt") for p in prefixes]
    return [(p, g) for p, g in pairs if g.is_file()]


def _table_and_graph(prefix: Path, graph_path: Path, cells_needed: bool):
    """(hit table, cells or None, graph) of one event; the graph's hits must be the event's, in order."""
    from gnn4hep.graphs.features import hit_table
    from gnn4hep.graphs.io import load_graph
    from gnn4hep.pipelines.trackml_data import read_available

    event = read_available(prefix)
    if cells_needed and event.cells is None:
        raise InputFileError(f"{prefix}-cells.csv", "filter.cell_features needs the cells file of every event")
    table = hit_table(event)
    graph = load_graph(graph_path)
    if not np.array_equal(graph.hit_id.numpy(), table["hit_id"].to_numpy()):
        raise InputFileError(graph_path, f"graph hits differ from the hits of {prefix} (rebuild the graphs)")
    return table, event.cells, graph


@stage("trackml_train_filter", sections=SECTIONS)
def trackml_train_filter(ctx: RunContext) -> None:
    """Train the edge filter on the training graphs and choose its cut."""
    from gnn4hep.graphs.pair_features import feature_names
    from gnn4hep.training.edge_filter_training import EdgeSamples, sample_edges

    cfg = ctx.config.filter
    events = _event_graph_pairs(ctx, "train", _split_prefixes(ctx)["train"])[: cfg.max_train_events]
    if not events:
        raise InputFileError(ctx.path("graphs", "train"), "no training graphs (run trackml_build_graphs first)")
    n_val = int(round(ctx.config.data.val_fraction * len(events)))
    if len(events) - n_val < 1:
        n_val = 0
    start = time.perf_counter()
    samples = []  # with cell features when asked: the no-cells variant uses their first columns
    for index, (prefix, graph_path) in enumerate(events):
        table, cells, graph = _table_and_graph(prefix, graph_path, cfg.cell_features)
        rng = np.random.default_rng([ctx.seed, index])
        samples.append(sample_edges(table, graph.edge_index.numpy(), graph.y.numpy(), rng, cfg.fake_fraction,
                                    cells=cells, cell_features=cfg.cell_features))
    sample_seconds = time.perf_counter() - start
    # (file, cell features, metrics prefix, focus pT [GeV], cut target efficiency, pT [GeV] of the edges it counts)
    no_cells = (cfg.no_cells_pt_min, cfg.no_cells_target_efficiency or cfg.target_efficiency,
                cfg.no_cells_target_pt_min if cfg.no_cells_target_pt_min is not None
                else max(cfg.target_pt_min, cfg.no_cells_pt_min))
    variants = [(FILTER_FILE, cfg.cell_features, "filter_training", 0.0, cfg.target_efficiency, cfg.target_pt_min)]
    if cfg.cell_features and cfg.no_cells_variant:
        variants.append((NO_CELLS_FILE, False, "filter_training_no_cells", *no_cells))
    elif not cfg.cell_features:  # the filter is the no-cells one
        variants = [(FILTER_FILE, False, "filter_training", *no_cells)]
    for file, cells_used, prefix, pt_min, target, target_pt_min in variants:
        n_base = len(feature_names(False))
        parts = [s if cells_used else EdgeSamples(s.features[:, :n_base], s.y, s.weight, s.pt) for s in samples]
        val = EdgeSamples.concat(parts[:n_val]) if n_val else None
        train = EdgeSamples.concat(parts[n_val:]).focused(pt_min)
        del parts
        _train_one(ctx, train, val, file, cells_used, prefix, len(events), n_val, sample_seconds, pt_min, target,
                   target_pt_min)


def _train_one(ctx: RunContext, train, val, file: tuple[str, str], cells_used: bool, prefix: str, n_events: int,
               n_val: int, sample_seconds: float, pt_min: float, target_efficiency: float, target_pt_min: float) -> None:
    """Train (true edges of particles at or below ``pt_min`` GeV weighted 0), choose the cut (keeping
    ``target_efficiency`` of the true edges of particles above ``target_pt_min`` GeV), save ``file`` and log
    metrics under ``prefix``."""
    from gnn4hep.graphs.pair_features import feature_names
    from gnn4hep.training.edge_filter_training import operating_point, predict_scores, save_edge_filter, train_edge_filter

    cfg = ctx.config.filter
    start = time.perf_counter()
    model, info = train_edge_filter(train, val.focused(pt_min) if val is not None else None, hidden=tuple(cfg.hidden),
                                    epochs=cfg.epochs, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                                    seed=ctx.seed, target_efficiency=target_efficiency, target_pt_min=target_pt_min,
                                    logger=ctx.logger)
    threshold = cfg.threshold if cfg.threshold is not None else info["threshold"]
    if cfg.threshold is not None:
        check = val if val is not None and val.y.sum() > 0 else train
        info.update(operating_point(predict_scores(model, check.features), check, threshold), threshold=threshold)
    save_edge_filter(ctx.path(*file), model, feature_names(cells_used), threshold,
                     extra={"history": info["history"], "seed": ctx.seed, "n_train_edges": int(len(train.y)),
                            "n_val_edges": int(len(val.y)) if val is not None else 0,
                            "target_efficiency": target_efficiency, "target_pt_min": target_pt_min,
                            "focus_pt_min": pt_min})
    summary = {key: info[key] for key in ("threshold", "efficiency", "efficiency_pt1", "kept_fake_fraction",
                                          "pos_weight", "best_epoch")}
    ctx.log_metrics({**summary, "n_events": n_events, "n_val_events": n_val, "n_train_edges": int(len(train.y)),
                     "sample_seconds": sample_seconds, "seconds": time.perf_counter() - start}, prefix=prefix)
    ctx.logger.info(f"  {file[-1]}: cut {threshold:.4f} keeps {info['efficiency']:.4f} of true edges "
                    f"(pT>1: {info['efficiency_pt1']:.4f}) and {info['kept_fake_fraction']:.4f} of fake ones")


def use_no_cells_filter(event_has_cells: bool, prefer_no_cells: bool) -> bool:
    """Whether an event is scored with the no-cells variant of a cluster-shape filter: when it has no cells
    file (the cluster-shape filter cannot score it), or when no-cells scoring is preferred for it (real
    events unless ``filter.eval_cells``). Shared by this stage and ``gnn4hep track``."""
    return prefer_no_cells or not event_has_cells


def filter_cut(model, configured: float | None, no_cells_variant: bool) -> float:
    """Score cut of a loaded filter: ``filter.threshold`` when set, for the main filter; otherwise (and always
    for the no-cells variant) the cut chosen at training for ``filter.target_efficiency``."""
    return float(model.threshold) if configured is None or no_cells_variant else float(configured)


@dataclass(frozen=True)
class FilterTask:
    """Filter the graph ``graph_path`` of the event ``prefix`` with ``model_path``; write ``out``."""

    prefix: Path
    graph_path: Path
    out: Path
    model_path: Path
    threshold: Optional[float]
    node_cell_features: bool
    no_cells_path: Optional[Path] = None
    prefer_no_cells: bool = False


def filter_graph(task: FilterTask) -> dict[str, Any]:
    """Writes the filtered hit graph; returns seconds (scoring and cutting) and graph metrics (None without truth)."""
    from gnn4hep.graphs.edge_filter import edge_filter_scores, load_edge_filter
    from gnn4hep.graphs.graph_metrics import graph_metrics
    from gnn4hep.graphs.hit_graph import make_hit_graph
    from gnn4hep.graphs.io import save_graph
    from gnn4hep.pipelines.trackml_tasks import cached

    from gnn4hep.tracking.io import available_parts

    model_path = task.model_path
    if task.no_cells_path is not None and use_no_cells_filter(available_parts(task.prefix, ("cells",)), task.prefer_no_cells):
        model_path = task.no_cells_path
    model = cached(f"edge_filter_{model_path.name}", model_path, lambda: load_edge_filter(model_path))
    table, cells, graph = _table_and_graph(task.prefix, task.graph_path, model.cell_features)
    edges = graph.edge_index.numpy()
    threshold = filter_cut(model, task.threshold, no_cells_variant=model_path != task.model_path)
    start = time.perf_counter()
    keep = edge_filter_scores(model, table, edges, cells) >= threshold
    kept = edges[:, keep]
    seconds = time.perf_counter() - start
    filtered = make_hit_graph(table, kept, event_id=int(graph.event_id), cell_features=task.node_cell_features)
    metrics = graph_metrics(table, kept) if bool((table["particle_id"] != 0).any()) else None
    save_graph(filtered, task.out)
    return {"seconds": seconds, "metrics": metrics, "no_cells": model_path != task.model_path}


@stage("trackml_filter", sections=SECTIONS)
def trackml_filter(ctx: RunContext) -> None:
    """Cut every graph with the trained edge filter (``filtered_graphs/``)."""
    from gnn4hep.graphs.graph_metrics import mean_metrics

    model_path = _find(ctx, *FILTER_FILE)
    if not model_path.is_file():
        raise InputFileError(model_path, "no edge filter (run trackml_train_filter first)")
    no_cells = _find(ctx, *NO_CELLS_FILE)
    no_cells = no_cells if no_cells.is_file() else None
    prefixes = _split_prefixes(ctx)
    if _find(ctx, "graph_builder").parent != ctx.run_dir:
        prefixes["train"] = []  # graphs and model of an earlier run: no training graphs here
    tasks = [(split, FilterTask(prefix, graph_path, ctx.path("filtered_graphs", split, graph_path.name), model_path,
                                ctx.config.filter.threshold, ctx.config.graph.cell_features, no_cells,
                                prefer_no_cells=split == "eval" and not ctx.config.filter.eval_cells))
             for split in prefixes for prefix, graph_path in _event_graph_pairs(ctx, split, prefixes[split])]
    results = executor(ctx).map(filter_graph, [task for _, task in tasks], description="filter")
    for split in prefixes:
        done = [result for (name, _), result in zip(tasks, results) if name == split]
        if split == "test":
            _log_time(ctx, "filter", sum(r["seconds"] for r in done), len(done))
        if done:
            ctx.log_metrics({f"{split}_no_cells_events": sum(r["no_cells"] for r in done)}, prefix="filter_variant")
        per_event = [r["metrics"] for r in done if r["metrics"] is not None]
        if per_event:
            summary = mean_metrics(per_event)
            ctx.log_metrics(summary, prefix=f"filter_{split}")
            ctx.logger.info(f"  {split} after the filter: efficiency {summary['efficiency']:.4f} "
                            f"(pT>1: {summary['efficiency_pt1']:.4f}), purity {summary['purity']:.4f}, "
                            f"{summary['n_edges']:.0f} edges/event")
