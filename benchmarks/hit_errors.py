"""Benchmark: the hit errors of real TrackML clusters, measured on the sample event's truth.

The truth file gives each hit's true crossing point (tx, ty, tz); the hit (x, y, z) is the reconstructed
cluster position. Their difference, in the module's local (u, v) (first two rows of R^T (x - t),
``detectors.csv``), is the measurement error itself: no track fit is involved. Its RMS (after dropping
points beyond 5 robust sigma: delta rays, merged clusters) is tabulated

- per volume and cluster size along the axis (distinct ch0 cells for u, clipped at 4; distinct ch1
  cells for v, clipped at 6): the model for hits with cells. Sizes with fewer than ``MIN_HITS`` hits are
  merged with the next smaller size;
- per (volume, layer), all cluster sizes together: the default for hits without cells (event 1001);

and compared with pitch / sqrt(12). Prints the tables (as the Python literals of
:mod:`gnn4hep.tracking.fitting.hit_errors`) and writes benchmarks/results/hit_errors.json.
Run: OMP_NUM_THREADS=1 python benchmarks/hit_errors.py
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
MIN_HITS = 20
MAX_SIZE = {"u": 4, "v": 6}


def robust_rms(values: np.ndarray) -> float:
    """RMS about zero of the values within 5 robust sigma (1.4826 MAD) of the median."""
    values = np.asarray(values, dtype=np.float64)
    median = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - median))
    keep = np.abs(values - median) <= 5.0 * mad + 1e-12
    return float(np.sqrt(np.mean(values[keep] ** 2)))


def residual_table(prefix: Path = DATA) -> pd.DataFrame:
    """True-hit residuals (du, dv, mm), volume, layer, pitch and cluster sizes (n_u, n_v) of the sample event."""
    hits = pd.read_csv(f"{prefix}-hits.csv.gz").merge(pd.read_csv(f"{prefix}-truth.csv.gz"), on="hit_id")
    hits = hits[hits["particle_id"] != 0].reset_index(drop=True)
    detector = read_detector()
    row = detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    rotations = detector.rotations[row]
    delta = hits[["x", "y", "z"]].to_numpy(np.float64) - hits[["tx", "ty", "tz"]].to_numpy(np.float64)
    local = np.einsum("nji,nj->ni", rotations, delta)
    cells = pd.read_csv(f"{prefix}-cells.csv.gz")
    extent = cells.groupby("hit_id").agg(n_u=("ch0", "nunique"), n_v=("ch1", "nunique"))
    table = hits[["volume_id", "layer_id"]].assign(du=local[:, 0], dv=local[:, 1])
    table["pitch_u"] = detector.modules["pitch_u"].to_numpy()[row]
    table["pitch_v"] = detector.modules["pitch_v"].to_numpy()[row]
    sizes = extent.reindex(hits["hit_id"]).fillna(1).to_numpy(np.int64)
    table["n_u"], table["n_v"] = sizes[:, 0], sizes[:, 1]
    return table


def cluster_sigmas(table: pd.DataFrame) -> dict[int, dict[str, list[float]]]:
    """volume -> {"u": [sigma for size 1, 2, ...], "v": [...]} (mm); sizes with < MIN_HITS hits merge downwards."""
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
            entry[axis] = [round(s, 4) for s in sigmas]
        out[int(volume)] = entry
    return out


def layer_sigmas(table: pd.DataFrame) -> dict[tuple[int, int], tuple[float, float]]:
    """(volume, layer) -> (sigma_u, sigma_v) mm over all cluster sizes (the model without cells)."""
    return {(int(v), int(layer)): (round(robust_rms(sub["du"]), 4), round(robust_rms(sub["dv"]), 4))
            for (v, layer), sub in table.groupby(["volume_id", "layer_id"])}


def main() -> int:
    if not Path(f"{DATA}-cells.csv.gz").exists():
        print(f"hit_errors: the real sample event is missing ({DATA}-cells.csv.gz)", file=sys.stderr)
        return 2
    table = residual_table()
    clusters = cluster_sigmas(table)
    layers = layer_sigmas(table)
    print(f"{len(table)} true hits of the sample event")
    print(f"{'volume':>6s} {'n':>5s} {'pitch_u/sqrt12':>14s} {'RMS u':>7s} {'pitch_v/sqrt12':>14s} {'RMS v':>7s}")
    for volume, sub in table.groupby("volume_id"):
        print(f"{volume:6d} {len(sub):5d} {sub['pitch_u'].mean() / np.sqrt(12):14.4f} {robust_rms(sub['du']):7.4f} "
              f"{sub['pitch_v'].mean() / np.sqrt(12):14.4f} {robust_rms(sub['dv']):7.4f}")
    print("\nCLUSTER_SIGMAS_MM = {  # volume: (sigma_u by n_u = 1..4+, sigma_v by n_v = 1..6+)")
    for volume, entry in clusters.items():
        print(f"    {volume}: ({tuple(entry['u'])}, {tuple(entry['v'])}),")
    print("}\nLAYER_SIGMAS_MM = {  # (volume, layer): (sigma_u, sigma_v), all cluster sizes")
    for key, value in layers.items():
        print(f"    {key}: {value},")
    print("}")
    atomic_write_json(OUT, {"n_hits": int(len(table)), "clusters": {str(k): v for k, v in clusters.items()},
                            "layers": {f"{k[0]},{k[1]}": v for k, v in layers.items()},
                            "command": "OMP_NUM_THREADS=1 python benchmarks/hit_errors.py"})
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
