"""Benchmark: seconds per mu = 200 event on one core, and particles propagated per second.

Times each stage of simulate_event for Pythia (ttbar + 200 pileup) events after a warm-up event
(Pythia initialisation excluded), and the propagation alone on a 10k-particle gun.
Prints a table and writes benchmarks/results/simulate.json. Run: python benchmarks/simulate.py [N]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource, simulate_event
from gnn4hep.tracking.simulation.geometry_index import cached_index
from gnn4hep.tracking.simulation.material import mass_of
from gnn4hep.tracking.simulation.propagation import propagate
from gnn4hep.tracking.simulation.pythia_source import PythiaSource
from gnn4hep.tracking.simulation.simulator import SimulationConfig, event_streams

OUT = Path(__file__).resolve().parent / "results" / "simulate.json"


def main(n_events: int = 3) -> int:
    import torch

    torch.set_num_threads(1)
    detector = read_detector()
    start = time.perf_counter()
    index = cached_index(detector)
    index_seconds = time.perf_counter() - start
    source = PythiaSource(pileup=200)
    simulate_event(source, detector, seed=0, event_index=0)  # warm-up: Pythia init
    generation, total, particles, hits = [], [], [], []
    for i in range(1, n_events + 1):
        rng = event_streams(0, i)[0]
        t0 = time.perf_counter()
        source.generate(rng, i)
        generation.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        event = simulate_event(source, detector, seed=0, event_index=i)
        total.append(time.perf_counter() - t0)
        particles.append(len(event.particles))
        hits.append(len(event.hits))
    gun = GunSource(n_particles=10_000, pt_gev=(0.15, 5.0), eta=(-4, 4)).generate(np.random.default_rng(0), 0)
    t0 = time.perf_counter()
    result = propagate(index, gun[["vx", "vy", "vz"]].to_numpy(float), gun[["px", "py", "pz"]].to_numpy(float),
                       gun["q"].to_numpy(float), mass_of(gun.particle_type), 2.0, np.random.default_rng(0),
                       SimulationConfig().propagation_settings())
    propagation_seconds = time.perf_counter() - t0
    figures = {
        "events": n_events,
        "seconds_per_event": float(np.mean(total)),
        "pythia_generation_seconds_per_event": float(np.mean(generation)),
        "simulation_after_generation_seconds_per_event": float(np.mean(total) - np.mean(generation)),
        "particles_per_event": float(np.mean(particles)),
        "hits_per_event": float(np.mean(hits)),
        "particles_per_second_end_to_end": float(np.sum(particles) / np.sum(total)),
        "gun_10k_propagation_seconds": propagation_seconds,
        "particles_propagated_per_second": 10_000 / propagation_seconds,
        "gun_10k_crossings": int(len(result.particle)),
        "geometry_index_build_seconds": index_seconds,
        "target_seconds_per_event": 2.0,
    }
    print(f"{'figure':<48}{'value':>14}")
    for key, value in figures.items():
        print(f"{key:<48}{value:>14.4g}" if isinstance(value, float) else f"{key:<48}{value:>14}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
