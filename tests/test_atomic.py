"""Atomic writers: complete files only, strict JSON, permissions that respect the umask."""

import json
import os

import numpy as np
import pytest

from gnn4hep.utils.atomic import atomic_write_json, atomic_write_text


def test_json_is_strict_and_converts_numpy(tmp_path):
    path = atomic_write_json(tmp_path / "m.json", {"auc": np.float32(0.5), "rej": float("inf"), "x": [np.nan, np.int64(3)]})
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text) == {"auc": 0.5, "rej": None, "x": [None, 3]}


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "old")

    class Boom:
        pass

    with pytest.raises(TypeError):
        atomic_write_json(path, {"bad": Boom()})
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_permissions_follow_umask(tmp_path):
    path = atomic_write_text(tmp_path / "p.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)
