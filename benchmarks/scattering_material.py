"""Benchmark: the scattering and energy-loss material of each TrackML layer, measured from the real truth.

For consecutive true hits a -> b of a particle (b on another layer, pT > 0.3 GeV, at least 20 mm apart),
the true state at a (truth position and momentum) is carried to b's module by the fitter's Runge-Kutta
propagator in the fitter's field for real data (:data:`gnn4hep.tracking.field.TRACKML_FIELD`, the solenoid with its
axis off the beam line), without material.
The angle between the propagated direction and the true direction at b, in the two directions
perpendicular to the track, is the scattering at a (plus any error of the field model). Its width divided by
the Highland theta_0 of the layer's energy-loss material
(:data:`gnn4hep.tracking.simulation.material.TRACKML_LAYER_MATERIAL_MM`) at the crossing angle and the
particle's mass gives a ratio s; the silicon-equivalent thickness whose Highland theta_0 is s times larger
is the layer's effective scattering material. The width is the RMS of the angles within 5 robust sigma
(1.4826 MAD) of their median: the Kalman fit adds a Gaussian of this variance; the core width alone (MAD, the
former definition) leaves out the single-scattering tails, 1.1-1.2 times the core in the barrels and 1.3-1.5
in the pixel end-caps, and the fit's pulls come out too wide.
The momentum lost over the same segment (truth |p| at a minus at b) at normal incidence over the silicon dE/dx,
its mean over the segments with 0 < loss < 5 times the median (the Landau tail of single hard collisions cut),
is the layer's energy-loss material (:data:`gnn4hep.tracking.fitting.material.TRACKML_LOSS_MATERIAL_MM`): the
mean, not the median, makes the fitted momentum unbiased on average.
Crossing angle: on barrel modules (normal within 60 degrees of the transverse plane) the path is the thickness
over |cos| of the angle to the track's transverse direction (the real truth's loss and scattering there do not
grow with the polar angle: the table ``by_cos`` of the JSON, :func:`gnn4hep.tracking.fitting.material.crossing_cos`);
elsewhere over |cos| of the angle to the direction.
Layers with fewer than ``MIN_SEGMENTS`` segments take their volume's median. Prints the tables (the literals of
:data:`gnn4hep.tracking.fitting.material.TRACKML_SCATTERING_MATERIAL_MM` and ``TRACKML_LOSS_MATERIAL_MM``)
and writes benchmarks/results/scattering_material.json.

The beam pipe the same way (:func:`beam_pipe_ratios`): particles made within 5 mm of the beam line (pT > 0.3 GeV),
their vertex state (particles.csv) carried to their first hit's module, the angle change over the Highland
theta_0 of the TrackML pipe (0.8 mm of beryllium, X0 = 352.8 mm, crossed at r = 19 mm along 1 / sin(theta)),
and the momentum lost on the way (truth |p| at the first hit minus |p| at the vertex); the effective x / X0 at
normal incidence is :data:`gnn4hep.tracking.fitting.beam_pipe.TRACKML_BEAM_PIPE_X0`.
Run: OMP_NUM_THREADS=1 python benchmarks/scattering_material.py
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.tracking.field import TRACKML_FIELD
from gnn4hep.tracking.fitting.beam_pipe import BERYLLIUM_DEDX_GEV_PER_MM
from gnn4hep.tracking.fitting.material import crossing_cos
from gnn4hep.tracking.fitting.stepper import propagate_field
from gnn4hep.tracking.simulation.material import SILICON_DEDX_GEV_PER_MM
from gnn4hep.tracking.io import read_detector, read_event
from gnn4hep.tracking.simulation.material import highland_theta0, layer_material_mm, mass_of
from gnn4hep.utils.atomic import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"
OUT = ROOT / "benchmarks" / "results" / "scattering_material.json"
MIN_SEGMENTS = 20


def angle_changes(detector, p, q, start, row, p_after) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carry each particle's true momentum ``p`` (n, 3) GeV and charge ``q`` (n,) from ``start`` (n, 3) mm to the
    plane of module ``row`` (n,) in the TrackML solenoid, without material. Returns (miss (n,), d1, d2): the true
    direction there (of ``p_after`` (n, 3)) minus the predicted one, on two axes normal to the predicted direction
    (radians; ``miss`` is inf where the plane is not reached)."""
    p_mag = np.linalg.norm(p, axis=1)
    params = np.stack([np.zeros(len(p)), np.zeros(len(p)), np.arctan2(p[:, 1], p[:, 0]), np.arccos(p[:, 2] / p_mag),
                       q / p_mag], -1)
    eye = np.broadcast_to(np.eye(3), (len(p), 3, 3))
    _, _, _, miss, _, predicted = propagate_field(params, start, eye, detector.centers[row], detector.rotations[row],
                                                  TRACKML_FIELD, jacobian=False)
    change = p_after / np.linalg.norm(p_after, axis=1, keepdims=True) - predicted
    e1 = np.cross(predicted, [0.0, 0.0, 1.0])
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(predicted, e1)
    return miss, np.einsum("ij,ij->i", change, e1), np.einsum("ij,ij->i", change, e2)


