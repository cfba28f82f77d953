"""Score-loss budget of a trackml_gnn run (issue 13): where the missing TrackML score (1 - score) goes.

The TrackML score is a sum over particles (:mod:`gnn4hep.tracking.scoring`): each weighted particle
contributes the weight of its hits inside its good (double-majority) track. Connected components of a
set of TRUE consecutive pairs (:mod:`gnn4hep.graphs.truth`) are pure, so a particle's contribution
then depends on its own pairs only and stage losses add up particle by particle. The chain, each step
scored on the same events with :func:`~gnn4hep.tracking.scoring.score_event`:

    all true pairs (score 1)
      -> minus the pairs the ring map lacks, in order: pairs of particles below the map's pt_min,
         same-layer pairs, pairs whose ring pair is not in the map, pairs outside the map's ranges
      = true edges of the ring-map graph
      -> minus the pairs the edge filter drops            = ceiling (true edges of the filtered graph)
      -> minus the true edges the GNN scores <= 0.5        = ceiling_true_above_cut
      -> the run's builder (submissions/)                  = raw submission (adds merges/splits/noise)
      -> the run's Kalman refit (refitted/)                = final submission
    and, off the chain: the ceiling refitted with the run's refit (refit effect on pure candidates).

Each step's loss is split by the particle's pT bin. For the builder step, the particles good after
the CC-above-cut step but lost after building are classified (split: no track holds > half of the
particle's hits; merge: the track holding most of its hits has another majority or too few of its
hits; hits: good in both, fewer weighted hits), and the noise share is measured by turning the
noise hits of the submissions into singletons. "Restore" rows add one category of missing true pairs
back to the ceiling's edges (upper bound of a graph fix's gain, before the GNN and builder).

    OMP_NUM_THREADS=1 python benchmarks/score_budget.py --run RUN [--events N] [--refit-ceiling]

Writes benchmarks/results/score_budget.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse
import scipy.sparse.csgraph
import yaml

from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.io import load_graph
from gnn4hep.graphs.ring_map import ring_keys
from gnn4hep.graphs.truth import consecutive_pairs
from gnn4hep.pipelines.trackml_config import RefitConfig, TrackmlDataConfig
from gnn4hep.pipelines.trackml_data import data_dirs, read_available
from gnn4hep.tracking.scoring import match_tracks, score_event

RESULTS = Path(__file__).parent / "results" / "score_budget.json"
PT_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 2.0, np.inf)
PT_LABELS = [f"{a:g}-{b:g}" for a, b in zip(PT_BINS[:-1], PT_BINS[1:])]


def pair_keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Orientation-free int64 key of node pairs."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return lo.astype(np.int64) * n + hi


def components_submission(hit_id: np.ndarray, pairs: np.ndarray) -> pd.DataFrame:
    """Connected components of ``pairs`` (2, P) over all nodes as a submission (isolated hits: singletons)."""
    n = len(hit_id)
    adjacency = scipy.sparse.coo_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])), shape=(n, n))
    _, labels = scipy.sparse.csgraph.connected_components(adjacency, directed=False)
    return pd.DataFrame({"hit_id": hit_id, "track_id": labels.astype(np.int64)})


def particle_scored(truth: pd.DataFrame, submission: pd.DataFrame) -> pd.Series:
    """Scored weight per particle id (0 for particles without a good track)."""
    m = match_tracks(truth, submission)
    good = m.good & (m.major_particle_id != 0)
    scored = pd.Series(m.major_weight[good], index=m.major_particle_id[good].astype(np.uint64))
    return scored.groupby(level=0).sum()


def denoise(truth: pd.DataFrame, submission: pd.DataFrame) -> pd.DataFrame:
    """The submission with every noise hit moved to a new singleton track."""
    noise = set(truth.loc[truth["particle_id"] == 0, "hit_id"].to_numpy())
    out = submission.copy()
    is_noise = out["hit_id"].isin(noise).to_numpy()
    out.loc[is_noise, "track_id"] = out["track_id"].max() + 1 + np.arange(is_noise.sum())
    return out


def builder_classes(truth: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame, pids: np.ndarray) -> dict:
    """Particles good in ``before`` but not in ``after``: split / merge counts and their weights are done by the caller."""
    t = truth[["hit_id", "particle_id"]].merge(after, on="hit_id")
    t = t[t["particle_id"] != 0]
    counts = t.groupby(["particle_id", "track_id"]).size().rename("n").reset_index()
    total = t.groupby("particle_id").size()
    best = counts.sort_values("n", ascending=False).drop_duplicates("particle_id").set_index("particle_id")
    track_size = after.groupby("track_id").size()
    m = match_tracks(truth, after)
    major = pd.Series(m.major_particle_id.astype(np.uint64), index=m.track_id)
    out = {}
    for pid in pids:
        n_best, track = best.loc[pid, "n"], best.loc[pid, "track_id"]
        if 2 * n_best <= total.loc[pid]:
            out[pid] = "split"
        elif major.loc[track] != pid or 2 * n_best <= track_size.loc[track]:
            out[pid] = "merge"
        else:
            out[pid] = "other"
    return out


def event_budget(event, graph, filtered, scores, raw, final, ring_map: pd.DataFrame, pt_min: float, fit_config, refit_ceiling: bool) -> dict:
    truth = event.truth
    table = hit_table(event)
    assert np.array_equal(table["hit_id"].to_numpy(), graph.hit_id.numpy()), "graph nodes are not the event's hits in order"
    assert np.array_equal(table["hit_id"].to_numpy(), filtered.hit_id.numpy())
    n = len(table)
    hit_id = table["hit_id"].to_numpy()
    pid = table["particle_id"].to_numpy().astype(np.uint64)
    pt = table["pt"].to_numpy()
    layer = table["layer"].to_numpy()

    pairs = consecutive_pairs(table)
    keys = pair_keys(pairs[0], pairs[1], n)
    ring_edges = graph.edge_index.numpy()
    ring_true = pair_keys(*ring_edges[:, graph.y.numpy() > 0.5], n)
    f_edges = filtered.edge_index.numpy()
    f_y = filtered.y.numpy() > 0.5
    f_true = pair_keys(*f_edges[:, f_y], n)
    above = pair_keys(*f_edges[:, f_y & (scores > 0.5)], n)
    in_ring = np.isin(keys, ring_true)
    in_filter = np.isin(keys, f_true)
    in_above = np.isin(keys, above)
    assert not (in_filter & ~in_ring).any()

    # categories of the pairs the ring map lacks
    rings = ring_keys(table, ring_split=2)
    map_keys = set(zip(ring_map["module_a"].astype(np.int64), ring_map["module_b"].astype(np.int64)))
    ra, rb = rings[pairs[0]], rings[pairs[1]]
    has_row = np.array([(a, b) in map_keys or (b, a) in map_keys for a, b in zip(ra, rb)])
    pair_pt = pt[pairs[0]]
    same_layer = layer[pairs[0]] == layer[pairs[1]]
    missing = ~in_ring
    cat = np.full(len(keys), "", dtype=object)
    cat[missing & (pair_pt < pt_min)] = "ring_low_pt"
    rest = missing & (pair_pt >= pt_min)
    cat[rest & same_layer] = "ring_same_layer"
    cat[rest & ~same_layer & ~has_row] = "ring_no_row"
    cat[rest & ~same_layer & has_row] = "ring_out_of_range"

    particles = truth.groupby("particle_id")["weight"].sum()
    particles = particles[(particles.index != 0) & (particles > 0)]
    particles.index = particles.index.astype(np.uint64)
    part_pt = pd.Series(pt, index=pid).groupby(level=0).first().reindex(particles.index).to_numpy()
    pt_bin = np.digitize(part_pt, PT_BINS[1:-1])

    def scored(submission):
        return particle_scored(truth, submission).reindex(particles.index).fillna(0.0).to_numpy()

    steps: list[tuple[str, np.ndarray]] = []
    keep = np.ones(len(keys), dtype=bool)
    steps.append(("all_true_pairs", scored(components_submission(hit_id, pairs))))
    for name in ("ring_low_pt", "ring_same_layer", "ring_no_row", "ring_out_of_range"):
        keep &= cat != name
        steps.append((name, scored(components_submission(hit_id, pairs[:, keep]))))
    steps.append(("filter", scored(components_submission(hit_id, pairs[:, in_filter]))))
    steps.append(("gnn_below_cut", scored(components_submission(hit_id, pairs[:, in_above]))))
    cc_above = components_submission(hit_id, pairs[:, in_above])
    steps.append(("builder", scored(raw)))
    steps.append(("refit", scored(final)))

    out = {"total_weight": float(particles.sum()), "noise_weight": float(truth.loc[truth["particle_id"] == 0, "weight"].sum()),
           "weight_by_pt": np.bincount(pt_bin, weights=particles.to_numpy(), minlength=len(PT_LABELS)).tolist(),
           "pair_counts": {c: int((cat == c).sum()) for c in ("ring_low_pt", "ring_same_layer", "ring_no_row", "ring_out_of_range")}
           | {"all": len(keys), "filter": int((in_ring & ~in_filter).sum()), "gnn_below_cut": int((in_filter & ~in_above).sum()),
              "same_layer_all": int(same_layer.sum()), "same_layer_in_filter": int((same_layer & in_filter).sum())},
           "steps": {}}
    prev = steps[0][1]
    out["score_all_true_pairs"] = float(prev.sum())
    for name, value in steps[1:]:
        loss = prev - value
        out["steps"][name] = {"loss": float(loss.sum()), "gain_part": float(-loss[loss < 0].sum()),
                              "by_pt": np.bincount(pt_bin, weights=loss, minlength=len(PT_LABELS)).tolist(),
                              "score": float(value.sum())}
        prev = value
    # builder: classify the particles good after CC-above-cut and lost after building
    before, after = steps[-3][1], steps[-2][1]
    lost = np.flatnonzero((before > 0) & (after == 0))
    classes = builder_classes(truth, cc_above, raw, particles.index.to_numpy()[lost])
    loss = before - after
    out["builder_classes"] = {c: float(sum(loss[i] for i, p in zip(lost, particles.index.to_numpy()[lost]) if classes[p] == c))
                              for c in ("split", "merge", "other")}
    partial = (before > 0) & (after > 0)
    out["builder_classes"]["fewer_hits"] = float(loss[partial].sum())
    out["builder_classes"]["gained"] = float(-loss[(before == 0)].sum())
    # noise contamination: score gain when the noise hits leave the tracks
    out["noise_raw"] = score_event(truth, denoise(truth, raw)) - score_event(truth, raw)
    out["noise_final"] = score_event(truth, denoise(truth, final)) - score_event(truth, final)
    # restore one category of missing pairs onto the ceiling's edges
    ceiling = pairs[:, in_filter]
    base = steps[5][1].sum()
    out["restore"] = {}
    categories = {"ring_low_pt": cat == "ring_low_pt"}
    for lo, hi in ((0.3, 0.4), (0.2, 0.3), (0.1, 0.2), (0.0, 0.1)):
        categories[f"ring_low_pt_{lo:g}-{hi:g}"] = (cat == "ring_low_pt") & (pair_pt >= lo) & (pair_pt < hi)
    categories.update({"ring_same_layer": cat == "ring_same_layer", "ring_no_row": cat == "ring_no_row",
                       "ring_out_of_range": cat == "ring_out_of_range", "filter": in_ring & ~in_filter,
                       "same_layer_any": same_layer & ~in_filter, "all_ring_missing_pt_min": missing & (pair_pt >= pt_min)})
    for name, mask in categories.items():
        restored = np.concatenate([ceiling, pairs[:, mask]], axis=1)
        out["restore"][name] = {"gain": float(scored(components_submission(hit_id, restored)).sum() - base), "pairs": int(mask.sum())}
    if refit_ceiling:
        from gnn4hep.tracking.fitting import refit
        from gnn4hep.tracking.io import read_detector

        ceil_sub = components_submission(hit_id, ceiling)
        cleaned, _ = refit(event, ceil_sub, read_detector(), fit_config)
        out["ceiling_refit"] = {"raw": score_event(truth, ceil_sub), "refit": score_event(truth, cleaned)}
        out["ceiling_refit"]["noise_refit"] = score_event(truth, denoise(truth, cleaned)) - out["ceiling_refit"]["refit"]
    out["scores"] = {"raw": score_event(truth, raw), "final": score_event(truth, final)}
    return out


def combine(events: list[dict]) -> dict:
    """Mean over events (the project's combined score is the mean of the event scores)."""
    def mean(values):
        return float(np.mean(values))

    out = {"n_events": len(events), "score_all_true_pairs": mean([e["score_all_true_pairs"] for e in events]),
           "weight_by_pt": dict(zip(PT_LABELS, np.mean([e["weight_by_pt"] for e in events], axis=0).tolist())),
           "noise_weight": mean([e["noise_weight"] for e in events]),
           "pair_counts_per_event": {k: mean([e["pair_counts"][k] for e in events]) for k in events[0]["pair_counts"]},
           "steps": {}, "restore": {}}
    for name in events[0]["steps"]:
        out["steps"][name] = {"loss": mean([e["steps"][name]["loss"] for e in events]),
                              "gain_part": mean([e["steps"][name]["gain_part"] for e in events]),
                              "score": mean([e["steps"][name]["score"] for e in events]),
                              "by_pt": dict(zip(PT_LABELS, np.mean([e["steps"][name]["by_pt"] for e in events], axis=0).tolist()))}
    out["builder_classes"] = {k: mean([e["builder_classes"][k] for e in events]) for k in events[0]["builder_classes"]}
    out["noise_raw"] = mean([e["noise_raw"] for e in events])
    out["noise_final"] = mean([e["noise_final"] for e in events])
    for name in events[0]["restore"]:
        out["restore"][name] = {k: mean([e["restore"][name][k] for e in events]) for k in ("gain", "pairs")}
    if "ceiling_refit" in events[0]:
        out["ceiling_refit"] = {k: mean([e["ceiling_refit"][k] for e in events]) for k in events[0]["ceiling_refit"]}
    out["scores"] = {k: mean([e["scores"][k] for e in events]) for k in ("raw", "final")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--events", type=int, default=None, help="first N test events only")
    parser.add_argument("--refit-ceiling", action="store_true", help="also refit the true-edge ceiling")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from gnn4hep.tracking.simulation.batch import read_settings

    run_cfg = yaml.safe_load((args.run / "config.yaml").read_text())
    _, test_dir = data_dirs(args.run, TrackmlDataConfig(**run_cfg["data"]))
    fit_config = RefitConfig(**run_cfg["refit"]).fit_config(simulation=read_settings(test_dir))
    ring_map = pd.read_csv(args.run / "graph_builder" / "ring_map.csv")
    names = sorted(p.stem for p in (args.run / "edge_scores" / "test").glob("*.parquet"))[: args.events]
    start = time.process_time()
    events = []
    for name in names:
        event = read_available(test_dir / name)
        result = event_budget(event, load_graph(args.run / "graphs" / "test" / f"{name}.pt"),
                              load_graph(args.run / "filtered_graphs" / "test" / f"{name}.pt"),
                              pd.read_parquet(args.run / "edge_scores" / "test" / f"{name}.parquet")["edge_score"].to_numpy(),
                              pd.read_csv(args.run / "submissions" / "test" / f"{name}.csv"),
                              pd.read_csv(args.run / "refitted" / "test" / f"{name}.csv"),
                              ring_map, float(run_cfg["graph"]["pt_min"]), fit_config, args.refit_ceiling)
        events.append(result)
        print(f"{name}: final {result['scores']['final']:.4f}, cpu {time.process_time() - start:.0f} s", flush=True)
    out = {"run": str(args.run), "events": names, "combined": combine(events), "per_event": events,
           "cpu_seconds": time.process_time() - start}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out["combined"], indent=1))


if __name__ == "__main__":
    main()
