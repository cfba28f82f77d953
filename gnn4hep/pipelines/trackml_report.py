"""Evaluation of one split of the TrackML pipeline: edge metrics, track metrics, TrackML score, plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gnn4hep.pipelines.trackml_config import TrackingEvaluationConfig
from gnn4hep.runner.context import RunContext


def headline_metrics(result: dict) -> dict[str, float]:
    """The run's top-level keys from the combined test summary: TrackML score and pT-high track metrics."""
    return {
        "trackml_score": result["trackml_score"],
        "track_efficiency": result["pt_high"]["efficiency"],
        "fake_rate": result["pt_high"]["fake_rate"],
        "duplicate_rate": result["pt_high"]["duplicate_rate"],
    }


def evaluate_split(
    ctx: RunContext,
    split: str,
    prefixes: list[Path],
    cfg: TrackingEvaluationConfig,
    plots: bool = True,
    metrics_prefix: str | None = None,
) -> dict:
    """Evaluate the submissions of ``prefixes`` (files of the infer/build stages); log and return
    the combined track summary (keys trackml_score, pt_high, all, edges)."""
    from gnn4hep.tracking.evaluation.aggregate import combine_track_summaries, event_track_summary, particle_efficiency_table
    from gnn4hep.tracking.io import read_event
    from gnn4hep.training.edge_metrics import edge_metrics, plot_edge_roc

    summaries, particle_tables, scores, truth = [], [], [], []
    display = None
    for index, prefix in enumerate(prefixes):
        name = Path(prefix).name
        event = read_event(prefix, parts=("hits", "particles", "truth"))
        submission = pd.read_csv(ctx.path("submissions", split, f"{name}.csv"))
        edges = pd.read_parquet(ctx.path("edge_scores", split, f"{name}.parquet"))
        scores.append(edges["edge_score"].to_numpy())
        truth.append(edges["y"].to_numpy())
        summaries.append(event_track_summary(event, submission, pt_min=cfg.pt_min, min_hits=cfg.min_hits))
        particle_tables.append(particle_efficiency_table(event, submission, cfg.min_hits))
        if index == min(cfg.display_event, len(prefixes) - 1):
            display = (event, submission)
    import numpy as np

    all_scores, all_truth = np.concatenate(scores), np.concatenate(truth)
    cut = float(getattr(ctx.config, "tracks").score_cut) if hasattr(ctx.config, "tracks") else 0.5
    result = combine_track_summaries(summaries)
    result["edges"] = edge_metrics(all_scores, all_truth, cut)
    ctx.log_metrics(result, prefix=metrics_prefix or split)
    ctx.logger.info(
        f"  {metrics_prefix or split}: TrackML score {result['trackml_score']:.4f}, "
        f"pT>{cfg.pt_min:g} efficiency {result['pt_high']['efficiency']:.4f}, fake {result['pt_high']['fake_rate']:.4f}, "
        f"duplicate {result['pt_high']['duplicate_rate']:.4f}; edge AUC {result['edges']['edge_auc']:.4f}"
    )
    if plots:
        from gnn4hep.tracking.evaluation.plots import plot_efficiency, plot_event_display

        ctx.save_figure(plot_efficiency(pd.concat(particle_tables, ignore_index=True), cfg.pt_min), f"{split}_efficiency")
        roc = plot_edge_roc(all_scores, all_truth, cut=cut, label="edge classifier")
        ctx.save_figure(roc, f"{split}_edge_roc")
        event, submission = display
        ctx.save_figure(plot_event_display(event.hits, event.truth, submission, event.particles, cfg.pt_min), f"{split}_event_display")
    return result
