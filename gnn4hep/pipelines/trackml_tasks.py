"""Per-event work of the TrackML GNN pipeline, as module-level functions that
:mod:`gnn4hep.executor` maps over events (serially, in local processes or on a Dask cluster).

Each task reads its inputs from disk, writes its per-event output file atomically (the files are the
contract between stages) and returns small results (timings, metrics) that the stage aggregates in
order. What every event needs (the fitted graph builder, the edge classifier, the detector) is
loaded from its file once per process (:func:`cached`), so a task carries paths, not objects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from gnn4hep.pipelines.trackml_config import GraphConfig, TrackBuildingConfig
from gnn4hep.utils.atomic import atomic_write_bytes, atomic_write_text

#: kind -> (key, value): the last file loaded of each kind in this process.
_CACHE: dict[str, tuple[Any, Any]] = {}


def cached(kind: str, path: str | Path | None, load: Callable[[], Any]) -> Any:
    """``load()`` once per process and version (mtime, size) of the file at ``path``."""
    key = None
    if path is not None:
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if kind not in _CACHE or _CACHE[kind][0] != key:
        _CACHE[kind] = (key, load())
    return _CACHE[kind][1]


def graph_builder(cfg: GraphConfig, builder_dir: Path) -> Any:
    """The graph builder fitted and saved under ``builder_dir`` (:func:`~.trackml_graphs.load_graph_builder`)."""
    from gnn4hep.pipelines.trackml_graphs import BUILDER_FILES, load_graph_builder

    path = Path(builder_dir) / BUILDER_FILES[cfg.method] if cfg.method in BUILDER_FILES else None
    return cached(f"graph_builder_{cfg.method}", path, lambda: load_graph_builder(cfg, builder_dir))


@dataclass(frozen=True)
class GraphTask:
    """Build the hit graph of the event at ``prefix`` with the builder of ``builder_dir``; write ``out``
    (without ``edge_attr`` when ``edge_features`` is false: graphs that only feed the edge filter)."""

    prefix: Path
    out: Path
    builder_dir: Path
    cfg: GraphConfig
    edge_features: bool = True


def build_graph(task: GraphTask) -> dict[str, Any]:
    """Returns seconds (graph building alone) and the graph metrics (None without truth)."""
    from gnn4hep.graphs.graph_metrics import graph_metrics
    from gnn4hep.graphs.io import save_graph
    from gnn4hep.pipelines.trackml_data import read_available
    from gnn4hep.pipelines.trackml_graphs import event_graph

    state = graph_builder(task.cfg, task.builder_dir)
    event = read_available(task.prefix)
    start = time.perf_counter()
    table, graph = event_graph(event, state, task.cfg, edge_features=task.edge_features)
    seconds = time.perf_counter() - start
    metrics = graph_metrics(table, graph.edge_index.numpy()) if event.truth is not None else None
    save_graph(graph, task.out)
    return {"seconds": seconds, "metrics": metrics}


def edge_scores(model, graph):
    """Edge scores (E,) float32 tensor on the CPU of one hit graph: sigmoid of the classifier's logits,
    run on the model's device (shared by :func:`infer_edges` and ``gnn4hep track``)."""
    import torch

    from gnn4hep.training.edge_classifier import predict_edge_scores

    with torch.inference_mode():
        return predict_edge_scores(model, [graph], batch_size=1)[0]


@dataclass(frozen=True)
class InferTask:
    """Edge scores of the graph ``graph_path`` by the classifier ``model_path``, written to ``out``."""

    graph_path: Path
    out: Path
    model_path: Path


def infer_edges(task: InferTask) -> float:
    """Writes ``out`` (parquet: source_hit_id, target_hit_id, edge_score, y); returns the seconds of inference."""
    from gnn4hep.graphs.io import load_graph
    from gnn4hep.training.edge_training import load_edge_model

    model = cached("edge_classifier", task.model_path, lambda: load_edge_model(task.model_path))
    graph = load_graph(task.graph_path)
    start = time.perf_counter()
    scores = edge_scores(model, graph)
    seconds = time.perf_counter() - start
    hit_id, edges = graph.hit_id.numpy(), graph.edge_index.numpy()
    table = pd.DataFrame({"source_hit_id": hit_id[edges[0]], "target_hit_id": hit_id[edges[1]],
                          "edge_score": scores.numpy().astype(np.float32), "y": graph.y.numpy()})
    atomic_write_bytes(task.out, table.to_parquet(index=False))
    return seconds


@dataclass(frozen=True)
class TracksTask:
    """Track candidates of one event from its graph and edge scores, written to ``out``."""

    graph_path: Path
    scores_path: Path
    out: Path
    cfg: TrackBuildingConfig


def build_tracks(task: TracksTask) -> float:
    """Writes the submission CSV (hit_id, track_id); returns the seconds of track building."""
    from gnn4hep.graphs.io import load_graph

    graph = load_graph(task.graph_path)
    scores = pd.read_parquet(task.scores_path)["edge_score"].to_numpy()
    start = time.perf_counter()
    submission = track_candidates(graph, scores, task.cfg)
    seconds = time.perf_counter() - start
    atomic_write_text(task.out, submission.to_csv(index=False))
    return seconds


def track_candidates(graph, scores: np.ndarray, cfg: TrackBuildingConfig) -> pd.DataFrame:
    """Track candidates (hit_id, track_id; every hit of the graph once) from one graph's edge scores:
    connected components, CC-and-walk or the kink walk (``cfg.builder``), shared by :func:`build_tracks` and ``gnn4hep track``."""
    from gnn4hep.graphs.layers import LAYER_RANK
    from gnn4hep.tracking.building import components_tracks, kink_walk_tracks, walkthrough_tracks
    from gnn4hep.tracking.building.kink_walk import graph_positions

    hit_id, edges = graph.hit_id.numpy(), graph.edge_index.numpy()
    if cfg.builder == "components":
        return components_tracks(hit_id, edges, scores, score_cut=cfg.score_cut, min_hits=cfg.min_hits)
    x = graph.x.numpy()
    order = LAYER_RANK[graph.layer.numpy()] * 1e4 + np.hypot(x[:, 0], x[:, 2])
    if cfg.builder == "kink_walk":
        walk_cut = cfg.score_cut if cfg.walk_cut is None else cfg.walk_cut
        return kink_walk_tracks(hit_id, edges, scores, graph_positions(x), walk_cut=walk_cut, max_kink=cfg.max_kink,
                                kink_weight=cfg.kink_weight, min_step_mm=cfg.min_step_mm, merge_cut=cfg.merge_cut,
                                node_order=order, min_hits=cfg.min_hits, keep_hits=cfg.keep_hits,
                                second_max_kink=cfg.second_max_kink)
    return walkthrough_tracks(hit_id, edges, scores, cfg.score_cut, cfg.walk_cut, order, cfg.min_hits)
