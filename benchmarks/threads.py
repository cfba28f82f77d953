"""Training step time at 1 and N torch threads, for the models the experiment configs train.

    python benchmarks/threads.py [--threads 1,2] [--steps 6] [--rounds 3]

Models and inputs (CPU, forward + backward + Adam step, batch sizes of the configs):

* ``particlenet``  jets_qg / jets_top: ParticleNet on 128 jets of 128 constituents (Pythia q/g jets);
* ``pfn``          the same jets through a Particle Flow Network;
* ``in_quickstart`` quickstart / trackml_demo: interaction network (hidden 32, 4 iterations) on two
  quick-source events' geometric hit graphs;
* ``in_heptrkx``   heptrkx_in: interaction network (hidden 40, 4 iterations) on 8 toy HEP.TrkX sector graphs.

The thread counts are interleaved round by round in one process, so a change of machine load hits
every setting alike. Reported per setting: median wall and CPU (process time) seconds per step, and
the wall speed-up over one thread. Prints a table, writes benchmarks/results/threads.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _jet_batch():
    from gnn4hep.jets.generation import GenerationConfig, generate
    from gnn4hep.jets.inputs import InputSettings, make_inputs

    jets = generate(GenerationConfig.for_process("qg", max_constituents=128), 64, seed=1, progress=False)
    return make_inputs(jets, {"features", "points", "weights"}, InputSettings(image_extent=0.4))


def _jet_step(name: str, tensors):
    import torch

    from gnn4hep.jets.training import JetModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(name, tensors["features"].shape[-1], JetModelConfig(), radius=0.4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = {k: v[:128] for k, v in tensors.items()}

    def step():
        loss = torch.nn.functional.cross_entropy(model(**{k: batch[k] for k in model.input_names}), batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def _graph_step(graphs, hidden: int, iterations: int):
    import torch
    from torch_geometric.data import Batch

    from gnn4hep.training.edge_training import EdgeModelConfig, build_edge_model

    torch.manual_seed(0)
    edge_dim = graphs[0].edge_attr.shape[1] if getattr(graphs[0], "edge_attr", None) is not None else 0
    model = build_edge_model(EdgeModelConfig(type="interaction_network", hidden=hidden, n_iterations=iterations),
                             graphs[0].x.shape[1], edge_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = Batch.from_data_list(graphs)

    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch), batch.y.float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def _quickstart_graphs():
    import tempfile

    from gnn4hep.runner.run import run_experiment

    with tempfile.TemporaryDirectory() as scratch:
        run = run_experiment(REPO / "experiments" / "quickstart.yaml",
                             ["data.n_train=2", "data.n_test=1", "stages=[trackml_simulate,trackml_build_graphs]"],
                             out=Path(scratch) / "run")
        from gnn4hep.graphs.io import graph_files, load_graph

        return [load_graph(p) for p in graph_files(run / "graphs" / "train")]


def _heptrkx_graphs():
    import tempfile

    from gnn4hep.graphs.heptrkx import list_graph_files, load_heptrkx_graph
    from tests.graphs.toy_graphs import write_toy_folder

    with tempfile.TemporaryDirectory() as scratch:
        write_toy_folder(Path(scratch), range(4), sectors=2, n_tracks=40)
        return [load_heptrkx_graph(p, edge_features=True) for p in list_graph_files(scratch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import sys

    import torch

    sys.path.insert(0, str(REPO))
    from gnn4hep.utils.atomic import atomic_write_json

    threads = [int(t) for t in args.threads.split(",")]
    jets = _jet_batch()
    steps = {"particlenet": _jet_step("particlenet", jets), "pfn": _jet_step("pfn", jets),
             "in_quickstart": _graph_step(_quickstart_graphs(), 32, 4), "in_heptrkx": _graph_step(_heptrkx_graphs(), 40, 4)}
    times: dict[tuple[str, int], dict[str, list[float]]] = {}
    for name, step in steps.items():
        step()  # warm-up
        for _ in range(args.rounds):
            for n in threads:
                torch.set_num_threads(n)
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(args.steps):
                    step()
                entry = times.setdefault((name, n), {"wall": [], "cpu": []})
                entry["wall"].append((time.perf_counter() - wall) / args.steps)
                entry["cpu"].append((time.process_time() - cpu) / args.steps)
    rows = []
    for (name, n), entry in times.items():
        wall, cpu = statistics.median(entry["wall"]), statistics.median(entry["cpu"])
        rows.append({"model": name, "threads": n, "wall_s_per_step": wall, "cpu_s_per_step": cpu,
                     "wall_speedup": statistics.median(times[(name, threads[0])]["wall"]) / wall})
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, {args.rounds} rounds of {args.steps} steps")
    print(f"{'model':14s} {'threads':>7s} {'wall s/step':>12s} {'CPU s/step':>11s} {'speed-up':>9s}")
    for row in rows:
        print(f"{row['model']:14s} {row['threads']:7d} {row['wall_s_per_step']:12.4f} {row['cpu_s_per_step']:11.4f} "
              f"{row['wall_speedup']:9.2f}")
    atomic_write_json(REPO / "benchmarks" / "results" / "threads.json", {
        "command": f"python benchmarks/threads.py --threads {args.threads} --steps {args.steps} --rounds {args.rounds}",
        "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "rows": rows})


if __name__ == "__main__":
    main()
