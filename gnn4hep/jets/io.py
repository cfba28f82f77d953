"""Readers and writers of the public jet-tagging array layouts.

* Top-tagging reference set (Kasieczka, Plehn et al., arXiv:1902.09914): a pandas HDFStore with key
  ``table`` and columns ``E_i, PX_i, PY_i, PZ_i`` (i = 0..199) and ``is_signal_new``. Read with
  pandas when PyTables is installed; otherwise (PyTables is not a dependency) the pandas "fixed"
  layout, which the reference files use, is read directly with h5py.
* EnergyFlow quark/gluon ``.npz``: ``X`` (N, M, 4) = (pT, y, φ, pid), ``y`` (N,) with 1 = quark.
* Particle Transformer arrays (``<prefix>_pf_vectors.npy`` (N, 4, M) px,py,pz,E, ``_pf_mask.npy``
  (N, 1, M), ``_labels.npy`` (N,) or one-hot (N, C), optional ``_pf_points.npy``; gnn4hep adds the
  optional ``_pf_pid.npy`` and ``_pf_charge.npy`` (N, M), read when present).
* JetClass ROOT files (Qu, Li, Qian, arXiv:2202.03772), tree ``tree``, through uproot.

:func:`read_jets` picks the reader from the path.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gnn4hep.errors import InputFileError
from gnn4hep.jets.constituents import Jets, charge_from_pid, from_pt_y_phi, sort_by_pt

#: JetClass label branches, in the order of the JetClass one-hot labels.
JETCLASS_LABELS = ("label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q", "label_Hqql",
                   "label_Zqq", "label_Wqq", "label_Tbqq", "label_Tbl")
PART_SUFFIXES = ("_pf_vectors.npy", "_pf_mask.npy", "_labels.npy")


def _labels_to_index(labels: np.ndarray, path, signal_class: int | None) -> np.ndarray:
    """Class indices from (N,) labels or (N, C) one-hot; with ``signal_class``: 1 for it, else 0."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        if not np.all(labels.sum(axis=1) == 1):
            raise InputFileError(path, "labels are 2-D but not one-hot", "labels")
        labels = labels.argmax(axis=1)
    elif labels.ndim != 1:
        raise InputFileError(path, f"labels must be (N,) or one-hot (N, C), got {labels.shape}", "labels")
    if not np.isfinite(labels.astype(float)).all():
        raise InputFileError(path, "labels contain NaN", "labels")
    labels = labels.astype(np.int64)
    if signal_class is not None:
        labels = (labels == signal_class).astype(np.int64)
    return labels


def _sorted_jets(p4, mask, labels, pid=None, charge=None, source="") -> Jets:
    others = [a for a in (pid, charge) if a is not None]
    p4, mask, *others = sort_by_pt(np.where(mask[..., None], p4, 0.0), mask, *others)
    pid = others.pop(0) if pid is not None else None
    charge = others.pop(0) if charge is not None else None
    return Jets(p4, mask, labels, pid, charge, source)


# ---------------------------------------------------------------- top tagging (pandas HDF5)
def _read_pandas_fixed(path: Path, key: str):
    """Read a pandas HDFStore 'fixed'-format frame with h5py (no PyTables needed)."""
    import h5py
    import pandas as pd

    with h5py.File(path, "r") as handle:
        if key not in handle:
            raise InputFileError(path, f"no key '{key}' in the HDF5 file (keys: {list(handle)})")
        group = handle[key]
        if "block0_values" not in group:
            raise InputFileError(path, f"'{key}' is not a pandas fixed-format frame; install PyTables to read it")
        columns, data = [], []
        n_blocks = int(group.attrs.get("nblocks", sum(1 for k in group if k.endswith("_values"))))
        for b in range(n_blocks):
            items = [x.decode() if isinstance(x, bytes) else str(x) for x in group[f"block{b}_items"][()]]
            values = group[f"block{b}_values"][()]
            columns += items
            data += [values[:, i] for i in range(values.shape[1])]
    return pd.DataFrame(dict(zip(columns, data)))


