"""Track building from fixed GNN edge scores (issue 13): ceilings, the run's builder and the kink walk.

For a finished trackml_gnn run (``--run``, with ``filtered_graphs/``, ``edge_scores/`` and
``edge_classifier.pt``), every row builds track candidates from the same graphs and edge scores and
scores them with the project's metrics (:func:`gnn4hep.tracking.evaluation.aggregate.event_track_summary`:
TrackML score, pT > 1 GeV double-majority efficiency, fake and duplicate rates), before and after the
run's Kalman refit (its ``refit:`` section, fitted as the ``trackml_refit`` stage fits each split):

- ``ceiling_true_edges``: connected components of the TRUE edges of the filtered graph (losses of
  the graph and the filter only);
- ``ceiling_true_above_cut``: components of the true edges the GNN scored above 0.5 (adds the
  GNN's missed edges; a perfect builder with this GNN cannot do better on fragmented particles);
- ``run_builder``: the run's ``tracks:`` section (CC-and-walk at 0.5);
- ``kink_walk``: :mod:`gnn4hep.tracking.building.kink_walk` with the ``tracks:`` settings of
  experiments/trackml_gnn.yaml, ``kink_walk_one_pass`` the same without the second pass, and on the
  tuning events more variants (straight-line prediction, kink, cuts, merge, min_hits).

Settings are chosen on the tuning sample only: training events of the run (``--tune``), whose edge
scores this script computes with the run's GNN into ``--work`` (the run has none for them). The GNN
was trained on these events, so their edge scores are slightly better than on the test events
(edge efficiency 0.90-0.91 at 0.5 against 0.914 on the test events: no sign of overfitting).
The test events and the eval event (the real sample event) are scored only with ``--final``.

    OMP_NUM_THREADS=1 python benchmarks/track_building.py --run RUN --tune 1 2 3 [--final] [--work DIR]

Prints a table and writes benchmarks/results/track_building.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gnn4hep.graphs.io import load_graph
from gnn4hep.pipelines.trackml_config import RefitConfig, TrackBuildingConfig
from gnn4hep.pipelines.trackml_data import read_available
from gnn4hep.pipelines.trackml_tasks import InferTask, infer_edges, track_candidates
from gnn4hep.graphs.layers import LAYER_RANK
from gnn4hep.tracking.building import components_tracks, kink_walk_tracks
from gnn4hep.tracking.building.kink_walk import graph_positions
from gnn4hep.tracking.evaluation.aggregate import combine_track_summaries, event_track_summary
from gnn4hep.tracking.fitting import refit
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation.batch import read_settings

RESULTS = Path(__file__).parent / "results" / "track_building.json"
EXPERIMENT = Path(__file__).parents[1] / "experiments" / "trackml_gnn.yaml"


def chosen_config() -> TrackBuildingConfig:
    """The ``tracks:`` section of experiments/trackml_gnn.yaml (the chosen settings)."""
    return TrackBuildingConfig(**yaml.safe_load(EXPERIMENT.read_text())["tracks"])


def chosen_refit() -> RefitConfig:
    """The ``refit:`` section of experiments/trackml_gnn.yaml."""
    return RefitConfig(**yaml.safe_load(EXPERIMENT.read_text()).get("refit", {}))


def variants(tune: bool) -> dict[str, object]:
    """Row name -> builder config, a ceiling name, or ("quality", chi2/ndf cut, max hits): the chosen kink walk
    refitted with that track-quality cut (``FitConfig.reject_chi2_ndf``) on top of the run's refit settings."""
    chosen = chosen_config()
    rows: dict[str, object] = {"ceiling_true_edges": "truth", "ceiling_true_above_cut": "truth_above_cut",
                               "run_builder": None, "kink_walk": chosen,
                               "kink_walk_one_pass": chosen.model_copy(update={"second_max_kink": None})}
    refit_cfg = chosen_refit()
    if refit_cfg.reject_chi2_ndf is not None:
        rows["kink_walk_quality"] = ("quality", refit_cfg.reject_chi2_ndf, refit_cfg.reject_max_hits)
    if tune:
        rows.update({
            **{f"kink_walk_reject{c:g}_max{m}": ("quality", c, m) for c in (3.0, 10.0, 30.0) for m in (5, 7)},
            "walkthrough_cut0.3": TrackBuildingConfig(builder="walkthrough", score_cut=0.3),
            "kink_walk_straight": "straight",
            "kink_walk_max_kink0.05": chosen.model_copy(update={"max_kink": 0.05}),
            "kink_walk_max_kink0.1": chosen.model_copy(update={"max_kink": 0.1}),
            "kink_walk_walk_cut0.1": chosen.model_copy(update={"walk_cut": 0.1}),
            "kink_walk_no_merge": chosen.model_copy(update={"merge_cut": None}),
            "kink_walk_kink_weight0": chosen.model_copy(update={"kink_weight": 0.0}),
            **{f"kink_walk_min_hits{m}": chosen.model_copy(update={"min_hits": m}) for m in (1, 4, 5, 6) if m != chosen.min_hits},
        })
    return rows


