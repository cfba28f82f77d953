"""Benchmark: Kalman track fits per second on one CPU core, tracks of 10 hits, batches of 1k/10k/100k,
in the uniform field (exact helices, target 50k tracks/s), in the TrackML solenoid and in the real data's
field (the solenoid with its axis off the beam line, ``trackml``) (Runge-Kutta
propagation with Jacobian transport, target 30k tracks/s).

Tracks are simulated single muons (gun, 1-100 GeV, |eta| < 2.5, Pythia-free) on the TrackML
geometry; every track with >= 10 hits contributes its first 10 hits (in radius order), and the set is
tiled to the batch size. Two timings per batch:

- ``fit``: the array-level fitter (seed, filter, smoother, perigee + covariance),
  :func:`gnn4hep.tracking.fitting.fit_surfaces`, one Kalman pass;
- ``fit x2``: the same fit with ``workers=2`` (two threads over chunks of 5000 tracks), wall time;
- ``refit``: the public DataFrame API :func:`gnn4hep.tracking.fitting.refit` on a (hit_id, track_id)
  table, including the module look-ups, the outlier-rejection rounds and the orphan-hit search.

The one-core figures are the best of several repeats, with their CPU time (less sensitive to other
processes on the machine); the load average at the start is recorded with them.

Prints a table and writes benchmarks/results/kalman.json. Run: OMP_NUM_THREADS=1 python benchmarks/kalman.py
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.tracking.event import Event
from gnn4hep.tracking.fitting import FitConfig, fit_surfaces, refit
from gnn4hep.tracking.fitting.measurements import hit_table, track_surfaces
from gnn4hep.tracking.fitting.refit import fit_field
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event
from gnn4hep.utils.atomic import atomic_write_json

OUT = Path(__file__).resolve().parent / "results" / "kalman.json"
N_HITS = 10


def ten_hit_tracks(detector, n_particles: int = 3000, seed: int = 1):
    """(event, candidates) of simulated muon tracks cut to their first 10 hits."""
    source = GunSource(n_particles=n_particles, pt_gev=(1.0, 100.0), eta=(-2.5, 2.5))
    event = simulate_event(source, detector, seed=seed, config=SimulationConfig(digitisation="smear", hit_efficiency=1.0))
    truth = event.truth.merge(event.hits[["hit_id", "x", "y"]], on="hit_id")
    truth["r"] = np.hypot(truth["x"], truth["y"])
    truth = truth.sort_values(["particle_id", "r"])
    truth["rank"] = truth.groupby("particle_id").cumcount()
    size = truth.groupby("particle_id")["hit_id"].transform("size")
    keep = truth[(size >= N_HITS) & (truth["rank"] < N_HITS)]
    return event, pd.DataFrame({"hit_id": keep["hit_id"].to_numpy(), "track_id": keep["particle_id"].to_numpy().astype(np.int64)})


def tiled_event(event, candidates, n_tracks: int):
    """An event whose hits repeat ``candidates``' tracks until there are ``n_tracks`` tracks."""
    hits = event.hits.set_index("hit_id").loc[candidates["hit_id"]].reset_index()
    codes = pd.factorize(candidates["track_id"])[0]
    n_base = codes.max() + 1
    reps = int(np.ceil(n_tracks / n_base))
    tiled = pd.concat([hits] * reps, ignore_index=True)
    tiled["hit_id"] = np.arange(1, len(tiled) + 1)
    track = np.concatenate([codes + i * n_base for i in range(reps)])
    keep = track < n_tracks
    tiled, track = tiled[keep].reset_index(drop=True), track[keep]
    return Event(event_id=0, hits=tiled), pd.DataFrame({"hit_id": tiled["hit_id"], "track_id": track})


def cpu_model() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def time_call(function, repeats: int):
    """Best wall-clock and process CPU seconds over ``repeats`` calls (CPU time is less sensitive to
    other processes sharing the cores)."""
    best, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best, best_cpu


def main(batches=(1_000, 10_000, 100_000)) -> int:
    import torch

    torch.set_num_threads(1)
    load_at_start = os.getloadavg()
    detector = read_detector()
    event, candidates = ten_hit_tracks(detector)
    rows = []
    for field_name, n in [(f, n) for f in ("uniform", "solenoid", "trackml") for n in batches]:
        config = FitConfig(mass_gev=0.13957, field=field_name)
        field = fit_field(config, detector)
        big_event, big_candidates = tiled_event(event, candidates, n)
        table = hit_table(big_event, big_candidates, detector, config)
        codes = pd.factorize(table["track_id"])[0]
        surfaces = track_surfaces(table, np.arange(len(table)), np.bincount(codes), detector)
        repeats = 5 if n <= 10_000 else 3
        fit_surfaces(surfaces.take(np.arange(10)), field, config.mass_gev)  # compile the kernels first
        fit_seconds, fit_cpu = time_call(lambda: fit_surfaces(surfaces, field, config.mass_gev), repeats)
        threads_seconds, _ = time_call(lambda: fit_surfaces(surfaces, field, config.mass_gev, workers=2), repeats)
        refit_seconds, refit_cpu = time_call(lambda: refit(big_event, big_candidates, detector, config), repeats)
        fitted = fit_surfaces(surfaces, field, config.mass_gev)
        rows.append({"field": field_name, "batch": n, "hits_per_track": N_HITS, "fit_seconds": fit_seconds,
                     "fit_tracks_per_second": n / fit_seconds, "fit_tracks_per_cpu_second": n / fit_cpu,
                     "fit_2_threads_seconds": threads_seconds, "fit_2_threads_tracks_per_second": n / threads_seconds,
                     "refit_seconds": refit_seconds, "refit_tracks_per_second": n / refit_seconds,
                     "refit_tracks_per_cpu_second": n / refit_cpu, "fraction_fitted": float(fitted.ok.mean())})
    print(f"{'field':>9} {'batch':>8} {'fit s':>8} {'fit trk/s':>11} {'fit trk/cpu-s':>14} {'fit x2 trk/s':>13} {'refit s':>8} "
          f"{'refit trk/s':>12} {'refit trk/cpu-s':>16}")
    for row in rows:
        print(f"{row['field']:>9} {row['batch']:>8} {row['fit_seconds']:>8.3f} {row['fit_tracks_per_second']:>11.0f} "
              f"{row['fit_tracks_per_cpu_second']:>14.0f} {row['fit_2_threads_tracks_per_second']:>13.0f} {row['refit_seconds']:>8.3f} "
              f"{row['refit_tracks_per_second']:>12.0f} {row['refit_tracks_per_cpu_second']:>16.0f}")
    result = {"benchmark": "kalman", "target_tracks_per_second": {"uniform": 50_000, "solenoid": 30_000, "trackml": 30_000}, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "cpu_count": os.cpu_count(), "cpu": cpu_model(),
              "load_average_at_start": load_at_start, "load_average": os.getloadavg(), "rows": rows}
    atomic_write_json(OUT, result)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
