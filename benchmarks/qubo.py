"""Benchmark of QUBO track finding on the QPU path and its classical references.

Three parts (each prints a table; all go to benchmarks/results/qubo.json):

1. **Solvers** on three QUBOs built with the default (tuned) settings: the real TrackML sample event
   (``../shared/data``) at densities 0.5 and 1.0 (seed 1), and a simulated Pythia μ=200 event
   (seed 1) at density 0.1 (~2,300 variables). Solvers: simulated annealing (SA), tabu, hybrid
   decomposition with SA sub-problems, the mock QPU on Pegasus P16 (Advantage) and Zephyr Z12
   (Advantage2), and, for the μ=200 QUBO, the decomposition with mock-QPU sub-problems (clique
   embedded, K100). Columns: energy, gap to SA's energy, doublet purity, efficiency, TrackML score,
   wall and CPU seconds of the solve (embedding included), estimated QPU access time
   (D-Wave's published timing model, :mod:`gnn4hep.quantum.qpu_timing`), qubits, longest chain,
   broken-chain fraction. Every solver gets 10 reads and seed 0; chains of ≥ 5 hits are tracks.
2. **Chain-strength scan** on the real event at density 1.0, mock QPU (Pegasus P16), the same
   embedding for every prefactor: chain strength = prefactor × uniform torque compensation, with
   and without the greedy post-processing. The package default (``DEFAULT_CHAIN_STRENGTH_PREFACTOR``)
   is the prefactor this scan found best.
3. ``--scaling``: QUBO build and SA solve times against density on the μ=200 event (the former
   benchmark): hits, doublets, variables, couplings, doublet/build/SA seconds, energy.

    OMP_NUM_THREADS=1 python benchmarks/qubo.py [--event PREFIX] [--skip-real] [--mu200-densities 0.1 0.2]
                                                [--scaling [--densities ...]] [--out FILE]

Runs in about 3–4 minutes on one loaded core (most of it minorminer embedding the two largest QUBOs
and the decomposition's sub-problem solves).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from gnn4hep.quantum.dataset import reduce_event
from gnn4hep.quantum.decode import decode_sample
from gnn4hep.quantum.doublets import make_doublets
from gnn4hep.quantum.embedding import DEFAULT_CHAIN_STRENGTH_PREFACTOR, qpu_figures
from gnn4hep.quantum.metrics import score_solution
from gnn4hep.quantum.model import DEFAULT_MIN_HITS, QuboConfig, build_bqm
from gnn4hep.quantum.samplers import make_sampler, solve
from gnn4hep.tracking.io import read_event

ROOT = Path(__file__).resolve().parents[1]
REAL_EVENT = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"
READS, SEED = 10, 0
SOLVERS = {
    "sa": ("sa", {}),
    "tabu": ("tabu", {}),
    "hybrid (SA sub-QUBOs)": ("hybrid", {}),
    "mock-QPU Pegasus P16": ("mock-qpu", {"topology": "pegasus"}),
    "mock-QPU Zephyr Z12": ("mock-qpu", {"topology": "zephyr"}),
    "hybrid (mock-QPU P16 sub-QUBOs)": ("hybrid", {"subsampler": "mock-qpu"}),
}
PREFACTORS = (0.125, 0.25, 0.5, 1.0, 1.414)


def simulated_event():
    from gnn4hep.tracking.simulation import simulate_events

    folder = tempfile.mkdtemp(prefix="qubo_bench_")
    [path] = simulate_events(folder, 1, source="pythia", pileup=200, seed=1, progress=False)
    return read_event(path, parts=("hits", "particles", "truth"))


def build(event, density: float, seed: int = 1):
    reduced = reduce_event(event, density=density, seed=seed)
    return reduced, build_bqm(reduced.hits, make_doublets(reduced.hits), QuboConfig())


def run_solver(reduced, model, name: str, options: dict) -> dict:
    """One solve: energy, physics metrics, times and the QPU figures."""
    sampler = make_sampler(name, **options)
    cpu = time.process_time()
    sampleset, wall = solve(model.bqm, sampler, num_reads=READS, seed=SEED)
    cpu = time.process_time() - cpu
    submission, _ = decode_sample(model.triplets, sampleset.first.sample, reduced.hits, min_hits=DEFAULT_MIN_HITS)
    metrics = score_solution(reduced, submission)
    row = {"energy": float(sampleset.first.energy), "wall_seconds": wall, "cpu_seconds": cpu,
           **{k: metrics[k] for k in ("purity", "efficiency", "trackml_score")}}  # fmt: skip
    if "qpu" in sampleset.info:
        row.update(qpu_figures(sampleset.info["qpu"]))
    return row


def solver_table(cases: list[tuple[str, object, object]]) -> list[dict]:
    rows = []
    header = (f"{'QUBO':<22} {'solver':<32} {'energy':>9} {'gap SA':>7} {'purity':>7} {'eff.':>6} {'TrackML':>7} "
              f"{'wall s':>7} {'CPU s':>7} {'QPU ms':>8} {'qubits':>6} {'chain':>5} {'broken':>7}")  # fmt: skip
    print(header)
    for label, reduced, model in cases:
        sa_energy = None
        for solver, (name, options) in SOLVERS.items():
            large = model.n_variables > 1500
            if (name == "mock-qpu" and large) or (solver.startswith("hybrid (mock") and not large):
                continue  # big QUBOs go to the QPU through decomposition; small ones embed whole
            row = {"qubo": label, "n_variables": model.n_variables, "n_couplings": model.n_couplings, "solver": solver,
                   **run_solver(reduced, model, name, options)}  # fmt: skip
            sa_energy = row["energy"] if name == "sa" else sa_energy
            row["energy_gap_to_sa"] = (row["energy"] - sa_energy) / abs(sa_energy)
            rows.append(row)
            qpu = f"{row['qpu_access_time_ms']:8.1f} {row['embedding_qubits']:6d} {row['embedding_max_chain']:5d} " \
                  f"{row['chain_break_fraction']:7.4f}" if "qpu_access_time_ms" in row else f"{'-':>8} {'-':>6} {'-':>5} {'-':>7}"  # fmt: skip
            print(f"{label:<22} {solver:<32} {row['energy']:9.3f} {row['energy_gap_to_sa']:7.4f} {row['purity']:7.4f} "
                  f"{row['efficiency']:6.4f} {row['trackml_score']:7.4f} {row['wall_seconds']:7.2f} {row['cpu_seconds']:7.2f} {qpu}",
                  flush=True)  # fmt: skip
    return rows


def chain_strength_scan(model, sa_energy: float) -> list[dict]:
    """Energy gap to SA and broken chains against the chain-strength prefactor (one embedding)."""
    print(f"\nchain-strength scan (real event, density 1.0, {model.n_variables} variables, mock-QPU Pegasus P16, {READS} reads)")
    print(f"{'prefactor':>9} {'strength':>9} {'post-proc.':>10} {'energy':>9} {'gap SA':>7} {'broken':>7}")
    rows = []
    for prefactor in PREFACTORS:
        for postprocess in (False, True):
            sampler = make_sampler("mock-qpu", chain_strength_prefactor=prefactor, postprocess=postprocess)
            sampleset, _ = solve(model.bqm, sampler, num_reads=READS, seed=SEED)
            record = sampleset.info["qpu"]
            row = {"prefactor": prefactor, "postprocess": postprocess, "chain_strength": record["chain_strength"],
                   "energy": float(sampleset.first.energy), "energy_gap_to_sa": (sampleset.first.energy - sa_energy) / abs(sa_energy),
                   "chain_break_fraction": record["chain_break_fraction"]}  # fmt: skip
            rows.append(row)
            print(f"{prefactor:9.3f} {row['chain_strength']:9.3f} {str(postprocess):>10} {row['energy']:9.3f} "
                  f"{row['energy_gap_to_sa']:7.4f} {row['chain_break_fraction']:7.4f}", flush=True)  # fmt: skip
    return rows


def scaling(event, densities: list[float]) -> list[dict]:
    rows = []
    sampler = make_sampler("sa")
    for density in densities:
        reduced = reduce_event(event, density=density, seed=0)
        start = time.perf_counter()
        doublets = make_doublets(reduced.hits)
        doublet_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model = build_bqm(reduced.hits, doublets, QuboConfig())
        build_seconds = time.perf_counter() - start
        sampleset, solve_seconds = solve(model.bqm, sampler, num_reads=READS, seed=0)
        row = {"density": density, "n_hits": len(reduced.hits), "n_doublets": len(doublets), "n_variables": model.n_variables,
               "n_couplings": model.n_couplings, "doublet_seconds": doublet_seconds, "build_seconds": build_seconds,
               "solve_seconds": solve_seconds, "energy": float(sampleset.first.energy)}  # fmt: skip
        rows.append(row)
        print(f"density {density:5.2f}  hits {row['n_hits']:6d}  doublets {row['n_doublets']:8d}  vars {row['n_variables']:7d}  "
              f"couplings {row['n_couplings']:8d}  doublets {doublet_seconds:6.2f}s  build {build_seconds:7.2f}s  "
              f"SA {solve_seconds:7.2f}s  E {row['energy']:.3f}", flush=True)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event", default=str(REAL_EVENT), help="real TrackML event prefix (default: the shared sample event)")
    parser.add_argument("--skip-real", action="store_true", help="only the simulated mu=200 event")
    parser.add_argument("--mu200-densities", type=float, nargs="+", default=[0.1],
                        help="densities of the simulated mu=200 QUBOs in the solver table (0.2: ~9k variables, ~10 min)")
    parser.add_argument("--scaling", action="store_true", help="also time build + SA against density on the mu=200 event")
    parser.add_argument("--densities", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "qubo.json"), help="JSON file to write")
    args = parser.parse_args()

    cases = []
    real_available = not args.skip_real and Path(args.event + "-hits.csv.gz").is_file()
    if real_available:
        real = read_event(args.event, parts=("hits", "particles", "truth"))
        cases += [(f"real d={d}", *build(real, d)) for d in (0.5, 1.0)]
    elif not args.skip_real:
        print(f"real event not found at {args.event}: skipping its QUBOs")
    simulated = simulated_event()
    cases += [(f"mu=200 d={d:g}", *build(simulated, d)) for d in args.mu200_densities]
    rows = solver_table(cases)
    scan = []
    if real_available:
        sa_energy = next(r["energy"] for r in rows if r["qubo"] == "real d=1.0" and r["solver"] == "sa")
        scan = chain_strength_scan(cases[1][2], sa_energy)
        print(f"package default prefactor: {DEFAULT_CHAIN_STRENGTH_PREFACTOR}")
    scaling_rows = scaling(simulated, args.densities) if args.scaling else []
    result = {
        "reads": READS,
        "seed": SEED,
        "min_hits": DEFAULT_MIN_HITS,
        "config": QuboConfig().model_dump(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
        "solvers": rows,
        "chain_strength_scan": scan,
        "default_chain_strength_prefactor": DEFAULT_CHAIN_STRENGTH_PREFACTOR,
        "scaling": scaling_rows,
    }
    out = Path(args.out)
    from gnn4hep.utils.atomic import atomic_write_json

    atomic_write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
