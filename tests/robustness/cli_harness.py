"""Machinery of the CLI-wide bad-input harness (tests/robustness/test_cli_harness.py).

A :class:`Template` is the valid command line of one command, with its file arguments as slots:
``In(kind, name)`` (an input of a kind such as ``event`` or ``submission``, ``name`` a file of the shared
valid inputs) and ``Out(kind)`` (an output file or folder, placed in the case's own scratch folder).
The harness derives its cases from the templates and from the command's parameters read off the typer
app, so a new command or option gets cases without anyone writing them:

* every int/float option gets non-numbers, nan, +-inf, negatives and values past int64;
* every input slot gets missing paths, folders where files are expected, and corrupted files of its kind;
* every output slot gets a folder where a file is expected (and the reverse), a file in place of a
  parent folder and an unwritable place.

:func:`run_cli` runs ``gnn4hep.cli.main.main`` in-process and returns what the user would see.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import typer.main

from gnn4hep.cli.main import app, main

#: Folder names with the characters that broke commands before: spaces, brackets read as rich markup,
#: parentheses and non-ASCII letters. Every input and output of the harness lives under such names.
ODD = "odd [/x] (ü) dir"


@dataclass(frozen=True)
class In:
    """An input argument: ``kind`` picks the corruptions, ``name`` the valid file in the inputs."""

    kind: str
    name: str
    missing_ok: bool = False  # a missing path is valid here (e.g. `runs list --root` of no runs yet)


@dataclass(frozen=True)
class Out:
    """An output argument: ``kind`` is ``file`` or ``dir``; ``name`` its valid name in the scratch folder."""

    kind: str
    name: str


@dataclass
class Template:
    """The valid command line of a command, its optional file options, its parts read and bad values."""

    argv: list
    optional: dict[str, object] = field(default_factory=dict)  # option -> In/Out slot not in argv
    parts: tuple[str, ...] = ()  # event parts the command reads (for event corruptions)
    bad_values: list[tuple[list[str], str]] = field(default_factory=list)  # (extra args, text in stderr)
    not_bad: tuple[str, ...] = ()  # input problems that are valid input for this command (checked: no crash)


@dataclass
class Result:
    code: int
    out: str
    err: str
    warnings: list[str]


def run_cli(args: list, cwd: Path | None = None) -> Result:
    """``gnn4hep ARGS`` in-process; the exit code, stdout, stderr, and the runtime warnings raised."""
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    code: int | str = 0
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("always", RuntimeWarning)
        if cwd is not None:
            os.chdir(cwd)
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - a crash is a finding: report it as the case's result
            import traceback

            code = 99
            err.write("Traceback (crash in-process)\n" + "".join(traceback.format_exception(exc)))
        finally:
            os.chdir(previous)
    runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return Result(int(code), out.getvalue(), err.getvalue(), runtime)


def command_paths() -> dict[str, object]:
    """Every leaf command of the app as 'group sub' -> click command."""
    found: dict[str, object] = {}

    def walk(command, path):
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, path + [name])
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


def _base_annotation(annotation):
    """``int`` of ``Optional[int]`` (and of ``Annotated[Optional[int], ...]``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)  # Optional[int] and int | None
    return args[0] if is_union and len(args) == 1 else annotation


def _hints(command) -> dict[str, object]:
    """The callback's annotations with their typer metadata (read from the function, which does not
    depend on how a typer version stores them on its Click parameters)."""
    return typing.get_type_hints(command.callback, include_extras=True)


def parameters(command) -> list[tuple[str, tuple[str, ...], object, bool]]:
    """(name, option strings, base annotation, is_option) of each parameter of a click command."""
    hints = _hints(command)
    result = []
    for param in command.params:
        if param.name not in hints:  # --help
            continue
        result.append((param.name, tuple(param.opts), _base_annotation(hints[param.name]), param.param_type_name == "option"))
    return result


