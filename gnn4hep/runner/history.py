"""Read past run folders back: what ``gnn4hep runs list`` and ``gnn4hep runs show`` print.

A run folder is what :func:`gnn4hep.runner.run.run_experiment` leaves: ``run.json`` (provenance:
name, seed, start/finish time in UTC ISO format, git commit, package versions, stage seconds),
``config.yaml`` (the resolved config), ``metrics.json``, ``summary.md``, ``log.txt``, plots and
checkpoints. An unfinished run is the hidden staging folder ``.<name>.partial`` (with
``state.json``); one that stopped on an exception has "run failed" in its log.

Reading never raises on a damaged folder: missing or corrupt files become entries of
:attr:`RunRecord.problems`, so one bad folder cannot hide the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from gnn4hep.errors import Gnn4hepError

#: Metrics shown in the run table, looked up at the top level of metrics.json, then one level down
#: (e.g. ``pfn.auc`` for the jet experiments, which log one section per model).
KEY_METRICS: tuple[str, ...] = ("trackml_score", "edge_auc", "auc")
PARTIAL_SUFFIX = ".partial"
_RUN_FILES = ("run.json", "config.yaml", "state.json", "metrics.json")


@dataclass
class RunRecord:
    """What a run folder says about its run (fields are None when the folder does not say)."""

    path: Path
    name: str
    status: str  # "finished", "partial" (killed or still running) or "failed"
    experiment: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    seconds: float | None = None  # sum of the completed stages' times
    seed: int | None = None
    commit: str | None = None
    dirty: bool | None = None
    info: dict[str, Any] = field(default_factory=dict)  # run.json as written
    config: dict[str, Any] = field(default_factory=dict)  # config.yaml as written
    metrics: dict[str, Any] = field(default_factory=dict)
    completed_stages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def key_metrics(self) -> dict[str, float]:
        """The :data:`KEY_METRICS` found in metrics.json, as ``{"name" or "section.name": value}``."""
        found: dict[str, float] = {}
        for key in KEY_METRICS:
            if _is_number(self.metrics.get(key)):
                found[key] = float(self.metrics[key])
        for section, values in self.metrics.items():
            if isinstance(values, dict):
                for key in KEY_METRICS:
                    if _is_number(values.get(key)) and key not in found:
                        found[f"{section}.{key}"] = float(values[key])
        return found

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``--json`` prints)."""
        return {
            "path": str(self.path),
            "name": self.name,
            "status": self.status,
            "experiment": self.experiment,
            "started": self.started.isoformat() if self.started else None,
            "finished": self.finished.isoformat() if self.finished else None,
            "seconds": self.seconds,
            "seed": self.seed,
            "commit": self.commit,
            "dirty": self.dirty,
            "key_metrics": self.key_metrics,
            "completed_stages": self.completed_stages,
            "problems": self.problems,
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read(path: Path, problems: list[str], parse) -> Any:
    """Parsed content of ``path``, or None with a line added to ``problems`` (never raises)."""
    if not path.is_file():
        return None
    try:
        return parse(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: unreadable ({exc.__class__.__name__}: {exc})")
    return None


def _mapping(value: Any, name: str, problems: list[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{name}: expected a mapping, found {type(value).__name__}")
        return {}
    return value


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def is_run_folder(path: Path) -> bool:
    """True for a folder the runner made (a finished run or a ``.<name>.partial`` staging folder)."""
    return path.is_dir() and (path.name.endswith(PARTIAL_SUFFIX) or any((path / f).is_file() for f in _RUN_FILES))


def read_run(path: str | Path) -> RunRecord:
    """Read one run folder; damaged or missing files are listed in ``problems``."""
    path = Path(path)
    if not path.is_dir():
        raise Gnn4hepError(f"{path}: no such run folder")
    if not is_run_folder(path):
        raise Gnn4hepError(f"{path}: not a run folder (no run.json, config.yaml, state.json or metrics.json)")
    partial = path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX)
    name = path.name[1 : -len(PARTIAL_SUFFIX)] if partial else path.name
    problems: list[str] = []
    info = _mapping(_read(path / "run.json", problems, json.loads), "run.json", problems)
    config = _mapping(_read(path / "config.yaml", problems, yaml.safe_load), "config.yaml", problems)
    metrics = _mapping(_read(path / "metrics.json", problems, json.loads), "metrics.json", problems)
    state = _mapping(_read(path / "state.json", problems, json.loads), "state.json", problems)
    for needed in ("run.json", "config.yaml"):
        if not (path / needed).is_file():
            problems.append(f"{needed}: missing")
    status = "partial" if partial else "finished"  # only a complete run is renamed out of staging
    log = path / "log.txt"
    if status == "partial" and log.is_file() and "run failed" in log.read_text(encoding="utf-8", errors="replace"):
        status = "failed"
    stage_seconds = state.get("stage_seconds") or info.get("stage_seconds") or {}
    seconds = [v for v in stage_seconds.values() if _is_number(v)] if isinstance(stage_seconds, dict) else []
    git = info.get("git") if isinstance(info.get("git"), dict) else {}
    completed = state.get("completed") if partial else config.get("stages")
    return RunRecord(
        path=path,
        name=name,
        status=status,
        experiment=info.get("name") or config.get("name"),
        started=_time(info.get("started")),
        finished=_time(info.get("finished")),
        seconds=float(sum(seconds)) if seconds else None,
        seed=info.get("seed", config.get("seed")),
        commit=git.get("commit"),
        dirty=git.get("dirty"),
        info=info,
        config=config,
        metrics=metrics,
        completed_stages=[str(s) for s in completed] if isinstance(completed, list) else [],
        problems=problems,
    )


def list_runs(root: str | Path = "runs") -> list[RunRecord]:
    """Every run folder directly under ``root`` (finished and unfinished), newest first."""
    root = Path(root)
    if not root.is_dir():
        raise Gnn4hepError(f"{root}: no such runs folder (give --root)")
    records = [read_run(p) for p in sorted(root.iterdir()) if is_run_folder(p)]

    def newest_first(record: RunRecord) -> float:
        return record.started.timestamp() if record.started else record.path.stat().st_mtime

    return sorted(records, key=newest_first, reverse=True)


def find_run(run: str | Path, root: str | Path = "runs") -> Path:
    """The folder of ``run``: a path, a folder name under ``root``, or the name of an unfinished run."""
    given, root = Path(run), Path(root)
    for candidate in (given, root / given, root / f".{given.name}{PARTIAL_SUFFIX}"):
        if candidate.is_dir():
            return candidate
    names = sorted(p.name for p in root.iterdir() if is_run_folder(p)) if root.is_dir() else []
    matches = [n for n in names if n.startswith(str(run)) or n.startswith(f".{run}")]
    hint = f"; runs starting with '{run}': {', '.join(matches)}" if matches else ""
    raise Gnn4hepError(f"{run}: no run folder of that name or path (looked in {root}){hint}")
