"""Typed command-line values: one parser per kind of number or path, shared by every command.

Each parser turns the option's text into a value or raises ``typer.BadParameter``, which the CLI prints
as one line naming the option (``error: Invalid value for '--error-scale': 0 is not > 0``) with exit
code 2, before the command does any work. Commands declare options with these parsers instead of
checking values in their bodies, so a new option gets the same checks:

* numbers are finite (no ``nan``/``inf``) and lie in a declared range (:func:`number`);
* integers fit the declared range, which is never wider than int64 (:func:`integer`);
* output files and folders are checked before work starts (:func:`output_file`, :func:`output_dir`):
  not a folder where a file is expected (and the reverse), no file in the way of a parent folder,
  and the nearest existing parent accepts a new file;
* input files exist and are files (:func:`input_file`), input event prefixes may be given as a part's
  file name (:func:`event_prefix`).

The error printer that turns these into one line is :mod:`gnn4hep.cli.errors`.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import typer

INT64_MAX = 2**63 - 1
SEED_MAX = 2**31 - 1  # numpy, torch, and Pythia's derived seeds all take it


def number(low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False) -> Callable[[str], float]:
    """A parser of finite floats in [low, high] (``low_open``/``high_open``: the bound is excluded)."""

    def parse(text: str | float) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise typer.BadParameter(f"{text!r} is not a finite number")
        if low is not None and (value < low or (low_open and value == low)):
            raise typer.BadParameter(f"{text} is not {'>' if low_open else '>='} {low:g}")
        if high is not None and (value > high or (high_open and value == high)):
            raise typer.BadParameter(f"{text} is not {'<' if high_open else '<='} {high:g}")
        return value

    parse.__name__ = "number"
    return parse


def integer(low: int = 0, high: int = INT64_MAX) -> Callable[[str], int]:
    """A parser of integers in [low, high] (``high`` at most int64's largest value)."""
    high = min(high, INT64_MAX)

    def parse(text: str | int) -> int:
        if isinstance(text, int):
            value = text
        else:
            try:
                value = int(str(text).strip(), 10)
            except ValueError:
                raise typer.BadParameter(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise typer.BadParameter(f"{text} is not in the range {low} to {high}")
        return value

    parse.__name__ = "integer"
    return parse


positive_float = number(0.0, low_open=True)
non_negative_float = number(0.0)
fraction = number(0.0, 1.0)
positive_int = integer(1)
non_negative_int = integer(0)
seed = integer(0, SEED_MAX)
workers = integer(1, 1024)


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_parent(path: Path) -> None:
    """Raise ``typer.BadParameter`` unless the folders above ``path`` can be created and accept files.

    A file in place of a parent folder, or a folder that refuses a new file, is reported now, before
    any work. The test writes and removes one empty temporary file (``os.access`` is not enough: it
    says yes to root, and no to nothing on read-only mounts)."""
    anchor = _nearest_existing(path.parent if str(path.parent) else Path("."))
    if not anchor.is_dir():
        raise typer.BadParameter(f"{path}: {anchor} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=anchor, prefix=".gnn4hep-write-test-")
    except OSError as exc:
        raise typer.BadParameter(f"{path}: cannot create files in {anchor} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def output_file(text: str | Path) -> Path:
    """An output file path: not an existing folder, writable parent (see :func:`check_writable_parent`)."""
    path = Path(text)
    if not str(text).strip():
        raise typer.BadParameter("empty path")
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; give a file name")
    check_writable_parent(path)
    return path


def output_dir(text: str | Path) -> Path:
    """An output folder path: not an existing file, writable (or creatable) folder."""
    path = Path(text)
    if not str(text).strip():
        raise typer.BadParameter("empty path")
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{path} is a file; give a folder")
    check_writable_parent(path / "x")
    return path


def input_file(text: str | Path) -> Path:
    """An existing, readable input file (not a folder)."""
    path = Path(text)
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; give a file")
    if not path.is_file():
        raise typer.BadParameter(f"{path}: file not found")
    if not os.access(path, os.R_OK):
        raise typer.BadParameter(f"{path}: file not readable")
    return path


_PART_FILE = re.compile(r"^(?P<prefix>.*event\d+)-(?:hits|cells|particles|truth)\.csv(?:\.gz)?$")


def event_prefix(text: str | Path) -> Path:
    """A TrackML event prefix (``data/event000000001``), also given as one of its files
    (``data/event000000001-hits.csv.gz``); at least one of its files must exist."""
    path = Path(text)
    match = _PART_FILE.match(path.name)
    if match:
        path = path.with_name(match.group("prefix"))
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; give an event prefix such as {path / 'event000000001'}")
    if not re.search(r"event\d+$", path.name):
        raise typer.BadParameter(f"{text}: an event prefix ends with 'eventNNNNNNNNN' (or give one of its -hits.csv[.gz] files)")
    if not any(path.parent.glob(glob_escape(path.name) + "-*.csv*")):
        raise typer.BadParameter(f"{path}: no event files {path.name}-<part>.csv[.gz] there")
    return path


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters (``*?[``) taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)
