"""The per-hit table graph construction works on, and the node features of hit graphs.

:func:`hit_table` joins an :class:`~gnn4hep.tracking.event.Event`'s hits with its truth and
particles (when present) into one DataFrame, one row per hit in the order of ``event.hits``:

==============  =====================================================================
column          meaning
==============  =====================================================================
hit_id          TrackML hit id
x, y, z         position [mm]
r, phi, eta     cylindrical radius [mm], azimuth [rad] in (-pi, pi], pseudorapidity
                eta = asinh(z / r) seen from the origin
layer, rank     global layer index and flight rank (:mod:`gnn4hep.graphs.layers`)
module_key      volume_id * 10**7 + layer_id * 10**4 + module_id (a unique module id)
particle_id     truth particle (0 = noise; 0 everywhere when the event has no truth)
pt              transverse momentum of the particle [GeV] (0 for noise / no truth)
distance        3-D distance of the true hit position from the particle's vertex [mm]
                (orders the hits along a particle; NaN without truth)
n_cells, charge cluster size and summed charge from cells.csv (when present)
==============  =====================================================================

:func:`node_features` makes the ``x`` matrix of the hit-graph schema: (r/1000, phi/pi, z/1000)
then eta and, when asked and available, the cluster shape (n_cells/10, charge).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.graphs.layers import LAYER_RANK, layer_index
from gnn4hep.graphs.schema import PHI_SCALE, R_SCALE_MM, Z_SCALE_MM

#: Names of the node features made by :func:`node_features` (cluster-shape ones optional).
BASE_NODE_FEATURES: tuple[str, ...] = ("r", "phi", "z", "eta")
CELL_FEATURES: tuple[str, ...] = ("n_cells", "charge")


def hit_table(event) -> pd.DataFrame:
    """One row per hit of ``event`` with geometry, layer, module and truth columns (module docstring)."""
    hits = event.hits
    x = hits["x"].to_numpy(np.float64)
    y = hits["y"].to_numpy(np.float64)
    z = hits["z"].to_numpy(np.float64)
    r = np.hypot(x, y)
    table = pd.DataFrame(
        {
            "hit_id": hits["hit_id"].to_numpy(np.int64),
            "x": x,
            "y": y,
            "z": z,
            "r": r,
            "phi": np.arctan2(y, x),
            "eta": np.arcsinh(z / np.maximum(r, 1e-6)),
        }
    )
    volume = hits["volume_id"].to_numpy(np.int64)
    layer_id = hits["layer_id"].to_numpy(np.int64)
    table["layer"] = layer_index(volume, layer_id)
    table["rank"] = LAYER_RANK[table["layer"].to_numpy()]
    table["module_key"] = volume * 10**7 + layer_id * 10**4 + hits["module_id"].to_numpy(np.int64)
    table["particle_id"] = np.zeros(len(table), dtype=np.int64)
    table["pt"] = 0.0
    table["distance"] = np.nan
    if event.truth is not None:
        truth = event.truth.set_index("hit_id").reindex(table["hit_id"])
        pid = truth["particle_id"].fillna(0).to_numpy().astype(np.uint64)
        table["particle_id"] = pid.astype(np.int64)
        if event.particles is not None:
            parts = event.particles.set_index("particle_id")
            index = pd.Index(parts.index.to_numpy().astype(np.uint64)).get_indexer(pid)
            known = index >= 0
            safe = np.maximum(index, 0)
            pt = np.hypot(parts["px"].to_numpy(np.float64), parts["py"].to_numpy(np.float64))[safe]
            table["pt"] = np.where(known, pt, 0.0)
            vertex = [parts[c].to_numpy(np.float64)[safe] for c in ("vx", "vy", "vz")]
        else:
            vertex = [np.zeros(len(table))] * 3
        true_pos = [truth[c].to_numpy(np.float64) for c in ("tx", "ty", "tz")]
        table["distance"] = np.sqrt(sum((p - v) ** 2 for p, v in zip(true_pos, vertex)))
    if event.cells is not None and len(event.cells):
        cells = event.cells.groupby("hit_id")["value"].agg(["size", "sum"])
        cells = cells.reindex(table["hit_id"]).fillna(0.0)
        table["n_cells"] = cells["size"].to_numpy(np.float64)
        table["charge"] = cells["sum"].to_numpy(np.float64)
    return table


def node_features(table: pd.DataFrame, cell_features: bool = False) -> tuple[np.ndarray, list[str]]:
    """The ``x`` matrix (N, F) float32 and its column names.

    Columns: r/1000 [m], phi/pi, z/1000 [m], eta; with ``cell_features`` (and cells present)
    n_cells/10 and the summed cluster charge.
    """
    columns = [
        table["r"].to_numpy() / R_SCALE_MM,
        table["phi"].to_numpy() / PHI_SCALE,
        table["z"].to_numpy() / Z_SCALE_MM,
        table["eta"].to_numpy(),
    ]
    names = list(BASE_NODE_FEATURES)
    if cell_features:
        if "n_cells" in table:
            columns += [table["n_cells"].to_numpy() / 10.0, table["charge"].to_numpy()]
        else:
            columns += [np.zeros(len(table)), np.zeros(len(table))]
        names += list(CELL_FEATURES)
    return np.stack(columns, axis=1).astype(np.float32), names
