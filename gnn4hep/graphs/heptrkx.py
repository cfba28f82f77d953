"""Reader of the HEP.TrkX ``.npz`` hit-graph format (real TrackML sector graphs with edge truth).

Each file holds (see ``../shared/data/README.md``):

- ``X`` (n_hits, 3) float: (r/1000 [m], phi/pi, z/1000 [m]);
- ``Ri_rows, Ri_cols`` and ``Ro_rows, Ro_cols``: sparse incidence matrices (hit index, edge index)
  of the edges' inner/outer hits. Edge e goes from hit ``Ro_rows[Ro_cols == e]`` (inner, source) to
  hit ``Ri_rows[Ri_cols == e]`` (outer, target);
- ``y`` (n_edges,): 1 where both hits belong to the same particle.

This is the format of HEP.TrkX and of the quantum GNN tracking papers (Tüysüz et al.,
arXiv:2003.08126). Graphs come out in the schema of :mod:`gnn4hep.graphs.schema`; with
``edge_features=True`` they also carry the geometric edge features of :func:`geometric_edge_features`
in ``edge_attr`` (the Exa.TrkX choice: dr, dphi, dz, dR).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_geometric.data import Data

from gnn4hep.errors import InputFileError
from gnn4hep.graphs.schema import BASE_FEATURES

#: Arrays every HEP.TrkX file must hold.
HEPTRKX_ARRAYS: tuple[str, ...] = ("X", "Ri_rows", "Ri_cols", "Ro_rows", "Ro_cols", "y")
#: Names of the columns of ``edge_attr`` made by :func:`geometric_edge_features`.
EDGE_FEATURE_NAMES: tuple[str, ...] = ("dr", "dphi", "dz", "dR")
_FILE_NAME = re.compile(r"event(\d+)_g(\d+)\.npz$")


def geometric_edge_features(x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    """Edge features (dr, dphi, dz, dR) from the base node features (HEP.TrkX scaling).

    With x[:, :3] = (r/1000, phi/pi, z/1000) and an edge from hit i (source) to hit o (target):
    dr = r_o - r_i [m], dphi = wrap(phi_o - phi_i) / pi with wrap to [-pi, pi), dz = z_o - z_i [m],
    dR = sqrt(deta^2 + dphi_rad^2) with eta = asinh(z / r).

    Args:
        x: (N, F>=3) float node features.
        edge_index: (2, E) int64.

    Returns:
        (E, 4) float32.
    """
    source, target = edge_index
    r, phi, z = x[:, 0], x[:, 1] * math.pi, x[:, 2]
    dr = r[target] - r[source]
    dphi = torch.remainder(phi[target] - phi[source] + math.pi, 2 * math.pi) - math.pi
    dz = z[target] - z[source]
    eta = torch.asinh(z / r.clamp_min(1e-6))
    deta = eta[target] - eta[source]
    d_big_r = torch.sqrt(deta**2 + dphi**2)
    return torch.stack([dr, dphi / math.pi, dz, d_big_r], dim=1).to(torch.float32)


def load_heptrkx_graph(path: str | Path, edge_features: bool = False) -> Data:
    """Read one HEP.TrkX ``.npz`` file into a hit graph.

    Args:
        path: the ``.npz`` file.
        edge_features: add ``edge_attr`` (E, 4) = (dr, dphi, dz, dR) (see :func:`geometric_edge_features`).

    Returns:
        ``Data(x (N, 3) float32, edge_index (2, E) int64, y (E,) float32, feature_names, event_id)``
        plus ``edge_attr`` when asked.

    Raises:
        InputFileError: the file is missing or unreadable, lacks an array, or its arrays have
            inconsistent shapes (the message names the file and the array).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such HEP.TrkX graph file")
    try:
        with np.load(path) as npz:
            missing = [name for name in HEPTRKX_ARRAYS if name not in npz.files]
            if missing:
                raise InputFileError(path, f"missing array(s) {', '.join(missing)} (has {', '.join(npz.files)})", missing[0])
            arrays = {name: np.asarray(npz[name]) for name in HEPTRKX_ARRAYS}
    except (OSError, ValueError) as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(path, f"not a readable .npz file ({exc})") from None
    hits, y = arrays["X"], arrays["y"]
    if hits.ndim != 2 or hits.shape[1] != 3:
        raise InputFileError(path, f"expected shape (n_hits, 3), got {hits.shape}", "X")
    if not np.isfinite(hits).all():
        raise InputFileError(path, "NaN or infinite values", "X")
    if y.ndim != 1:
        raise InputFileError(path, f"expected shape (n_edges,), got {y.shape}", "y")
    n_hits, n_edges = hits.shape[0], y.shape[0]
    edge_index = np.full((2, n_edges), -1, dtype=np.int64)
    for row, prefix in ((0, "Ro"), (1, "Ri")):
        rows, cols = arrays[f"{prefix}_rows"], arrays[f"{prefix}_cols"]
        if rows.shape != (n_edges,) or cols.shape != (n_edges,):
            raise InputFileError(
                path, f"{prefix}_rows {rows.shape} and {prefix}_cols {cols.shape} must both have shape ({n_edges},) like y", f"{prefix}_rows"
            )
        if n_edges and (rows.min() < 0 or rows.max() >= n_hits):
            raise InputFileError(path, f"hit indices outside [0, {n_hits})", f"{prefix}_rows")
        if n_edges and (np.sort(cols) != np.arange(n_edges)).any():
            raise InputFileError(path, f"edge indices are not a permutation of 0..{n_edges - 1}", f"{prefix}_cols")
        edge_index[row, cols] = rows
    match = _FILE_NAME.search(path.name)
    data = Data(
        x=torch.from_numpy(hits.astype(np.float32)),
        edge_index=torch.from_numpy(edge_index),
        y=torch.from_numpy(y.astype(np.float32)),
        feature_names=list(BASE_FEATURES),
        event_id=int(match.group(1)) if match else -1,
    )
    if edge_features:
        data.edge_attr = geometric_edge_features(data.x, data.edge_index)
    return data


