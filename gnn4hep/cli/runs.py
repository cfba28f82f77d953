"""``gnn4hep run``: the experiment runner on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gnn4hep.cli import params
from gnn4hep.cli.common import console


def register(app: typer.Typer) -> None:
    """Add ``run`` to the app."""

    @app.command()
    def run(
        config: Annotated[Optional[Path], typer.Argument(help="experiment YAML config")] = None,
        override: Annotated[
            Optional[list[str]], typer.Option("-o", "--override", help="key=value, e.g. -o trainer.max_epochs=2")
        ] = None,
        out: Annotated[Optional[Path], typer.Option("--out", parser=params.output_dir, help="run folder to create")] = None,
        runs_root: Annotated[Path, typer.Option(parser=params.output_dir, help="parent of default run folders")] = Path("runs"),
        resume: Annotated[Optional[Path], typer.Option(help="continue an unfinished run folder")] = None,
        data: Annotated[Optional[Path], typer.Option(
            "--data", help="real data: a folder (or zip) of TrackML events (tracking: first n_train train, next n_test test), "
            "jets (jet experiments) or an event prefix or one of its files (QUBO, score demo)")] = None,
        list_stages: Annotated[bool, typer.Option(
            "--list-stages", help="list the stages CONFIG (or the --resume run) would run, in order; "
            "without either, every known stage")] = False,
    ) -> None:
        """Run an experiment config; writes runs/<name>-<time>/ (or --out) with metrics and plots."""
        from gnn4hep.runner.run import run_experiment

        overrides = list(override or [])
        if data is not None:
            if config is None:
                raise typer.BadParameter("--data needs a CONFIG (a resumed run keeps its data)", param_hint="--data")
            from gnn4hep.config.loading import data_override

            key_value = data_override(config, data)
            overrides.insert(0, key_value.split("=", 1)[0] + "=" + str(check_data(config, key_value.split("=", 1)[0], data)))
        if list_stages:
            print_stages(config, overrides, resume)
            return
        if config is None and resume is None:
            raise typer.BadParameter("give a CONFIG file (or --resume RUN)", param_hint="CONFIG")
        if resume is not None:
            check_resume(resume)
        run_dir = run_experiment(config, overrides, out=out, runs_root=runs_root, resume=resume)
        console.print(final_table(run_dir))
        console.print(f"run folder: {run_dir}  (summary.md, metrics.json, plots/)", markup=False, highlight=False)


def print_stages(config: Optional[Path], overrides: list[str], resume: Optional[Path]) -> None:
    """Print the stages of ``config`` (with ``overrides``) or of the ``resume`` run in order, one per
    line (``n. name  description``; a resumed run marks the stages already done); without either, every
    known stage in alphabetical order."""
    from gnn4hep.runner.registry import STAGES, load_stage_modules
    from gnn4hep.runner.run import resolve_config

    load_stage_modules()
    if config is None and resume is None:
        for name in sorted(STAGES):
            console.print(f"{name:24s} {STAGES[name].description}", markup=False, highlight=False, soft_wrap=True)
        return
    done: list[str] = []
    if config is not None:
        source, names = config, resolve_config(config, overrides).stages
    else:
        from gnn4hep.runner.run import load_state, staging_dir_for

        staging = resume if resume.name.endswith(".partial") else staging_dir_for(resume)
        if not (staging / "config.yaml").is_file():
            raise typer.BadParameter(f"{resume}: no unfinished run there", param_hint="--resume")
        source, names = resume, resolve_config(staging / "config.yaml", overrides).stages
        done = list(load_state(staging).get("completed", []))
    console.print(f"stages of {source}:", markup=False, highlight=False, soft_wrap=True)
    for number, name in enumerate(names, 1):
        mark = " (done)" if name in done else ""
        console.print(f"{number:2d}. {name:22s} {STAGES[name].description}{mark}", markup=False, highlight=False, soft_wrap=True)


def check_resume(resume: Path) -> None:
    """The state file of an unfinished run must be a JSON mapping with a list of completed stages; a
    damaged one is an option error naming the file (the runner would stop with a JSON traceback)."""
    import json

    from gnn4hep.runner.run import STATE_FILE, staging_dir_for

    staging = resume if resume.name.endswith(".partial") else staging_dir_for(resume)
    state = staging / STATE_FILE
    if not staging.is_dir() or not state.exists():
        return  # the runner says there is no unfinished run there
    try:
        doc = json.loads(state.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise typer.BadParameter(f"{state}: damaged run state, not JSON ({exc})", param_hint="--resume") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("completed"), list) and isinstance(doc.get("stage_seconds"), dict)
            and all(isinstance(name, str) for name in doc["completed"])):
        raise typer.BadParameter(f"{state}: damaged run state (expected a mapping with a 'completed' list of stage "
                                 "names and a 'stage_seconds' mapping)", param_hint="--resume")


#: What ``--data`` must be for each config section it can fill (see gnn4hep.config.loading.DATA_KEYS).
JET_SUFFIXES = (".h5", ".hdf5", ".npz", ".root")


def check_data(config: Path, key: str, data: Path) -> Path:
    """Check ``--data`` against what the config section ``key`` expects, before any run folder exists:
    an event prefix (a part's file name is turned into its prefix), a folder or zip of TrackML events,
    or a jet file/folder. Returns the path to put in the config."""
    from gnn4hep.config.loading import load_yaml
    from gnn4hep.tracking.io import list_events

    if key != "data.path":
        try:
            return params.event_prefix(data)
        except typer.BadParameter as exc:
            raise typer.BadParameter(str(exc), param_hint="--data") from None
    stages = load_yaml(config).get("stages") or []
    if not data.exists() and not any(data.parent.glob(params.glob_escape(data.name) + "_*.npy")):
        raise typer.BadParameter(f"{data} does not exist", param_hint="--data")
    if any(str(stage).startswith("jets") for stage in stages):
        if data.is_file() and data.suffix.lower() not in JET_SUFFIXES:
            raise typer.BadParameter(f"{data} is not a jet file ({', '.join(JET_SUFFIXES)}) or folder", param_hint="--data")
        return data
    from gnn4hep.errors import InputFileError

    try:
        names = list_events(data)
    except InputFileError as exc:  # a file that is not a zip
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    if not names:
        raise typer.BadParameter(f"{data} holds no TrackML event files (eventNNNNNNNNN-hits.csv[.gz], ...)", param_hint="--data")
    return data


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
    from rich.markup import escape

    table = Table(title=escape(f"run {run_dir.name}"))
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
