"""Measurements of track candidates: the hit table (ordered along each track) and padded surfaces.

:func:`hit_table` joins a (hit_id, track_id) table with the hit positions and module ids, orders each
candidate's hits along the track (:func:`order_key`) and sets the measurement variances: by default
the errors measured on real TrackML clusters (:mod:`~gnn4hep.tracking.fitting.hit_errors`: per volume and
cluster size when the event has cells, per volume otherwise), or pitch^2 / 12 per local axis with
``hit_errors="pitch"`` (times the cluster extent in cells with the legacy ``cluster_errors``). :func:`track_surfaces` turns rows of that table into the padded
:class:`~gnn4hep.tracking.fitting.kalman.Surfaces` of the batched fitter, with local (u, v)
measurements = first two rows of R^T (x - c) on each hit's module (``detectors.csv``). Units mm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.errors import SubmissionError
from gnn4hep.tracking.detector import Detector
from gnn4hep.tracking.fitting.hit_errors import hit_offsets, hit_sigmas
from gnn4hep.tracking.fitting.kalman import Surfaces
from gnn4hep.tracking.fitting.propagation import global_to_local

HIT_COLUMNS = ("hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id")


def cluster_extent(cells: pd.DataFrame) -> pd.DataFrame:
    """Number of distinct ch0 and ch1 cells of each hit's cluster."""
    return cells.groupby("hit_id").agg(n_u=("ch0", "nunique"), n_v=("ch1", "nunique"))


def order_key(table: pd.DataFrame) -> np.ndarray:
    """Key that orders each candidate's hits along the track.

    z is monotonic along a helix in a uniform field along z (p_z is constant); r only until the
    track has turned by pi (endcap loopers come back inwards). Tracks whose z extent exceeds their r
    extent are ordered by z (in the direction of the r-z trend), the others by r.
    """
    r = np.hypot(table["x"].to_numpy(np.float64), table["y"].to_numpy(np.float64))
    z = table["z"].to_numpy(np.float64)
    frame = pd.DataFrame({"t": table["track_id"].to_numpy(), "r": r, "z": z})
    grouped = frame.groupby("t")
    r_span = (grouped["r"].transform("max") - grouped["r"].transform("min")).to_numpy()
    z_span = (grouped["z"].transform("max") - grouped["z"].transform("min")).to_numpy()
    # direction: sign of z at the innermost hit minus z at the outermost hit, reversed
    inner_z = frame.loc[grouped["r"].idxmin(), ["t", "z"]].set_index("t")["z"]
    outer_z = frame.loc[grouped["r"].idxmax(), ["t", "z"]].set_index("t")["z"]
    sign = np.sign((outer_z - inner_z).reindex(frame["t"]).to_numpy())
    sign = np.where(sign == 0, np.sign(z - grouped["z"].transform("mean").to_numpy() + 1e-9), sign)
    return np.where(z_span > r_span, sign * z, r)


def hit_table(event, candidates: pd.DataFrame, detector: Detector, config) -> pd.DataFrame:
    """Candidate hits with position, module row, order key ``distance`` and measurement variances
    ``var_u, var_v`` (mm^2), sorted by (track_id, distance). A hit may appear in several tracks."""
    hits = event.hits
    missing = [c for c in HIT_COLUMNS if c not in hits.columns]
    if missing:
        raise SubmissionError(f"event hits: missing column '{missing[0]}'")
    table = candidates.merge(hits[list(HIT_COLUMNS)], on="hit_id", how="left", validate="many_to_one")
    if table[["x", "y", "z"]].isna().any().any():
        raise SubmissionError("event hits: columns 'x, y, z' have missing values")
    table["module_row"] = detector.module_index(table["volume_id"], table["layer_id"], table["module_id"])
    table["distance"] = order_key(table)
    pitch = detector.modules[["pitch_u", "pitch_v"]].to_numpy(np.float64)[table["module_row"].to_numpy()]
    has_cells = getattr(event, "cells", None) is not None and len(event.cells) > 0
    model = getattr(config, "hit_errors", "pitch")
    if model == "pitch":
        if config.cluster_errors and has_cells:
            extent = cluster_extent(event.cells).reindex(table["hit_id"]).fillna(1.0).to_numpy(np.float64)
            pitch = pitch * np.maximum(extent, 1.0)
        sigma = pitch / np.sqrt(12.0)
    else:
        extent = (cluster_extent(event.cells).reindex(table["hit_id"]).to_numpy(np.float64) if has_cells
                  else np.full((len(table), 2), np.nan))
        sigma = np.stack(hit_sigmas(table["volume_id"].to_numpy(), pitch[:, 0], pitch[:, 1], extent[:, 0],
                                    extent[:, 1], model), -1)
    variance = (config.error_scale * sigma) ** 2
    table["var_u"], table["var_v"] = variance[:, 0], variance[:, 1]
    offset = hit_offsets(table["volume_id"].to_numpy(), model)
    table["offset_u"], table["offset_v"] = offset[:, 0], offset[:, 1]
    table = table.sort_values(["track_id", "distance"], kind="stable").reset_index(drop=True)
    model = getattr(config, "material_model", "sensors")
    table["material_mm"] = crossed_material_mm(table, detector, model)
    if model == "trackml":  # the energy loss has its own measured material; the barrel's path is transverse
        table["loss_material_mm"] = crossed_material_mm(table, detector, "trackml_loss")
        normal_z = detector.rotations[table["module_row"].to_numpy(), 2, 2]
        table["transverse"] = np.abs(normal_z) < 0.5
    return table


