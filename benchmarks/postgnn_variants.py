"""Post-GNN settings (builder ``tracks:`` and ``refit:`` fields) scored on fixed edge scores (issue 13).

Each variant overrides fields of the run's ``tracks:`` and ``refit:`` sections (``tracks.NAME=VALUE`` or
``refit.NAME=VALUE``, several joined with ``,``), builds candidates with
:func:`gnn4hep.pipelines.trackml_tasks.track_candidates` from the run's filtered graphs and edge scores,
refits them, and reports the TrackML score and pT > 1 GeV metrics (as benchmarks/track_building.py).
Tune on training events (``--split train --events 1 2 3``: edge scores computed with the run's GNN into
``--work``, as track_building.py does); measure chosen settings once on ``--split test``.

    OMP_NUM_THREADS=1 python benchmarks/postgnn_variants.py --run RUN --split train --events 1 2 3 \
        --variants base refit.attach_window_mm=20 tracks.min_hits=3,refit.attach_min_hits=3

Writes benchmarks/results/postgnn_variants_SPLIT.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gnn4hep.graphs.io import load_graph
from gnn4hep.pipelines.trackml_config import RefitConfig, TrackBuildingConfig, TrackmlDataConfig
from gnn4hep.pipelines.trackml_data import data_dirs, read_available
from gnn4hep.pipelines.trackml_tasks import InferTask, infer_edges, track_candidates
from gnn4hep.tracking.evaluation.aggregate import combine_track_summaries, event_track_summary
from gnn4hep.tracking.fitting import refit
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation.batch import read_settings

RESULTS = Path(__file__).parent / "results"


def parse_variant(text: str) -> tuple[dict, dict]:
    """'tracks.a=1,refit.b=x' -> ({'a': 1}, {'b': 'x'}) with YAML-typed values; 'base' -> ({}, {})."""
    tracks, refit_fields = {}, {}
    if text == "base":
        return tracks, refit_fields
    for item in text.split(","):
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        {"tracks": tracks, "refit": refit_fields}[section][name] = yaml.safe_load(value)
    return tracks, refit_fields


def all_hits(event, submission: pd.DataFrame) -> pd.DataFrame:
    """The submission with the event's hits that are not graph nodes added as single-hit tracks."""
    missing = np.setdiff1d(event.hits["hit_id"].to_numpy(), submission["hit_id"].to_numpy())
    extra = pd.DataFrame({"hit_id": missing, "track_id": submission["track_id"].max() + 1 + np.arange(len(missing))})
    return pd.concat([submission, extra], ignore_index=True)


def headline(result: dict) -> dict:
    high = result["pt_high"]
    return {"score": result["trackml_score"], "efficiency": high["efficiency"], "fake_rate": high["fake_rate"],
            "duplicate_rate": high["duplicate_rate"], "n_tracks": high["n_tracks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--events", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=["base"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/track_building"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    run_cfg = yaml.safe_load((args.run / "config.yaml").read_text())
    base_tracks, base_refit = run_cfg["tracks"], run_cfg["refit"]
    train_dir, test_dir = data_dirs(args.run, TrackmlDataConfig(**run_cfg["data"]))
    event_dir = train_dir if args.split == "train" else test_dir
    score_dir = args.work / "edge_scores" / "train" if args.split == "train" else args.run / "edge_scores" / "test"
    names = [f"event{i:09d}" for i in args.events]
    for name in names:
        if args.split == "train" and not (score_dir / f"{name}.parquet").is_file():
            infer_edges(InferTask(args.run / "filtered_graphs" / "train" / f"{name}.pt", score_dir / f"{name}.parquet",
                                  args.run / "edge_classifier.pt"))
    detector = read_detector()
    simulation = read_settings(event_dir)
    data = [(read_available(event_dir / name), load_graph(args.run / "filtered_graphs" / args.split / f"{name}.pt"),
             pd.read_parquet(score_dir / f"{name}.parquet")["edge_score"].to_numpy().astype(np.float64)) for name in names]
    results = {"run": str(args.run), "split": args.split, "events": names, "variants": {}}
    start = time.process_time()
    cache: dict[str, list] = {}
    for text in args.variants:
        tracks_over, refit_over = parse_variant(text)
        tracks_cfg = TrackBuildingConfig(**{**base_tracks, **tracks_over})
        fit_config = RefitConfig(**{**base_refit, **refit_over}).fit_config(simulation=simulation)
        key = json.dumps(tracks_cfg.model_dump(), sort_keys=True)
        if key not in cache:
            cache[key] = [all_hits(event, track_candidates(graph, scores, tracks_cfg)) for event, graph, scores in data]
        raw, fitted = [], []
        for (event, _, _), submission in zip(data, cache[key]):
            raw.append(event_track_summary(event, submission))
            cleaned, _ = refit(event, submission, detector, fit_config)
            fitted.append(event_track_summary(event, cleaned))
        results["variants"][text] = {"raw": headline(combine_track_summaries(raw)), "refit": headline(combine_track_summaries(fitted))}
        r = results["variants"][text]["refit"]
        print(f"{text:60s} raw {results['variants'][text]['raw']['score']:.4f} refit {r['score']:.4f} eff {r['efficiency']:.4f} "
              f"fake {r['fake_rate']:.4f} dup {r['duplicate_rate']:.4f}  cpu {time.process_time() - start:.0f} s", flush=True)
    results["cpu_seconds"] = time.process_time() - start
    out = args.out or RESULTS / f"postgnn_variants_{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
