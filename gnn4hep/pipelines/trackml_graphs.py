"""Graph construction for the TrackML pipeline: fit a builder on training events, apply it to any
event. One function per step so the stages, the benchmark and the CLI share them.

Builders (``graph.method``):

- ``heptrkx``: adjacent barrel layers, |phi_slope| < 0.0006, |z0| < 200 mm (nothing to fit);
- ``geometric``: layer pairs and cuts learned from the true pairs of training events
  (:func:`gnn4hep.graphs.geometric.fit_layer_pair_cuts`), all volumes;
- ``module_map``: module pairs seen in training events (:mod:`gnn4hep.graphs.module_map`);
- ``ring_map``: the phi-invariant module map keyed by detector rings (:mod:`gnn4hep.graphs.ring_map`);
- ``metric_learning``: a learned embedding + radius graph (:mod:`gnn4hep.graphs.metric_learning`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.geometric import build_geometric_edges, fit_layer_pair_cuts, heptrkx_cuts
from gnn4hep.graphs.hit_graph import make_hit_graph
from gnn4hep.graphs.module_map import build_module_map_edges, fit_module_map
from gnn4hep.pipelines.trackml_config import GraphConfig
from gnn4hep.utils.atomic import atomic_write_text

BUILDER_FILES = {"geometric": "layer_pair_cuts.csv", "module_map": "module_map.csv", "metric_learning": "embedding.pt",
                 "ring_map": "ring_map.csv"}


def fit_graph_builder(tables: list[pd.DataFrame], cfg: GraphConfig, out_dir: str | Path | None = None, seed: int = 0,
                      trainer=None, logger=None) -> Any:
    """Fit the builder of ``cfg.method`` on training hit tables; saved under ``out_dir`` when given.

    ``trainer``: the ``trainer:`` section used by ``metric_learning`` training (None: its defaults);
    ``logger``: where that training writes its loss per epoch (None: nowhere).
    """
    out_dir = Path(out_dir) if out_dir is not None else None
    if cfg.method == "heptrkx":
        return None
    if cfg.method == "geometric":
        state = fit_layer_pair_cuts(tables, pt_min=cfg.pt_min, quantile=cfg.quantile, margin=cfg.margin, min_count=cfg.min_count)
        if out_dir is not None:
            atomic_write_text(out_dir / BUILDER_FILES["geometric"], state.to_csv(index=False))
        return state
    if cfg.method == "module_map":
        state = fit_module_map(tables, pt_min=cfg.pt_min)
        if out_dir is not None:
            atomic_write_text(out_dir / BUILDER_FILES["module_map"], state.to_csv(index=False))
        return state
    if cfg.method == "ring_map":
        from gnn4hep.graphs.ring_map import fit_ring_map, prune_ring_map

        state = fit_ring_map(tables, pt_min=cfg.pt_min, quantile=1.0 - cfg.quantile, min_count=cfg.min_count,
                             ring_split=cfg.ring_split)
        state = prune_ring_map(state, tables[:2], cfg.prune_loss, margin=cfg.margin - 1.0, tolerance=cfg.tolerance,
                               ring_split=cfg.ring_split)
        if out_dir is not None:
            atomic_write_text(out_dir / BUILDER_FILES["ring_map"], state.to_csv(index=False))
        return state
    from gnn4hep.graphs.metric_learning import fit_metric_learning

    return fit_metric_learning(tables, cfg, out_dir=out_dir, seed=seed, trainer=trainer, logger=logger)


def load_graph_builder(cfg: GraphConfig, out_dir: str | Path) -> Any:
    """Read back what :func:`fit_graph_builder` saved."""
    out_dir = Path(out_dir)
    if cfg.method == "heptrkx":
        return None
    if cfg.method in ("geometric", "module_map", "ring_map"):
        return pd.read_csv(out_dir / BUILDER_FILES[cfg.method])
    from gnn4hep.graphs.metric_learning import load_metric_learning

    return load_metric_learning(out_dir / BUILDER_FILES["metric_learning"])


def build_edges(table: pd.DataFrame, state: Any, cfg: GraphConfig) -> np.ndarray:
    """Edges (2, E) of one event's hit table with a fitted builder."""
    if cfg.method == "heptrkx":
        return build_geometric_edges(table, heptrkx_cuts(table))
    if cfg.method == "geometric":
        return build_geometric_edges(table, state)
    if cfg.method == "module_map":
        return build_module_map_edges(table, state, margin=cfg.margin - 1.0, tolerance=cfg.tolerance)
    if cfg.method == "ring_map":
        from gnn4hep.graphs.ring_map import build_ring_map_edges

        return build_ring_map_edges(table, state, margin=cfg.margin - 1.0, tolerance=cfg.tolerance, ring_split=cfg.ring_split)
    from gnn4hep.graphs.metric_learning import build_metric_learning_edges

    return build_metric_learning_edges(table, state, cfg)


def event_graph(event, state: Any, cfg: GraphConfig, edge_features: bool = True):
    """(hit table, hit graph) of one event (``edge_features``: add ``edge_attr``)."""
    table = hit_table(event)
    edges = build_edges(table, state, cfg)
    return table, make_hit_graph(table, edges, event_id=event.event_id, cell_features=cfg.cell_features,
                                 edge_features=edge_features)
