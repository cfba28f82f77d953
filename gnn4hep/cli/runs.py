"""``gnn4hep run``: the experiment runner on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gnn4hep.cli.common import console, metrics_table


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
        list_stages: Annotated[bool, typer.Option("--list-stages", help="list the known stages")] = False,
    ) -> None:
        """Run an experiment config; writes runs/<name>-<time>/ (or --out) with metrics and plots."""
        from gnn4hep.runner.registry import STAGES, load_stage_modules
        from gnn4hep.runner.run import run_experiment
        import json

        if list_stages:
            load_stage_modules()
            for name in sorted(STAGES):
                console.print(f"{name:24s} {STAGES[name].description}")
            return
        if config is None and resume is None:
            raise typer.BadParameter("give a CONFIG file (or --resume RUN)", param_hint="CONFIG")
        run_dir = run_experiment(config, override or [], out=out, runs_root=runs_root, resume=resume)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        flat = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
        if flat:
            console.print(metrics_table(f"run {run_dir.name}", flat))
        console.print(f"run folder: {run_dir}")
