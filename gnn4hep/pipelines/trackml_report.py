"""Evaluation of the TrackML pipelines: edge metrics, track metrics, TrackML score, plots.

:func:`evaluate_tracks` is the body of the evaluate stages (GNN and HDBSCAN pipelines): it scores the
final candidates of every test/eval event (``refitted/`` when the Kalman refit ran, else
``submissions/``) and, after a refit, the track builder's candidates too (``*_before_refit`` keys).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gnn4hep.pipelines.trackml_config import TrackingEvaluationConfig
from gnn4hep.runner.context import RunContext


def headline_metrics(result: dict, suffix: str = "") -> dict[str, float]:
    """The run's top-level keys from the combined test summary: TrackML score and pT-high track
    metrics, each name followed by ``suffix`` (e.g. ``trackml_score_before_refit``)."""
    values = {
        "trackml_score": result["trackml_score"],
        "track_efficiency": result["pt_high"]["efficiency"],
        "fake_rate": result["pt_high"]["fake_rate"],
        "duplicate_rate": result["pt_high"]["duplicate_rate"],
    }
    return {f"{key}{suffix}": value for key, value in values.items()}


def evaluate_split(
    ctx: RunContext,
    split: str,
    prefixes: list[Path],
    cfg: TrackingEvaluationConfig,
    plots: bool = True,
    metrics_prefix: str | None = None,
    candidates: str = "submissions",
    edges: bool = True,
) -> dict:
    """Evaluate the track candidates of ``prefixes`` (files of the infer/build/refit stages); log and
    return the combined track summary (keys trackml_score, pt_high, all, and edges when ``edges``).

    Args:
        candidates: run sub-folder of the per-event candidates: ``submissions`` (track builder) or
            ``refitted`` (Kalman refit).
        edges: also compute the edge metrics (and, with ``plots``, the ROC) from ``edge_scores``.
    """
    from gnn4hep.tracking.evaluation.aggregate import combine_track_summaries, event_track_summary, particle_efficiency_table
    from gnn4hep.tracking.io import read_event
    from gnn4hep.training.edge_metrics import edge_metrics, plot_edge_roc

    summaries, particle_tables, scores, truth = [], [], [], []
    display = None
    for index, prefix in enumerate(prefixes):
        name = Path(prefix).name
        event = read_event(prefix, parts=("hits", "particles", "truth"))
        submission = pd.read_csv(ctx.path(candidates, split, f"{name}.csv"))
        if edges:
            table = pd.read_parquet(ctx.path("edge_scores", split, f"{name}.parquet"))
            scores.append(table["edge_score"].to_numpy())
            truth.append(table["y"].to_numpy())
        summaries.append(event_track_summary(event, submission, pt_min=cfg.pt_min, min_hits=cfg.min_hits))
        particle_tables.append(particle_efficiency_table(event, submission, cfg.min_hits))
        if index == min(cfg.display_event, len(prefixes) - 1):
            display = (event, submission)
    import numpy as np

    cut = float(getattr(ctx.config, "tracks").score_cut) if hasattr(ctx.config, "tracks") else 0.5
    result = combine_track_summaries(summaries)
    if edges:
        all_scores, all_truth = np.concatenate(scores), np.concatenate(truth)
        result["edges"] = edge_metrics(all_scores, all_truth, cut)
    ctx.log_metrics(result, prefix=metrics_prefix or split)
    ctx.logger.info(
        f"  {metrics_prefix or split} ({candidates}): TrackML score {result['trackml_score']:.4f}, "
        f"pT>{cfg.pt_min:g} efficiency {result['pt_high']['efficiency']:.4f}, fake {result['pt_high']['fake_rate']:.4f}, "
        f"duplicate {result['pt_high']['duplicate_rate']:.4f}" + (f"; edge AUC {result['edges']['edge_auc']:.4f}" if edges else "")
    )
    if plots:
        from gnn4hep.tracking.evaluation.plots import plot_efficiency, plot_event_display

        ctx.save_figure(plot_efficiency(pd.concat(particle_tables, ignore_index=True), cfg.pt_min), f"{split}_efficiency")
        if edges:
            ctx.save_figure(plot_edge_roc(all_scores, all_truth, cut=cut, label="edge classifier"), f"{split}_edge_roc")
        event, submission = display
        ctx.save_figure(plot_event_display(event.hits, event.truth, submission, event.particles, cfg.pt_min), f"{split}_event_display")
    return result


def evaluate_tracks(ctx: RunContext, prefixes: dict[str, list[Path]], cfg: TrackingEvaluationConfig, edges: bool = True) -> None:
    """Score the test events together (headline keys, plots) and each eval event on its own.

    Args:
        prefixes: event prefixes of the splits ``test`` and ``eval``.
        edges: the pipeline wrote ``edge_scores/`` (edge metrics and ROC are added).
    """
    groups = [("test", "test", prefixes["test"])] + [("eval", f"eval_{Path(p).name}", [p]) for p in prefixes["eval"]]
    for split, key, group in groups:
        if not group:
            continue
        names = [Path(p).name for p in group]
        refitted = all(ctx.run_dir.joinpath("refitted", split, f"{n}.csv").exists() for n in names)
        final = evaluate_split(ctx, split, group, cfg, plots=split == "test", metrics_prefix=key,
                               candidates="refitted" if refitted else "submissions", edges=edges)
        if split == "test":
            ctx.log_metrics(headline_metrics(final))
        if refitted:
            raw = evaluate_split(ctx, split, group, cfg, plots=False, metrics_prefix=f"{key}_before_refit",
                                 candidates="submissions", edges=False)
            if split == "test":
                ctx.log_metrics(headline_metrics(raw, suffix="_before_refit"))