def read_top_tagging(path: str | Path, key: str = "table", max_constituents: int = 200) -> Jets:
    """Read the top-tagging reference HDF5 (``E_i, PX_i, PY_i, PZ_i``, ``is_signal_new``)."""
    import importlib.util

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    if importlib.util.find_spec("tables") is not None:
        import pandas as pd

        frame = pd.read_hdf(path, key=key)
    else:
        frame = _read_pandas_fixed(path, key)
    n_max = 0
    while f"E_{n_max}" in frame.columns and n_max < max_constituents:
        n_max += 1
    if n_max == 0:
        raise InputFileError(path, "no constituent columns E_0, PX_0, PY_0, PZ_0", "E_0")
    for name in ("PX", "PY", "PZ"):
        missing = [f"{name}_{i}" for i in range(n_max) if f"{name}_{i}" not in frame.columns]
        if missing:
            raise InputFileError(path, "missing column", missing[0])
    if "is_signal_new" not in frame.columns:
        raise InputFileError(path, "missing label column", "is_signal_new")
    p4 = np.stack([frame[[f"{c}_{i}" for i in range(n_max)]].to_numpy(np.float32) for c in ("PX", "PY", "PZ", "E")],
                  axis=-1)
    mask = p4[..., 3] > 0
    return _sorted_jets(p4, mask, _labels_to_index(frame["is_signal_new"].to_numpy(), path, None), source=str(path))


def write_top_tagging(jets: Jets, path: str | Path, key: str = "table") -> Path:
    """Write jets in the top-tagging reference column layout (pandas 'fixed' format, via h5py).

    Produces the groups pandas writes for a fixed-format frame (``axis0``, ``axis1``,
    ``block{b}_items``, ``block{b}_values``) so that both pandas and :func:`read_top_tagging` read it.
    """
    import h5py

    from gnn4hep.utils.atomic import atomic_write_bytes

    m = jets.max_constituents
    p4 = np.where(jets.mask[..., None], jets.p4, 0.0).astype(np.float32)
    floats = np.concatenate([p4[..., 3], p4[..., 0], p4[..., 1], p4[..., 2]], axis=1)
    float_names = [f"{c}_{i}" for c in ("E", "PX", "PY", "PZ") for i in range(m)]
    ints = np.stack([np.zeros(len(jets), np.int64), jets.labels], axis=1)
    int_names = ["ttv", "is_signal_new"]
    import io

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        group = handle.create_group(key)
        attrs = {"pandas_type": b"frame", "pandas_version": b"0.15.2", "encoding": b"UTF-8", "ndim": 2, "nblocks": 2,
                 "errors": b"strict", "axis0_variety": b"regular", "axis1_variety": b"regular",
                 "block0_items_variety": b"regular", "block1_items_variety": b"regular"}
        for name, value in attrs.items():
            group.attrs[name] = value
        names = np.array([n.encode() for n in float_names + int_names])
        group.create_dataset("axis0", data=names)
        group.create_dataset("axis1", data=np.arange(len(jets), dtype=np.int64))
        for b, (items, values) in enumerate([(float_names, floats), (int_names, ints)]):
            group.create_dataset(f"block{b}_items", data=np.array([n.encode() for n in items]))
            group.create_dataset(f"block{b}_values", data=values)
        for dataset in ("axis0", "axis1", "block0_items", "block1_items"):
            group[dataset].attrs["kind"] = b"string" if dataset != "axis1" else b"integer"
            group[dataset].attrs["name"] = b"N."
    return atomic_write_bytes(path, buffer.getvalue())


# ---------------------------------------------------------------- EnergyFlow .npz
def read_energyflow(path: str | Path) -> Jets:
    """Read an EnergyFlow quark/gluon file: ``X`` (N, M, 4) = (pT, y, φ, pid), ``y`` labels (1 = quark).

    Constituents with pT = 0 are padding. Masses and charges come from the PDG id.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    with np.load(path) as data:
        for column in ("X", "y"):
            if column not in data:
                raise InputFileError(path, "missing array", column)
        x, y = data["X"], data["y"]
    if x.ndim != 3 or x.shape[2] < 3:
        raise InputFileError(path, f"X must be (N, M, 4) pT,y,phi,pid; got {x.shape}", "X")
    if len(y) != len(x):
        raise InputFileError(path, f"{len(y)} labels for {len(x)} jets", "y")
    if not np.isfinite(x).all():
        raise InputFileError(path, "X contains NaN or inf", "X")
    mask = x[..., 0] > 0
    pid = np.where(mask, x[..., 3], 0).astype(np.int32) if x.shape[2] > 3 else None
    p4 = from_pt_y_phi(x[..., 0], x[..., 1], x[..., 2], pid)
    charge = charge_from_pid(pid) if pid is not None else None
    return _sorted_jets(p4, mask, _labels_to_index(y, path, None), pid, charge, str(path))


# ---------------------------------------------------------------- Particle Transformer .npy
def particle_transformer_prefixes(directory: str | Path) -> list[Path]:
    """Prefixes ``DIR/<name>`` of every ``<name>_pf_vectors.npy`` in ``directory`` (sorted)."""
    directory = Path(directory)
    return sorted(p.parent / p.name[: -len("_pf_vectors.npy")] for p in directory.glob("*_pf_vectors.npy"))


def _load_npy(path: Path) -> np.ndarray:
    """``np.load`` of one array (no pickles); a damaged or truncated file is an InputFileError naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputFileError(path, f"damaged or truncated .npy array ({type(exc).__name__}: {exc})") from None


