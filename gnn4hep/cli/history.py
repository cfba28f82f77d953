"""``gnn4hep runs list`` and ``gnn4hep runs show RUN``: past runs, read from their run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gnn4hep.cli.common import console, metrics_table, print_json

CHECKPOINT_SUFFIXES = (".pt", ".ckpt", ".pth")
RootOption = Annotated[Path, typer.Option("--root", help="folder holding the run folders")]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]


def _when(record) -> str:
    return record.started.strftime("%Y-%m-%d %H:%M") if record.started else "-"


def _print_wide(renderable) -> None:
    """Print a table without squeezing it to 80 columns when stdout is a pipe or file."""
    from rich.console import Console

    (console if console.is_terminal else Console(width=max(console.width, 200))).print(renderable)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _commit(record) -> str:
    if not record.commit:
        return "-"
    return record.commit[:8] + ("*" if record.dirty else "")


def _size(n_bytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return ""


def run_files(folder: Path) -> dict[str, list[str]]:
    """Files of a run folder by kind: plots (PNG), checkpoints, other top-level files, sub-folders
    (one entry each with its file count and size)."""
    files: dict[str, list[str]] = {"plots": [], "checkpoints": [], "files": [], "folders": []}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(folder)
        if path.suffix == ".png":
            files["plots"].append(str(relative))
        elif path.suffix in CHECKPOINT_SUFFIXES and (relative.parts[0] == "checkpoints" or len(relative.parts) == 1):
            files["checkpoints"].append(str(relative))
        elif len(relative.parts) == 1:
            files["files"].append(str(relative))
    listed = set(files["plots"]) | set(files["checkpoints"])
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        rest = [p for p in sub.rglob("*") if p.is_file() and str(p.relative_to(folder)) not in listed]
        if rest:
            files["folders"].append(f"{sub.name}/ ({len(rest)} files, {_size(sum(p.stat().st_size for p in rest))})")
    return files


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def _config_lines(config: dict[str, Any]) -> list[str]:
    """One line per config section: ``section: key=value, ...``; top-level values first."""
    top = [f"{k}={v}" for k, v in config.items() if not isinstance(v, dict) and k != "description"]
    lines = ["  " + ", ".join(top)] if top else []
    for section, values in config.items():
        if isinstance(values, dict):
            lines.append(f"  {section}: " + ", ".join(f"{k}={v}" for k, v in _flatten(values).items()))
    return lines


def register(app: typer.Typer) -> None:
    """Add the ``runs`` command group (list, show) to the app."""
    runs_app = typer.Typer(help="Past runs: list them, show one.", no_args_is_help=True)
    app.add_typer(runs_app, name="runs")

    @runs_app.command("list")
    def list_(
        root: RootOption = Path("runs"),
        json_out: JsonOption = False,
    ) -> None:
        """Table of the runs under ROOT, newest first: status, start (UTC), stage time, commit, key metrics."""
        from rich import box
        from rich.markup import escape
        from rich.table import Table

        from gnn4hep.runner.history import list_runs

        if root.exists() and not root.is_dir():
            raise typer.BadParameter(f"{root} is a file, not a folder of runs", param_hint="--root")
        records = list_runs(root) if root.is_dir() else []
        if json_out:
            print_json({"root": str(root), "exists": root.is_dir(), "runs": [r.to_dict() for r in records]})
            return
        if not records:
            why = "the folder holds no run folders" if root.is_dir() else "the folder does not exist yet"
            console.print(f"no runs in {root} ({why}; `gnn4hep run CONFIG` makes one, --root picks another folder)",
                          markup=False, highlight=False, soft_wrap=True)
            return
        table = Table(title=f"runs in {escape(str(root))} (newest first; start in UTC; time: sum of stage times; "
                            "commit*: uncommitted changes)", box=box.SIMPLE_HEAD)  # fmt: skip
        for column in ("run", "experiment", "status", "started", "time", "commit", "key metrics"):
            table.add_column(column, justify="right" if column == "time" else "left", no_wrap=column != "key metrics")
        styles = {"finished": "green", "partial": "yellow", "failed": "red"}
        for r in records:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in list(r.key_metrics.items())[:3]) or "-"
            if r.problems:
                shown += f" [red](! {len(r.problems)} problem{'s' if len(r.problems) > 1 else ''})[/]"
            status = f"[{styles.get(r.status, 'white')}]{r.status}[/]"
            table.add_row(escape(r.path.name), escape(r.experiment or "-"), status, _when(r), _duration(r.seconds),
                          _commit(r), shown)  # fmt: skip
        _print_wide(table)

    @runs_app.command("show")
    def show(
        run: Annotated[str, typer.Argument(help="run folder path, or its name under --root")],
        root: RootOption = Path("runs"),
        json_out: JsonOption = False,
    ) -> None:
        """Provenance, config, metrics and files of one run."""
        from rich.markup import escape

        from gnn4hep.runner.history import find_run, read_run

        record = read_run(find_run(run, root))
        files = run_files(record.path)
        if json_out:
            print_json({**record.to_dict(), "config": record.config, "metrics": record.metrics,
                        "packages": record.info.get("packages"), "machine": record.info.get("machine"),
                        "overrides": record.info.get("overrides"), "files": files})  # fmt: skip
            return
        facts = {
            "experiment": record.experiment or "-",
            "status": record.status,
            "folder": str(record.path),
            "started (UTC)": _when(record),
            "finished (UTC)": record.finished.strftime("%Y-%m-%d %H:%M:%S") if record.finished else "-",
            "stage time": _duration(record.seconds),
            "seed": record.seed,
            "git commit": (record.commit or "-") + (" (uncommitted changes)" if record.dirty else ""),
            "config file": record.info.get("config_file") or "-",
            "overrides": " ".join(record.info.get("overrides") or []) or "-",
            "stages done": ", ".join(record.completed_stages) or "-",
        }
        _print_wide(metrics_table(f"run {record.name}", {k: str(v) for k, v in facts.items()}))
        for problem in record.problems:
            console.print(f"[red]problem:[/] {escape(problem)}", highlight=False, soft_wrap=True)
        if record.status != "finished":
            console.print(f"continue it with: gnn4hep run --resume {record.path}", markup=False, highlight=False, soft_wrap=True)
        sections: list[tuple[str, list[str]]] = [("config", _config_lines(record.config))]
        packages, machine = record.info.get("packages") or {}, record.info.get("machine") or {}
        if packages or machine:
            installed = ", ".join(f"{k} {v}" for k, v in packages.items() if v)
            sections.append(("versions", [f"  python {machine.get('python', '?')} on {machine.get('platform', '?')}; {installed}"]))
        if record.metrics:
            flat = {k: v if isinstance(v, float) else str(v) for k, v in _flatten(record.metrics).items()}
            _print_wide(metrics_table("metrics", flat))
        sections += [(kind, [f"  {name}" for name in files[kind]]) for kind in ("plots", "checkpoints", "files", "folders")]
        for title, lines in sections:
            if lines:
                console.print(f"[bold]{title}[/]")
                console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
