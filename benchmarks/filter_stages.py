"""Stage table of a trained TrackML pipeline applied as ``gnn4hep track`` applies it (issue 13): per event,
the edges after the graph builder and after the edge filter, their edge efficiency (all true consecutive
pairs, and those of particles with pT > 1 GeV) where the event has truth, and the CPU seconds of every
stage (graph, edge filter, hit graph, GNN, track building, refit), on one thread.

Cells are stripped from every event (``--keep-cells`` keeps them), so the no-cells route is measured: the
route of the real full event 1001, which has hits only. Events with truth also get the TrackML score
(a side figure when the GNN was trained on other graphs) and, through the GNN, the edge efficiency at its
score cut.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/filter_stages.py --model RUN_OR_BUNDLE \
        EVENT_PREFIX [EVENT_PREFIX ...] [--no-refit] [--note TEXT] [--out benchmarks/results/filter_stages.json]

Prints a table and writes benchmarks/results/filter_stages.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "filter_stages.json"


def _has_truth(table) -> bool:
    return "particle_id" in table and bool((table["particle_id"] != 0).any())


def track_event(pipeline, event, name: str, prefix: Path) -> dict:
    """Run the pipeline's stages on ``event`` one by one (as ``TrackingPipeline.track``), measuring the edges
    after the graph and the filter; returns the event's row."""
    from gnn4hep.graphs.graph_metrics import graph_metrics
    from gnn4hep.pipelines.trackml_apply import TrackingState

    pipeline = pipeline.for_event(event.cells is not None, name)
    state = TrackingState(event=event, name=name, prefix=prefix)
    row: dict = {"event": name, "prefix": str(prefix), "n_hits": int(len(event.hits)), "variant": pipeline.variant,
                 "cpu_s": {}, "edges": {}}
    for stage in pipeline.stages:
        start = time.process_time()
        stage.run(state)
        row["cpu_s"][stage.name] = time.process_time() - start
        if stage.name in ("graph", "edge_filter"):
            row["edges"][stage.name] = {"n_edges": int(state.edges.shape[1])}
            if _has_truth(state.table):
                row["edges"][stage.name].update(graph_metrics(state.table, state.edges))
    if "edge_filter" in state.info:
        row["edge_filter"] = state.info["edge_filter"]
    row["n_tracks"] = int(state.labels["track_id"].nunique())
    if _has_truth(state.table):
        from gnn4hep.tracking.scoring import score_event

        kept = state.scores >= 0.5  # the GNN's default cut (tracks.score_cut of the shipped configs)
        row["edges"]["gnn_cut"] = graph_metrics(state.table, state.graph.edge_index.numpy()[:, kept])
        row["score"] = float(score_event(event.truth, state.labels))
    row["cpu_to_track_building"] = sum(v for k, v in row["cpu_s"].items() if k != "refit")
    row["cpu_with_refit"] = sum(row["cpu_s"].values())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="+", type=Path, help="event prefixes")
    parser.add_argument("--model", type=Path, required=True, help="trackml_gnn run folder or exported bundle")
    parser.add_argument("--keep-cells", action="store_true", help="keep the events' cells (default: strip them)")
    parser.add_argument("--no-refit", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="what the model is (written to the JSON)")
    args = parser.parse_args()

    import torch

    from gnn4hep.pipelines.trackml_apply import TrackingPipeline
    from gnn4hep.pipelines.trackml_data import read_available
    from gnn4hep.tracking.event import Event

    torch.set_num_threads(1)
    pipeline = TrackingPipeline.from_model(args.model, refit=not args.no_refit)
    rows = []
    for prefix in args.events:
        event = read_available(prefix)
        if not args.keep_cells:
            event = Event(event_id=event.event_id, hits=event.hits, particles=event.particles, truth=event.truth)
        rows.append(track_event(pipeline, event, prefix.name, prefix))

    stages = list(rows[0]["cpu_s"])
    print(f"model {args.model}; cells {'kept' if args.keep_cells else 'stripped'}; CPU s on one thread")
    header = f"{'event':<28}{'hits':>8}{'graph':>11}{'eff':>7}{'pT>1':>7}{'filter':>10}{'eff':>7}{'pT>1':>7}"
    print(header + "".join(f"{name[:9]:>10}" for name in stages) + f"{'to tracks':>10}{'score':>7}")
    for row in rows:
        graph, kept = row["edges"]["graph"], row["edges"].get("edge_filter", row["edges"]["graph"])
        cells = [f"{graph['n_edges']:>11,}", f"{graph.get('efficiency', float('nan')):>7.4f}",
                 f"{graph.get('efficiency_pt1', float('nan')):>7.4f}", f"{kept['n_edges']:>10,}",
                 f"{kept.get('efficiency', float('nan')):>7.4f}", f"{kept.get('efficiency_pt1', float('nan')):>7.4f}"]
        name = f"{Path(row['prefix']).parent.name}/{row['event']}"[-28:]
        print(f"{name:<28}{row['n_hits']:>8,}" + "".join(cells) + "".join(f"{row['cpu_s'][s]:>10.2f}" for s in stages)
              + f"{row['cpu_to_track_building']:>10.2f}{row.get('score', float('nan')):>7.3f}")
    result = {"model": str(args.model), "note": args.note, "cells": "kept" if args.keep_cells else "stripped", "torch_threads": 1,
              "refit": not args.no_refit, "events": rows,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
