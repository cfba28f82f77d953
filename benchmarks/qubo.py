"""Benchmark of QUBO track finding: build and solve times against density, building throughput.

The event: a simulated mu=200 Pythia event (``gnn4hep.tracking.simulation``, seed 0) unless
``--event PREFIX`` names a TrackML event. For each density the event is reduced as in qallse
(barrel, no double hits, that fraction of particles), geometric doublets are made, the QUBO is built
with qallse's 1 GeV configuration (``--tuned``: plus tplet_max_drz=0.05, drz_weight=0.5) and
solved with simulated annealing (dwave-samplers, ``--reads`` reads, default sweeps).

Columns: hits, doublets, variables, couplings, doublet-making seconds, QUBO build seconds,
variables built per second, SA seconds, lowest energy.

    python benchmarks/qubo.py [--event PREFIX] [--densities 0.05 0.1 0.2] [--reads 10] [--tuned]

Prints a table and writes benchmarks/results/qubo.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from gnn4hep.quantum.dataset import reduce_event
from gnn4hep.quantum.doublets import make_doublets
from gnn4hep.quantum.model import QuboConfig, build_bqm
from gnn4hep.quantum.samplers import make_sampler, solve
from gnn4hep.tracking.io import read_event

ROOT = Path(__file__).resolve().parents[1]


def load_event(prefix: str | None):
    """The benchmark event and a description of it."""
    if prefix is not None:
        return read_event(prefix, parts=("hits", "particles", "truth")), f"TrackML event {prefix}"
    from gnn4hep.tracking.simulation import simulate_events

    folder = tempfile.mkdtemp(prefix="qubo_bench_")
    [path] = simulate_events(folder, 1, source="pythia", pileup=200, seed=0, progress=False)
    return read_event(path, parts=("hits", "particles", "truth")), "simulated Pythia mu=200 event (seed 0)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event", default=None, help="TrackML event prefix (default: simulate one mu=200 event)")
    parser.add_argument("--densities", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--reads", type=int, default=10)
    parser.add_argument("--tuned", action="store_true", help="tplet_max_drz=0.05, drz_weight=0.5")
    args = parser.parse_args()

    event, description = load_event(args.event)
    config = QuboConfig(**({"tplet_max_drz": 0.05, "drz_weight": 0.5} if args.tuned else {}))
    sampler = make_sampler("sa")
    rows = []
    for density in args.densities:
        reduced = reduce_event(event, density=density, seed=0)
        start = time.perf_counter()
        doublets = make_doublets(reduced.hits)
        doublet_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model = build_bqm(reduced.hits, doublets, config)
        build_seconds = time.perf_counter() - start
        sampleset, solve_seconds = solve(model.bqm, sampler, num_reads=args.reads, seed=0)
        rows.append(
            {
                "density": density,
                "n_hits": len(reduced.hits),
                "n_doublets": len(doublets),
                "n_variables": model.n_variables,
                "n_couplings": model.n_couplings,
                "doublet_seconds": doublet_seconds,
                "build_seconds": build_seconds,
                "variables_per_second": model.n_variables / build_seconds if build_seconds > 0 else float("nan"),
                "solve_seconds": solve_seconds,
                "energy": float(sampleset.first.energy),
            }
        )
        row = rows[-1]
        print(
            f"density {density:5.2f}  hits {row['n_hits']:6d}  doublets {row['n_doublets']:8d}  vars {row['n_variables']:7d}  "
            f"couplings {row['n_couplings']:8d}  doublets {doublet_seconds:6.2f}s  build {build_seconds:7.2f}s  "
            f"{row['variables_per_second']:8.0f} vars/s  SA {solve_seconds:7.2f}s  E {row['energy']:.3f}",
            flush=True,
        )
    result = {
        "event": description,
        "config": config.model_dump(),
        "reads": args.reads,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results" / "qubo.json"
    from gnn4hep.utils.atomic import atomic_write_json

    atomic_write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
