"""Read and write events in the TrackML challenge CSV format, with clear errors on bad files.

File names follow the challenge: ``<prefix>-<part>.csv`` or ``<prefix>-<part>.csv.gz`` where
``prefix`` is e.g. ``path/to/event000000001`` and ``part`` is one of hits, cells, particles, truth.
A data set is a folder or a zip file of such files.

Every problem with a file (missing, empty, truncated gzip, malformed row, missing or renamed column,
non-numeric value, NaN, duplicate hit_id, hits without truth rows, ...) raises
:class:`gnn4hep.errors.InputFileError` naming the file and the column.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.errors import InputFileError
from gnn4hep.tracking.detector import DETECTOR_COLUMNS, Detector, default_detector_path
from gnn4hep.tracking.event import PARTS, Event, table_schema
from gnn4hep.utils.atomic import atomic_write_bytes

EVENT_FILE_PATTERN = re.compile(r"(?:.*/)?(event(\d{9}))-([a-z]+)\.csv(\.gz)?$")


def _read_csv_checked(source, display_name: str, compression: str | None = "infer") -> pd.DataFrame:
    """``pd.read_csv`` with every parser/decompression failure turned into an InputFileError."""
    try:
        return pd.read_csv(source, header=0, index_col=False, low_memory=False, compression=compression)
    except pd.errors.EmptyDataError:
        raise InputFileError(display_name, "the file is empty (no header line)") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise InputFileError(display_name, f"malformed CSV: {detail}") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputFileError(display_name, f"truncated or corrupt gzip data ({exc})") from None
    except UnicodeDecodeError:
        raise InputFileError(display_name, "not a text CSV file (undecodable bytes)") from None


def validate_table(
    table: pd.DataFrame, columns: dict[str, str], display_name: str, unique: str | None = None
) -> pd.DataFrame:
    """Check ``table`` against ``columns`` (name -> dtype, in order) and return it coerced.

    Raises:
        InputFileError: a column is missing, holds a non-numeric value, NaN, a non-integer value in
            an integer column, a negative id, or ``unique`` has duplicates. The message names the
            file, the column and the first offending row (1-based data row).
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        found = ", ".join(map(str, table.columns))
        raise InputFileError(
            display_name, f"missing column(s) {missing}; the file has: {found}", column=missing[0]
        )
    out = {}
    for column, dtype in columns.items():
        values = table[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            numeric = pd.to_numeric(values, errors="coerce")
            bad = numeric.isna() & values.notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputFileError(
                    display_name,
                    f"non-numeric value {values.iloc[row]!r} in data row {row + 1}",
                    column=column,
                )
            values = numeric
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            n_bad = int(values.isna().sum())
            raise InputFileError(
                display_name, f"{n_bad} missing/NaN value(s), first in data row {row + 1}", column=column
            )
        kind = np.dtype(dtype).kind
        raw = values.to_numpy()
        if kind in "iu":
            if raw.dtype.kind == "f":
                not_integer = ~np.isfinite(raw) | (raw != np.round(raw))
                if not_integer.any():
                    row = int(np.flatnonzero(not_integer)[0])
                    raise InputFileError(
                        display_name,
                        f"integer column holds non-integer value {raw[row].item()!r} in data row {row + 1}",
                        column=column,
                    )
            if kind == "u" and raw.dtype.kind in "if" and np.any(raw < 0):
                row = int(np.flatnonzero(raw < 0)[0])
                raise InputFileError(
                    display_name, f"negative id {raw[row].item()} in data row {row + 1}", column=column
                )
        elif not np.all(np.isfinite(raw.astype(np.float64))):
            row = int(np.flatnonzero(~np.isfinite(raw.astype(np.float64)))[0])
            raise InputFileError(
                display_name, f"non-finite value {raw[row].item()} in data row {row + 1}", column=column
            )
        original = table[column].to_numpy()  # Python ints beyond (u)int64 lose digits in `raw`
        outside = _outside_dtype(original if original.dtype.kind == "O" and kind in "iu" else raw, np.dtype(dtype))
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise InputFileError(
                display_name,
                f"value {table[column].iloc[row]} in data row {row + 1} does not fit the column's type {dtype} "
                f"({_dtype_range(np.dtype(dtype))})",
                column=column,
            )
        out[column] = raw.astype(np.dtype(dtype))
    result = pd.DataFrame(out)
    if unique is not None:
        duplicated = result[unique].duplicated()
        if duplicated.any():
            row = int(np.flatnonzero(duplicated.to_numpy())[0])
            raise InputFileError(
                display_name,
                f"duplicate {unique} {result[unique].iloc[row]} ({int(duplicated.sum())} duplicates, "
                f"first in data row {row + 1})",
                column=unique,
            )
    return result


def _dtype_range(dtype: np.dtype) -> str:
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    return f"{info.min:.7g} to {info.max:.7g}" if dtype.kind == "f" else f"{info.min} to {info.max}"


def _outside_dtype(raw: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Mask of the values of ``raw`` (already checked numeric and finite) that ``dtype`` cannot hold:
    an id beyond int64/uint64, or a coordinate beyond float32 (which would become inf). A plain cast
    would wrap or overflow with only a RuntimeWarning."""
    if dtype.kind == "f":
        if raw.dtype.kind == "O":
            raw = raw.astype(np.float64)
        return np.abs(raw.astype(np.float64)) > np.finfo(dtype).max
    if dtype.kind not in "iu":
        return np.zeros(len(raw), dtype=bool)
    info = np.iinfo(dtype)
    if raw.dtype.kind == "O":  # integers beyond uint64, kept by pandas as Python ints
        return np.array([not info.min <= int(float(v) if isinstance(v, float) else int(v)) <= info.max
                         for v in raw], dtype=bool)
    if raw.dtype.kind == "f":  # float(info.max) rounds up to a power of two: compare with max + 1
        return (raw < float(info.min)) | (raw >= float(info.max) + 1.0)
    if raw.dtype.kind == "u":
        return raw > np.uint64(info.max)
    if raw.dtype.kind == "i":
        return (raw < info.min) | ((raw > 0) & (raw.astype(np.uint64) > np.uint64(info.max)))
    return np.zeros(len(raw), dtype=bool)


UNIQUE_KEYS = {"hits": "hit_id", "truth": "hit_id", "particles": "particle_id", "cells": None}


def _part_candidates(prefix: str | Path, part: str) -> list[Path]:
    return [Path(f"{prefix}-{part}.csv"), Path(f"{prefix}-{part}.csv.gz")]


def available_parts(prefix: str | Path, parts: Iterable[str] = PARTS) -> tuple[str, ...]:
    """The tables among ``parts`` that exist on disk for ``prefix`` (as .csv or .csv.gz), in order."""
    return tuple(part for part in parts if any(p.exists() for p in _part_candidates(prefix, part)))


def _part_path(prefix: Path, part: str) -> Path:
    """The existing file of ``part`` (.csv or .csv.gz); InputFileError when none or both exist."""
    candidates = _part_candidates(prefix, part)
    present = [p for p in candidates if p.exists()]
    if not present:
        raise InputFileError(
            candidates[0], f"no {part} file for this event (looked for .csv and .csv.gz)"
        )
    if len(present) > 1:
        raise InputFileError(present[0], f"both {present[0].name} and {present[1].name} exist")
    return present[0]


part_path = _part_path


def _event_id_from_prefix(prefix: str) -> int:
    match = re.search(r"event(\d+)$", str(prefix))
    if not match:
        raise InputFileError(prefix, "event prefix must end with 'eventNNNNNNNNN'")
    return int(match.group(1))


def _read_part(source, part: str, display_name: str, compression: str | None = "infer") -> pd.DataFrame:
    raw = _read_csv_checked(source, display_name, compression)
    schema = table_schema(part, raw.columns)
    return validate_table(raw, schema, display_name, unique=UNIQUE_KEYS[part])


def read_table(path: str | Path, part: str) -> pd.DataFrame:
    """Read one TrackML table file (e.g. a ``particles.csv`` to replay) with the checks of
    :func:`read_event`; InputFileError names the file and column of any problem."""
    if part not in PARTS:
        raise ValueError(f"unknown event part '{part}'; choose from {list(PARTS)}")
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{part} file not found")
    return _read_part(path, part, str(path))


def read_submission(path: str | Path) -> pd.DataFrame:
    """Read a TrackML submission / track-candidate CSV (``hit_id, track_id``) with clear errors."""
    return read_csv_columns(path, {"hit_id": "int64", "track_id": "int64"}, what="submission file")


def read_csv_columns(path: str | Path, columns: dict[str, str], what: str = "file",
                     optional: dict[str, str] | None = None) -> pd.DataFrame:
    """Read a CSV and check/coerce ``columns`` (name -> dtype) with :func:`validate_table`
    (e.g. a submission: hit_id, track_id), and the ``optional`` columns the file has; other columns
    are dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{what} not found")
    table = _read_csv_checked(path, str(path))
    present = {name: dtype for name, dtype in (optional or {}).items() if name in table.columns}
    return validate_table(table, {**columns, **present}, str(path))


def check_event_consistency(event: Event, names: dict[str, str]) -> None:
    """Cross-table checks: every hit has exactly one truth row, cells and truth name known hits,
    and every non-noise truth particle_id is in particles."""
    if event.hits is not None and event.truth is not None:
        hit_ids = event.hits["hit_id"].to_numpy()
        truth_ids = event.truth["hit_id"].to_numpy()
        no_truth = np.setdiff1d(hit_ids, truth_ids)
        if len(no_truth):
            raise InputFileError(
                names["truth"],
                f"{len(no_truth)} hit(s) of the hits file have no truth row (e.g. hit_id {no_truth[0]}); "
                "is this file truncated?",
                column="hit_id",
            )
        unknown = np.setdiff1d(truth_ids, hit_ids)
        if len(unknown):
            raise InputFileError(
                names["hits"],
                f"{len(unknown)} hit(s) of the truth file are missing here (e.g. hit_id {unknown[0]}); "
                "is this file truncated?",
                column="hit_id",
            )
    if event.hits is not None and event.cells is not None:
        unknown = np.setdiff1d(event.cells["hit_id"].to_numpy(), event.hits["hit_id"].to_numpy())
        if len(unknown):
            raise InputFileError(
                names["cells"],
                f"{len(unknown)} cell hit_id(s) are not in the hits file (e.g. {unknown[0]})",
                column="hit_id",
            )
    if event.truth is not None and event.particles is not None:
        pids = event.truth["particle_id"].to_numpy()
        unknown = np.setdiff1d(pids[pids != 0], event.particles["particle_id"].to_numpy())
        if len(unknown):
            raise InputFileError(
                names["particles"],
                f"{len(unknown)} particle_id(s) of the truth file are missing here (e.g. {unknown[0]}); "
                "is this file truncated?",
                column="particle_id",
            )


def check_hits_on_detector(hits: pd.DataFrame, detector: Detector, hits_name: str) -> None:
    """Every hit's (volume_id, layer_id, module_id) must be a module of ``detector``: an event from
    another geometry (e.g. the analytic toy) is reported naming the hits file, not as a KeyError deep
    inside a fit."""
    keys = ["volume_id", "layer_id", "module_id"]
    known = pd.MultiIndex.from_frame(detector.modules[keys])
    ids = pd.MultiIndex.from_frame(hits[keys])
    unknown = ~ids.isin(known)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        module = tuple(int(v) for v in hits[keys].iloc[row])
        raise InputFileError(
            hits_name,
            f"{int(unknown.sum())} hit(s) on modules that {detector.source or 'the detector file'} lacks "
            f"(e.g. data row {row + 1}: (volume_id, layer_id, module_id) = {module}); "
            "is this event from another geometry?",
            column="module_id",
        )


def read_event(prefix: str | Path, parts: Iterable[str] = PARTS) -> Event:
    """Read one event's CSV files (``.csv`` or ``.csv.gz``).

    Args:
        prefix: path without the ``-<part>.csv`` suffix, e.g. ``data/event000000001``.
        parts: which tables to read.

    Returns:
        The :class:`Event`, with the tables not asked for left ``None``.
    """
    prefix = Path(prefix)
    sources = {}
    for part in _checked_parts(parts):
        path = _part_path(prefix, part)
        sources[part] = (path, str(path), "infer")
    event = _assemble_event(_event_id_from_prefix(prefix.name), sources)
    event.meta["prefix"] = str(prefix)
    return event


def _checked_parts(parts: Iterable[str]) -> tuple[str, ...]:
    parts = tuple(parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown event part(s) {unknown}; choose from {list(PARTS)}")
    return parts


def _assemble_event(event_id: int, sources: dict[str, tuple]) -> Event:
    """Read each part from ``sources`` (part -> (file or buffer, name for errors, compression)) and
    run the cross-table checks; the one place where folder and zip reading meet."""
    event = Event(event_id=event_id)
    for part, (source, display, compression) in sources.items():
        setattr(event, part, _read_part(source, part, display, compression))
    check_event_consistency(event, {part: display for part, (_, display, _) in sources.items()})
    return event


def list_events(path: str | Path) -> list[str]:
    """Sorted event prefixes (``eventNNNNNNNNN``) found in a folder or a zip file."""
    path = Path(path)
    if path.is_dir():
        names = [p.name for p in path.iterdir()]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    else:
        raise InputFileError(path, "not a folder or a zip file of TrackML events")
    prefixes = {m.group(1) for n in names if (m := EVENT_FILE_PATTERN.match(n))}
    return sorted(prefixes)


def read_dataset(
    path: str | Path,
    parts: Iterable[str] = PARTS,
    skip: int = 0,
    nevents: int | None = None,
) -> Iterator[Event]:
    """Lazily iterate the events of a folder or a zip file, in event-id order.

    Each event is read only when the iterator reaches it.
    """
    path = Path(path)
    parts = _checked_parts(parts)
    prefixes = list_events(path)[skip:]
    if nevents is not None:
        prefixes = prefixes[:nevents]
    if path.is_dir():
        for prefix in prefixes:
            yield read_event(path / prefix, parts)
        return
    with zipfile.ZipFile(path) as archive:
        members = {m.group(1) + "-" + m.group(3): n for n in archive.namelist() if (m := EVENT_FILE_PATTERN.match(n))}
        for prefix in prefixes:
            sources = {}
            for part in parts:
                member = members.get(f"{prefix}-{part}")
                display = f"{path}:{member or prefix + '-' + part + '.csv'}"
                if member is None:
                    raise InputFileError(display, f"no {part} file for this event in the zip")
                compression = "gzip" if member.endswith(".gz") else None
                sources[part] = (io.BytesIO(archive.read(member)), display, compression)
            yield _assemble_event(_event_id_from_prefix(prefix), sources)


def read_detector(path: str | Path | None = None, field_tesla: float = 2.0) -> Detector:
    """Read ``detectors.csv`` or ``detectors.csv.gz``; the packaged TrackML geometry when ``None``."""
    path = Path(path) if path is not None else default_detector_path()
    if not path.exists():
        raise InputFileError(path, "detector file not found")
    raw = _read_csv_checked(path, str(path))
    columns = {c: ("int32" if c in ("volume_id", "layer_id", "module_id") else "float64") for c in DETECTOR_COLUMNS}
    modules = validate_table(raw, columns, str(path))
    duplicated = modules.duplicated(["volume_id", "layer_id", "module_id"])
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputFileError(path, f"duplicate module id in data row {row + 1}", column="module_id")
    return Detector(modules=modules.reset_index(drop=True), field_tesla=field_tesla, source=str(path))


def write_event(event: Event, prefix: str | Path, compress: bool = True) -> list[Path]:
    """Write the event's tables in the exact challenge format, one file per present table.

    Columns, their order and dtypes follow the challenge (integer ids stay integers; particle_id
    is written as an unsigned integer). Each file is written atomically.

    Args:
        event: the event.
        prefix: output prefix, e.g. ``out/event000000001``; parent folders are created.
        compress: write ``.csv.gz`` (default) or plain ``.csv``.

    Returns:
        The paths written.
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for part, table in event.parts().items():
        schema = table_schema(part, table.columns)
        name = f"{prefix}-{part}.csv"
        table = validate_table(table, schema, f"{name} (in memory)", unique=UNIQUE_KEYS[part])
        text = table.to_csv(index=False, lineterminator="\n").encode()
        if compress:
            name += ".gz"
            text = gzip.compress(text, compresslevel=6, mtime=0)
        atomic_write_bytes(Path(name), text)
        written.append(Path(name))
    return written
