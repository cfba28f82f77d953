"""Atomic file writes: a file is either absent or complete, never half-written.

Each writer writes to a temporary file in the same folder, flushes it to disk, then renames it over
the target with ``os.replace`` (atomic on POSIX and Windows within one file system).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gnn4hep.errors import OutputPathError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; parent folders are created.

    Raises:
        OutputPathError: ``path`` is a folder, or a file stands where a parent folder must be.
    """
    path = Path(path)
    prepare_output_file(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def prepare_output_file(path: str | Path) -> Path:
    """Create the parent folders of the output file ``path``; OutputPathError (naming the path) when
    ``path`` is a folder or a file is in the way of a parent folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(path, "is a folder; a file was to be written here")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        raise OutputPathError(path, f"{blocker} is a file, not a folder") from None
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented, strict JSON atomically (numpy scalars are converted; NaN and
    +-inf, which strict JSON cannot hold, are written as null)."""
    text = json.dumps(_finite_or_none(to_builtin(obj)), indent=2, sort_keys=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def _finite_or_none(obj: Any) -> Any:
    """Replace non-finite floats by None inside dicts and lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_or_none(v) for v in obj]
    return obj


def atomic_write_yaml(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as YAML atomically."""
    return atomic_write_text(path, yaml.safe_dump(to_builtin(obj), sort_keys=False))


def atomic_savefig(fig, path: str | Path, **kwargs) -> Path:
    """Save a matplotlib figure atomically (format from the suffix)."""
    import io

    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", **kwargs)
    return atomic_write_bytes(path, buffer.getvalue())


def to_builtin(obj: Any) -> Any:
    """Convert numpy scalars/arrays and Paths inside dicts/lists to JSON/YAML-safe builtins."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_builtin(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_builtin(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_builtin(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj
