"""Benchmark of the TrackML score on a full-size event (about 110k hits).

The event: the real reduced sample event (5,527 hits, ../shared/data) replicated 20 times into one
event of 110,540 hits, as a full TrackML event has about 110k. Each copy gets its own particles
(the particle_id's vertex_id field is shifted by 200 per copy, so the generation field and hence
primaries are kept), hit_ids are renumbered 1..N as in real events, and the weights are the
shipped ones divided by 20 (they sum to 1). Without the shared data the built-in toy event is
replicated instead (the table says which).

Compared: ``score_event`` (vectorised) against ``score_event_loop`` (a per-hit Python loop, like
the challenge's reference library) on five submissions; the results must be identical.

    python benchmarks/score.py [--repeats 50] [--copies 20]

Prints a table and writes benchmarks/results/score.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.tracking import degrade
from gnn4hep.tracking.io import read_event
from gnn4hep.tracking.particle_id import decode_particle_id, encode_particle_id
from gnn4hep.tracking.scoring import score_event
from gnn4hep.tracking.scoring_reference import score_event_loop
from gnn4hep.tracking.toy import make_toy_event

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"


def replicated_truth(copies: int) -> tuple[pd.DataFrame, str]:
    """Truth of ``copies`` replicas of the sample event (or toy event) as one event."""
    if Path(f"{SAMPLE}-truth.csv.gz").exists():
        truth, source = read_event(SAMPLE, parts=("truth",)).truth, "real sample event x%d" % copies
    else:
        truth, source = make_toy_event(n_particles=600, seed=0).truth, "toy event x%d" % copies
    fields = decode_particle_id(truth["particle_id"])
    frames = []
    for copy in range(copies):
        pid = encode_particle_id(
            fields["vertex_id"] + 200 * copy, fields["primary_id"], fields["generation"],
            fields["secondary_id"], fields["process"],
        )  # fmt: skip
        pid[truth["particle_id"].to_numpy() == 0] = 0
        frames.append(truth.assign(particle_id=pid, weight=truth["weight"] / copies))
    big = pd.concat(frames, ignore_index=True)
    big["hit_id"] = np.arange(1, len(big) + 1)
    return big, source


def best_time(func, repeats: int) -> float:
    """Best wall time of ``repeats`` calls, seconds (robust against noise on a shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.min(times)), float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "score.json")
    args = parser.parse_args()

    truth, source = replicated_truth(args.copies)
    perfect = degrade.truth_submission(truth)
    rng = np.random.default_rng(0)
    submissions = {
        "truth": perfect,
        "reassign_10pct": degrade.reassign_random(perfect, 0.1, 0),
        "split_in_half": degrade.split_tracks(truth, perfect),
        "merged_pairwise": degrade.merge_tracks_pairwise(perfect),
        "random_shuffled": perfect.assign(track_id=rng.integers(0, 5000, len(perfect))).sample(frac=1, random_state=0),
    }
    rows = []
    for name, sub in submissions.items():
        fast = score_event(truth, sub)
        ref = score_event_loop(truth, sub)
        fast_best, fast_median = best_time(lambda: score_event(truth, sub), args.repeats)
        ref_best, _ = best_time(lambda: score_event_loop(truth, sub), args.reference_repeats)
        rows.append(
            {
                "submission": name,
                "score": fast,
                "reference_score": ref,
                "abs_difference": abs(fast - ref),
                "vectorised_ms_best": 1e3 * fast_best,
                "vectorised_ms_median": 1e3 * fast_median,
                "reference_loop_ms": 1e3 * ref_best,
                "speedup": ref_best / fast_best,
                "hits_per_second": len(truth) / fast_best,
            }
        )
    header = f"{'submission':18s} {'score':>8s} {'|diff|':>8s} {'ours ms':>8s} {'median':>8s} {'loop ms':>8s} {'speedup':>8s} {'Mhits/s':>8s}"
    print(f"score_event on {len(truth):,} hits ({source}); best of {args.repeats} runs")
    print(header)
    for r in rows:
        print(
            f"{r['submission']:18s} {r['score']:8.4f} {r['abs_difference']:8.1e} {r['vectorised_ms_best']:8.2f} "
            f"{r['vectorised_ms_median']:8.2f} {r['reference_loop_ms']:8.1f} {r['speedup']:8.1f} {r['hits_per_second'] / 1e6:8.1f}"
        )
    result = {
        "event": source,
        "n_hits": len(truth),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "rows": rows,
        "identical": all(r["abs_difference"] < 1e-12 for r in rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"identical results: {result['identical']}; written {args.out}")


if __name__ == "__main__":
    main()
