"""Save and load QUBOs: a plain JSON/COO file (ours) and dimod's native BQM file.

**JSON format** (``.json``, version 1), readable by any annealer without dimod::

    {
      "format": "gnn4hep-qubo", "version": 1, "vartype": "BINARY",
      "num_variables": T, "offset": 0.0,
      "linear": [w_0, ..., w_{T-1}],                       # E = offset + Σ w_i x_i
      "quadratic": {"row": [...], "col": [...], "value": [...]},   # + Σ_k value_k x_row_k x_col_k
      "triplets": [[hit_id, hit_id, hit_id], ...],          # variable i = triplet i, inner → outer
      "doublet_scores": [[s1, s2], ...],
      "config": {...QuboConfig...}, "stats": {...},
      "event": "q_event/event000000001",   # reduced event prefix, relative to the QUBO's folder
      "meta": {...}                         # density, seed, doublet source, ...
    }

Variables are the integers 0..T-1 and each coupling appears once (row < col not required).

**dimod format** (any other suffix, e.g. ``.bqm``): ``BinaryQuadraticModel.to_file()`` with the
variables relabelled to qallse's triplet names ``"h0_h1_h2"``, so the file is self-contained;
:func:`load_qubo` reads it back (config and event are then unknown).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dimod
import numpy as np

from gnn4hep.errors import InputFileError
from gnn4hep.quantum.model import QuboConfig, QuboModel
from gnn4hep.utils.atomic import atomic_write_bytes, atomic_write_json

FORMAT = "gnn4hep-qubo"
VERSION = 1


def to_dict(model: QuboModel, event: str | None = None, meta: dict | None = None) -> dict[str, Any]:
    """The JSON document of a model (see the module docstring)."""
    n = model.bqm.num_variables
    linear, (row, col, value), offset = model.bqm.to_numpy_vectors(variable_order=range(n))
    return {
        "format": FORMAT,
        "version": VERSION,
        "vartype": "BINARY",
        "num_variables": n,
        "offset": float(offset),
        "linear": linear.tolist(),
        "quadratic": {"row": row.tolist(), "col": col.tolist(), "value": value.tolist()},
        "triplets": model.triplets.tolist(),
        "doublet_scores": np.round(model.doublet_scores, 6).tolist(),
        "config": model.config.model_dump(),
        "stats": model.stats,
        "event": event,
        "meta": meta or {},
    }


def save_qubo(model: QuboModel, path: str | Path, event: str | Path | None = None, meta: dict | None = None) -> Path:
    """Write a QUBO: JSON when ``path`` ends with .json, dimod's BQM file otherwise.

    Args:
        event: prefix of the (reduced) event the QUBO was built from; stored relative to the QUBO's
            folder when possible.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        if event is not None:
            event = Path(event)
            try:
                event = event.resolve().relative_to(path.parent.resolve())
            except ValueError:
                event = event.resolve()
        return atomic_write_json(path, to_dict(model, None if event is None else str(event), meta))
    names = {i: "_".join(map(str, t)) for i, t in enumerate(model.triplets.tolist())}
    handle = model.bqm.relabel_variables(names, inplace=False).to_file()
    return atomic_write_bytes(path, handle.read())


def load_qubo(path: str | Path) -> tuple[QuboModel, dict[str, Any]]:
    """Read a QUBO written by :func:`save_qubo`.

    Returns:
        (model, info) where info has ``event`` (absolute prefix or None) and ``meta``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "QUBO file not found")
    if path.suffix.lower() != ".json":
        with open(path, "rb") as handle:
            try:
                bqm = dimod.BinaryQuadraticModel.from_file(handle)
            except Exception as exc:  # dimod raises several types for a bad header
                raise InputFileError(path, f"not a dimod BQM file ({exc})") from None
        labels = list(bqm.variables)
        try:
            triplets = np.array([[int(h) for h in str(v).split("_")] for v in labels], np.int64).reshape(-1, 3)
        except ValueError:
            raise InputFileError(path, "variables are not triplet names 'h0_h1_h2'") from None
        bqm.relabel_variables({v: i for i, v in enumerate(labels)}, inplace=True)
        model = QuboModel(bqm=bqm, triplets=triplets, doublet_scores=np.ones((len(labels), 2)), config=QuboConfig())
        return model, {"event": None, "meta": {}}
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputFileError(path, f"not a {FORMAT} file (missing or wrong 'format' key)")
    for key in ("linear", "quadratic", "triplets", "num_variables"):
        if key not in doc:
            raise InputFileError(path, f"missing key '{key}'")
    try:  # wrong types, text for numbers, ints beyond int64: one error naming the file
        n = int(doc["num_variables"])
        linear = np.asarray(doc["linear"], np.float64)
        quad = doc["quadratic"]
        triplets = np.asarray(doc["triplets"], np.int64).reshape(-1, 3)
        row, col = np.asarray(quad["row"], np.int64), np.asarray(quad["col"], np.int64)
        value = np.asarray(quad["value"], np.float64)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise InputFileError(path, f"malformed QUBO arrays ({type(exc).__name__}: {exc})") from None
    if not (np.isfinite(linear).all() and np.isfinite(value).all()):
        raise InputFileError(path, "'linear' or 'quadratic' holds NaN or infinite values")
    if len(linear) != n or len(triplets) != n:
        raise InputFileError(path, f"'linear' and 'triplets' must both have num_variables = {n} entries")
    if not (len(row) == len(col) == len(value)):
        raise InputFileError(path, "'quadratic' row, col and value differ in length")
    if len(row) and (min(row.min(), col.min()) < 0 or max(row.max(), col.max()) >= n):
        raise InputFileError(path, "'quadratic' indices outside 0..num_variables-1")
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(linear, (row, col, value), float(doc.get("offset", 0.0)), dimod.BINARY)
    if bqm.num_variables < n:  # variables without a linear term are still variables
        bqm.add_variables_from((i, 0.0) for i in range(n))
    scores = np.asarray(doc.get("doublet_scores") or np.ones((n, 2)), np.float64).reshape(-1, 2)
    model = QuboModel(
        bqm=bqm, triplets=triplets, doublet_scores=scores, config=QuboConfig(**(doc.get("config") or {})), stats=doc.get("stats", {})
    )
    event = doc.get("event")
    if event is not None and not Path(event).is_absolute():
        event = str((path.parent / event).resolve())
    return model, {"event": event, "meta": doc.get("meta", {})}
