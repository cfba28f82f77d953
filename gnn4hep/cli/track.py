"""The ``gnn4hep track`` and ``gnn4hep export-model`` commands: apply a trained TrackML GNN pipeline to new
events (:mod:`gnn4hep.pipelines.trackml_apply`) and export a run as a model bundle
(:mod:`gnn4hep.pipelines.trackml_bundle`).

``track`` writes under ``--out``, per event ``eventNNNNNNNNN``:

- ``eventNNNNNNNNN-submission.csv``: ``hit_id,track_id``, every hit once (a TrackML submission);
- with truth (particles and truth files): ``eventNNNNNNNNN-metrics.json`` (TrackML score, double-majority
  efficiency, fake and duplicate rates for pT > 1 GeV and all pT, before and after the refit), and plots
  ``eventNNNNNNNNN-efficiency.png`` (efficiency vs pT and eta), ``-fake_rate.png`` and ``-event_display.png``;

and ``track_summary.json`` (model, device, per-event seconds per stage, metrics, combined metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gnn4hep.cli import params

#: Thresholds of the track metrics (those of ``gnn4hep score`` and the experiments).
PT_MIN = 1.0
MIN_HITS = 3


def _event_metrics(event, result) -> dict:
    from gnn4hep.tracking.evaluation.aggregate import event_track_summary

    metrics = event_track_summary(event, result.labels, pt_min=PT_MIN, min_hits=MIN_HITS)
    if result.params is not None:
        before = event_track_summary(event, result.candidates, pt_min=PT_MIN, min_hits=MIN_HITS)
        metrics["before_refit"] = before
    return metrics


def _plots(event, result, out: Path, metrics: dict, written: list[Path]) -> list[str]:
    import matplotlib.pyplot as plt

    from gnn4hep.tracking.evaluation.aggregate import particle_efficiency_table, track_fake_table
    from gnn4hep.tracking.evaluation.plots import plot_efficiency, plot_event_display, plot_fake_rate
    from gnn4hep.utils.atomic import atomic_savefig

    label = "after refit" if result.params is not None else "track builder"
    figures = {
        "efficiency": plot_efficiency({label: particle_efficiency_table(event, result.labels, MIN_HITS)}, PT_MIN,
                                      rates={label: metrics["pt_high"]}),
        "fake_rate": plot_fake_rate(track_fake_table(event, result.labels, MIN_HITS), PT_MIN, label=label),
        "event_display": plot_event_display(event.hits, event.truth, result.labels, event.particles, PT_MIN),
    }
    names = []
    for name, figure in figures.items():
        path = out / f"{result.name}-{name}.png"
        written.append(path)
        atomic_savefig(figure, path, dpi=110)
        plt.close(figure)
        names.append(path.name)
    return names


def _stage_table(results: list) -> "object":
    from rich.table import Table

    table = Table(title=f"time per stage (mean of {len(results)} event(s))")
    for column in ("stage", "CPU s", "wall s"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    stages = list(dict.fromkeys(name for result in results for name in result.seconds))
    total_cpu = total_wall = 0.0
    for name in stages:
        cpu = sum(r.seconds.get(name, {}).get("cpu", 0.0) for r in results) / len(results)
        wall = sum(r.seconds.get(name, {}).get("wall", 0.0) for r in results) / len(results)
        total_cpu, total_wall = total_cpu + cpu, total_wall + wall
        table.add_row(name, f"{cpu:.3f}", f"{wall:.3f}")
    table.add_row("total", f"{total_cpu:.3f}", f"{total_wall:.3f}")
    return table


def track(
    events: Annotated[Path, typer.Argument(metavar="EVENT_PREFIX|FOLDER",
                                           help="an event prefix (data/event000000001, or one of its files) or a folder of events")],
    out: Annotated[Path, typer.Option("--out", parser=params.output_dir, help="folder for the submissions, metrics and plots")],
    model: Annotated[str, typer.Option("--model", help="'default' (the packaged model), a trackml_gnn run folder or an exported bundle")] = "default",
    refit: Annotated[bool, typer.Option("--refit/--no-refit", help="Kalman refit of the candidates (when the model has one)")] = True,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda (the GNN's device)")] = "cpu",
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="write plots for events with truth")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show a progress bar")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object on stdout")] = False,
) -> None:
    """Track events with a trained GNN pipeline: one TrackML submission per event; metrics and plots with truth."""
    from gnn4hep.pipelines.trackml_apply import TrackingPipeline, event_prefixes
    from gnn4hep.pipelines.trackml_bundle import resolve_model
    from gnn4hep.tracking.io import available_parts

    prefixes = event_prefixes(events)  # every input checked before anything is written
    names = [p.name for p in prefixes]
    if len(set(names)) != len(names):
        raise typer.BadParameter(f"{events}: two events share a name", param_hint="EVENT_PREFIX|FOLDER")
    pipeline = TrackingPipeline.from_model(resolve_model(model), device=device, refit=refit)
    for prefix in prefixes:  # a model needing cells without a no-cells variant: refused before anything is written
        pipeline.for_event(bool(available_parts(prefix, ("cells",))), prefix.name)
    created = _missing_folders(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        _track_events(pipeline, prefixes, out, plots, progress and not json_out, json_out, written)
    except BaseException:  # bad input found late (a damaged part file), Ctrl-C: this call leaves nothing behind
        for path in written:
            path.unlink(missing_ok=True)
        for folder in created:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _track_events(pipeline, prefixes: list[Path], out: Path, plots: bool, progress: bool, json_out: bool,
                  written: list[Path]) -> None:
    """Track every event, write its files (each one atomically, its path appended to ``written``), the
    summary, and print the tables."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from gnn4hep.cli.common import console, err_console, print_json, report
    from gnn4hep.tracking.evaluation.aggregate import combine_track_summaries
    from gnn4hep.utils.atomic import atomic_write_json, atomic_write_text

    device = pipeline.device
    summary: dict = {"model": str(pipeline.model.root), "model_kind": pipeline.model.kind, "device": device,
                     "stages": pipeline.stage_names, "events": {}}
    results, with_truth = [], []
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=err_console, disable=not progress, transient=False)
    with bar:
        task = bar.add_task("tracking", total=len(prefixes))
        for prefix in prefixes:
            bar.update(task, description=f"tracking {prefix.name}")
            event, result = pipeline.track_prefix(prefix)
            written.append(out / f"{result.name}-submission.csv")
            atomic_write_text(written[-1], result.labels[["hit_id", "track_id"]].to_csv(index=False))
            entry = {"submission": f"{result.name}-submission.csv", "variant": result.variant, "seconds": result.seconds,
                     **result.info}
            if event.truth is not None and event.particles is not None:
                metrics = _event_metrics(event, result)
                written.append(out / f"{result.name}-metrics.json")
                atomic_write_json(out / f"{result.name}-metrics.json", {"event": str(prefix), "pt_min": PT_MIN,
                                                                        "min_hits": MIN_HITS, **metrics})
                entry["metrics"] = metrics
                with_truth.append(metrics)
                if plots:
                    entry["plots"] = _plots(event, result, out, metrics, written)
            summary["events"][result.name] = entry
            results.append(result)
            bar.advance(task)
    if with_truth:
        summary["combined"] = combine_track_summaries(with_truth)
    written.append(out / "track_summary.json")
    atomic_write_json(written[-1], summary)
    if json_out:
        print_json(summary)
        return
    console.print(_stage_table(results))
    if with_truth:
        combined = summary["combined"]
        report(f"{len(with_truth)} event(s) with truth: pT > {PT_MIN:g} GeV, >= {MIN_HITS} hits (_all: any pT)", {
            "trackml_score": combined["trackml_score"],
            **{f"{k}": combined["pt_high"][k] for k in ("efficiency", "fake_rate", "duplicate_rate")},
            **{f"{k}_all": combined["all"][k] for k in ("efficiency", "fake_rate", "duplicate_rate")},
        }, json_out=False)
    console.print(f"{len(results)} submission(s) in {out}", markup=False, highlight=False)