def barrel_module(normals: np.ndarray) -> np.ndarray:
    """True for module normals (n, 3) within 60 degrees of the transverse plane (the barrel's)."""
    return np.abs(normals[:, 2]) < 0.5


def segment_ratios(prefix: Path = DATA) -> pd.DataFrame:
    """Per segment a -> b: volume and layer of a, the two measured angles over the predicted theta_0, |cos| of the
    crossing at a (``cos``, the barrel's transverse), the plain |cos| (``cos_3d``) and the momentum lost between a
    and b times ``cos`` over the silicon dE/dx (``loss_mm``: the silicon-equivalent thickness at normal incidence)."""
    event = read_event(prefix)
    detector = read_detector()
    cols = ["particle_id", "q", "vx", "vy", "vz", "particle_type"]
    t = event.truth[event.truth["particle_id"] != 0].merge(event.hits, on="hit_id").merge(event.particles[cols], on="particle_id")
    t["dist"] = np.sqrt((t["tx"] - t["vx"]) ** 2 + (t["ty"] - t["vy"]) ** 2 + (t["tz"] - t["vz"]) ** 2)
    t = t.sort_values(["particle_id", "dist"]).reset_index(drop=True)
    pid = t["particle_id"].to_numpy()
    a, b = t.iloc[:-1].reset_index(drop=True), t.iloc[1:].reset_index(drop=True)
    length = np.sqrt((a["tx"] - b["tx"]) ** 2 + (a["ty"] - b["ty"]) ** 2 + (a["tz"] - b["tz"]) ** 2).to_numpy()
    other_layer = ((a["volume_id"] != b["volume_id"]) | (a["layer_id"] != b["layer_id"])).to_numpy()
    keep = (pid[1:] == pid[:-1]) & other_layer & (length > 20.0) & (np.hypot(a["tpx"], a["tpy"]) > 0.3).to_numpy()
    a, b = a[keep].reset_index(drop=True), b[keep].reset_index(drop=True)
    row_a = detector.module_index(a["volume_id"], a["layer_id"], a["module_id"])
    row_b = detector.module_index(b["volume_id"], b["layer_id"], b["module_id"])
    p = a[["tpx", "tpy", "tpz"]].to_numpy(np.float64)
    p_mag = np.linalg.norm(p, axis=1)
    miss, d1, d2 = angle_changes(detector, p, a["q"].to_numpy(np.float64), a[["tx", "ty", "tz"]].to_numpy(np.float64),
                                 row_b, b[["tpx", "tpy", "tpz"]].to_numpy(np.float64))
    material = layer_material_mm(a["volume_id"].to_numpy(), a["layer_id"].to_numpy())
    normals = detector.rotations[row_a][:, :, 2]
    cos = crossing_cos(p / p_mag[:, None], normals, barrel_module(normals))
    cos_3d = crossing_cos(p / p_mag[:, None], normals)
    theta0 = highland_theta0(p_mag, mass_of(a["particle_type"].to_numpy()), 1.0, material / cos)
    loss = p_mag - np.linalg.norm(b[["tpx", "tpy", "tpz"]].to_numpy(np.float64), axis=1)
    out = pd.DataFrame({"volume_id": a["volume_id"], "layer_id": a["layer_id"], "material_mm": material,
                        "r1": d1 / theta0, "r2": d2 / theta0, "cos": cos, "cos_3d": cos_3d,
                        "loss_mm": loss * cos / SILICON_DEDX_GEV_PER_MM})
    return out[np.isfinite(miss)]


