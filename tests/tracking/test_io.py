"""TrackML I/O: round trips, lazy data sets, and a clear error for every kind of bad file."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnn4hep.errors import InputFileError
from gnn4hep.tracking.event import SCHEMAS
from gnn4hep.tracking.io import read_dataset, read_detector, read_event, write_event
from gnn4hep.tracking.toy import make_toy_event


@pytest.fixture
def toy_prefix(tmp_path) -> Path:
    event = make_toy_event(n_particles=30, seed=3, event_id=7)
    prefix = tmp_path / "event000000007"
    write_event(event, prefix, compress=False)
    return prefix


def test_round_trip_keeps_columns_order_dtypes_and_values(tmp_path):
    event = make_toy_event(n_particles=40, seed=1, event_id=12)
    write_event(event, tmp_path / "event000000012")
    back = read_event(tmp_path / "event000000012", parts=("hits", "particles", "truth"))
    assert back.event_id == 12
    for part in ("hits", "particles", "truth"):
        table = getattr(back, part)
        assert list(table.columns) == list(SCHEMAS[part])
        assert dict(table.dtypes.astype(str)) == SCHEMAS[part]
        pd.testing.assert_frame_equal(table, getattr(event, part))


def test_written_file_is_challenge_text(tmp_path):
    event = make_toy_event(n_particles=5, seed=1, event_id=1)
    write_event(event, tmp_path / "event000000001", compress=False)
    lines = (tmp_path / "event000000001-particles.csv").read_text().splitlines()
    assert lines[0] == "particle_id,vx,vy,vz,px,py,pz,q,nhits"
    first = lines[1].split(",")
    assert first[0].isdigit() and first[-1].isdigit() and first[-2].lstrip("-").isdigit()


def test_real_sample_event_round_trip(sample_event_prefix, tmp_path):
    event = read_event(sample_event_prefix)
    assert len(event.hits) == 5527 and len(event.truth) == 5527
    assert event.particles["particle_id"].dtype == np.uint64
    assert list(event.particles.columns[:2]) == ["particle_id", "particle_type"]
    write_event(event, tmp_path / "event000000001")
    back = read_event(tmp_path / "event000000001")
    for part in ("hits", "cells", "particles", "truth"):
        pd.testing.assert_frame_equal(getattr(back, part), getattr(event, part))


def test_read_dataset_folder_and_zip_are_lazy_and_ordered(tmp_path):
    folder = tmp_path / "data"
    for event_id in (5, 2, 9):
        write_event(make_toy_event(n_particles=10, seed=event_id, event_id=event_id), folder / f"event{event_id:09d}")
    ids = [e.event_id for e in read_dataset(folder, parts=("hits", "truth"))]
    assert ids == [2, 5, 9]
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"train_1/{path.name}")
    iterator = read_dataset(archive, parts=("hits", "particles", "truth"), skip=1, nevents=1)
    first = next(iterator)
    assert first.event_id == 5
    pd.testing.assert_frame_equal(first.hits, read_event(folder / "event000000005", parts=("hits",)).hits)
    assert list(iterator) == []


def test_read_detector_packaged_geometry():
    detector = read_detector()
    assert len(detector) == 18728
    rotations = detector.rotations
    np.testing.assert_allclose(np.einsum("nij,nkj->nik", rotations, rotations), np.broadcast_to(np.eye(3), rotations.shape), atol=1e-5)
    assert detector.field_tesla == 2.0


# ---------------------------------------------------------------- bad input, one case per test
def _rewrite(path: Path, transform) -> None:
    path.write_text(transform(path.read_text()))


BAD_CASES = {
    "missing_column": (
        "hits", lambda t: t.replace("hit_id,x,y,z,volume_id,layer_id,module_id", "hit_id,x,y,z,volume_id,layer_id,modul_id"),
        "missing column(s) ['module_id']",
    ),
    "non_numeric": ("hits", lambda t: t.replace("\n1,", "\n1x,", 1), "non-numeric value"),
    "nan_coordinate": ("hits", lambda t: "\n".join(t.splitlines()[:2] + [",".join(t.splitlines()[2].split(",")[:1] + ["nan"] + t.splitlines()[2].split(",")[2:])] + t.splitlines()[3:]) + "\n", "missing/NaN"),
    "duplicate_hit_id": ("hits", lambda t: t + t.splitlines()[1] + "\n", "duplicate hit_id"),
    "empty_file": ("particles", lambda t: "", "the file is empty"),
    "truncated_row": ("truth", lambda t: t[: t.rindex(",")] + "\n", "missing/NaN"),
    "float_id": ("truth", lambda t: t.replace("\n1,", "\n1.5,", 1), "non-integer value 1.5 in data row"),
    "negative_particle_id": ("particles", lambda t: "\n".join([t.splitlines()[0], "-" + t.splitlines()[1]] + t.splitlines()[2:]) + "\n", "negative id"),
    "ragged_row": ("hits", lambda t: t.replace("\n2,", "\n2,1,2,3,4,", 1), "malformed CSV"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_files_name_file_and_problem(toy_prefix, case):
    part, transform, expected = BAD_CASES[case]
    path = Path(f"{toy_prefix}-{part}.csv")
    _rewrite(path, transform)
    with pytest.raises(InputFileError) as info:
        read_event(toy_prefix, parts=("hits", "particles", "truth"))
    message = str(info.value)
    assert path.name in message
    assert expected in message


def test_truncated_gzip(tmp_path):
    event = make_toy_event(n_particles=200, seed=0, event_id=1)
    write_event(event, tmp_path / "event000000001")
    path = tmp_path / "event000000001-hits.csv.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="truncated or corrupt gzip") as info:
        read_event(tmp_path / "event000000001", parts=("hits",))
    assert "event000000001-hits.csv.gz" in str(info.value)


def test_hits_without_truth_rows(toy_prefix):
    path = Path(f"{toy_prefix}-truth.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(InputFileError, match=r"3 hit\(s\) of the hits file have no truth row"):
        read_event(toy_prefix, parts=("hits", "truth"))


def test_truth_particle_not_in_particles(toy_prefix):
    path = Path(f"{toy_prefix}-particles.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(InputFileError, match="particle_id.s. of the truth file are missing here") as info:
        read_event(toy_prefix, parts=("particles", "truth"))
    assert "event000000007-particles.csv" in str(info.value)


def test_missing_file_and_bad_prefix(tmp_path, toy_prefix):
    Path(f"{toy_prefix}-truth.csv").unlink()
    with pytest.raises(InputFileError, match="no truth file for this event"):
        read_event(toy_prefix, parts=("hits", "truth"))
    shutil.copy(f"{toy_prefix}-hits.csv", tmp_path / "myhits-hits.csv")
    with pytest.raises(InputFileError, match="must end with 'eventNNNNNNNNN'"):
        read_event(tmp_path / "myhits", parts=("hits",))


def test_gzip_of_garbage(tmp_path):
    (tmp_path / "event000000001-hits.csv.gz").write_bytes(gzip.compress(b"\xff\xfe\x00garbage\x80\x81"))
    with pytest.raises(InputFileError):
        read_event(tmp_path / "event000000001", parts=("hits",))


def test_bad_detector_file(tmp_path):
    path = tmp_path / "detectors.csv"
    path.write_text("volume_id,layer_id,module_id,cx\n7,2,1,0.5\n")
    with pytest.raises(InputFileError, match="missing column"):
        read_detector(path)


def test_available_parts_and_read_table(tmp_path):
    from gnn4hep.tracking.io import available_parts, read_table

    event = make_toy_event(n_particles=10, seed=2, event_id=4)
    write_event(event, tmp_path / "event000000004")  # hits, particles, truth; no cells
    assert available_parts(tmp_path / "event000000004") == ("hits", "particles", "truth")
    assert available_parts(tmp_path / "event000000004", ("cells", "hits")) == ("hits",)
    pd.testing.assert_frame_equal(read_table(tmp_path / "event000000004-particles.csv.gz", "particles"), event.particles)
    with pytest.raises(InputFileError, match="particles file not found"):
        read_table(tmp_path / "nope.csv", "particles")


def test_truncated_gzip_inside_zip_names_the_member(tmp_path):
    event = make_toy_event(n_particles=200, seed=0, event_id=1)
    write_event(event, tmp_path / "event000000001")
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in ("hits", "truth"):
            data = (tmp_path / f"event000000001-{part}.csv.gz").read_bytes()
            zf.writestr(f"event000000001-{part}.csv.gz", data[: len(data) // 2] if part == "hits" else data)
    with pytest.raises(InputFileError, match="truncated or corrupt gzip") as info:
        next(read_dataset(archive, parts=("hits", "truth")))
    assert "data.zip:event000000001-hits.csv.gz" in str(info.value)
    with pytest.raises(ValueError, match="unknown event part"):
        next(read_dataset(archive, parts=("hitz",)))
