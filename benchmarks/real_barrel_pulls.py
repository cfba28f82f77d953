"""Kalman refit of real barrel tracks of the full event 1001 against the particles' true momenta (issue 12).

The real sample event holds the only real truth with hits (52 tracks of pT > 1 GeV and >= 7 hits), so its
pull means carry standard errors of about 0.2. This benchmark adds 250 more real tracks with an
independent route to their truth:

1. tracks: the HEP.TrkX graphs of event 1001 (``../shared/data/heptrkx/train.tar.gz``, barrel hits of
   particles with pT > 1 GeV, noise removed, 16 sectors) hold the true edges (``y``); the connected
   components of the true edges of each sector are the tracks. A graph node is the full event's hit with
   the same (r, z) (the files store r and z exactly, phi transformed): nodes without a unique match, and
   hits on the tracks of two sectors, are dropped; tracks keep >= ``--min-hits`` hits;
2. fit: :func:`gnn4hep.tracking.fitting.refit` with the default settings for real data (event 1001 has no
   cells: the per-volume hit errors) in each field of ``--fields``;
3. truth: every particle of event 1001's particles file (vertex, momentum, charge) is carried to the beam
   line in the same field (:func:`~gnn4hep.tracking.fitting.perigee.particles_to_perigee`); a fitted track
   takes the one particle within |dphi| < 0.01, |dtheta| < 0.01, |dz0| < 5 mm and 30 % in q/p (windows of
   tens of sigma, so the match does not shape the pulls), and only when that particle is unique.

Reports per field: the pull means with their standard errors, widths (all, and within 5 sigma), the
momentum scale (mean of q times the q/p pull: > 0 when the fitted |p| is too low) and the relative pT bias
per pT range; a PNG of the pull distributions.

    OMP_NUM_THREADS=1 python benchmarks/real_barrel_pulls.py [--fields trackml,solenoid,uniform]

Writes benchmarks/results/real_barrel_pulls.json and benchmarks/results/kalman/real_barrel_pulls.png.
"""

from __future__ import annotations

import argparse
import tarfile
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse  # noqa: E402
import scipy.sparse.csgraph  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from gnn4hep.tracking.event import Event  # noqa: E402
from gnn4hep.tracking.field import field_from_name  # noqa: E402
from gnn4hep.tracking.fitting import FitConfig, refit  # noqa: E402
from gnn4hep.tracking.fitting.perigee import particles_to_perigee, wrap_angle  # noqa: E402
from gnn4hep.tracking.io import read_detector  # noqa: E402
from gnn4hep.utils.atomic import atomic_savefig, atomic_write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NAMES = ("d0", "z0", "phi", "theta", "qop")
PT_RANGES = ((0.9, 1.3), (1.3, 2.0), (2.0, 4.0), (4.0, 100.0))


def graph_tracks(archive: Path, event: int, hits: pd.DataFrame, min_hits: int) -> pd.DataFrame:
    """``hit_id, track_id`` of the true-edge components of the event's HEP.TrkX sector graphs (step 1)."""
    tree = cKDTree(np.stack([np.hypot(hits["x"], hits["y"]), hits["z"]], axis=1))
    hit_ids = hits["hit_id"].to_numpy()
    rows, n_nodes, n_matched, track = [], 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if Path(m.name).name.startswith(f"event{event:09d}_g")]
        if not members:
            raise SystemExit(f"{archive}: no graphs of event {event}")
        tar.extractall(tmp, members=members, filter="data")
        for path in sorted(Path(tmp).rglob("*.npz")):
            graph = np.load(path)
            x = graph["X"].astype(np.float64)
            distance, index = tree.query(np.stack([x[:, 0] * 1000.0, x[:, 2] * 1000.0], axis=1), k=2)
            unique = (distance[:, 0] < 1e-3) & (distance[:, 1] > 0.01)
            n_nodes, n_matched = n_nodes + len(x), n_matched + int(unique.sum())
            n_edges = len(graph["y"])
            outer, inner = np.zeros(n_edges, np.int64), np.zeros(n_edges, np.int64)
            outer[graph["Ro_cols"]], inner[graph["Ri_cols"]] = graph["Ro_rows"], graph["Ri_rows"]
            true = graph["y"] > 0.5
            adjacency = scipy.sparse.coo_matrix((np.ones(true.sum()), (outer[true], inner[true])), shape=(len(x), len(x)))
            _, labels = scipy.sparse.csgraph.connected_components(adjacency, directed=False)
            for label in np.unique(labels):
                nodes = (labels == label) & unique
                if nodes.sum() >= min_hits:
                    rows.append(pd.DataFrame({"hit_id": hit_ids[index[nodes, 0]], "track_id": track}))
                    track += 1
    candidates = pd.concat(rows, ignore_index=True).drop_duplicates("hit_id", keep=False)
    sizes = candidates["track_id"].value_counts()
    candidates = candidates[candidates["track_id"].isin(sizes.index[sizes >= min_hits])]
    print(f"event {event}: {n_nodes} graph nodes, {n_matched} matched to a unique hit; "
          f"{candidates['track_id'].nunique()} tracks of >= {min_hits} hits", flush=True)
    return candidates.reset_index(drop=True)