def all_hits(event, submission: pd.DataFrame) -> pd.DataFrame:
    """The submission with the event's hits that are not graph nodes added as single-hit tracks."""
    missing = np.setdiff1d(event.hits["hit_id"].to_numpy(), submission["hit_id"].to_numpy())
    extra = pd.DataFrame({"hit_id": missing, "track_id": submission["track_id"].max() + 1 + np.arange(len(missing))})
    return pd.concat([submission, extra], ignore_index=True)


def candidates(kind, graph, scores: np.ndarray, run_tracks: TrackBuildingConfig) -> pd.DataFrame:
    hit_id, edges, y = graph.hit_id.numpy(), graph.edge_index.numpy(), graph.y.numpy()
    if kind == "truth":
        return components_tracks(hit_id, edges, y.astype(np.float64), score_cut=0.5)
    if kind == "truth_above_cut":
        return components_tracks(hit_id, edges, (y * (scores > 0.5)).astype(np.float64), score_cut=0.5)
    if kind == "straight":  # the chosen kink walk with straight-line instead of helix predictions
        cfg = chosen_config()
        return kink_walk_tracks(hit_id, edges, scores, graph_positions(graph.x.numpy()), walk_cut=cfg.walk_cut, max_kink=cfg.max_kink,
                                kink_weight=cfg.kink_weight, min_step_mm=cfg.min_step_mm, merge_cut=cfg.merge_cut,
                                node_order=walk_order(graph), min_hits=cfg.min_hits, keep_hits=cfg.keep_hits,
                                second_max_kink=cfg.second_max_kink, helix=False)
    return track_candidates(graph, scores, run_tracks if kind is None else kind)


def walk_order(graph) -> np.ndarray:
    """The visit order of :func:`~gnn4hep.pipelines.trackml_tasks.track_candidates` (layer rank, then distance from the origin)."""
    x = graph.x.numpy()
    return LAYER_RANK[graph.layer.numpy()] * 1e4 + np.hypot(x[:, 0], x[:, 2])


def evaluate(split: str, names: list[str], run: Path, score_dir: Path, event_dir: Path, rows: dict, fit_config, run_tracks) -> dict:
    detector = read_detector()
    per_row: dict[str, dict[str, list]] = {name: {"raw": [], "refit": [], "build_s": [], "refit_s": []} for name in rows}
    for name in names:
        graph = load_graph(run / "filtered_graphs" / split / f"{name}.pt")
        scores = pd.read_parquet(score_dir / f"{name}.parquet")["edge_score"].to_numpy().astype(np.float64)
        event = read_available(event_dir / name)
        for row, kind in rows.items():
            row_fit = fit_config
            if isinstance(kind, tuple):
                row_fit = replace(fit_config, reject_chi2_ndf=kind[1], reject_max_hits=kind[2])
                kind = chosen_config()
            start = time.process_time()
            submission = all_hits(event, candidates(kind, graph, scores, run_tracks))
            per_row[row]["build_s"].append(time.process_time() - start)
            per_row[row]["raw"].append(event_track_summary(event, submission))
            start = time.process_time()
            cleaned, _ = refit(event, submission, detector, row_fit)
            per_row[row]["refit_s"].append(time.process_time() - start)
            per_row[row]["refit"].append(event_track_summary(event, cleaned))
        print(f"  {split} {name} done", flush=True)
    out = {}
    for row, values in per_row.items():
        out[row] = {"raw": headline(combine_track_summaries(values["raw"])), "refit": headline(combine_track_summaries(values["refit"])),
                    "build_cpu_s_per_event": float(np.mean(values["build_s"])), "refit_cpu_s_per_event": float(np.mean(values["refit_s"]))}
    return out


