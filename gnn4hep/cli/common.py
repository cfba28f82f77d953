"""Shared pieces of CLI commands: JSON output and tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gnn4hep.utils.atomic import to_builtin

console = Console(stderr=False)
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (what ``--json`` flags emit)."""
    sys.stdout.write(json.dumps(to_builtin(obj)) + "\n")
    sys.stdout.flush()


def metrics_table(title: str, values: dict[str, Any]) -> Table:
    """A two-column rich table of metric name -> value; the title, names and values are plain text."""
    table = Table(title=escape(title))  # plain text: a path such as runs/[/x] is not markup
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in values.items():  # escaped: a value such as "[0.1, 0.2]" is text, not rich markup
        table.add_row(escape(str(key)), escape(f"{value:.6g}" if isinstance(value, float) else str(value)))
    return table


def report(title: str, values: dict[str, Any], json_out: bool, hide: tuple[str, ...] = ()) -> None:
    """A command's figures: one JSON object on stdout with ``--json`` (all of ``values``), else a
    :func:`metrics_table` without the keys in ``hide``."""
    if json_out:
        print_json(values)
    else:
        console.print(metrics_table(title, {k: v for k, v in values.items() if k not in hide}))


@contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """Turn a SubmissionError (a table that does not fit its event: scoring code never sees file
    names) raised inside the block into an InputFileError naming ``path``."""
    from gnn4hep.errors import InputFileError, SubmissionError

    try:
        yield
    except SubmissionError as exc:
        raise InputFileError(path, str(exc)) from None