def beam_pipe_ratios(prefix: Path = DATA) -> pd.DataFrame:
    """Per primary particle: its momentum p (GeV), the two angle changes vertex -> first hit over the Highland
    theta_0 of the beam pipe, and the momentum lost on the way, dp (GeV, > 0 for a loss)."""
    from gnn4hep.tracking.fitting.beam_pipe import BERYLLIUM_X0_MM, TRACKML_BEAM_PIPE_MM, TRACKML_BEAM_PIPE_RADIUS_MM

    event = read_event(prefix)
    detector = read_detector()
    cols = ["particle_id", "q", "vx", "vy", "vz", "px", "py", "pz", "particle_type"]
    t = event.truth[event.truth["particle_id"] != 0].merge(event.hits, on="hit_id").merge(event.particles[cols], on="particle_id")
    t["dist"] = np.sqrt((t["tx"] - t["vx"]) ** 2 + (t["ty"] - t["vy"]) ** 2 + (t["tz"] - t["vz"]) ** 2)
    first = t.sort_values(["particle_id", "dist"]).groupby("particle_id").head(1).reset_index(drop=True)
    p = first[["px", "py", "pz"]].to_numpy(np.float64)
    p_mag = np.linalg.norm(p, axis=1)
    keep = ((np.hypot(first["vx"], first["vy"]) < 5.0) & (first["q"] != 0) & (np.hypot(p[:, 0], p[:, 1]) > 0.3)
            & (np.hypot(first["tx"], first["ty"]) > TRACKML_BEAM_PIPE_RADIUS_MM + 5.0)).to_numpy()
    first, p, p_mag = first[keep].reset_index(drop=True), p[keep], p_mag[keep]
    row = detector.module_index(first["volume_id"], first["layer_id"], first["module_id"])
    p_b = first[["tpx", "tpy", "tpz"]].to_numpy(np.float64)
    miss, d1, d2 = angle_changes(detector, p, first["q"].to_numpy(np.float64),
                                 first[["vx", "vy", "vz"]].to_numpy(np.float64), row, p_b)
    sin_theta = np.hypot(p[:, 0], p[:, 1]) / p_mag
    theta0 = highland_theta0(p_mag, mass_of(first["particle_type"].to_numpy()), 1.0, TRACKML_BEAM_PIPE_MM / sin_theta,
                             BERYLLIUM_X0_MM)
    out = pd.DataFrame({"p": p_mag, "r1": d1 / theta0, "r2": d2 / theta0,
                        "dp": p_mag - np.linalg.norm(p_b, axis=1), "sin_theta": sin_theta})
    return out[np.isfinite(miss)]


