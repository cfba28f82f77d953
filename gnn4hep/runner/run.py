"""Run an experiment config: validate, create the run folder, run the stages, record provenance.

The run is built in a hidden staging folder ``.<name>.partial`` next to its final place and renamed
into place only when every stage has finished, so a finished run folder is always complete; a killed
or failed run leaves only the staging folder (with its log), which ``--resume`` continues.

Resuming gives the run an uninterrupted one would have given (docs/architecture.md, "Runs and
resume"): stages hand each other files in the run folder only, never objects in memory; every stage
starts from the global random state ``seed_everything(seed)``, whichever stages ran before it in
this process; and ``state.json`` keeps, besides the completed stages, the plots and summary tables
they added, so the resumed run's ``summary.md`` lists them too.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gnn4hep.config.loading import apply_overrides, load_yaml
from gnn4hep.config.schema import validate_config
from gnn4hep.errors import ConfigError, Gnn4hepError
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import get_stage, section_fields
from gnn4hep.runner.report import headline_markdown, headline_rows
from gnn4hep.utils.atomic import atomic_write_json, atomic_write_text, atomic_write_yaml
from gnn4hep.utils.provenance import git_state, machine_info, package_versions, seed_everything

STATE_FILE = "state.json"


def resolve_config(config_path: str | Path, overrides: list[str] | None = None):
    """Load, override and validate a config; returns the validated pydantic model."""
    raw = apply_overrides(load_yaml(config_path), list(overrides or []))
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
        raise ConfigError(f"{config_path}: key 'stages' must be a non-empty list of stage names (got {stages!r})")
    try:
        sections = section_fields(stages)
    except ConfigError as exc:  # unknown stage: say which file names it
        raise ConfigError(f"{config_path}: {exc}") from None
    return validate_config(raw, sections, str(config_path))


def _make_logger(run_dir: Path) -> logging.Logger:
    logger = logging.getLogger(f"gnn4hep.run.{run_dir.name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    file_handler = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(file_handler)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    logger.addHandler(console)
    return logger


def _close_logger(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)


def staging_dir_for(final_dir: Path) -> Path:
    """The hidden folder a run is built in before it is renamed to ``final_dir``."""
    return final_dir.parent / f".{final_dir.name}.partial"


def final_dir_for(staging_dir: Path) -> Path:
    """Inverse of :func:`staging_dir_for`."""
    name = staging_dir.name
    if not (name.startswith(".") and name.endswith(".partial")):
        raise ConfigError(f"{staging_dir}: not an unfinished run folder (.<name>.partial)")
    return staging_dir.parent / name[1 : -len(".partial")]


def write_summary(ctx: RunContext, run_info: dict[str, Any]) -> None:
    """Write the human-readable ``summary.md``."""
    lines = [f"# Run {ctx.config.name}", ""]
    if ctx.config.description:
        lines += [ctx.config.description, ""]
    lines += [
        f"- started: {run_info['started']}",
        f"- finished: {run_info.get('finished', '')}",
        f"- seed: {ctx.seed}",
        f"- git commit: {run_info['git'].get('commit')} (dirty: {run_info['git'].get('dirty')})",
        f"- stages: {', '.join(ctx.config.stages)}",
        "",
        headline_markdown(headline_rows(ctx.metrics, ctx.config.model_dump(mode="json")), run_info["stage_seconds"]),
        "",
        "## All metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]

    def flatten(prefix: str, value: Any):
        if isinstance(value, dict):
            for key, sub in value.items():
                yield from flatten(f"{prefix}.{key}" if prefix else str(key), sub)
        else:
            yield prefix, value

    for key, value in flatten("", ctx.metrics):
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    lines += ["", "## Time per stage", "", "| stage | seconds |", "| --- | --- |"]
    for name, seconds in run_info["stage_seconds"].items():
        lines.append(f"| {name} | {seconds:.2f} |")
    for table in ctx.summary_tables:
        lines += ["", table]
    if ctx.figures:
        lines += ["", "## Plots", ""] + [f"![{Path(f).stem}]({f})" for f in ctx.figures]
    atomic_write_text(ctx.path("summary.md"), "\n".join(lines) + "\n")


def run_experiment(
    config_path: str | Path | None = None,
    overrides: list[str] | None = None,
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    resume: str | Path | None = None,
) -> Path:
    """Run a config and return the finished run folder.

    Args:
        config_path: the YAML config (not needed with ``resume``).
        overrides: ``key=value`` strings applied on top of the file.
        out: the run folder to create (default ``<runs_root>/<name>-<UTC time>``); must not exist.
        runs_root: where default run folders go.
        resume: an unfinished run's staging folder (or its final name): completed stages are
            skipped, the config is the one recorded in it.
    """
    if resume is not None:
        staging = Path(resume)
        if not staging.name.endswith(".partial"):
            staging = staging_dir_for(staging)
        if not staging.is_dir():
            raise ConfigError(f"{resume}: no unfinished run to resume there")
        config = resolve_config(staging / "config.yaml", overrides)
        final = final_dir_for(staging)
        state = load_state(staging)
    else:
        if config_path is None:
            raise ConfigError("a config file is needed (or --resume RUN)")
        config = resolve_config(config_path, overrides)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        final = Path(out) if out else Path(runs_root) / f"{config.name}-{stamp}"
        if final.exists():
            raise ConfigError(f"{final}: run folder already exists; choose another --out")
        staging = staging_dir_for(final)
        if staging.exists():
            raise ConfigError(f"{staging}: an unfinished run is there; continue it with --resume {staging}")
        staging.mkdir(parents=True)
        state = load_state(staging)
    for name in config.stages:
        get_stage(name)

    resolved = config.model_dump(mode="json")
    atomic_write_yaml(staging / "config.yaml", resolved)
    run_info: dict[str, Any] = {
        "name": config.name,
        "seed": config.seed,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "config_file": str(config_path) if config_path else None,
        "overrides": list(overrides or []),
        "git": git_state(),
        "packages": package_versions(),
        "machine": machine_info(),
        "stage_seconds": state["stage_seconds"],
    }
    previous = _previous_run_info(staging) if resume is not None else {}
    if previous.get("started"):  # a resumed run keeps its start, provenance and commands, and lists each resume
        run_info["started"] = previous["started"]
        run_info["command"] = previous.get("command", run_info["command"])
        run_info["resumed"] = previous.get("resumed", []) + [
            {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": sys.argv, "git": run_info["git"]}]
        run_info["git"] = previous.get("git", run_info["git"])
    atomic_write_json(staging / "run.json", run_info)

    logger = _make_logger(staging)
    ctx = RunContext(run_dir=staging, config=config, seed=config.seed, logger=logger,
                     figures=list(state["figures"]), summary_tables=list(state["summary_tables"]))
    metrics_path = staging / "metrics.json"
    if metrics_path.exists():
        ctx.metrics = json.loads(metrics_path.read_text())
    try:
        for index, name in enumerate(config.stages):
            if name in state["completed"]:
                logger.info(f"[{index + 1}/{len(config.stages)}] {name}: already done, skipped")
                continue
            logger.info(f"[{index + 1}/{len(config.stages)}] {name}")
            seed_everything(config.seed)  # a stage's randomness never depends on which stages ran before it here
            start = time.perf_counter()
            get_stage(name).func(ctx)
            state["stage_seconds"][name] = time.perf_counter() - start
            state["completed"].append(name)
            state["figures"], state["summary_tables"] = list(ctx.figures), list(ctx.summary_tables)
            atomic_write_json(staging / STATE_FILE, state)
            atomic_write_json(staging / "run.json", run_info)
        run_info["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        atomic_write_json(staging / "run.json", run_info)
        if not metrics_path.exists():
            atomic_write_json(metrics_path, {})
        write_summary(ctx, run_info)
    except BaseException as exc:
        # bad input (Gnn4hepError) and Ctrl-C reach the console as the CLI's one-line message; their traceback only goes to log.txt
        logger.error("run failed:\n" + traceback.format_exc(), extra={"file_only": isinstance(exc, (Gnn4hepError, KeyboardInterrupt))})
        logger.error(f"the unfinished run is in {staging}; continue it with --resume {staging}")
        _close_logger(logger)
        raise
    _close_logger(logger)
    (staging / STATE_FILE).unlink(missing_ok=True)
    os.replace(staging, final)
    return final


def _previous_run_info(staging: Path) -> dict[str, Any]:
    """The run.json an unfinished run wrote before it stopped ({} when absent or unreadable)."""
    try:
        info = json.loads((staging / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def load_state(staging: Path) -> dict[str, Any]:
    """What an unfinished run has done: ``completed`` stages, ``stage_seconds``, and the ``figures``
    and ``summary_tables`` those stages added (for summary.md)."""
    path = staging / STATE_FILE
    state = json.loads(path.read_text()) if path.exists() else {}
    for key, empty in (("completed", []), ("stage_seconds", {}), ("figures", []), ("summary_tables", [])):
        state.setdefault(key, empty)
    return state