def export_model(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a finished trackml_gnn-type run folder")],
    out_dir: Annotated[Path, typer.Argument(metavar="OUT_DIR", parser=params.output_dir, help="the bundle folder to create (absent or empty)")],
    no_cells: Annotated[Optional[Path], typer.Option("--no-cells", metavar="RUN_DIR",
                                                     help="run of the same pipeline without cluster features (needed when RUN_DIR uses them)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print bundle.json's summary as one JSON object")] = False,
) -> None:
    """Export a trained run as a model bundle: only what inference needs, bundle.json (SHA-256) and MODEL_CARD.md."""
    from gnn4hep.cli.common import report
    from gnn4hep.pipelines.trackml_bundle import MAX_BUNDLE_BYTES, export_model as export

    meta = export(run_dir, out_dir, no_cells_run=no_cells, max_bytes=MAX_BUNDLE_BYTES)
    report(f"model bundle {out_dir}", {"files": len(meta["files"]), "bytes": meta["total_bytes"],
                                       "uses_cells": meta["uses_cells"], "variants": ",".join(meta["variants"]) or "-",
                                       **meta["test_metrics"]}, json_out)


def register(app: typer.Typer) -> None:
    """Add the ``track`` and ``export-model`` commands to ``app``."""
    app.command("track")(track)
    app.command("export-model")(export_model)