def parser_of(command, name: str):
    """The ``parser=`` given to typer for parameter ``name`` of ``command`` (None without one)."""
    hint = _hints(command)[name]
    infos = typing.get_args(hint)[1:] if typing.get_origin(hint) is typing.Annotated else ()
    return next((getattr(info, "parser", None) for info in infos if getattr(info, "parser", None)), None)


def snapshot(*folders: Path) -> set[str]:
    """Every file and folder under ``folders`` (names relative to the filesystem root)."""
    seen = set()
    for folder in folders:
        if folder.exists():
            seen.update(str(p) for p in folder.rglob("*"))
            seen.add(str(folder))
    return seen


# ---------------------------------------------------------------- corruptions of each kind of input file


def _rewrite_csv(path: Path, edit) -> None:
    """Apply ``edit(lines) -> lines`` to a .csv or .csv.gz file, keeping its compression."""
    gz = path.suffix == ".gz"
    text = (gzip.decompress(path.read_bytes()) if gz else path.read_bytes()).decode()
    data = "\n".join(edit(text.splitlines())) + "\n"
    path.write_bytes(gzip.compress(data.encode()) if gz else data.encode())


def _set_cell(column: str, value: str, row: int = 1):
    def edit(lines):
        header = lines[0].split(",")
        cells = lines[row].split(",")
        cells[header.index(column)] = value
        return lines[:row] + [",".join(cells)] + lines[row + 1:]

    return edit


def _drop_column(column: str):
    def edit(lines):
        index = lines[0].split(",").index(column)
        return [",".join(c for i, c in enumerate(line.split(",")) if i != index) for line in lines]

    return edit


def _truncate(path: Path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


CSV_CORRUPTIONS = {
    "empty file": lambda p: p.write_bytes(gzip.compress(b"") if p.suffix == ".gz" else b""),
    "binary garbage": lambda p: p.write_bytes(bytes(range(256)) * 4),
    "truncated": _truncate,
}


def event_corruptions(part: str) -> dict[str, object]:
    """Corruptions of one part file of an event: (column to name or None, edit of the file)."""
    key = {"hits": "x", "truth": "tx", "particles": "px", "cells": "value"}[part]
    id_column = {"hits": "hit_id", "truth": "hit_id", "particles": "particle_id", "cells": "hit_id"}[part]
    cases = {
        "truncated gzip": (None, _truncate),
        "not gzip": (None, lambda p: p.write_bytes(b"\x1f\x8b" + os.urandom(64))),
        "empty gzip": (None, lambda p: p.write_bytes(gzip.compress(b""))),
        f"column {key} missing": (key, lambda p: _rewrite_csv(p, _drop_column(key))),
        f"NaN in {key}": (key, lambda p: _rewrite_csv(p, _set_cell(key, "nan"))),
        f"{key} = 1e300 (beyond float32)": (key, lambda p: _rewrite_csv(p, _set_cell(key, "1e300"))),
        f"{key} = inf": (key, lambda p: _rewrite_csv(p, _set_cell(key, "inf"))),
        f"{id_column} = 2**64 (beyond int64)": (id_column, lambda p: _rewrite_csv(p, _set_cell(id_column, str(2**64)))),
        f"{id_column} = -2**63-1": (id_column, lambda p: _rewrite_csv(p, _set_cell(id_column, str(-(2**63) - 1)))),
        f"{key} not a number": (key, lambda p: _rewrite_csv(p, _set_cell(key, "abc[/x]"))),
    }
    if part != "cells":
        cases[f"duplicate {id_column}"] = (id_column, lambda p: _rewrite_csv(p, lambda lines: lines + [lines[1]]))
    return cases


SUBMISSION_CORRUPTIONS = {
    **{name: (None, edit) for name, edit in CSV_CORRUPTIONS.items()},
    "header only": (None, lambda p: p.write_text("hit_id,track_id\n")),
    "column track_id missing": ("track_id", lambda p: _rewrite_csv(p, _drop_column("track_id"))),
    "track_id = 2**64 (int64 overflow)": ("track_id", lambda p: _rewrite_csv(p, _set_cell("track_id", str(2**64)))),
    "track_id = 99999999999999999999": ("track_id", lambda p: _rewrite_csv(p, _set_cell("track_id", "9" * 20))),
    "track_id = 1.5": ("track_id", lambda p: _rewrite_csv(p, _set_cell("track_id", "1.5"))),
    "NaN hit_id": ("hit_id", lambda p: _rewrite_csv(p, _set_cell("hit_id", "nan"))),
    "hit_id = inf": ("hit_id", lambda p: _rewrite_csv(p, _set_cell("hit_id", "inf"))),
    "unknown hit_id": ("hit_id", lambda p: _rewrite_csv(p, _set_cell("hit_id", "999999999"))),
    "hits missing": (None, lambda p: _rewrite_csv(p, lambda lines: lines[:2])),
}

YAML_CORRUPTIONS = {
    "invalid YAML": lambda p: p.write_text("name: [unclosed\n"),
    "empty": lambda p: p.write_text(""),
    "binary": lambda p: p.write_bytes(b"\xff\xfe\x00name"),
    "a list": lambda p: p.write_text("- a\n- b\n"),
    "unknown key": lambda p: p.write_text(p.read_text() + "bogus_key: 1\n"),
    "truncated": _truncate,
}

JSON_CORRUPTIONS = {
    "empty": lambda p: p.write_text(""),
    "truncated": _truncate,
    "binary": lambda p: p.write_bytes(bytes(range(256))),
    "a list": lambda p: p.write_text("[1, 2]"),
    "empty object": lambda p: p.write_text("{}"),
    "NaN in linear": lambda p: _edit_json(p, lambda d: d["linear"].__setitem__(0, float("nan"))),
    "text in linear": lambda p: _edit_json(p, lambda d: d["linear"].__setitem__(0, "[/x]")),
    "num_variables = 2**70": lambda p: _edit_json(p, lambda d: d.__setitem__("num_variables", 2**70)),
    "quadratic index out of range": lambda p: _edit_json(p, lambda d: d["quadratic"]["row"].__setitem__(0, 10**12)),
    "quadratic missing": lambda p: _edit_json(p, lambda d: d.pop("quadratic")),
}


def _edit_json(path: Path, edit) -> None:
    import json

    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))

