"""Benchmark of the TrackML GNN pipeline stages on a full real event: seconds per event for graph
building, edge-classifier inference and track building, graph sizes and peak memory.

The event: the real full event 1001 (../shared/data/trackml/full_event/event000001001-hits.csv.gz,
about 100k hits, no truth). Graph building uses the layer-pair cuts of a finished run
(``--run``, its graph_builder/layer_pair_cuts.csv) or, without one, cuts fitted on the real reduced
sample event (pairs of pT > --pt-min, 1 GeV by default: with 0.2 GeV a full event has
over 10M edges, beyond this machine's memory); inference uses the run's edge_classifier.pt or an untrained interaction network of
the given size (timing does not depend on the weights). Track building runs CC and CC-and-walk on
those scores. Runs on the GPU for inference when one is present.

    python benchmarks/tracking.py [--run runs/trackml_gnn-...] [--repeats 3]
        [--module-map RUN/graph_builder/module_map.csv] [--embedding RUN/graph_builder/embedding.pt]

Other graph builders are timed on the same event (``graph_methods`` in the JSON): the module map
(``--module-map``, else the run's when it has one, else a map fitted on the real sample event, whose
edge count is then far too low to be representative) and the metric-learning radius graph
(``--embedding``; skipped without one, since an untrained embedding's graph size means nothing).

Prints a table and writes benchmarks/results/tracking.json.

With ``--model DIR`` (a trackml_gnn run folder or an exported bundle, ``gnn4hep export-model``) it times
instead the whole trained pipeline as ``gnn4hep track`` applies it
(:class:`gnn4hep.pipelines.trackml_apply.TrackingPipeline`): CPU and wall seconds per stage (graph, edge
filter when the model has one, GNN, track building, refit) on one thread, best of ``--repeats``, and the peak
memory, against the issue's targets (graph to track building <= 5 s, with the refit <= 10 s, <= 3 GB). It
prints a table and writes benchmarks/results/tracking_pipeline.json:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/tracking.py --model RUN_OR_BUNDLE [--event PREFIX] [--no-refit]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.geometric import build_geometric_edges, fit_layer_pair_cuts
from gnn4hep.graphs.hit_graph import make_hit_graph
from gnn4hep.graphs.layers import LAYER_RANK
from gnn4hep.tracking.building import components_tracks, walkthrough_tracks
from gnn4hep.tracking.event import Event
from gnn4hep.tracking.io import read_event

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trackml"


def _best(func, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def other_graph_methods(event: Event, args) -> dict:
    """Seconds (best of repeats, hit table included) and sizes of the module-map and metric-learning graphs."""
    from gnn4hep.graphs.module_map import build_module_map_edges, fit_module_map

    out = {}
    map_path = args.module_map
    if map_path is None and args.run is not None and (args.run / "graph_builder" / "module_map.csv").exists():
        map_path = args.run / "graph_builder" / "module_map.csv"
    if map_path is not None:
        module_map, source = pd.read_csv(map_path), str(map_path)
    else:
        module_map, source = fit_module_map([hit_table(read_event(DATA / "sample_event" / "event000000001"))]), "fitted on the real sample event only"
    seconds, edges = _best(lambda: build_module_map_edges(hit_table(event), module_map), args.repeats)
    n_hits = len(event.hits)
    out["module_map"] = {"seconds": seconds, "n_edges": int(edges.shape[1]), "edges_per_hit": edges.shape[1] / n_hits, "source": source}
    if args.embedding is not None:
        from gnn4hep.graphs.metric_learning import build_metric_learning_edges, load_metric_learning
        from gnn4hep.pipelines.trackml_config import GraphConfig

        state = load_metric_learning(args.embedding)
        cfg = GraphConfig(method="metric_learning", radius=args.radius)
        seconds, edges = _best(lambda: build_metric_learning_edges(hit_table(event), state, cfg), args.repeats)
        out["metric_learning"] = {"seconds": seconds, "n_edges": int(edges.shape[1]), "edges_per_hit": edges.shape[1] / n_hits, "source": str(args.embedding)}
    return out


def pipeline_benchmark(args) -> None:
    """``--model``: per-stage CPU seconds and peak memory of the trained pipeline on one event, one thread."""
    from gnn4hep.pipelines.trackml_apply import TrackingPipeline
    from gnn4hep.pipelines.trackml_data import read_available
    from gnn4hep.utils.atomic import atomic_write_json

    torch.set_num_threads(1)
    prefix = args.event or DATA / "full_event" / "event000001001"
    start_cpu = time.process_time()
    pipeline = TrackingPipeline.from_model(args.model, device=args.device, refit=not args.no_refit)
    load_cpu = time.process_time() - start_cpu
    start_cpu = time.process_time()
    event = read_available(prefix)
    read_cpu = time.process_time() - start_cpu
    runs = [pipeline.track(event, Path(prefix).name, prefix) for _ in range(args.repeats)]
    stages = list(runs[0].seconds)
    best = {name: {kind: min(run.seconds[name][kind] for run in runs) for kind in ("cpu", "wall")} for name in stages}
    before_refit = sum(best[name]["cpu"] for name in stages if name != "refit")
    result = {
        "event": str(prefix),
        "model": str(args.model),
        "model_kind": pipeline.model.kind,
        "variant": runs[0].variant,
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "n_hits": runs[0].info["n_hits"],
        "n_edges_graph": runs[0].info.get("n_edges_graph"),
        "n_edges_gnn": runs[0].info.get("n_edges_gnn"),
        "n_tracks": runs[0].info["n_tracks"],
        "load_cpu_seconds": load_cpu,
        "read_cpu_seconds": read_cpu,
        "stage_seconds": best,
        "cpu_seconds_to_track_building": before_refit,
        "cpu_seconds_with_refit": sum(best[name]["cpu"] for name in stages),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else None,
        "targets": {"to_track_building_s": 5.0, "with_refit_s": 10.0, "peak_memory_mb": 3000.0},
        "machine": {"python": platform.python_version(), "processor": platform.processor()},
    }
    print(f"event {Path(prefix).name}: {result['n_hits']} hits, {result['n_edges_graph']} graph edges, "
          f"{result['n_edges_gnn']} GNN edges, {result['n_tracks']} tracks; model {args.model} ({result['variant']})")
    print(f"{'stage':<18}{'CPU s':>9}{'wall s':>9}")
    for name, row in best.items():
        print(f"{name:<18}{row['cpu']:>9.3f}{row['wall']:>9.3f}")
    print(f"{'to track building':<18}{before_refit:>9.3f}   (target <= 5 s)")
    print(f"{'with refit':<18}{result['cpu_seconds_with_refit']:>9.3f}   (target <= 10 s)")
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB (target <= 3000 MB); model load {load_cpu:.2f} s, event read {read_cpu:.2f} s CPU")
    atomic_write_json(ROOT / "benchmarks" / "results" / "tracking_pipeline.json", result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="finished trackml_gnn run folder (cuts + model)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--module-map", type=Path, default=None, help="module_map.csv of a fitted module-map builder")
    parser.add_argument("--embedding", type=Path, default=None, help="embedding.pt of a fitted metric-learning builder")
    parser.add_argument("--radius", type=float, default=0.1, help="metric-learning radius")
    parser.add_argument("--pt-min", type=float, default=1.0, help="GeV: pT of the true pairs the default cuts are fitted on")
    parser.add_argument("--model", type=Path, default=None, help="time this trained pipeline (run folder or bundle) instead")
    parser.add_argument("--event", type=Path, default=None, help="--model: event prefix (default: the real full event 1001)")
    parser.add_argument("--no-refit", action="store_true", help="--model: skip the Kalman refit")
    parser.add_argument("--device", default="cpu", help="--model: cpu or cuda")
    args = parser.parse_args()
    if args.model is not None:
        pipeline_benchmark(args)
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))

    full = DATA / "full_event" / "event000001001"
    event = read_event(full, parts=("hits",))
    if args.run is not None and (args.run / "graph_builder" / "layer_pair_cuts.csv").exists():
        cuts = pd.read_csv(args.run / "graph_builder" / "layer_pair_cuts.csv")
        cut_source = str(args.run)
    else:
        cuts = fit_layer_pair_cuts([hit_table(read_event(DATA / "sample_event" / "event000000001"))], pt_min=args.pt_min, quantile=0.999, min_count=1)
        cut_source = f"fitted on the real sample event (pT > {args.pt_min:g} GeV)"
    event = Event(event_id=event.event_id, hits=event.hits)

    def graph_step():
        table = hit_table(event)
        return table, make_hit_graph(table, build_geometric_edges(table, cuts), event_id=event.event_id)

    graph_seconds, (table, graph) = _best(graph_step, args.repeats)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.run is not None and (args.run / "edge_classifier.pt").exists():
        from gnn4hep.training.edge_training import load_edge_model

        model = load_edge_model(args.run / "edge_classifier.pt")
    else:
        from gnn4hep.models.interaction_network import InteractionNetwork

        model = InteractionNetwork(node_features=graph.x.shape[1], edge_features=graph.edge_attr.shape[1], hidden=args.hidden, n_iterations=args.iterations).eval()
    model = model.to(device)
    batch = graph.to(device)

    def infer_step():
        with torch.inference_mode():
            scores = torch.sigmoid(model(batch))
        if device == "cuda":
            torch.cuda.synchronize()
        return scores.cpu().numpy()

    infer_step()
    infer_seconds, scores = _best(infer_step, args.repeats)
    hit_id, edges = graph.hit_id.numpy(), graph.edge_index.numpy()
    order = LAYER_RANK[table["layer"].to_numpy()] * 1e4 + np.hypot(table["r"], table["z"]).to_numpy()
    cc_seconds, _ = _best(lambda: components_tracks(hit_id, edges, scores, 0.5), args.repeats)
    walk_seconds, _ = _best(lambda: walkthrough_tracks(hit_id, edges, scores, 0.5, node_order=order), args.repeats)
    graph_methods = other_graph_methods(event, args)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "event": str(full),
        "n_hits": int(len(table)),
        "n_edges": int(edges.shape[1]),
        "edges_per_hit": float(edges.shape[1] / len(table)),
        "cuts": cut_source,
        "device": device,
        "model": f"{type(model).__name__} ({sum(p.numel() for p in model.parameters())} parameters)",
        "seconds": {"graph": graph_seconds, "inference": infer_seconds, "building_cc": cc_seconds, "building_walk": walk_seconds},
        "graph_methods": graph_methods,
        "peak_rss_mb": peak_mb,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
        "machine": {"python": platform.python_version(), "processor": platform.processor(), "torch_threads": torch.get_num_threads()},
        "note": "scores of an untrained model when --run is not given: building times are then indicative only",
    }
    print(f"event {full.name}: {result['n_hits']} hits, {result['n_edges']} edges ({result['edges_per_hit']:.1f}/hit), device {device}")
    print(f"{'stage':<16}{'seconds/event':>14}")
    for name, seconds in result["seconds"].items():
        print(f"{name:<16}{seconds:>14.3f}")
    print(f"{'graph method':<18}{'seconds':>9}{'edges':>11}{'edges/hit':>11}  source")
    for name, row in graph_methods.items():
        print(f"{name:<18}{row['seconds']:>9.3f}{row['n_edges']:>11d}{row['edges_per_hit']:>11.2f}  {row['source']}")
    print(f"peak RSS {peak_mb:.0f} MB")
    out = ROOT / "benchmarks" / "results" / "tracking.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    from gnn4hep.utils.atomic import atomic_write_json

    atomic_write_json(out, result)


if __name__ == "__main__":
    main()