def crossed_material_mm(table: pd.DataFrame, detector: Detector, model: str) -> np.ndarray:
    """Silicon-equivalent thickness (mm, before the crossing-angle factor) of each hit's crossing.

    ``sensors``: the module's own silicon, 2 module_t.
    ``simulator``: the real detector's layers hold supports, cooling and cables too; the first hit of
    each layer crossing gets the layer's silicon-equivalent thickness measured from the energy loss on
    the real sample event (:data:`~gnn4hep.tracking.simulation.material.TRACKML_LAYER_MATERIAL_MM`, the
    simulator's measured material), overlap hits of the same crossing their own silicon.
    ``trackml`` (for scattering): the same with the effective scattering material measured from the
    real truth's angle changes (:data:`~gnn4hep.tracking.fitting.material.TRACKML_SCATTERING_MATERIAL_MM`);
    ``trackml_loss`` (for the energy loss) with the material measured from the real truth's momentum loss
    (:data:`~gnn4hep.tracking.fitting.material.TRACKML_LOSS_MATERIAL_MM`). With ``trackml`` the barrel modules
    (normal within 60 degrees of the transverse plane) get a ``transverse`` path (:func:`hit_table`,
    :func:`~gnn4hep.tracking.fitting.material.crossing_cos`).
    ``table`` is sorted by (track_id, distance).
    """
    sensors = 2.0 * detector.modules["module_t"].to_numpy(np.float64)[table["module_row"].to_numpy()]
    if model == "sensors":
        return sensors
    from gnn4hep.tracking.fitting.material import loss_material_mm, scattering_material_mm
    from gnn4hep.tracking.simulation.material import layer_material_mm

    volume, layer, track = (table[c].to_numpy() for c in ("volume_id", "layer_id", "track_id"))
    lookup = {"trackml": scattering_material_mm, "trackml_loss": loss_material_mm}.get(model, layer_material_mm)
    measured = lookup(volume, layer)
    same_crossing = np.zeros(len(table), dtype=bool)
    same_crossing[1:] = (track[1:] == track[:-1]) & (volume[1:] == volume[:-1]) & (layer[1:] == layer[:-1])
    return np.where(same_crossing, sensors, measured)


def track_surfaces(table: pd.DataFrame, rows: np.ndarray, lengths: np.ndarray, detector: Detector) -> Surfaces:
    """Padded Surfaces of tracks whose hits are table rows ``rows`` (concatenated, sorted)."""
    width = int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    slot = np.minimum(np.arange(width)[None, :], lengths[:, None] - 1)
    index = rows[starts[:, None] + slot]  # (T, L) padded with the last hit
    mask = np.arange(width)[None, :] < lengths[:, None]
    module = table["module_row"].to_numpy()[index]
    centers, rotations = detector.centers[module], detector.rotations[module]
    local = global_to_local(table[["x", "y", "z"]].to_numpy(np.float64)[index], centers, rotations)
    if "offset_u" in table.columns:  # the measured systematic shift of the clusters (hit_errors.OFFSETS_MM)
        local = local - table[["offset_u", "offset_v"]].to_numpy(np.float64)[index]
    thickness = table["material_mm"].to_numpy(np.float64)[index]
    variances = table[["var_u", "var_v"]].to_numpy(np.float64)[index]
    loss = table["loss_material_mm"].to_numpy(np.float64)[index] if "loss_material_mm" in table.columns else None
    transverse = table["transverse"].to_numpy(bool)[index] if "transverse" in table.columns else None
    return Surfaces(centers, rotations, thickness, local, variances, mask, loss, transverse)
