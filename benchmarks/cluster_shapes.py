"""Benchmark: cluster shapes of real TrackML hits against simulated ones, and the calibration of the response.

For the true hits of particles with pT > 1 GeV (truth momentum at the hit), per detector region (pixel barrel 8,
pixel end-caps 7/9, short-strip barrel 13 and end-caps 12/14, long-strip barrel 17 and end-caps 16/18), it compares
the cluster extents n_u, n_v (distinct ch0 and ch1 channels of the hit's cells) and the summed cell value with the
extents a straight track would leave through the module: e_u = 2 t |d_u / d_w| / p_u and e_v = 2 t |d_v / d_w| / p_v
(d the truth direction in the module frame of ``detectors.csv``, t = module_t the half-thickness, p the pitches).
Per region and source it fits n = intercept + slope * e by least squares, the ratio of n_v to 1 + e_v (the edge
filter's extent1 / expected1, through the origin), and gives the mean cluster size, the
mean summed value, its median ratio to the path length through 2 t, and the mean offset (um) of the measured from
the true position along u. Sources: the real sample event (event000000001), and one simulated Pythia event
(``--pileup``, default 50) digitised twice from the same crossings: ``clusters`` (the response before issue 12's
calibration) and ``trackml`` (the calibrated default). Noise hits get their own rows (n_u, n_v, value sum).

Calibration (``calibration`` in the JSON): per region, the response (depth fraction f, tan of the Lorentz angle,
readout side) whose predicted cells, from each real true hit's truth position and momentum (all pT), best overlap
the real cells (Jaccard index of the (hit, ch0, ch1) sets): a scan of f at tan_L = 0, then of (side, tan_L) at
that f, then of f again. ``digitisation.TRACKML_RESPONSE`` holds these figures; the script says if they differ.
For pixels it also gives the spread of the real cell values about the predicted path lengths (value_sigma: the
interquartile range of their ratio / 1.349; ``digitisation.TRACKML_VALUE_SIGMA``).

Run: python benchmarks/cluster_shapes.py [--pileup 50] [--seed 1]. Writes benchmarks/results/cluster_shapes.json.
Needs ../shared/data/trackml/sample_event (exit 2 without it) and Pythia.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.tracking.io import read_detector, read_event
from gnn4hep.tracking.simulation import digitisation
from gnn4hep.tracking.simulation.geometry_index import cached_index
from gnn4hep.utils.atomic import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"
OUT = ROOT / "benchmarks" / "results" / "cluster_shapes.json"
REGIONS = {"pixel barrel": (8,), "pixel end-caps": (7, 9), "short-strip barrel": (13,),
           "short-strip end-caps": (12, 14), "long-strip barrel": (17,), "long-strip end-caps": (16, 18)}
PT_MIN_GEV = 1.0
FRACTIONS = np.round(np.arange(0.40, 1.101, 0.05), 2)
TANGENTS = np.round(np.arange(-0.20, 0.201, 0.01), 2)


def hit_shapes(event, detector) -> pd.DataFrame:
    """One row per hit with cells: volume_id, particle_id, pt (GeV), n_cells, n_u, n_v, charge (value sum),
    e_u, e_v (straight-track extents through 2 t, in cells; signed), path (mm through 2 t), du, dv (measured
    minus true position along u, v, mm)."""
    hits = event.hits.merge(event.truth, on="hit_id")
    row = detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    modules = detector.modules
    rotation = detector.rotations[row]
    direction = np.einsum("nji,nj->ni", rotation, hits[["tpx", "tpy", "tpz"]].to_numpy(np.float64))
    dw = np.where(np.abs(direction[:, 2]) < 1e-12, 1e-12, direction[:, 2])
    thickness = 2 * modules["module_t"].to_numpy()[row]
    delta = hits[["x", "y", "z"]].to_numpy(np.float64) - hits[["tx", "ty", "tz"]].to_numpy(np.float64)
    local = np.einsum("nji,nj->ni", rotation, delta)
    grouped = event.cells.groupby("hit_id")
    shape = pd.DataFrame({"n_cells": grouped.size(), "n_u": grouped["ch0"].nunique(), "n_v": grouped["ch1"].nunique(),
                          "charge": grouped["value"].sum()})
    table = pd.DataFrame({
        "volume_id": hits["volume_id"].to_numpy(), "particle_id": hits["particle_id"].to_numpy(),
        "pt": np.hypot(hits["tpx"], hits["tpy"]).to_numpy(),
        "e_u": thickness * direction[:, 0] / dw / modules["pitch_u"].to_numpy()[row],
        "e_v": thickness * direction[:, 1] / dw / modules["pitch_v"].to_numpy()[row],
        "path": thickness * np.linalg.norm(direction, axis=1) / np.abs(dw),
        "du": local[:, 0], "dv": local[:, 1],
    }, index=hits["hit_id"].to_numpy())  # fmt: skip
    return table.join(shape, how="inner")


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def region_figures(table: pd.DataFrame) -> dict[str, dict]:
    """Per region: fits of n_u, n_v against |e_u|, |e_v| and the means, for true pT > 1 GeV hits."""
    out = {}
    signal = table[(table["particle_id"] != 0) & (table["pt"] > PT_MIN_GEV)]
    for name, volumes in REGIONS.items():
        part = signal[signal["volume_id"].isin(volumes)]
        slope_u, intercept_u = _line(part["e_u"].abs().to_numpy(), part["n_u"].to_numpy(np.float64))
        slope_v, intercept_v = _line(part["e_v"].abs().to_numpy(), part["n_v"].to_numpy(np.float64))
        # the edge filter's feature pair (gnn4hep.graphs.pair_features): extent1 against expected1 = 1 + |e_v|,
        # as one ratio (least squares through the origin)
        expected1 = 1 + part["e_v"].abs().to_numpy()
        ratio_v = float(np.sum(part["n_v"].to_numpy() * expected1) / np.sum(expected1**2)) if len(part) else np.nan
        out[name] = {"hits": int(len(part)), "slope_u": slope_u, "intercept_u": intercept_u, "slope_v": slope_v,
                     "extent1_over_expected1": ratio_v,
                     "intercept_v": intercept_v, "mean_n_cells": float(part["n_cells"].mean()),
                     "mean_n_u": float(part["n_u"].mean()), "mean_n_v": float(part["n_v"].mean()),
                     "mean_charge": float(part["charge"].mean()),
                     "median_charge_over_path": float((part["charge"] / part["path"]).median()),
                     "mean_offset_u_um": 1000 * float(part["du"].mean()),
                     "rms_u_um": 1000 * float(part["du"].std()), "rms_v_um": 1000 * float(part["dv"].std())}
    return out


def noise_figures(table: pd.DataFrame) -> dict[str, dict]:
    """Mean cluster sizes and value sums of noise hits, pixels (volumes 7-9) and strips."""
    noise = table[table["particle_id"] == 0]
    out = {}
    for name, pixels in (("pixel noise", True), ("strip noise", False)):
        part = noise[(noise["volume_id"] < 10) == pixels]
        out[name] = {"hits": int(len(part)), "mean_n_u": float(part["n_u"].mean()),
                     "mean_n_v": float(part["n_v"].mean()), "mean_charge": float(part["charge"].mean())}
    return out


def _cell_keys(hit: np.ndarray, ch0: np.ndarray, ch1: np.ndarray) -> np.ndarray:
    return (hit.astype(np.int64) << 32) | (ch0.astype(np.int64) << 16) | ch1.astype(np.int64)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    both = np.intersect1d(a, b, assume_unique=True).size
    return both / (a.size + b.size - both)


def calibrate(event, detector) -> dict[str, dict]:
    """The response per region that best reproduces the real cells (module docstring), with the overlap of the
    shipped :data:`digitisation.TRACKML_RESPONSE` and of the uncalibrated ``clusters`` model."""
    index = cached_index(detector)
    hits = event.hits.merge(event.truth, on="hit_id")
    hits = hits[hits["particle_id"] != 0].reset_index(drop=True)
    module = detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    position = hits[["tx", "ty", "tz"]].to_numpy(np.float64)
    momentum = hits[["tpx", "tpy", "tpz"]].to_numpy(np.float64)
    row_of = pd.Series(np.arange(len(hits)), index=hits["hit_id"].to_numpy())
    cells = event.cells[event.cells["hit_id"].isin(row_of.index)]
    real_hit = row_of.loc[cells["hit_id"].to_numpy()].to_numpy()
    real_keys = _cell_keys(real_hit, cells["ch0"].to_numpy(), cells["ch1"].to_numpy())
    volume = hits["volume_id"].to_numpy()
    out = {}
    for name, volumes in REGIONS.items():
        rows = np.flatnonzero(np.isin(volume, volumes))
        real = np.unique(real_keys[np.isin(real_hit, rows)])
        binary = volumes[0] > 10

        def overlap(fraction, tangent, side, response=None):
            table = response or {v: (fraction, tangent, side, binary) for v in volumes}
            _, sim = digitisation.trackml_clusters(index, module[rows], position[rows], momentum[rows], table)
            keys = _cell_keys(rows[sim["hit"].to_numpy()], sim["ch0"].to_numpy(), sim["ch1"].to_numpy())
            return _jaccard(np.unique(keys), real)

        best_f = max(FRACTIONS, key=lambda f: overlap(f, 0.0, 1))
        pairs = [(side, tangent) for side in (1, -1) for tangent in TANGENTS]
        best_side, best_tan = max(pairs, key=lambda pair: overlap(best_f, pair[1], pair[0]))
        best_f = max(FRACTIONS, key=lambda f: overlap(f, best_tan, best_side))
        spread = {}
        if not binary:  # pixel values: real over predicted path length, cell by cell
            best = {v: (best_f, best_tan, best_side, False) for v in volumes}
            _, sim = digitisation.trackml_clusters(index, module[rows], position[rows], momentum[rows], best)
            keys = _cell_keys(rows[sim["hit"].to_numpy()], sim["ch0"].to_numpy(), sim["ch1"].to_numpy())
            predicted = pd.Series(sim["value"].to_numpy(), index=keys)
            measured = pd.Series(cells["value"].to_numpy(), index=real_keys)
            measured = measured[~measured.index.duplicated(keep=False)]  # a real cell listed twice: left out
            both = predicted.index.intersection(measured.index)
            ratio = measured.loc[both].to_numpy() / predicted.loc[both].to_numpy()
            quantiles = np.percentile(ratio, [5, 25, 50, 75, 95])
            spread = {"matched_cells": int(len(both)), "value_ratio_quantiles_5_25_50_75_95": quantiles.tolist(),
                      "value_sigma": float((quantiles[3] - quantiles[1]) / 1.349)}
        shipped = {v: digitisation.TRACKML_RESPONSE[v] for v in volumes}
        unit = {v: (1.0, 0.0, 1, False) for v in volumes}
        _, old = digitisation.clusters(index, module[rows], position[rows], momentum[rows])
        old_keys = np.unique(_cell_keys(rows[old["hit"].to_numpy()], old["ch0"].to_numpy(), old["ch1"].to_numpy()))
        out[name] = {"hits": int(len(rows)), "depth_fraction": float(best_f), "tan_lorentz": float(best_tan),
                     "readout_side": int(best_side), "jaccard": overlap(best_f, best_tan, best_side),
                     "jaccard_shipped": overlap(0, 0, 0, shipped),
                     "jaccard_full_depth_no_drift": overlap(0, 0, 0, unit),
                     "jaccard_clusters": _jaccard(old_keys, real),
                     "shipped": [list(map(float, shipped[v][:3])) for v in volumes], **spread}
    return out


def simulated_events(pileup: float, seed: int, detector):
    """One Pythia event digitised with ``clusters`` and with ``trackml`` (same particles and crossings)."""
    from gnn4hep.tracking.simulation import simulate_event
    from gnn4hep.tracking.simulation.batch import default_config
    from gnn4hep.tracking.simulation.pythia_source import PythiaSource

    source = PythiaSource(pileup=pileup)
    return {model: simulate_event(source, detector, seed=seed, config=default_config(source, digitisation=model))
            for model in ("clusters", "trackml")}


def digitisation_seconds(event, detector, repeat: int = 3) -> dict[str, float]:
    """CPU seconds of each cluster model on the true crossings of ``event`` (best of ``repeat``)."""
    index = cached_index(detector)
    hits = event.hits.merge(event.truth, on="hit_id")
    hits = hits[hits["particle_id"] != 0]
    module = detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    position = hits[["tx", "ty", "tz"]].to_numpy(np.float64)
    momentum = hits[["tpx", "tpy", "tpz"]].to_numpy(np.float64)
    out = {"hits": int(len(hits))}
    for name, function in (("clusters", digitisation.clusters), ("trackml", digitisation.trackml_clusters)):
        times = []
        for _ in range(repeat):
            start = time.process_time()
            function(index, module, position, momentum)
            times.append(time.process_time() - start)
        out[name] = min(times)
    return out


def print_table(figures: dict) -> None:
    columns = ("hits", "slope_u", "intercept_u", "slope_v", "intercept_v", "extent1_over_expected1", "mean_n_cells",
               "mean_n_u", "mean_n_v", "mean_charge", "median_charge_over_path", "mean_offset_u_um")
    print(f"{'region':22s} {'source':9s} " + " ".join(f"{c[:11]:>11s}" for c in columns))
    for region in REGIONS:
        for source, per_region in figures.items():
            row = per_region[region]
            print(f"{region:22s} {source:9s} " + " ".join(f"{row[c]:11.3f}" if c != "hits" else f"{row[c]:11d}"
                                                         for c in columns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pileup", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not SAMPLE.parent.is_dir():
        print(f"error: the real sample event {SAMPLE} is missing", file=sys.stderr)
        return 2
    start = time.process_time()
    detector = read_detector()
    real = read_event(SAMPLE)
    calibration = calibrate(real, detector)
    events = simulated_events(args.pileup, args.seed, detector)
    tables = {"real": hit_shapes(real, detector)} | {f"sim {k}": hit_shapes(e, detector) for k, e in events.items()}
    figures = {name: region_figures(table) for name, table in tables.items()}
    noise = {name: noise_figures(table) for name, table in tables.items()}
    print_table(figures)
    print("\nnoise hits:", {name: {k: {c: round(x, 3) for c, x in v.items()} for k, v in n.items()}
                            for name, n in noise.items()})
    print("\ncalibration on the real sample event (all true hits): best (f, tan_L, side), overlap; shipped; clusters")
    mismatch = False
    for region, row in calibration.items():
        print(f"  {region:22s} ({row['depth_fraction']:.2f}, {row['tan_lorentz']:+.2f}, {row['readout_side']:+d}) "
              f"{row['jaccard']:.3f}; shipped {row['jaccard_shipped']:.3f}; full depth, no drift "
              f"{row['jaccard_full_depth_no_drift']:.3f}; clusters {row['jaccard_clusters']:.3f}"
              + (f"; value sigma {row['value_sigma']:.3f} ({row['matched_cells']} cells)"
                 if "value_sigma" in row else ""))
        best = [row["depth_fraction"], row["tan_lorentz"], row["readout_side"]]
        mismatch |= any(not np.allclose(s, best) for s in row["shipped"]) and row["jaccard"] > row["jaccard_shipped"]
    if mismatch:
        print("note: digitisation.TRACKML_RESPONSE differs from this calibration")
    timing = digitisation_seconds(events["trackml"], detector)
    print(f"\ndigitisation CPU s on {timing['hits']} true crossings: clusters {timing['clusters']:.3f}, "
          f"trackml {timing['trackml']:.3f}")
    result = {"sample": str(SAMPLE.name), "pt_min_gev": PT_MIN_GEV, "pileup": args.pileup, "seed": args.seed,
              "regions": {k: list(v) for k, v in REGIONS.items()}, "figures": figures, "noise": noise,
              "calibration": calibration, "calibration_matches_shipped": not mismatch,
              "digitisation_cpu_seconds": timing,
              "benchmark_cpu_seconds": time.process_time() - start}
    atomic_write_json(OUT, result)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