H5_CORRUPTIONS = {
    "binary garbage": lambda p: p.write_bytes(bytes(range(256)) * 8),
    "truncated": _truncate,
    "empty file": lambda p: p.write_bytes(b""),
    "valid HDF5 without datasets": lambda p: _empty_h5(p),
}


def _empty_h5(path: Path) -> None:
    import h5py

    path.unlink()
    with h5py.File(path, "w") as handle:
        handle.attrs["note"] = "no datasets"


NPY_CORRUPTIONS = {
    "truncated vectors": lambda folder: _truncate(next(folder.glob("*_pf_vectors.npy"))),
    "garbage labels": lambda folder: next(folder.glob("*_labels.npy")).write_bytes(b"\x93NUMPY garbage"),
    "labels of another length": lambda folder: _short_labels(next(folder.glob("*_labels.npy"))),
}


def _short_labels(path: Path) -> None:
    import numpy as np

    np.save(path, np.load(path)[:1])


def copy_input(source: Path, target_dir: Path) -> Path:
    """Copy a file, a folder or an event prefix (all its part files) into ``target_dir``."""
    target_dir.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".json" and source.with_name(source.stem + "_event").is_dir():  # a QUBO and its reduced event
        shutil.copytree(source.with_name(source.stem + "_event"), target_dir / (source.stem + "_event"))
    if source.is_dir():
        return Path(shutil.copytree(source, target_dir / source.name))
    if source.exists():
        return Path(shutil.copy2(source, target_dir / source.name))
    for part_file in source.parent.glob(source.name + "-*"):
        shutil.copy2(part_file, target_dir / part_file.name)
    return target_dir / source.name
