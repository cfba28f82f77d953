"""Benchmark: the hit errors of real TrackML clusters, measured on the sample event's truth.

The truth file gives each hit's true crossing point (tx, ty, tz); the hit (x, y, z) is the reconstructed
cluster position. Their difference, in the module's local (u, v) (first two rows of R^T (x - t),
``detectors.csv``), is the measurement error itself: no track fit is involved. Its RMS (after dropping
points beyond 5 robust sigma: delta rays, merged clusters) is tabulated

- per volume and cluster size along the axis (distinct ch0 cells for u, clipped at 4; distinct ch1
  cells for v, clipped at 6): the model for hits with cells. Sizes with fewer than ``MIN_HITS`` hits are
  merged with the next smaller size;
- per (volume, layer), all cluster sizes together: the default for hits without cells (event 1001);

and compared with pitch / sqrt(12). The residuals are first corrected for their volume's mean (a
systematic shift of the cluster position in the barrels: +9 um in u in the pixel barrel, -15 um in the
strip barrels, the signature of a Lorentz drift), which the fitter subtracts from the measurements. Prints the tables (as the Python literals of
:mod:`gnn4hep.tracking.fitting.hit_errors`) and writes benchmarks/results/hit_errors.json.
Run: OMP_NUM_THREADS=1 python benchmarks/hit_errors.py

``--simulated``: the same tables from our own simulated clusters (the ``hit_errors="simulated"`` model, for
events made with the geometric ``clusters`` digitisation; the default ``trackml`` one gets the real tables): one
Pythia event (mu = ``SIMULATED_PILEUP``, seed ``SIMULATED_SEED``, the Pythia defaults with ``clusters``:
solenoid, material, noise) simulated in memory, its true hits'
residuals from their true crossing points, with no offsets and a floor of ``FLOOR_MM`` = 5 um (a multi-cell
cluster of the simulator is the path-fraction-weighted mean of its cells, exact for a straight path: its
residual is then a few um or less, below what the fitter's linearisation and material model describe).
Writes benchmarks/results/hit_errors_simulated.json. Run: OMP_NUM_THREADS=1 python benchmarks/hit_errors.py --simulated
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.tracking.io import read_detector
from gnn4hep.utils.atomic import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"
OUT = ROOT / "benchmarks" / "results" / "hit_errors.json"
OUT_SIMULATED = ROOT / "benchmarks" / "results" / "hit_errors_simulated.json"
MIN_HITS = 20
SIMULATED_PILEUP = 50.0
SIMULATED_SEED = 7
FLOOR_MM = 0.005
MAX_SIZE = {"u": 4, "v": 6}


def _core(values: np.ndarray) -> np.ndarray:
    """The values within 5 robust sigma (1.4826 MAD) of the median."""
    values = np.asarray(values, dtype=np.float64)
    median = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - median))
    return values[np.abs(values - median) <= 5.0 * mad + 1e-12]


def robust_mean(values: np.ndarray) -> float:
    """Mean of the values within 5 robust sigma of the median."""
    return float(np.mean(_core(values)))


def robust_rms(values: np.ndarray) -> float:
    """RMS about zero of the values within 5 robust sigma of the median."""
    return float(np.sqrt(np.mean(_core(values) ** 2)))


def residual_table(prefix: Path = DATA) -> pd.DataFrame:
    """True-hit residuals (du, dv, mm), volume, layer, pitch and cluster sizes (n_u, n_v) of the sample event."""
    return residuals_of(pd.read_csv(f"{prefix}-hits.csv.gz"), pd.read_csv(f"{prefix}-truth.csv.gz"),
                        pd.read_csv(f"{prefix}-cells.csv.gz"))


def simulated_residual_table(pileup: float = SIMULATED_PILEUP, seed: int = SIMULATED_SEED) -> pd.DataFrame:
    """:func:`residual_table` of one Pythia event simulated in memory with the Pythia defaults."""
    from gnn4hep.tracking.simulation import make_source, simulate_event
    from gnn4hep.tracking.simulation.batch import default_config

    event = simulate_event(make_source("pythia", pileup=pileup), read_detector(), seed=seed,
                           config=default_config("pythia", digitisation="clusters"))
    return residuals_of(event.hits, event.truth, event.cells)


def residuals_of(hits: pd.DataFrame, truth: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """:func:`residual_table` of an event's hits, truth and cells tables."""
    hits = hits.merge(truth, on="hit_id")
    hits = hits[hits["particle_id"] != 0].reset_index(drop=True)
    detector = read_detector()
    row = detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    rotations = detector.rotations[row]
    delta = hits[["x", "y", "z"]].to_numpy(np.float64) - hits[["tx", "ty", "tz"]].to_numpy(np.float64)
    local = np.einsum("nji,nj->ni", rotations, delta)
    extent = cells.groupby("hit_id").agg(n_u=("ch0", "nunique"), n_v=("ch1", "nunique"))
    table = hits[["volume_id", "layer_id"]].assign(du=local[:, 0], dv=local[:, 1])
    table["pitch_u"] = detector.modules["pitch_u"].to_numpy()[row]
    table["pitch_v"] = detector.modules["pitch_v"].to_numpy()[row]
    sizes = extent.reindex(hits["hit_id"]).fillna(1).to_numpy(np.int64)
    table["n_u"], table["n_v"] = sizes[:, 0], sizes[:, 1]
    return table


