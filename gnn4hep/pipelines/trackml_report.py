"""Evaluation of the TrackML pipelines: edge metrics, track metrics, TrackML score, plots.

:func:`evaluate_tracks` is the body of the evaluate stages (GNN and HDBSCAN pipelines): it scores the
final candidates of every test/eval event (``refitted/`` when the Kalman refit ran, else
``submissions/``) and, after a refit, the track builder's candidates too (``*_before_refit`` keys).
The per-event scoring (:func:`score_event`) of all of them is one map through the run's executor.

Each extra evaluation event (``data.eval_events``, e.g. the real sample event) is scored on its own
under ``eval_<event>`` in ``metrics.json``, shown in the headline (:func:`gnn4hep.runner.report.eval_event_rows`)
and plotted as ``plots/eval_<event>_{efficiency,event_display[,edge_roc]}.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class ScoreTask:
    """Score the candidates file ``submission`` against the event at ``prefix``."""

    prefix: Path
    submission: Path
    pt_min: float
    min_hits: int


def score_event(task: ScoreTask) -> tuple[dict, pd.DataFrame]:
    """(track summary, particle efficiency table) of one event (run by :mod:`gnn4hep.executor`)."""
    from gnn4hep.tracking.evaluation.aggregate import event_track_summary, particle_efficiency_table
    from gnn4hep.tracking.io import read_event

    event = read_event(task.prefix, parts=("hits", "particles", "truth"))
    submission = pd.read_csv(task.submission)
    return (event_track_summary(event, submission, pt_min=task.pt_min, min_hits=task.min_hits),
            particle_efficiency_table(event, submission, task.min_hits))


def _score_tasks(ctx: RunContext, split: str, prefixes: list[Path], cfg: TrackingEvaluationConfig, candidates: str) -> list[ScoreTask]:
    from gnn4hep.pipelines.trackml_gnn import _find

    return [ScoreTask(Path(p), _find(ctx, candidates, split, f"{Path(p).name}.csv"), cfg.pt_min, cfg.min_hits) for p in prefixes]


#: Sample labels of the efficiency plot, by candidate folder.
SAMPLE_LABELS = {"refitted": "after refit", "submissions": "track builder", "before": "before refit"}


def evaluate_split(
    ctx: RunContext,
    split: str,
    prefixes: list[Path],
    cfg: TrackingEvaluationConfig,
    plots: bool = True,
    metrics_prefix: str | None = None,
    candidates: str = "submissions",
    edges: bool = True,
    scored: list[tuple[dict, pd.DataFrame]] | None = None,
    compare_with: dict[str, tuple[pd.DataFrame, dict]] | None = None,
    plot_prefix: str | None = None,
) -> dict:
    """Evaluate the track candidates of ``prefixes`` (files of the infer/build/refit stages); log and
    return the combined track summary (keys trackml_score, pt_high, all, and edges when ``edges``).

    Args:
        candidates: run sub-folder of the per-event candidates: ``submissions`` (track builder) or
            ``refitted`` (Kalman refit).
        edges: also compute the edge metrics (and, with ``plots``, the ROC) from ``edge_scores``.
        scored: :func:`score_event` of each prefix (computed here, in this process, when None).
        compare_with: more samples for the efficiency plot, label -> (particle efficiency table, the
            sample's pT > pt_min rates), e.g. the candidates before the refit.
        plot_prefix: plot names ``<plot_prefix>_efficiency`` etc. (None: ``split``).
    """
    import numpy as np

    from gnn4hep.pipelines.trackml_gnn import _find
    from gnn4hep.tracking.evaluation.aggregate import combine_track_summaries
    from gnn4hep.training.edge_metrics import edge_metrics, plot_edge_roc

    if scored is None:
        scored = [score_event(task) for task in _score_tasks(ctx, split, prefixes, cfg, candidates)]
    summaries, particle_tables = [summary for summary, _ in scored], [table for _, table in scored]
    scores, truth = [], []
    for prefix in prefixes if edges else []:
        table = pd.read_parquet(_find(ctx, "edge_scores", split, f"{Path(prefix).name}.parquet"))
        scores.append(table["edge_score"].to_numpy())
        truth.append(table["y"].to_numpy())

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
    result["particle_table"] = pd.concat(particle_tables, ignore_index=True)  # for a comparison plot; not a metric
    if plots:
        from gnn4hep.tracking.evaluation.plots import plot_efficiency, plot_event_display

        samples = {SAMPLE_LABELS.get(candidates, candidates): (pd.concat(particle_tables, ignore_index=True), result["pt_high"])}
        samples.update(compare_with or {})
        ctx.save_figure(plot_efficiency({k: t for k, (t, _) in samples.items()}, cfg.pt_min,
                                        rates={k: r for k, (_, r) in samples.items()}), f"{plot_prefix or split}_efficiency")
        if edges:
            ctx.save_figure(plot_edge_roc(all_scores, all_truth, cut=cut, label="edge classifier"), f"{plot_prefix or split}_edge_roc")
        from gnn4hep.tracking.io import read_event

        prefix = Path(prefixes[min(cfg.display_event, len(prefixes) - 1)])
        event = read_event(prefix, parts=("hits", "particles", "truth"))
        submission = pd.read_csv(_find(ctx, candidates, split, f"{prefix.name}.csv"))
        ctx.save_figure(plot_event_display(event.hits, event.truth, submission, event.particles, cfg.pt_min), f"{plot_prefix or split}_event_display")
    return result


def _refitted_exists(ctx: RunContext, split: str, name: str) -> bool:
    """Whether the event has a refit of this run's track candidates: ``refitted/`` of this run, or of
    data.from_run when the candidates come from there too (never an earlier refit of candidates this run
    built anew, nor any refit when refit.enabled is false)."""
    from gnn4hep.pipelines.trackml_gnn import _find

    refit = getattr(ctx.config, "refit", None)
    if refit is not None and not refit.enabled:
        return False
    refitted = _find(ctx, "refitted", split, f"{name}.csv")
    candidates = _find(ctx, "submissions", split, f"{name}.csv")
    here = ctx.run_dir
    return refitted.exists() and (refitted.is_relative_to(here) or not candidates.is_relative_to(here))


def evaluate_tracks(ctx: RunContext, prefixes: dict[str, list[Path]], cfg: TrackingEvaluationConfig, edges: bool = True) -> None:
    """Score the test events together (headline keys, plots) and each eval event on its own.

    Args:
        prefixes: event prefixes of the splits ``test`` and ``eval``.
        edges: the pipeline wrote ``edge_scores/`` (edge metrics and ROC are added).
    """
    from gnn4hep.pipelines.trackml_gnn import executor

    groups = [("test", "test", prefixes["test"])] + [("eval", f"eval_{Path(p).name}", [p]) for p in prefixes["eval"]]
    jobs = []  # (split, key, group, candidates, metrics suffix): one evaluate_split each
    for split, key, group in groups:
        if not group:
            continue
        names = [Path(p).name for p in group]
        refitted = all(_refitted_exists(ctx, split, n) for n in names)
        if refitted:  # first, so that the plots of the refitted candidates can compare with it
            jobs.append((split, key, group, "submissions", "_before_refit"))
        jobs.append((split, key, group, "refitted" if refitted else "submissions", ""))
    tasks = [_score_tasks(ctx, split, group, cfg, candidates) for split, _, group, candidates, _ in jobs]
    flat = executor(ctx).map(score_event, [task for job_tasks in tasks for task in job_tasks], description="scoring")
    start = 0
    before: dict[str, dict] = {}  # key -> the before-refit sample of the efficiency plot
    for (split, key, group, candidates, suffix), job_tasks in zip(jobs, tasks):
        scored, start = flat[start:start + len(job_tasks)], start + len(job_tasks)
        result = evaluate_split(ctx, split, group, cfg, plots=not suffix, metrics_prefix=f"{key}{suffix}",
                                candidates=candidates, edges=edges and not suffix, scored=scored,
                                compare_with=before.get(key) if not suffix else None, plot_prefix=key)
        table = result.pop("particle_table")
        if suffix == "_before_refit":
            before[key] = {SAMPLE_LABELS["before"]: (table, result["pt_high"])}
        if split == "test":
            ctx.log_metrics(headline_metrics(result, suffix=suffix))
