"""The ``Event`` type: one collision event as the TrackML tables.

Column layout and dtypes of each table follow the TrackML challenge CSV format
(arXiv:1904.06778, appendix; the reference ``trackml-library``). Units: mm, GeV, charge in e.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Challenge columns and dtypes of each table, in file order. ``particle_id`` is uint64.
SCHEMAS: dict[str, dict[str, str]] = {
    "hits": {
        "hit_id": "int64",
        "x": "float32",
        "y": "float32",
        "z": "float32",
        "volume_id": "int32",
        "layer_id": "int32",
        "module_id": "int32",
    },
    "cells": {"hit_id": "int64", "ch0": "int32", "ch1": "int32", "value": "float32"},
    "particles": {
        "particle_id": "uint64",
        "vx": "float32",
        "vy": "float32",
        "vz": "float32",
        "px": "float32",
        "py": "float32",
        "pz": "float32",
        "q": "int32",
        "nhits": "int32",
    },
    "truth": {
        "hit_id": "int64",
        "particle_id": "uint64",
        "tx": "float32",
        "ty": "float32",
        "tz": "float32",
        "tpx": "float32",
        "tpy": "float32",
        "tpz": "float32",
        "weight": "float32",
    },
}

#: Columns some releases add (the reduced sample event has ``particle_type``, the PDG id).
OPTIONAL_COLUMNS: dict[str, dict[str, str]] = {
    "particles": {"particle_type": "int32"},
}

PARTS: tuple[str, ...] = ("hits", "cells", "particles", "truth")


@dataclass
class Event:
    """One event: an id and the TrackML tables present for it (``None`` when not loaded).

    Attributes:
        event_id: the number in ``eventNNNNNNNNN``.
        hits: one row per hit: ``hit_id, x, y, z`` (mm) and ``volume_id, layer_id, module_id``.
        cells: pixel cells of each hit's cluster: ``hit_id, ch0, ch1, value``.
        particles: one row per particle: vertex (mm), momentum (GeV), charge ``q``, ``nhits``.
        truth: one row per hit: ``particle_id`` (0 = noise), true position (mm) and momentum (GeV),
            and the scoring ``weight``.
    """

    event_id: int
    hits: pd.DataFrame | None = None
    cells: pd.DataFrame | None = None
    particles: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The file prefix name, ``event000000001``."""
        return f"event{self.event_id:09d}"

    def parts(self) -> dict[str, pd.DataFrame]:
        """The tables that are present, by part name."""
        return {p: getattr(self, p) for p in PARTS if getattr(self, p) is not None}

    def require(self, *parts: str) -> None:
        """Raise ``ValueError`` naming the first missing table among ``parts``."""
        for part in parts:
            if getattr(self, part) is None:
                raise ValueError(f"{self.name}: this needs the '{part}' table, which is not loaded")

    def __repr__(self) -> str:
        sizes = ", ".join(f"{p}={len(df)}" for p, df in self.parts().items())
        return f"Event({self.event_id}: {sizes})"


def table_schema(part: str, columns) -> dict[str, str]:
    """Columns and dtypes of ``part`` in file order, with the optional columns that ``columns`` has.

    ``particle_type`` goes right after ``particle_id``, where the challenge files put it.
    """
    schema = dict(SCHEMAS[part])
    optional = {c: t for c, t in OPTIONAL_COLUMNS.get(part, {}).items() if c in columns}
    if not optional:
        return schema
    items = list(schema.items())
    return dict(items[:1] + list(optional.items()) + items[1:])


def coerce_table(part: str, table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with the challenge columns of ``part`` first, in order, with their dtypes.

    Optional columns known for the part are kept after the required ones; others are dropped.
    """
    schema = table_schema(part, table.columns)
    missing = [c for c in schema if c not in table.columns]
    if missing:
        raise ValueError(f"{part} table misses columns {missing}")
    out = pd.DataFrame({c: table[c].to_numpy().astype(np.dtype(t)) for c, t in schema.items()})
    return out
