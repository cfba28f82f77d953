"""Benchmark of module-map candidate generation on simulated pile-up-200 events: today's sort-based
:func:`~gnn4hep.graphs.module_map.build_module_map_edges` against the earlier pandas-merge version
(kept here, in :func:`merge_based_edges`, only as the reference for this benchmark).

A map is fitted on all but the last event of FOLDER and applied to the last one. Both routes must give
the same edge set (checked). Prints a table (CPU seconds, peak resident memory of each route measured in
its own child process) and writes benchmarks/results/module_map.json.

    gnn4hep simulate --source pythia --pileup 200 --events 12 --seed 7 --out /tmp/mm_events
    OMP_NUM_THREADS=1 python benchmarks/module_map.py /tmp/mm_events
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "module_map.json"


def merge_based_edges(table: pd.DataFrame, module_map: pd.DataFrame, margin=0.1, tolerance=0.01) -> np.ndarray:
    """The earlier candidate generation: two pandas merges of the hits onto the map, then the same cuts."""
    from gnn4hep.graphs.geometric import pair_variables
    from gnn4hep.graphs.module_map import TOLERANCE_SCALE, VARIABLES, statistical_padding

    module_map = module_map.copy()
    for name in VARIABLES:
        module_map[f"{name}_pad"] = statistical_padding(module_map, name)
    hits = pd.DataFrame({"row": np.arange(len(table)), "module": table["module_key"].to_numpy()})
    candidates = module_map.merge(hits.rename(columns={"module": "module_a", "row": "source"}), on="module_a")
    candidates = candidates.merge(hits.rename(columns={"module": "module_b", "row": "target"}), on="module_b")
    source = candidates["source"].to_numpy(np.int64)
    target = candidates["target"].to_numpy(np.int64)
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    same_module = candidates["module_a"].to_numpy() == candidates["module_b"].to_numpy()
    keep = (source != target) & (~same_module | (radius[source] < radius[target]))
    source, target, candidates = source[keep], target[keep], candidates[keep]
    values = pair_variables(table, source, target)
    keep = np.ones(len(source), dtype=bool)
    for name in VARIABLES:
        low, high = candidates[f"{name}_min"].to_numpy(), candidates[f"{name}_max"].to_numpy()
        width = margin * (high - low) + tolerance * TOLERANCE_SCALE[name] + candidates[f"{name}_pad"].to_numpy()
        keep &= ~((values[name] < low - width) | (values[name] > high + width))
    return np.stack([source[keep], target[keep]])


def _timed(route: str, folder: str, queue) -> None:
    from gnn4hep.graphs.features import hit_table
    from gnn4hep.graphs.module_map import build_module_map_edges, fit_module_map
    from gnn4hep.tracking.io import read_event

    prefixes = sorted({str(p).split("-")[0] for p in Path(folder).glob("event*-hits.csv*")})
    tables = [hit_table(read_event(p)) for p in prefixes]
    module_map = fit_module_map(tables[:-1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    build = build_module_map_edges if route == "sort" else merge_based_edges
    edges = build(tables[-1], module_map)
    seconds = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    order = np.lexsort(edges)
    queue.put({"route": route, "cpu_s": seconds, "peak_rss_gb": peak / 1e6, "rss_before_gb": before / 1e6,
               "n_edges": int(edges.shape[1]), "n_hits": len(tables[-1]), "n_map_rows": len(module_map),
               "n_train_events": len(tables) - 1, "edges": edges[:, order]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    rows = {}
    for route in ("sort", "merge"):
        queue = context.Queue()
        child = context.Process(target=_timed, args=(route, args.folder, queue))
        child.start()
        rows[route] = queue.get()
        child.join()
    same = np.array_equal(rows["sort"].pop("edges"), rows["merge"].pop("edges"))
    print(f"{'route':<8}{'CPU s':>8}{'peak RSS GB':>13}{'edges':>11}")
    for route, row in rows.items():
        print(f"{route:<8}{row['cpu_s']:>8.2f}{row['peak_rss_gb']:>13.2f}{row['n_edges']:>11,}")
    print(f"identical edge sets: {same}; speed-up x{rows['merge']['cpu_s'] / rows['sort']['cpu_s']:.1f}; "
          f"{rows['sort']['n_hits']:,} hits, map of {rows['sort']['n_map_rows']:,} module pairs "
          f"from {rows['sort']['n_train_events']} events")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"routes": rows, "identical": bool(same)}, indent=2))


if __name__ == "__main__":
    main()
