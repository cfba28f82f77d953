"""Benchmark of the first stages of the staged TrackML pipeline (issue 13) on simulated mu = 200 events:
graph builder (ring map / module map) -> edge filter. Reports, per test event, the edges and the edge
efficiency (all true consecutive pairs, and those of particles with pT > 1 GeV) after the graph
builder and after the filter, and the CPU seconds of each step. Targets of the issue: the filter cuts
the graph ~10x at >= 99% edge efficiency, and the graph reaching the GNN holds <= ~300k edges.

The same library calls as the pipeline's stages (trackml_build_graphs, trackml_train_filter,
trackml_filter) with the settings of experiments/trackml_gnn.yaml unless overridden:

    gnn4hep simulate --source pythia --pileup 200 --events 20 --seed 11 --out /tmp/stages/train
    gnn4hep simulate --source pythia --pileup 200 --events 3 --seed 12 --out /tmp/stages/test
    OMP_NUM_THREADS=1 python benchmarks/trackml_gnn_stages.py /tmp/stages/train /tmp/stages/test \
        --eval ../shared/data/trackml/sample_event/event000000001

With cluster-shape features on (the config's default) the no-cells variant is trained and measured too;
``--eval`` measures extra events with truth (the real sample event: does the sim-trained filter transfer?);
``--module-map`` adds the module map fitted on the same training events, for comparison.

Prints a table and writes benchmarks/results/trackml_gnn_stages.json (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "trackml_gnn_stages.json"
CONFIG = REPO / "experiments" / "trackml_gnn.yaml"


def _cpu() -> float:
    return time.process_time()


def _sections(overrides: list[str]):
    """GraphConfig and FilterConfig of experiments/trackml_gnn.yaml with KEY=VALUE overrides (graph.x / filter.x)."""
    from gnn4hep.pipelines.trackml_config import FilterConfig, GraphConfig

    config = yaml.safe_load(CONFIG.read_text())
    for item in overrides:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        config.setdefault(section, {})[name] = yaml.safe_load(value)
    return GraphConfig(**config.get("graph", {})), FilterConfig(**config.get("filter", {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--n-train", type=int, default=20)
    parser.add_argument("--n-test", type=int, default=3)
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, e.g. graph.pt_min=0.4 filter.epochs=3")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--module-map", action="store_true", help="also fit the module map on the same events (comparison)")
    parser.add_argument("--eval", nargs="*", default=[], type=Path,
                        help="extra event prefixes (e.g. the real sample event) measured with the same builder and filters")
    args = parser.parse_args()

    import torch

    from gnn4hep.graphs.edge_filter import edge_filter_scores
    from gnn4hep.graphs.features import hit_table
    from gnn4hep.graphs.graph_metrics import graph_metrics
    from gnn4hep.graphs.pair_features import feature_names
    from gnn4hep.graphs.truth import edge_truth, hit_rank_along_particle
    from gnn4hep.pipelines.trackml_data import read_available
    from gnn4hep.pipelines.trackml_graphs import build_edges, fit_graph_builder
    from gnn4hep.tracking.io import list_events
    from gnn4hep.training.edge_filter_training import (
        EdgeSamples,
        efficiency_threshold,
        operating_point,
        predict_scores,
        sample_edges,
        train_edge_filter,
    )

    torch.set_num_threads(1)
    graph_cfg, filter_cfg = _sections(args.set)
    events = {split: [Path(folder) / name for name in sorted(list_events(folder))[:n]]
              for split, folder, n in (("train", args.train, args.n_train), ("test", args.test, args.n_test))}
    start = _cpu()
    data = {split: [read_available(p) for p in prefixes] for split, prefixes in events.items()}
    tables = {split: [hit_table(e) for e in evs] for split, evs in data.items()}
    read_seconds = _cpu() - start

    start = _cpu()
    state = fit_graph_builder(tables["train"], graph_cfg)
    fit_seconds = _cpu() - start

    samples, build_train = [], []
    for index, (event, table) in enumerate(zip(data["train"], tables["train"])):
        start = _cpu()
        edges = build_edges(table, state, graph_cfg)
        build_train.append(_cpu() - start)
        rank = hit_rank_along_particle(table["particle_id"].to_numpy(), table["distance"].to_numpy())
        y = edge_truth(edges, table["particle_id"].to_numpy(), rank)
        samples.append(sample_edges(table, edges, y, np.random.default_rng([0, index]), filter_cfg.fake_fraction,
                                    cells=event.cells, cell_features=filter_cfg.cell_features))
    n_val = max(1, int(round(0.1 * len(samples))))
    val = EdgeSamples.concat(samples[:n_val])
    start = _cpu()
    model, info = train_edge_filter(EdgeSamples.concat(samples[n_val:]), val,
                                    hidden=tuple(filter_cfg.hidden), epochs=filter_cfg.epochs,
                                    batch_size=filter_cfg.batch_size, learning_rate=filter_cfg.learning_rate, seed=0,
                                    target_efficiency=filter_cfg.target_efficiency, target_pt_min=filter_cfg.target_pt_min)
    train_seconds = _cpu() - start
    model.cell_features = filter_cfg.cell_features
    no_cells = None
    if filter_cfg.cell_features:  # the variant for events without cells, as trackml_train_filter makes it
        n_base = len(feature_names(False))
        base = [EdgeSamples(s.features[:, :n_base], s.y, s.weight, s.pt) for s in samples]
        focus = filter_cfg.no_cells_pt_min  # the variant's focus and cut, as trackml_train_filter sets them
        target_pt_min = (filter_cfg.no_cells_target_pt_min if filter_cfg.no_cells_target_pt_min is not None
                         else max(filter_cfg.target_pt_min, focus))
        no_cells, no_cells_info = train_edge_filter(
            EdgeSamples.concat(base[n_val:]).focused(focus), EdgeSamples.concat(base[:n_val]).focused(focus),
            hidden=tuple(filter_cfg.hidden), epochs=filter_cfg.epochs, batch_size=filter_cfg.batch_size,
            learning_rate=filter_cfg.learning_rate, seed=0,
            target_efficiency=filter_cfg.no_cells_target_efficiency or filter_cfg.target_efficiency,
            target_pt_min=target_pt_min)
        no_cells.cell_features = False
    # the validation ROC: share of fake edges kept at several target efficiencies (all true edges, pT > 1 GeV ones)
    val_scores = predict_scores(model, val.features)
    roc = []
    for target in (0.95, 0.98, 0.99, 0.995):
        for pt_min in (0.0, 1.0):
            cut = efficiency_threshold(val_scores, val.y, target, val.pt, pt_min)
            roc.append({"target": target, "pt_min": pt_min, "threshold": cut, **operating_point(val_scores, val, cut)})
    print("validation: kept fake share at target efficiency (all true edges | pT>1 true edges): " + ", ".join(
        f"{r['target']}: {r['kept_fake_fraction']:.3f}" + (" |" if r["pt_min"] == 0 else ";") for r in roc))
    threshold = filter_cfg.threshold if filter_cfg.threshold is not None else info["threshold"]

    module_map = None
    if args.module_map:
        from gnn4hep.graphs.module_map import build_module_map_edges, fit_module_map

        module_map = fit_module_map(tables["train"])
    rows = []
    evaluated = [("test", e, t) for e, t in zip(data["test"], tables["test"])]
    for prefix in args.eval:  # events with truth and cells (the real sample event has both)
        event = read_available(prefix)
        evaluated.append(("eval", event, hit_table(event)))
    for split, event, table in evaluated:
        start = _cpu()
        edges = build_edges(table, state, graph_cfg)
        graph_seconds = _cpu() - start
        before = graph_metrics(table, edges)
        start = _cpu()
        keep = edge_filter_scores(model, table, edges, event.cells) >= threshold
        filter_seconds = _cpu() - start
        after = graph_metrics(table, edges[:, keep])
        extra = {}
        if no_cells is not None:
            start = _cpu()
            keep = edge_filter_scores(no_cells, table, edges) >= no_cells_info["threshold"]
            extra = {"filter_no_cells": graph_metrics(table, edges[:, keep]), "filter_no_cells_cpu_s": _cpu() - start}
        if module_map is not None:
            start = _cpu()
            mm_edges = build_module_map_edges(table, module_map, margin=0.1, tolerance=0.01)
            extra.update(module_map=graph_metrics(table, mm_edges), module_map_cpu_s=_cpu() - start)
        rows.append({"split": split, "event": event.name, "n_hits": len(table), "graph": before, "filter": after, **extra,
                     "graph_cpu_s": graph_seconds, "filter_cpu_s": filter_seconds,
                     "reduction": before["n_edges"] / max(after["n_edges"], 1),
                     "filter_efficiency": after["efficiency"] / before["efficiency"],
                     "filter_efficiency_pt1": after["efficiency_pt1"] / before["efficiency_pt1"]})

    print(f"{'event':<16}{'hits':>8}{'map edges':>11}{'eff':>7}{'eff pT>1':>9}{'filtered':>10}{'eff':>7}"
          f"{'eff pT>1':>9}{'cut':>6}{'map s':>7}{'filter s':>9}")
    for row in rows:
        g, f = row["graph"], row["filter"]
        print(f"{row['event']:<16}{row['n_hits']:>8,}{g['n_edges']:>11,}{g['efficiency']:>7.4f}{g['efficiency_pt1']:>9.4f}"
              f"{f['n_edges']:>10,}{f['efficiency']:>7.4f}{f['efficiency_pt1']:>9.4f}{row['reduction']:>6.1f}"
              f"{row['graph_cpu_s']:>7.2f}{row['filter_cpu_s']:>9.2f}")
    eval_rows = [r for r in rows if r["split"] == "eval"]
    rows = [r for r in rows if r["split"] == "test"]
    for row in eval_rows:
        print(f"{row['event']} (eval): map {row['graph']['n_edges']:,} edges, efficiency {row['graph']['efficiency']:.4f} "
              f"(pT>1 {row['graph']['efficiency_pt1']:.4f}) -> filter {row['filter']['n_edges']:,}, efficiency "
              f"{row['filter']['efficiency']:.4f} (pT>1 {row['filter']['efficiency_pt1']:.4f})"
              + (f"; no-cells filter {row['filter_no_cells']['n_edges']:,}, efficiency {row['filter_no_cells']['efficiency']:.4f} "
                 f"(pT>1 {row['filter_no_cells']['efficiency_pt1']:.4f})" if "filter_no_cells" in row else ""))
    mean = {key: float(np.mean([r[key] for r in rows])) for key in ("reduction", "filter_efficiency", "filter_efficiency_pt1",
                                                                   "graph_cpu_s", "filter_cpu_s")}
    for stage in ("graph", "filter", "filter_no_cells", "module_map"):
        if stage not in rows[0]:
            continue
        for key in ("n_edges", "efficiency", "efficiency_pt1", "purity"):
            mean[f"{stage}_{key}"] = float(np.mean([r[stage][key] for r in rows]))
        print(f"  {stage:<16} {mean[f'{stage}_n_edges'] / 1e6:6.2f}M edges, efficiency {mean[f'{stage}_efficiency']:.4f}, "
              f"pT>1 {mean[f'{stage}_efficiency_pt1']:.4f}, purity {mean[f'{stage}_purity']:.4f}")
    if no_cells is not None:
        mean["filter_no_cells_cpu_s"] = float(np.mean([r["filter_no_cells_cpu_s"] for r in rows]))
    print(f"mean: map {mean['graph_n_edges'] / 1e6:.2f}M edges (eff {mean['graph_efficiency']:.4f}, pT>1 "
          f"{mean['graph_efficiency_pt1']:.4f}) -> filter {mean['filter_n_edges'] / 1e3:.0f}k (eff "
          f"{mean['filter_efficiency']:.4f}, pT>1 {mean['filter_efficiency_pt1']:.4f}): cut x{mean['reduction']:.1f}, "
          f"filter keeps {mean['filter_efficiency_pt1']:.4f} of the map's pT>1 true edges; {mean['filter_cpu_s']:.2f} CPU s/event")
    print(f"fit {fit_seconds:.1f} s, filter training {train_seconds:.1f} s on {len(info['history'])} epochs, "
          f"threshold {threshold:.4f}; reading {read_seconds:.1f} s; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
    result = {
        "config": {"graph": graph_cfg.model_dump(mode="json"), "filter": filter_cfg.model_dump(mode="json"),
                   "overrides": args.set, "features": feature_names(filter_cfg.cell_features)},
        "events": {"train": [p.name for p in events["train"]], "test": [p.name for p in events["test"]]},
        "mean": mean, "per_event": rows, "eval_events": eval_rows,
        "cpu_s": {"read": read_seconds, "fit_graph_builder": fit_seconds, "build_train_graphs": float(np.sum(build_train)),
                  "train_filter": train_seconds},
        "filter_training": {k: v for k, v in info.items() if k != "history"}, "history": info["history"],
        "validation_roc": roc,
        "threshold": threshold, "threshold_no_cells": no_cells_info["threshold"] if no_cells is not None else None,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