def headline(result: dict) -> dict:
    high = result["pt_high"]
    return {"score": result["trackml_score"], "efficiency": high["efficiency"], "fake_rate": high["fake_rate"],
            "duplicate_rate": high["duplicate_rate"], "n_tracks": high["n_tracks"], "efficiency_all_pt": result["all"]["efficiency"],
            "n_events": result["n_events"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="finished trackml_gnn run folder")
    parser.add_argument("--tune", type=int, nargs="+", default=[1, 2, 3], help="training-event numbers of the tuning sample")
    parser.add_argument("--final", action="store_true", help="also score the test events and the eval event")
    parser.add_argument("--work", type=Path, default=Path("/tmp/track_building"), help="edge scores of the tuning events")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    run_cfg = yaml.safe_load((args.run / "config.yaml").read_text())
    data, refit_cfg = run_cfg["data"], RefitConfig(**run_cfg["refit"])
    run_tracks = TrackBuildingConfig(**run_cfg["tracks"])
    start = time.process_time()

    tune_names = [f"event{i:09d}" for i in args.tune]
    score_dir = args.work / "edge_scores" / "train"
    for name in tune_names:
        if not (score_dir / f"{name}.parquet").is_file():
            infer_edges(InferTask(args.run / "filtered_graphs" / "train" / f"{name}.pt", score_dir / f"{name}.parquet",
                                  args.run / "edge_classifier.pt"))
    from gnn4hep.pipelines.trackml_config import TrackmlDataConfig
    from gnn4hep.pipelines.trackml_data import data_dirs

    train_dir, test_dir = data_dirs(args.run, TrackmlDataConfig(**data))  # the run's folders or its simulated ones
    results = {"run": str(args.run), "tracks": chosen_config().model_dump(), "run_tracks": run_tracks.model_dump(),
               "tune_events": tune_names,
               "tune": evaluate("train", tune_names, args.run, score_dir, train_dir, variants(True),
                                refit_cfg.fit_config(simulation=read_settings(train_dir)), run_tracks)}
    if args.final:
        test_names = sorted(p.stem for p in (args.run / "edge_scores" / "test").glob("*.parquet"))
        results["test"] = evaluate("test", test_names, args.run, args.run / "edge_scores" / "test", test_dir, variants(False),
                                   refit_cfg.fit_config(simulation=read_settings(test_dir)), run_tracks)
        for prefix in data.get("eval_events") or []:
            prefix = Path(prefix)
            results[f"eval_{prefix.name}"] = evaluate("eval", [prefix.name], args.run, args.run / "edge_scores" / "eval", prefix.parent,
                                                      variants(False), refit_cfg.fit_config(eval_events=True), run_tracks)
    results["cpu_seconds"] = time.process_time() - start
    print(f"\n{'sample':24s} {'row':28s} {'stage':6s} {'score':>7s} {'eff':>7s} {'fake':>7s} {'dup':>7s} {'tracks':>7s} {'build s':>8s}")
    for sample, table in results.items():
        if not isinstance(table, dict) or "kink_walk" not in table:
            continue
        for row, value in table.items():
            for stage in ("raw", "refit"):
                v = value[stage]
                print(f"{sample:24s} {row:28s} {stage:6s} {v['score']:7.4f} {v['efficiency']:7.4f} {v['fake_rate']:7.4f} "
                      f"{v['duplicate_rate']:7.4f} {v['n_tracks']:7d} {value['build_cpu_s_per_event']:8.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {args.out} ({results['cpu_seconds']:.0f} CPU s)")


if __name__ == "__main__":
    main()
