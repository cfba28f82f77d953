"""Navigation index of the TrackML detector: layers and a module look-up grid per layer.

Propagation never tests all 18,728 modules. It finds, per particle, the next crossing of a *layer
surface* (a cylinder r = r_L for barrel layers, a plane z = z_L for end-cap disks) and then tests only
the modules registered in the grid cell of that crossing point. Grids are (phi, z) for barrel
layers and (phi, r) for disks; each module is registered in every cell its footprint (corners, padded
by ``pad_mm`` for the distance between the layer surface and the module plane and for the path
through the layer) overlaps, so both modules of an overlap are always candidates.

In TrackML every barrel module has its normal w perpendicular to z and every disk module has w along
z, which the index checks (``ValueError`` otherwise): intersections are then analytic.

Shapes: ``cell_modules`` is (n_cells, max_per_cell) of module row indices, -1 padded.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from gnn4hep.tracking.detector import Detector

TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class GeometryIndex:
    """Per-layer surfaces and module look-up grids (all lengths in mm).

    Attributes:
        layer_volume, layer_id: (n_layers,) ids of each layer.
        layer_barrel: (n_layers,) True for cylinders, False for disks.
        layer_position: (n_layers,) r_L (barrel) or z_L (disk).
        layer_low, layer_high: (n_layers,) extent along the other coordinate: z range (barrel) or
            r range (disk), padded.
        n_phi, n_second, low2, width2, cell_offset: (n_layers,) grid definition; the cell of a point
            is cell_offset + i_phi * n_second + i_second.
        cell_modules: (n_cells, max_per_cell) module rows, -1 padded.
        centers, rotations: (n_modules, 3) and (n_modules, 3, 3) module placement.
        half_thickness, min_hu, max_hu, hv, pitch_u, pitch_v: (n_modules,) bounds and pitch.
        module_layer: (n_modules,) layer index of each module.
        r_max, z_max: the detector envelope; a particle leaving it is stopped.
    """

    layer_volume: np.ndarray
    layer_id: np.ndarray
    layer_barrel: np.ndarray
    layer_position: np.ndarray
    layer_low: np.ndarray
    layer_high: np.ndarray
    n_phi: np.ndarray
    n_second: np.ndarray
    low2: np.ndarray
    width2: np.ndarray
    cell_offset: np.ndarray
    cell_modules: np.ndarray
    centers: np.ndarray
    rotations: np.ndarray
    half_thickness: np.ndarray
    min_hu: np.ndarray
    max_hu: np.ndarray
    hv: np.ndarray
    pitch_u: np.ndarray
    pitch_v: np.ndarray
    module_layer: np.ndarray
    module_ids: np.ndarray
    r_max: float
    z_max: float

    @property
    def n_layers(self) -> int:
        return len(self.layer_id)

    def half_width_u(self, module: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Half-width in u (mm) of the trapezoid ``module`` at local ``v`` (clipped to [-hv, hv])."""
        hv = self.hv[module]
        fraction = np.clip((v + hv) / (2 * hv), 0, 1)
        return self.min_hu[module] + (self.max_hu[module] - self.min_hu[module]) * fraction

    def cells_of(self, layer: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Grid cell index of each point (n, 3) mm in its ``layer`` (n,)."""
        phi = np.mod(np.arctan2(points[:, 1], points[:, 0]), TWO_PI)
        second = np.where(self.layer_barrel[layer], points[:, 2], np.hypot(points[:, 0], points[:, 1]))
        n_phi, n_second = self.n_phi[layer], self.n_second[layer]
        i_phi = np.minimum((phi / TWO_PI * n_phi).astype(np.int64), n_phi - 1)
        i_second = np.clip(((second - self.low2[layer]) / self.width2[layer]).astype(np.int64), 0, n_second - 1)
        return self.cell_offset[layer] + i_phi * n_second + i_second


def module_corners(centers, rotations, min_hu, max_hu, hv) -> np.ndarray:
    """Global positions (n, 4, 3) mm of the four corners of each trapezoid module."""
    u = np.stack([-min_hu, min_hu, max_hu, -max_hu], axis=1)
    v = np.stack([-hv, -hv, hv, hv], axis=1)
    local = np.stack([u, v, np.zeros_like(u)], axis=-1)  # (n, 4, 3)
    return np.einsum("nij,nkj->nki", rotations, local) + centers[:, None, :]


def build_index(detector: Detector, pad_mm: float = 12.0) -> GeometryIndex:
    """Build the :class:`GeometryIndex` of ``detector`` (about 0.2 s for TrackML)."""
    m = detector.modules
    centers, rotations = detector.centers, detector.rotations
    min_hu, max_hu, hv = (m[c].to_numpy(np.float64) for c in ("module_minhu", "module_maxhu", "module_hv"))
    normal_z = np.abs(rotations[:, 2, 2])
    barrel_module = normal_z < 1e-6
    if not np.all(barrel_module | (normal_z > 1 - 1e-6)):
        raise ValueError("geometry index: module normals must be perpendicular or parallel to z")
    keys = m["volume_id"].to_numpy(np.int64) * 1000 + m["layer_id"].to_numpy(np.int64)
    layer_keys, module_layer = np.unique(keys, return_inverse=True)
    n_layers = len(layer_keys)
    corners = module_corners(centers, rotations, min_hu, max_hu, hv)
    r_corner = np.hypot(corners[..., 0], corners[..., 1])
    phi_center = np.arctan2(centers[:, 1], centers[:, 0])
    dphi = np.angle(np.exp(1j * (np.arctan2(corners[..., 1], corners[..., 0]) - phi_center[:, None])))
    r_mod_min = np.hypot(centers[:, 0], centers[:, 1])

    fields = {k: np.zeros(n_layers) for k in ("position", "low", "high", "low2", "width2")}
    barrel = np.zeros(n_layers, dtype=bool)
    n_phi = np.zeros(n_layers, dtype=np.int64)
    n_second = np.zeros(n_layers, dtype=np.int64)
    registrations = []  # (cell, module)
    offset = 0
    offsets = np.zeros(n_layers, dtype=np.int64)
    for layer in range(n_layers):
        rows = np.flatnonzero(module_layer == layer)
        barrel[layer] = barrel_module[rows[0]]
        if barrel[layer]:
            fields["position"][layer] = np.mean(r_mod_min[rows])
            lo = corners[rows, :, 2].min(axis=1) - pad_mm
            hi = corners[rows, :, 2].max(axis=1) + pad_mm
            radius = fields["position"][layer]
        else:
            fields["position"][layer] = np.mean(centers[rows, 2])
            lo = r_corner[rows].min(axis=1) - pad_mm
            hi = r_corner[rows].max(axis=1) + pad_mm
            radius = np.maximum(r_corner[rows].min(axis=1), 1.0)
        fields["low"][layer], fields["high"][layer] = lo.min(), hi.max()
        width_phi = np.median(np.ptp(dphi[rows], axis=1))
        n_phi[layer] = int(np.clip(round(TWO_PI / max(width_phi / 2, 1e-3)), 4, 512))
        size2 = np.median(2 * hv[rows]) / 2
        n_second[layer] = int(np.clip(round((hi.max() - lo.min()) / size2), 1, 512))
        fields["low2"][layer] = lo.min()
        fields["width2"][layer] = (hi.max() - lo.min()) / n_second[layer]
        pad_phi = pad_mm / radius
        phi_lo = phi_center[rows] + dphi[rows].min(axis=1) - pad_phi
        phi_hi = phi_center[rows] + dphi[rows].max(axis=1) + pad_phi
        i_phi_lo = np.floor(phi_lo / TWO_PI * n_phi[layer]).astype(np.int64)
        i_phi_hi = np.floor(phi_hi / TWO_PI * n_phi[layer]).astype(np.int64)
        i2_lo = np.clip(((lo - fields["low2"][layer]) / fields["width2"][layer]).astype(np.int64), 0, n_second[layer] - 1)
        i2_hi = np.clip(((hi - fields["low2"][layer]) / fields["width2"][layer]).astype(np.int64), 0, n_second[layer] - 1)
        span_phi = i_phi_hi - i_phi_lo + 1
        span2 = i2_hi - i2_lo + 1
        for dp in range(int(span_phi.max())):
            for d2 in range(int(span2.max())):
                ok = (dp < span_phi) & (d2 < span2)
                cell_phi = np.mod(i_phi_lo[ok] + dp, n_phi[layer])
                cell = offset + cell_phi * n_second[layer] + i2_lo[ok] + d2
                registrations.append(np.stack([cell, rows[ok]], axis=1))
        offsets[layer] = offset
        offset += n_phi[layer] * n_second[layer]
    pairs = np.unique(np.concatenate(registrations), axis=0)
    counts = np.bincount(pairs[:, 0], minlength=offset)
    cell_modules = -np.ones((offset, counts.max()), dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(pairs)) - start[pairs[:, 0]]
    cell_modules[pairs[:, 0], slot] = pairs[:, 1]
    return GeometryIndex(
        layer_volume=(layer_keys // 1000).astype(np.int64),
        layer_id=(layer_keys % 1000).astype(np.int64),
        layer_barrel=barrel,
        layer_position=fields["position"],
        layer_low=fields["low"],
        layer_high=fields["high"],
        n_phi=n_phi,
        n_second=n_second,
        low2=fields["low2"],
        width2=fields["width2"],
        cell_offset=offsets,
        cell_modules=cell_modules,
        centers=centers,
        rotations=rotations,
        half_thickness=m["module_t"].to_numpy(np.float64),
        min_hu=min_hu,
        max_hu=max_hu,
        hv=hv,
        pitch_u=m["pitch_u"].to_numpy(np.float64),
        pitch_v=m["pitch_v"].to_numpy(np.float64),
        module_layer=module_layer,
        module_ids=m[["volume_id", "layer_id", "module_id"]].to_numpy(np.int64),
        r_max=float(r_corner.max() + 5.0),
        z_max=float(np.abs(corners[..., 2]).max() + 5.0),
    )


_CACHE: dict[tuple, tuple[Detector, GeometryIndex]] = {}


def cached_index(detector: Detector, pad_mm: float = 12.0) -> GeometryIndex:
    """:func:`build_index` memoised per detector object (by identity; the detector is kept alive)."""
    key = (id(detector), pad_mm)
    entry = _CACHE.get(key)
    if entry is None or entry[0] is not detector:
        _CACHE.clear()
        entry = (detector, build_index(detector, pad_mm))
        _CACHE[key] = entry
    return entry[1]