def robust_width(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def trimmed_rms(values, cut: float = 5.0) -> float:
    """RMS of ``values`` within ``cut`` robust widths (1.4826 MAD) of their median."""
    values = np.asarray(values, dtype=np.float64)
    core = np.abs(values - np.median(values)) < cut * robust_width(values)
    return float(values[core].std())


def truncated_mean(values, cut: float = 5.0) -> float:
    """Mean of the positive ``values`` below ``cut`` times their median."""
    values = np.asarray(values, dtype=np.float64)
    values = values[values > 0]
    return float(values[values < cut * np.median(values)].mean())


def equivalent_thickness(material_mm: float, ratio: float, x0_mm: float | None = None) -> float:
    """Thickness (mm; of silicon, or of the material of radiation length ``x0_mm``) whose Highland theta_0 is
    ``ratio`` times that of ``material_mm`` (1 GeV muon)."""
    extra = () if x0_mm is None else (x0_mm,)
    grid = np.geomspace(0.002, 200.0, 6000)
    target = ratio * highland_theta0(1.0, 0.1056584, 1.0, material_mm, *extra)
    return float(grid[np.argmin(np.abs(highland_theta0(1.0, 0.1056584, 1.0, grid, *extra) - target))])


def main() -> int:
    if not Path(f"{DATA}-truth.csv.gz").exists():
        print(f"scattering_material: the real sample event is missing ({DATA}-truth.csv.gz)", file=sys.stderr)
        return 2
    seg = segment_ratios()
    rows = []
    for (volume, layer), sub in seg.groupby(["volume_id", "layer_id"]):
        ratio = 0.5 * (trimmed_rms(sub["r1"]) + trimmed_rms(sub["r2"]))
        core_ratio = 0.5 * (robust_width(sub["r1"]) + robust_width(sub["r2"]))
        material = float(sub["material_mm"].iloc[0])
        rows.append({"volume_id": int(volume), "layer_id": int(layer), "n": int(len(sub)), "ratio": ratio,
                     "core_ratio": core_ratio, "energy_loss_mm": material,
                     "scattering_mm": equivalent_thickness(material, ratio),
                     "loss_mm": truncated_mean(sub["loss_mm"]), "loss_median_mm": float(np.median(sub["loss_mm"]))})
    table = pd.DataFrame(rows)
    good = table["n"] >= MIN_SEGMENTS
    for column, fallback in (("scattering_mm", "adopted_mm"), ("loss_mm", "adopted_loss_mm")):
        by_volume = table[good].groupby("volume_id")[column].median()
        table[fallback] = np.where(good, table[column], table["volume_id"].map(by_volume))
        table[fallback] = table[fallback].fillna(table["energy_loss_mm"]).round(2)
    print(table.round(2).to_string(index=False))
    for name, column in (("TRACKML_SCATTERING_MATERIAL_MM", "adopted_mm"), ("TRACKML_LOSS_MATERIAL_MM", "adopted_loss_mm")):
        print(f"\n{name} = {{")
        for volume, sub in table.groupby("volume_id"):
            items = ", ".join(f"({volume}, {layer}): {value}" for layer, value in zip(sub["layer_id"], sub[column]))
            print(f"    {items},")
        print("}")
    # the crossing-angle law: barrel loss and scattering per bin of the plain |cos| (against its 1 / |cos| path)
    barrel = seg[seg["volume_id"].isin((8, 13))]
    by_cos = []
    for volume, (lo, hi) in itertools.product((8, 13), ((0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 1.01))):
        sub = barrel[(barrel["volume_id"] == volume) & (barrel["cos_3d"] >= lo) & (barrel["cos_3d"] < hi)]
        if len(sub) < 10:
            continue
        loss_mev = 1e3 * SILICON_DEDX_GEV_PER_MM * sub["loss_mm"] / sub["cos"]  # the momentum lost itself
        by_cos.append({"volume_id": volume, "cos_lo": lo, "cos_hi": hi, "n": int(len(sub)),
                       "loss_mev_median": float(np.median(loss_mev)),
                       "path_factor_median": float(np.median(1.0 / sub["cos_3d"])),
                       "ratio_transverse": 0.5 * (trimmed_rms(sub["r1"]) + trimmed_rms(sub["r2"]))})
    print("\nbarrel, per bin of |cos| (polar and azimuthal crossing angle): median loss (MeV), median 1/|cos|, "
          "angle width over Highland theta_0 of the transverse path")
    for row in by_cos:
        print(f"  volume {row['volume_id']} |cos| {row['cos_lo']:.2f}-{row['cos_hi']:.2f}: n {row['n']:4d}  loss "
              f"{row['loss_mev_median']:.2f}  1/|cos| {row['path_factor_median']:.2f}  ratio {row['ratio_transverse']:.2f}")
    from gnn4hep.tracking.fitting.beam_pipe import BERYLLIUM_X0_MM, TRACKML_BEAM_PIPE_MM

    pipe = beam_pipe_ratios()
    widths = (robust_width(pipe["r1"]), robust_width(pipe["r2"]))
    ratio = 0.5 * sum(widths)
    effective = equivalent_thickness(TRACKML_BEAM_PIPE_MM, ratio, BERYLLIUM_X0_MM) / BERYLLIUM_X0_MM
    loss = 1e3 * pipe["dp"] * pipe["sin_theta"]  # at normal incidence, MeV
    beam_pipe = {"n": int(len(pipe)), "ratio_bending": widths[0], "ratio_other": widths[1], "ratio": ratio,
                 "rms_ratio": float(0.5 * (pipe["r1"].std() + pipe["r2"].std())),
                 "geometry_x0_fraction": TRACKML_BEAM_PIPE_MM / BERYLLIUM_X0_MM, "effective_x0_fraction": effective,
                 "loss_mev_median_normal": float(np.median(loss)),
                 "loss_mev_predicted_normal": 1e3 * TRACKML_BEAM_PIPE_MM * BERYLLIUM_DEDX_GEV_PER_MM}
    print(f"\nbeam pipe (vertex -> first hit, {beam_pipe['n']} particles): angle change over Highland theta_0 of "
          f"{100 * beam_pipe['geometry_x0_fraction']:.3f}% X0: {widths[0]:.3f} (bending), {widths[1]:.3f} (other); "
          f"rms {beam_pipe['rms_ratio']:.3f}; effective x/X0 = {100 * effective:.3f}%")
    print(f"momentum lost at normal incidence: median {beam_pipe['loss_mev_median_normal']:.3f} MeV "
          f"(0.8 mm of beryllium: {beam_pipe['loss_mev_predicted_normal']:.3f} MeV)")
    atomic_write_json(OUT, {"layers": table.to_dict(orient="records"), "min_segments": MIN_SEGMENTS, "beam_pipe": beam_pipe,
                            "by_cos": by_cos,
                            "command": "OMP_NUM_THREADS=1 python benchmarks/scattering_material.py"})
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