def read_particle_transformer(path: str | Path, signal_class: int | None = None) -> Jets:
    """Read ParT-layout arrays; ``path`` is a prefix (``DIR/qg``) or a folder holding one or more sets.

    Args:
        signal_class: with one-hot or multi-class labels, the class that becomes label 1 (others 0);
            None keeps class indices.
    """
    from gnn4hep.jets.constituents import concatenate

    path = Path(path)
    if path.is_dir():
        prefixes = particle_transformer_prefixes(path)
        if not prefixes:
            raise InputFileError(path, "no *_pf_vectors.npy arrays in this folder")
        parts = [read_particle_transformer(p, signal_class) for p in prefixes]
        return parts[0] if len(parts) == 1 else concatenate(parts)
    files = {s: path.parent / f"{path.name}{s}" for s in PART_SUFFIXES}
    for suffix, file in files.items():
        if not file.is_file():
            raise InputFileError(file, f"missing Particle Transformer array ({path.name}{suffix})")
    vectors = _load_npy(files["_pf_vectors.npy"])
    mask = _load_npy(files["_pf_mask.npy"])
    labels = _load_npy(files["_labels.npy"])
    if vectors.ndim != 3 or vectors.shape[1] != 4:
        raise InputFileError(files["_pf_vectors.npy"], f"expected (N, 4, M) px,py,pz,E; got {vectors.shape}")
    n, _, m = vectors.shape
    if mask.shape not in ((n, 1, m), (n, m)):
        raise InputFileError(files["_pf_mask.npy"], f"expected (N, 1, M) = {(n, 1, m)}; got {mask.shape}")
    if len(labels) != n:
        raise InputFileError(files["_labels.npy"], f"{len(labels)} labels for {n} jets")
    if not np.isfinite(vectors).all():
        raise InputFileError(files["_pf_vectors.npy"], "contains NaN or inf")
    mask = mask.reshape(n, m) > 0
    p4 = np.transpose(vectors, (0, 2, 1))
    extras = {}
    for name, suffix in (("pid", "_pf_pid.npy"), ("charge", "_pf_charge.npy")):  # written by gnn4hep, optional
        file = path.parent / f"{path.name}{suffix}"
        if file.is_file():
            extras[name] = _load_npy(file)
            if extras[name].shape != (n, m):
                raise InputFileError(file, f"expected (N, M) = {(n, m)}; got {extras[name].shape}")
    return _sorted_jets(p4, mask, _labels_to_index(labels, files["_labels.npy"], signal_class), extras.get("pid"),
                        extras.get("charge"), source=str(path))


def write_particle_transformer(jets: Jets, prefix: str | Path) -> list[Path]:
    """Write ``<prefix>_pf_vectors/_pf_points/_pf_mask/_labels.npy`` (float32), plus ``_pf_pid`` and
    ``_pf_charge`` when known; every file atomically."""
    import io

    from gnn4hep.jets.constituents import relative_coordinates
    from gnn4hep.utils.atomic import atomic_write_bytes

    prefix = Path(prefix)
    deta, dphi = relative_coordinates(jets)
    arrays = {
        "_pf_vectors.npy": np.transpose(jets.p4, (0, 2, 1)).astype(np.float32),
        "_pf_points.npy": np.stack([deta, dphi], axis=1).astype(np.float32),
        "_pf_mask.npy": jets.mask[:, None, :].astype(np.float32),
        "_labels.npy": jets.labels.astype(np.int64),
    }
    if jets.pid is not None:
        arrays["_pf_pid.npy"] = jets.pid.astype(np.int32)
    if jets.charge is not None:
        arrays["_pf_charge.npy"] = jets.charge.astype(np.float32)
    written = []
    for suffix, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array)
        written.append(atomic_write_bytes(prefix.parent / f"{prefix.name}{suffix}", buffer.getvalue()))
    return written


