"""``gnn4hep run``: the experiment runner on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gnn4hep.cli.common import console


def register(app: typer.Typer) -> None:
    """Add ``run`` to the app."""

    @app.command()
    def run(
        config: Annotated[Optional[Path], typer.Argument(help="experiment YAML config")] = None,
        override: Annotated[
            Optional[list[str]], typer.Option("-o", "--override", help="key=value, e.g. -o trainer.max_epochs=2")
        ] = None,
        out: Annotated[Optional[Path], typer.Option("--out", help="run folder to create")] = None,
        runs_root: Annotated[Path, typer.Option(help="parent of default run folders")] = Path("runs"),
        resume: Annotated[Optional[Path], typer.Option(help="continue an unfinished run folder")] = None,
        data: Annotated[Optional[Path], typer.Option(
            "--data", help="real data: a folder of TrackML events (tracking: first n_train train, next n_test test), "
            "jets (jet experiments) or an event prefix (QUBO, score demo)")] = None,
        list_stages: Annotated[bool, typer.Option("--list-stages", help="list the known stages")] = False,
    ) -> None:
        """Run an experiment config; writes runs/<name>-<time>/ (or --out) with metrics and plots."""
        from gnn4hep.runner.registry import STAGES, load_stage_modules
        from gnn4hep.runner.run import run_experiment

        if list_stages:
            load_stage_modules()
            for name in sorted(STAGES):
                console.print(f"{name:24s} {STAGES[name].description}")
            return
        if config is None and resume is None:
            raise typer.BadParameter("give a CONFIG file (or --resume RUN)", param_hint="CONFIG")
        overrides = list(override or [])
        if data is not None:
            if config is None:
                raise typer.BadParameter("--data needs a CONFIG (a resumed run keeps its data)", param_hint="--data")
            if not data.exists() and not list(data.parent.glob(data.name + "-*")):
                raise typer.BadParameter(f"{data} does not exist", param_hint="--data")
            from gnn4hep.config.loading import data_override

            overrides.insert(0, data_override(config, data))
        run_dir = run_experiment(config, overrides, out=out, runs_root=runs_root, resume=resume)
        console.print(final_table(run_dir))
        console.print(f"run folder: {run_dir}  (summary.md, metrics.json, plots/)")


def final_table(run_dir: Path):
    """The run's headline figures and time per stage as one rich table (printed at the end of a run)."""
    import json

    import yaml
    from rich.table import Table

    from gnn4hep.runner.report import format_value, headline_rows

    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    stage_seconds = json.loads((run_dir / "run.json").read_text()).get("stage_seconds", {})
    rows = headline_rows(metrics, config)
    with_before = any(row.before_refit is not None for row in rows)
    table = Table(title=f"run {run_dir.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if with_before:
        table.add_column("before refit", justify="right")
    for row in rows:
        table.add_row(row.label, format_value(row.value), *([format_value(row.before_refit)] if with_before else []))
    table.add_section()
    for name, seconds in stage_seconds.items():
        table.add_row(f"time: {name}", f"{seconds:.1f} s", *([""] if with_before else []))
    table.add_row("time: all stages", f"{sum(stage_seconds.values()):.1f} s", *([""] if with_before else []))
    return table