def volume_offsets(table: pd.DataFrame) -> dict[int, tuple[float, float]]:
    """volume -> mean (du, dv) mm: the systematic shift of the cluster position (e.g. a Lorentz drift).

    A mean within 3 standard errors of zero is set to zero (not significant on this event).
    """
    out = {}
    for volume, sub in table.groupby("volume_id"):
        means = []
        for axis in ("du", "dv"):
            core = _core(sub[axis])
            mean = float(np.mean(core))
            means.append(round(mean, 4) if abs(mean) > 3.0 * np.std(core) / np.sqrt(len(core)) else 0.0)
        out[int(volume)] = tuple(means)
    return out


def corrected(table: pd.DataFrame, offsets) -> pd.DataFrame:
    """The residuals minus their volume's offset."""
    shift = np.array([offsets[int(v)] for v in table["volume_id"]])
    return table.assign(du=table["du"] - shift[:, 0], dv=table["dv"] - shift[:, 1])


def cluster_sigmas(table: pd.DataFrame, floor_mm: float = 0.0) -> dict[int, dict[str, list[float]]]:
    """volume -> {"u": [sigma for size 1, 2, ...], "v": [...]} (mm), at least ``floor_mm``; sizes with
    < MIN_HITS hits merge downwards."""
    out = {}
    for volume, sub in table.groupby("volume_id"):
        entry = {}
        for axis in ("u", "v"):
            size = np.minimum(sub[f"n_{axis}"].to_numpy(), MAX_SIZE[axis])
            sigmas = []
            for k in range(1, MAX_SIZE[axis] + 1):
                pick = size >= k if k == MAX_SIZE[axis] else size == k
                if pick.sum() >= MIN_HITS:
                    sigmas.append(robust_rms(sub[f"d{axis}"].to_numpy()[pick]))
                else:  # too few: merge into the largest size with enough hits so far (or all of the volume)
                    rest = size >= k
                    sigmas.append(sigmas[-1] if sigmas else robust_rms(sub[f"d{axis}"].to_numpy()[rest]))
            entry[axis] = [round(max(s, floor_mm), 4) for s in sigmas]
        out[int(volume)] = entry
    return out


