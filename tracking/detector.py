"""The TrackML detector: module geometry from ``detectors.csv`` plus the magnetic field.

Each row of ``detectors.csv`` is one silicon module: its id (``volume_id, layer_id, module_id``),
its centre ``cx, cy, cz`` (mm), the rotation matrix from local (u, v, w) to global (x, y, z)
(``rot_xu .. rot_zw``, row-major: global = R @ local + centre), half-thickness ``module_t``,
trapezoid half-widths in u at -v and +v (``module_minhu``, ``module_maxhu``), half-length in v
(``module_hv``) and the pixel pitch (``pitch_u``, ``pitch_v``), all in mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

#: Columns of detectors.csv, in file order.
DETECTOR_COLUMNS: tuple[str, ...] = (
    "volume_id", "layer_id", "module_id",
    "cx", "cy", "cz",
    "rot_xu", "rot_xv", "rot_xw", "rot_yu", "rot_yv", "rot_yw", "rot_zu", "rot_zv", "rot_zw",
    "module_t", "module_minhu", "module_maxhu", "module_hv", "pitch_u", "pitch_v",
)  # fmt: skip
ID_COLUMNS = ("volume_id", "layer_id", "module_id")

#: The TrackML solenoid field, along +z, in tesla.
TRACKML_FIELD_TESLA = 2.0


@dataclass
class Detector:
    """Module geometry (one DataFrame row per module, indexed 0..n-1) and a uniform field along z.

    Attributes:
        modules: the ``detectors.csv`` table.
        field_tesla: B_z in tesla (2 T for TrackML).
        source: where the geometry was read from.
    """

    modules: pd.DataFrame
    field_tesla: float = TRACKML_FIELD_TESLA
    source: str = ""

    def __len__(self) -> int:
        return len(self.modules)

    @property
    def centers(self) -> np.ndarray:
        """Module centres, shape (n_modules, 3), mm."""
        return self.modules[["cx", "cy", "cz"]].to_numpy(np.float64)

    @property
    def rotations(self) -> np.ndarray:
        """Rotation matrices local (u, v, w) -> global (x, y, z), shape (n_modules, 3, 3)."""
        cols = ["rot_xu", "rot_xv", "rot_xw", "rot_yu", "rot_yv", "rot_yw", "rot_zu", "rot_zv", "rot_zw"]
        return self.modules[cols].to_numpy(np.float64).reshape(-1, 3, 3)

    def module_index(self, volume_id, layer_id, module_id) -> np.ndarray:
        """Row index of each (volume, layer, module) triple; raises KeyError for unknown modules."""
        keys = pd.MultiIndex.from_frame(self.modules[list(ID_COLUMNS)])
        query = pd.MultiIndex.from_arrays(
            [np.asarray(volume_id), np.asarray(layer_id), np.asarray(module_id)]
        )
        index = keys.get_indexer(query)
        if (index < 0).any():
            bad = query[index < 0][0]
            raise KeyError(f"module (volume_id, layer_id, module_id) = {bad} is not in the detector")
        return index


def default_detector_path() -> Path:
    """Path of the TrackML geometry shipped with the package (see ``tracking/data/README.md``)."""
    return Path(str(resources.files("gnn4hep.tracking").joinpath("data/detectors.csv.gz")))