def match_particles(fitted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Index into ``truth`` (P, 5) of each fitted perigee (T, 5), -1 without a unique particle (step 3)."""
    out = np.full(len(fitted), -1, dtype=np.int64)
    for i, p in enumerate(fitted):
        near = np.flatnonzero((np.abs(wrap_angle(truth[:, 2] - p[2])) < 0.01) & (np.abs(truth[:, 3] - p[3]) < 0.01)
                              & (np.abs(truth[:, 1] - p[1]) < 5.0) & (np.abs(truth[:, 4] - p[4]) < 0.3 * np.abs(p[4])))
        if len(near) == 1:
            out[i] = near[0]
    return out


def pull_summary(pulls: pd.DataFrame, charge: np.ndarray, pt_fit: np.ndarray, pt_true: np.ndarray) -> dict:
    out = {"n_tracks": int(len(pulls))}
    for name in NAMES:
        values = pulls[name].to_numpy()
        core = np.abs(values) < 5.0
        out[name] = {"mean": float(values.mean()), "mean_error": float(values.std() / np.sqrt(len(values))),
                     "std": float(values.std()), "std_within_5": float(values[core].std()), "n_beyond_5": int((~core).sum())}
    scale = charge * pulls["qop"].to_numpy()
    out["momentum_scale"] = {"q_times_qop_pull_mean": float(scale.mean()),
                             "error": float(scale.std() / np.sqrt(len(scale)))}
    relative = pt_fit / pt_true - 1.0
    out["pt_bias_by_pt"] = {}
    for lo, hi in PT_RANGES:
        rows = (pt_true >= lo) & (pt_true < hi)
        if rows.sum() >= 5:
            out["pt_bias_by_pt"][f"{lo:g}-{hi:g}"] = {
                "n": int(rows.sum()), "mean": float(relative[rows].mean()),
                "error": float(relative[rows].std() / np.sqrt(rows.sum())),
                "q_times_qop_pull_mean": float(scale[rows].mean())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DATA / "heptrkx" / "train.tar.gz")
    parser.add_argument("--event", type=Path, default=DATA / "trackml" / "full_event" / "event000001001")
    parser.add_argument("--fields", default="trackml,solenoid,uniform")
    parser.add_argument("--min-hits", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "real_barrel_pulls.json")
    args = parser.parse_args()
    start = time.process_time()
    hits = pd.read_csv(f"{args.event}-hits.csv.gz")
    particles = pd.read_csv(f"{args.event}-particles.csv.gz")
    event_number = int(args.event.name.removeprefix("event"))
    candidates = graph_tracks(args.archive, event_number, hits, args.min_hits)
    detector = read_detector()
    event = Event(event_id=event_number, hits=hits)
    result = {"event": str(args.event), "archive": str(args.archive), "min_hits": args.min_hits,
              "n_tracks": int(candidates["track_id"].nunique()), "fields": {}}
    figure, axes = plt.subplots(1, 5, figsize=(20, 4))
    for field in args.fields.split(","):
        config = FitConfig(field=field)
        _, params = refit(event, candidates, detector, config)
        params = params[params["fitted"] & (params["n_hits"] >= args.min_hits)].reset_index(drop=True)
        truth = particles_to_perigee(particles[["vx", "vy", "vz"]].to_numpy(float), particles[["px", "py", "pz"]].to_numpy(float),
                                     particles["q"].to_numpy(float), field_from_name(config.field))
        match = match_particles(params[list(NAMES)].to_numpy(), truth)
        selected, true = params[match >= 0].reset_index(drop=True), truth[match[match >= 0]]
        matched = particles.iloc[match[match >= 0]].reset_index(drop=True)
        diff = selected[list(NAMES)].to_numpy() - true
        diff[:, 2] = wrap_angle(diff[:, 2])
        pulls = pd.DataFrame(diff / selected[[f"sigma_{n}" for n in NAMES]].to_numpy(), columns=list(NAMES))
        summary = pull_summary(pulls, matched["q"].to_numpy(float), selected["pt"].to_numpy(),
                               np.hypot(matched["px"], matched["py"]).to_numpy())
        summary |= {"n_fitted": int(len(params)), "chi2_ndf_mean": float((selected["chi2"] / selected["ndf"]).mean()),
                    "primaries": int((np.hypot(matched["vx"], matched["vy"]) < 1.0).sum())}
        result["fields"][field] = summary
        print(f"{field:9s} {summary['n_tracks']} of {len(params)} fitted tracks matched; pull mean ± error (std): "
              + ", ".join(f"{n} {summary[n]['mean']:+.3f} ± {summary[n]['mean_error']:.3f} ({summary[n]['std']:.2f})" for n in NAMES)
              + f"; q x (q/p pull) {summary['momentum_scale']['q_times_qop_pull_mean']:+.3f} ± {summary['momentum_scale']['error']:.3f}",
              flush=True)
        for ax, name in zip(axes, NAMES):
            ax.hist(np.clip(pulls[name], -6, 6), bins=48, range=(-6, 6), histtype="step", label=field)
    grid = np.linspace(-6, 6, 200)
    for ax, name in zip(axes, NAMES):
        n = result["fields"][args.fields.split(",")[0]]["n_tracks"]
        ax.plot(grid, n * 0.25 * np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi), "k--", lw=0.8, label="unit Gaussian")
        ax.set_xlabel(f"pull of {name}")
    axes[0].legend(fontsize=8)
    figure.suptitle(f"Real barrel tracks of event 1001 (HEP.TrkX true edges, >= {args.min_hits} hits) refitted, against the "
                    "particles file's momenta")
    figure.tight_layout()
    atomic_savefig(figure, RESULTS / "kalman" / "real_barrel_pulls.png", dpi=80)
    result["cpu_seconds"] = time.process_time() - start
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
