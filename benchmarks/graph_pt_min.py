"""Cost and gain of a lower ring-map pt_min / no pruning (issue 13), with the run's edge filter unchanged.

For each (pt_min, prune_loss) the ring map is refitted as the run fits it (its ``graph:`` section,
the first ``max_fit_events`` training events), edges are built on held-out training events (not used
in the fit; never the test events), the run's edge filter is applied at its trained cut, and each
graph is scored by its size and by the TrackML score of the connected components of its TRUE edges
(the "ceiling": a perfect GNN and builder on that graph, no refit). For each edge budget (``--budgets``)
the filter cut is also moved to keep exactly that many edges per event. The filter was trained on the
pt_min 0.4 graph, so its efficiency on the new low-pT edges is what a filter would do untrained on
them (a retrained one should do no worse).

    OMP_NUM_THREADS=1 python benchmarks/graph_pt_min.py --run RUN [--fit-events 20] [--events 21 22]

Writes benchmarks/results/graph_pt_min.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gnn4hep.graphs.edge_filter import edge_filter_scores, load_edge_filter
from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.graph_metrics import graph_metrics
from gnn4hep.graphs.truth import consecutive_pairs
from gnn4hep.pipelines.trackml_config import GraphConfig, TrackmlDataConfig
from gnn4hep.pipelines.trackml_data import data_dirs, read_available
from gnn4hep.pipelines.trackml_graphs import build_edges, fit_graph_builder
from gnn4hep.tracking.scoring import score_event

RESULTS = Path(__file__).parent / "results" / "graph_pt_min.json"


def true_edge_ceiling(event, table: pd.DataFrame, edges: np.ndarray) -> float:
    """TrackML score of the connected components of the true edges among ``edges``."""
    import scipy.sparse
    import scipy.sparse.csgraph

    n = len(table)
    pairs = consecutive_pairs(table)
    keys = np.minimum(pairs[0], pairs[1]) * n + np.maximum(pairs[0], pairs[1])
    edge_keys = np.minimum(edges[0], edges[1]).astype(np.int64) * n + np.maximum(edges[0], edges[1])
    kept = pairs[:, np.isin(keys, edge_keys)]
    adjacency = scipy.sparse.coo_matrix((np.ones(kept.shape[1]), (kept[0], kept[1])), shape=(n, n))
    _, labels = scipy.sparse.csgraph.connected_components(adjacency, directed=False)
    return score_event(event.truth, pd.DataFrame({"hit_id": table["hit_id"].to_numpy(), "track_id": labels}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--fit-events", type=int, default=None, help="training events for the fit (default: graph.max_fit_events)")
    parser.add_argument("--events", type=int, nargs="+", default=[21, 22], help="held-out training events to measure on")
    parser.add_argument("--variants", nargs="+", default=["0.4:0.005", "0.4:0", "0.3:0.005", "0.2:0.005", "0.1:0.005"],
                        help="pt_min:prune_loss pairs")
    parser.add_argument("--budgets", type=int, nargs="*", default=[600_000, 700_000, 800_000],
                        help="edges kept per event: the filter cut is lowered/raised to keep that many")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    run_cfg = yaml.safe_load((args.run / "config.yaml").read_text())
    graph_cfg = GraphConfig(**run_cfg["graph"])
    train_dir, _ = data_dirs(args.run, TrackmlDataConfig(**run_cfg["data"]))
    n_fit = args.fit_events or graph_cfg.max_fit_events
    fit_names = [f"event{i:09d}" for i in range(1, n_fit + 1)]
    assert not set(args.events) & set(range(1, n_fit + 1)), "measure on events outside the fit"
    start = time.process_time()
    fit_tables = [hit_table(read_available(train_dir / name)) for name in fit_names]
    events = [read_available(train_dir / f"event{i:09d}") for i in args.events]
    tables = [hit_table(e) for e in events]
    model = load_edge_filter(args.run / "filter" / "edge_filter.pt")
    cut = float(model.threshold) if run_cfg["filter"].get("threshold") is None else float(run_cfg["filter"]["threshold"])
    results = {"run": str(args.run), "fit_events": n_fit, "events": args.events, "filter_cut": cut, "variants": {}}
    for variant in args.variants:
        pt_min, prune = (float(v) for v in variant.split(":"))
        cfg = graph_cfg.model_copy(update={"pt_min": pt_min, "prune_loss": prune})
        state = fit_graph_builder(fit_tables, cfg)
        rows = []
        for event, table in zip(events, tables):
            edges = build_edges(table, state, cfg)
            filter_scores = edge_filter_scores(model, table, edges, event.cells)
            kept = edges[:, filter_scores >= cut]
            row = {"n_edges": int(edges.shape[1]), "n_filtered": int(kept.shape[1])}
            row |= {f"graph_{k}": v for k, v in graph_metrics(table, edges).items() if k in ("efficiency", "efficiency_pt1")}
            row |= {f"filtered_{k}": v for k, v in graph_metrics(table, kept).items() if k in ("efficiency", "efficiency_pt1")}
            row["ceiling_graph"] = true_edge_ceiling(event, table, edges)
            row["ceiling_filtered"] = true_edge_ceiling(event, table, kept)
            order = np.argsort(-filter_scores, kind="stable")
            for budget in args.budgets:  # the filter cut that keeps the best `budget` edges of the event
                top = edges[:, order[:budget]]
                row[f"top{budget // 1000}k_cut"] = float(filter_scores[order[min(budget, len(order)) - 1]])
                top_metrics = graph_metrics(table, top)
                row[f"top{budget // 1000}k_efficiency"] = top_metrics["efficiency"]
                row[f"top{budget // 1000}k_efficiency_pt1"] = top_metrics["efficiency_pt1"]
                row[f"top{budget // 1000}k_ceiling"] = true_edge_ceiling(event, table, top)
            rows.append(row)
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        results["variants"][variant] = {"map_rows": len(state), **mean}
        print(variant, json.dumps(results["variants"][variant]), f"cpu {time.process_time() - start:.0f} s", flush=True)
    results["cpu_seconds"] = time.process_time() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
