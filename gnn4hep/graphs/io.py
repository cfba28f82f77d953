"""Per-event hit-graph files: the contract between the build, train and infer stages.

A graph is saved with ``torch.save`` as a plain dict of tensors and built-in values (never a pickled
``Data`` object), so it loads with ``torch.load(..., weights_only=True)``: no arbitrary code runs
when a graph file is read. Files are written atomically (temporary file + rename).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch_geometric.data import Data

from gnn4hep.errors import InputFileError
from gnn4hep.utils.atomic import atomic_write_bytes
from gnn4hep.utils.torch_files import load_torch_file

GRAPH_SUFFIX = ".pt"


def graph_to_dict(data: Data) -> dict:
    """Tensors and plain values of ``data`` (feature_names as a list of str, event_id as int)."""
    out = {}
    for key in data.keys():
        value = data[key]
        if isinstance(value, torch.Tensor):
            out[key] = value.detach().cpu()
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        else:
            raise TypeError(f"hit graph attribute '{key}' of type {type(value).__name__} cannot be saved")
    return out


def save_graph(data: Data, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically (a dict of tensors, loadable with weights_only=True)."""
    buffer = io.BytesIO()
    torch.save(graph_to_dict(data), buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_graph(path: str | Path) -> Data:
    """Read a graph written by :func:`save_graph` (``torch.load(weights_only=True)``)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "graph file not found")
    content = load_torch_file(path, "graph file")
    if not isinstance(content, dict) or "x" not in content or "edge_index" not in content:
        raise InputFileError(path, "not a gnn4hep graph file (a dict with 'x' and 'edge_index')")
    return Data(**content)


def graph_files(folder: str | Path) -> list[Path]:
    """Sorted graph files of a folder."""
    return sorted(Path(folder).glob(f"*{GRAPH_SUFFIX}"))