# ---------------------------------------------------------------- JetClass ROOT
def read_jetclass_root(path: str | Path, tree: str = "tree", max_constituents: int = 128,
                       signal_class: int | None = None) -> Jets:
    """Read a JetClass ROOT file (``part_px/py/pz/energy``, ``part_charge``, ``part_is*``, ``label_*``).

    PDG ids are rebuilt from the particle-type flags (±211, 130, 22, ∓11, ∓13 with the charge sign).
    """
    import awkward as ak
    import uproot

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    with uproot.open(path) as handle:
        if tree not in handle:
            raise InputFileError(path, f"no tree '{tree}' (keys: {handle.keys()})")
        t = handle[tree]
        needed = ["part_px", "part_py", "part_pz", "part_energy"]
        for column in needed:
            if column not in t.keys():
                raise InputFileError(path, "missing branch", column)
        optional = [b for b in ("part_charge", "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton",
                                "part_isElectron", "part_isMuon") if b in t.keys()]
        labels = [b for b in JETCLASS_LABELS if b in t.keys()]
        if not labels:
            raise InputFileError(path, "no label_* branches", "label_QCD")
        data = t.arrays(needed + optional + labels, library="ak")

    def dense(branch, fill=0.0):
        padded = ak.pad_none(data[branch], max_constituents, clip=True, axis=1)
        return ak.to_numpy(ak.fill_none(padded, fill)).astype(np.float64)

    p4 = np.stack([dense(b) for b in needed], axis=-1)
    counts = ak.to_numpy(ak.num(data["part_px"], axis=1))
    mask = np.arange(max_constituents)[None, :] < np.minimum(counts, max_constituents)[:, None]
    charge = dense("part_charge").astype(np.float32) if "part_charge" in optional else None
    pid = None
    if charge is not None and "part_isChargedHadron" in optional:
        sign = np.where(charge < 0, -1, 1)
        pid = np.zeros(mask.shape, dtype=np.int32)
        for branch, code in (("part_isChargedHadron", 211), ("part_isNeutralHadron", 130), ("part_isPhoton", 22),
                             ("part_isElectron", -11), ("part_isMuon", -13)):
            if branch in optional:
                pid = np.where(dense(branch) > 0, code * sign if code != 130 and code != 22 else code, pid)
        pid = np.where(mask, pid, 0)
    onehot = np.stack([ak.to_numpy(data[b]).astype(np.int64) for b in labels], axis=1)
    return _sorted_jets(p4, mask, _labels_to_index(onehot, path, signal_class), pid, charge, str(path))


def read_jets(path: str | Path, signal_class: int | None = None) -> Jets:
    """Read jets from any supported layout, chosen by the path (folder/prefix, .h5, .npz, .root).

    Raises:
        InputFileError: naming the file for every problem, including a damaged or truncated file
            that h5py, numpy or uproot cannot parse (their OSError/ValueError would not name it).
    """
    try:
        return _read_jets(path, signal_class)
    except InputFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputFileError(path, f"damaged or unreadable jet file ({type(exc).__name__}: {detail})") from None


def _read_jets(path: str | Path, signal_class: int | None = None) -> Jets:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        if path.is_file():
            import h5py

            with h5py.File(path, "r") as handle:
                is_generated = "p4" in handle
            if is_generated:
                from gnn4hep.jets.generation import read_generated

                return read_generated(path)
        return read_top_tagging(path)
    if suffix == ".npz":
        return read_energyflow(path)
    if suffix == ".root":
        return read_jetclass_root(path, signal_class=signal_class)
    if path.is_dir() or path.parent.joinpath(f"{path.name}_pf_vectors.npy").is_file():
        return read_particle_transformer(path, signal_class)
    raise InputFileError(path, "not a known jet layout (folder of *_pf_vectors.npy, .h5, .npz or .root)")
