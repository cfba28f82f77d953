"""Fuzzed TrackML CSVs: every corruption gives an InputFileError naming the file, or a correct read.

Never a bare pandas/numpy exception, never silently wrong values.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnn4hep.errors import InputFileError
from gnn4hep.tracking.event import SCHEMAS
from gnn4hep.tracking.io import read_event, write_event
from gnn4hep.tracking.toy import make_toy_event

EVENT = make_toy_event(n_particles=15, seed=11, event_id=1)
PARTS = ("hits", "particles", "truth")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write_clean(folder: Path) -> Path:
    prefix = folder / "event000000001"
    write_event(EVENT, prefix, compress=False)
    return prefix


def _read_or_error(prefix: Path, part: str):
    """Read; on failure the error must be ours and name the corrupted file."""
    try:
        return read_event(prefix, parts=PARTS)
    except InputFileError as exc:
        assert f"event000000001-{part}.csv" in str(exc)
        return None


@FUZZ
@given(part=st.sampled_from(PARTS), data=st.data())
def test_dropped_or_renamed_column(part, data):
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write_clean(Path(folder))
        path = Path(f"{prefix}-{part}.csv")
        table = pd.read_csv(path)
        column = data.draw(st.sampled_from(list(SCHEMAS[part])))
        if data.draw(st.booleans()):
            table = table.drop(columns=[column])
        else:
            table = table.rename(columns={column: column + data.draw(st.sampled_from(["_", "X", " "]))})
        table.to_csv(path, index=False)
        assert _read_or_error(prefix, part) is None


@FUZZ
@given(part=st.sampled_from(PARTS), data=st.data())
def test_corrupted_cell(part, data):
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write_clean(Path(folder))
        path = Path(f"{prefix}-{part}.csv")
        lines = path.read_text().splitlines()
        row = data.draw(st.integers(1, len(lines) - 1))
        cells = lines[row].split(",")
        col = data.draw(st.integers(0, len(cells) - 1))
        cells[col] = data.draw(st.sampled_from(["", "nan", "NaN", "abc", "1e", "--1", "inf", "1.5", "0x10", " "]))
        lines[row] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
        event = _read_or_error(prefix, part)
        if event is not None:
            # accepted only when the value is a valid number of the right kind: check it round trips
            table = getattr(event, part)
            assert table.notna().all().all()
            assert np.isfinite(table.select_dtypes("float").to_numpy(np.float64)).all()


@FUZZ
@given(part=st.sampled_from(PARTS), fraction=st.floats(0.05, 0.95))
def test_truncated_file(part, fraction):
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write_clean(Path(folder))
        path = Path(f"{prefix}-{part}.csv")
        text = path.read_text()
        path.write_text(text[: int(len(text) * fraction)])
        event = _read_or_error(prefix, part)
        if event is not None:  # cut exactly at a line end: fewer rows, which cross-checks may catch
            assert len(getattr(event, part)) < len(getattr(EVENT, part))


@FUZZ
@given(part=st.sampled_from(PARTS), fraction=st.floats(0.0, 0.98))
def test_truncated_gzip(part, fraction):
    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / "event000000001"
        write_event(EVENT, prefix, compress=True)
        path = Path(f"{prefix}-{part}.csv.gz")
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        try:
            read_event(prefix, parts=PARTS)
            raise AssertionError("a truncated gzip file was read without error")
        except InputFileError as exc:
            assert f"event000000001-{part}.csv.gz" in str(exc)


@FUZZ
@given(part=st.sampled_from(PARTS), rows=st.lists(st.integers(1, 10), min_size=1, max_size=3))
def test_duplicated_rows(part, rows):
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write_clean(Path(folder))
        path = Path(f"{prefix}-{part}.csv")
        lines = path.read_text().splitlines()
        extra = [lines[min(r, len(lines) - 1)] for r in rows]
        path.write_text("\n".join(lines + extra) + "\n")
        assert _read_or_error(prefix, part) is None


def test_gzip_of_empty_text():
    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / "event000000001"
        write_event(EVENT, prefix, compress=True)
        Path(f"{prefix}-hits.csv.gz").write_bytes(gzip.compress(b""))
        try:
            read_event(prefix, parts=PARTS)
            raise AssertionError("empty gzip accepted")
        except InputFileError as exc:
            assert "empty" in str(exc)