def layer_sigmas(table: pd.DataFrame) -> dict[tuple[int, int], tuple[float, float]]:
    """(volume, layer) -> (sigma_u, sigma_v) mm over all cluster sizes (the model without cells)."""
    return {(int(v), int(layer)): (round(robust_rms(sub["du"]), 4), round(robust_rms(sub["dv"]), 4))
            for (v, layer), sub in table.groupby(["volume_id", "layer_id"])}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a != "--simulated" for a in argv):
        print(f"hit_errors: unknown option {[a for a in argv if a != '--simulated'][0]!r} (only --simulated)",
              file=sys.stderr)
        return 2
    if "--simulated" in argv:
        return main_simulated()
    if not Path(f"{DATA}-cells.csv.gz").exists():
        print(f"hit_errors: the real sample event is missing ({DATA}-cells.csv.gz)", file=sys.stderr)
        return 2
    raw = residual_table()
    offsets = volume_offsets(raw)
    table = corrected(raw, offsets)
    clusters = cluster_sigmas(table)
    layers = layer_sigmas(table)
    print(f"{len(table)} true hits of the sample event")
    print(f"{'volume':>6s} {'n':>5s} {'mean du':>8s} {'mean dv':>8s} {'pitch_u/sqrt12':>14s} {'RMS u':>7s} "
          f"{'pitch_v/sqrt12':>14s} {'RMS v':>7s}   (RMS about the mean)")
    for volume, sub in table.groupby("volume_id"):
        print(f"{volume:6d} {len(sub):5d} {offsets[volume][0]:8.4f} {offsets[volume][1]:8.4f} "
              f"{sub['pitch_u'].mean() / np.sqrt(12):14.4f} {robust_rms(sub['du']):7.4f} "
              f"{sub['pitch_v'].mean() / np.sqrt(12):14.4f} {robust_rms(sub['dv']):7.4f}")
    print("\nOFFSETS_MM = {  # volume: (mean du, mean dv)")
    for volume, value in offsets.items():
        print(f"    {volume}: {value},")
    print("}")
    print("VOLUME_SIGMAS_MM = {  # volume: (sigma_u, sigma_v), all cluster sizes")
    for volume, sub in table.groupby("volume_id"):
        print(f"    {volume}: ({robust_rms(sub['du']):.4f}, {robust_rms(sub['dv']):.4f}),")
    print("}")
    print("\nCLUSTER_SIGMAS_MM = {  # volume: (sigma_u by n_u = 1..4+, sigma_v by n_v = 1..6+)")
    for volume, entry in clusters.items():
        print(f"    {volume}: ({tuple(entry['u'])}, {tuple(entry['v'])}),")
    print("}\nLAYER_SIGMAS_MM = {  # (volume, layer): (sigma_u, sigma_v), all cluster sizes")
    for key, value in layers.items():
        print(f"    {key}: {value},")
    print("}")
    atomic_write_json(OUT, {"n_hits": int(len(table)), "offsets": {str(k): v for k, v in offsets.items()}, "clusters": {str(k): v for k, v in clusters.items()},
                            "layers": {f"{k[0]},{k[1]}": v for k, v in layers.items()},
                            "command": "OMP_NUM_THREADS=1 python benchmarks/hit_errors.py"})
    print(f"wrote {OUT}")
    return 0


def main_simulated() -> int:
    """The ``--simulated`` tables (see the module docstring)."""
    import time

    start = time.process_time()
    table = simulated_residual_table()
    offsets = volume_offsets(table)  # printed only: the simulator has no drift, the model no offsets
    clusters = cluster_sigmas(table, FLOOR_MM)
    print(f"{len(table)} true hits of a simulated Pythia event (mu = {SIMULATED_PILEUP:g}, seed {SIMULATED_SEED}); "
          f"{time.process_time() - start:.1f} s CPU")
    print(f"{'volume':>6s} {'n':>6s} {'mean du':>8s} {'mean dv':>8s} {'pitch_u/sqrt12':>14s} {'RMS u':>7s} "
          f"{'pitch_v/sqrt12':>14s} {'RMS v':>7s}   (RMS about zero, no floor)")
    volumes = {}
    for volume, sub in table.groupby("volume_id"):
        rms_u, rms_v = robust_rms(sub["du"]), robust_rms(sub["dv"])
        volumes[int(volume)] = (round(max(rms_u, FLOOR_MM), 4), round(max(rms_v, FLOOR_MM), 4))
        print(f"{volume:6d} {len(sub):6d} {offsets[volume][0]:8.4f} {offsets[volume][1]:8.4f} "
              f"{sub['pitch_u'].mean() / np.sqrt(12):14.4f} {rms_u:7.4f} {sub['pitch_v'].mean() / np.sqrt(12):14.4f} {rms_v:7.4f}")
    print(f"\nSIMULATED_VOLUME_SIGMAS_MM = {{  # volume: (sigma_u, sigma_v), all cluster sizes, >= {FLOOR_MM} mm")
    for volume, value in volumes.items():
        print(f"    {volume}: {value},")
    print(f"}}\nSIMULATED_CLUSTER_SIGMAS_MM = {{  # volume: (sigma_u by n_u = 1..4+, sigma_v by n_v = 1..6+), >= {FLOOR_MM} mm")
    for volume, entry in clusters.items():
        print(f"    {volume}: ({tuple(entry['u'])}, {tuple(entry['v'])}),")
    print("}")
    atomic_write_json(OUT_SIMULATED, {"n_hits": int(len(table)), "pileup": SIMULATED_PILEUP, "seed": SIMULATED_SEED,
                                      "floor_mm": FLOOR_MM, "offsets": {str(k): v for k, v in offsets.items()},
                                      "volumes": {str(k): v for k, v in volumes.items()},
                                      "clusters": {str(k): v for k, v in clusters.items()},
                                      "command": "OMP_NUM_THREADS=1 python benchmarks/hit_errors.py --simulated"})
    print(f"wrote {OUT_SIMULATED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