def write_heptrkx_graph(path: str | Path, x, edge_index, y) -> Path:
    """Write a graph in the HEP.TrkX ``.npz`` format (atomically); inverse of :func:`load_heptrkx_graph`.

    Args:
        path: the ``.npz`` file to write.
        x: (N, 3) node features (r/1000, phi/pi, z/1000).
        edge_index: (2, E) int, row 0 = inner hit, row 1 = outer hit.
        y: (E,) edge truth.
    """
    import io

    from gnn4hep.utils.atomic import atomic_write_bytes

    x = np.asarray(x, dtype=np.float32)
    edge_index = np.asarray(edge_index, dtype=np.int64)
    edges = np.arange(edge_index.shape[1], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        X=x,
        Ri_rows=edge_index[1],
        Ri_cols=edges,
        Ro_rows=edge_index[0],
        Ro_cols=edges,
        y=np.asarray(y, dtype=np.float32),
    )
    return atomic_write_bytes(path, buffer.getvalue())


def list_graph_files(folder: str | Path) -> list[Path]:
    """The ``.npz`` files of ``folder`` (recursively), sorted; InputFileError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "no such folder of HEP.TrkX .npz graphs")
    files = sorted(folder.rglob("*.npz"))
    if not files:
        raise InputFileError(folder, "folder holds no .npz graph files")
    return files


class HeptrkxDataset(Dataset):
    """A folder (or list) of HEP.TrkX ``.npz`` graphs, each read when it is indexed.

    Args:
        source: a folder (searched recursively for ``*.npz``) or a list of files.
        edge_features: add the (dr, dphi, dz, dR) ``edge_attr`` to every graph.
        max_graphs: keep only the first ``max_graphs`` files (sorted by name).

    ``dataset[i]`` is a ``Data`` as returned by :func:`load_heptrkx_graph`; ``dataset.files`` lists
    the files. Works with ``torch_geometric.loader.DataLoader``.
    """

    def __init__(self, source: str | Path | Sequence[str | Path], edge_features: bool = False, max_graphs: int | None = None):
        if isinstance(source, (str, Path)):
            files = list_graph_files(source)
        else:
            files = sorted(Path(f) for f in source)
        if max_graphs is not None:
            files = files[:max_graphs]
        self.files: list[Path] = files
        self.edge_features = edge_features

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Data:
        return load_heptrkx_graph(self.files[index], edge_features=self.edge_features)


def event_number(path: str | Path) -> int:
    """Event number of a file named ``event<digits>_g<digits>.npz``; InputFileError otherwise."""
    match = _FILE_NAME.search(Path(path).name)
    if not match:
        raise InputFileError(path, "file name is not of the form event<number>_g<sector>.npz")
    return int(match.group(1))


def split_by_event(files: Sequence[str | Path], test_fraction: float, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Split graph files into (train, test) so that all sectors of an event fall on one side.

    Args:
        files: ``event<number>_g<sector>.npz`` files.
        test_fraction: fraction of EVENTS put in the test part (rounded; at least one event when
            > 0 and there are two or more events).
        seed: seed of the random choice of test events.

    Returns:
        (train_files, test_files), each sorted.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    paths = [Path(f) for f in files]
    events = sorted({event_number(p) for p in paths})
    n_test = int(round(test_fraction * len(events)))
    if test_fraction > 0 and len(events) >= 2:
        n_test = min(max(n_test, 1), len(events) - 1)
    test_events = set(random.Random(seed).sample(events, n_test))
    train = sorted(p for p in paths if event_number(p) not in test_events)
    test = sorted(p for p in paths if event_number(p) in test_events)
    return train, test
