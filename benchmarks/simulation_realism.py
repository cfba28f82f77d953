"""Realism of the TrackML simulation against the real TrackML data (../shared/data/trackml).

Prints one table, simulation against real (issue 12), and saves overlays:

- mu = 200 Pythia events with the defaults (``default_config("pythia")``) against the 20 real
  particles files (events 1000-1019): hits, noise share, particles with hits, hits per particle, the
  share of particles with hits that start > 10 mm from the beam line, the share of particles with
  hits that end at a daughter vertex on their helix, and the short-track tail (primaries with hits
  at 2.3 < |eta| < 2.7 with <= 6 hits);
- a replay of the real particles files with the replay defaults: the share of particles within +-1
  of the real nhits and the mean difference;
- a replay of the full event 1001 with the default noise against its real hits, per (volume, layer);
- the path length to the last hit over one helix turn (2 pi p / (0.3 B)): the real sample event's
  truth against the Pythia event's.

PNG files and ``realism.json`` go to benchmarks/results/simulation/. Options: ``--files N`` replays
only the first N particles files (default 20), ``--max-turns T`` sets the loop limit of every
simulation (default: none beyond the simulator's own loop protection, ``loop_fraction`` 0.6 of a turn),
``--pythia-events N`` averages N mu = 200 Pythia events (default 20, as many as the real files; 0 skips them).
Run: python benchmarks/simulation_realism.py [--files 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.particle_id import decode_particle_id
from gnn4hep.tracking.simulation import ReplaySource, simulate_event
from gnn4hep.tracking.simulation.batch import default_config
from gnn4hep.utils.atomic import atomic_savefig, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trackml"
OUT = ROOT / "benchmarks" / "results" / "simulation"
B_TESLA = 2.0
ETA_TAIL = (2.3, 2.7)


def particle_figures(particles: pd.DataFrame) -> dict:
    """Content figures of one particles table (with nhits): counts, secondaries, tail."""
    with_hits = particles[particles.nhits > 0]
    r = np.hypot(with_hits.vx, with_hits.vy)
    pt = np.hypot(with_hits.px, with_hits.py)
    eta = np.abs(np.arcsinh(with_hits.pz / pt))
    tail = (r < 1) & (pt > 0.15) & (eta > ETA_TAIL[0]) & (eta < ETA_TAIL[1])
    ended = ends_at_daughter(particles)[particles.nhits.to_numpy() > 0]
    fields = decode_particle_id(particles.particle_id.to_numpy())
    primary = (fields.generation.to_numpy() == 0) & (np.hypot(particles.vx, particles.vy).to_numpy() < 1)
    vertices = particles[primary].groupby(fields.vertex_id.to_numpy()[primary])
    return {
        "generator_particles": int((fields.generation.to_numpy() == 0).sum()),
        "collisions_with_particles": int(vertices.ngroups),
        "collision_vertex_z_sigma_mm": float(vertices.vz.median().std()),
        "particles": len(particles),
        "particles_with_hits": len(with_hits),
        "signal_hits": int(with_hits.nhits.sum()),
        "hits_per_particle": float(with_hits.nhits.mean()),
        "share_pt_below_0.15GeV": float((np.hypot(particles.px, particles.py) < 0.15).mean()),
        "share_with_hits_vertex_r_gt_10mm": float((r > 10).mean()),
        "share_with_hits_ending_at_daughter_vertex": float(ended.mean()),
        "short_tail_share_le6_hits_eta_2.3_2.7": float((with_hits.nhits[tail] <= 6).mean()),
    }


def ends_at_daughter(particles: pd.DataFrame, tolerance_mm: float = 3.0, return_vertex: bool = False):
    """(n,) bool: a daughter vertex (same vertex_id and primary_id, generation + 1) lies on the
    particle's helix from its vertex (uniform 2 T, within ``tolerance_mm`` in x-y at the daughter's z).
    With ``return_vertex``, also the (n, 3) mm nearest such vertex (nan where none)."""
    fields = decode_particle_id(particles.particle_id.to_numpy())
    family = fields.vertex_id.to_numpy(np.int64) * (1 << 20) + fields.primary_id.to_numpy(np.int64)
    table = pd.DataFrame({"row": np.arange(len(particles)), "family": family,
                          "generation": fields.generation.to_numpy(np.int64)})
    for c in ("vx", "vy", "vz", "px", "py", "pz", "q"):
        table[c] = particles[c].to_numpy(float)
    kids = table[table.generation > 0][["family", "generation", "vx", "vy", "vz"]].drop_duplicates()
    pairs = table.merge(kids.assign(generation=kids.generation - 1), on=["family", "generation"], suffixes=("", "_d"))
    pt = np.hypot(pairs.px, pairs.py)
    radius = pt / (0.299792458e-3 * B_TESLA)
    with np.errstate(divide="ignore", invalid="ignore"):
        turn = (pairs.vz_d - pairs.vz) / pairs.pz * pt / radius
    sense = -np.sign(pairs.q)
    phi0 = np.arctan2(pairs.py, pairs.px)
    x = pairs.vx + sense * radius * (np.sin(phi0 + sense * turn) - np.sin(phi0))
    y = pairs.vy - sense * radius * (np.cos(phi0 + sense * turn) - np.cos(phi0))
    distance = np.where(turn > 0, np.hypot(x - pairs.vx_d, y - pairs.vy_d), np.inf)
    close = distance < tolerance_mm
    out = np.zeros(len(particles), bool)
    out[pairs.row.to_numpy()[close]] = True
    if not return_vertex:
        return out
    vertex = np.full((len(particles), 3), np.nan)
    best = pairs.assign(distance=distance)[close].sort_values("distance").drop_duplicates("row")
    vertex[best.row.to_numpy()] = best[["vx_d", "vy_d", "vz_d"]].to_numpy()
    return out, vertex


def real_particles(n_files: int) -> list[pd.DataFrame]:
    return [pd.read_csv(DATA / "particles" / f"event{1000 + k:09d}-particles.csv.gz") for k in range(n_files)]


REPLAY_SECOND_SEED = 100_000


def replay_check(detector, n_files: int, max_turns: float) -> tuple[dict, pd.DataFrame]:
    """Replay of the real particles files against their nhits. Each file is simulated twice (seeds k and
    k + REPLAY_SECOND_SEED): the agreement of the two simulations with each other is the most a simulation
    with this randomness (scattering, hit efficiency) can reach against the real nhits. The breakdown is by
    pT, |eta| and whether the file records the particle's end (a daughter vertex, ``stop_path_mm``)."""
    rows = []
    for k in range(n_files):
        path = DATA / "particles" / f"event{1000 + k:09d}-particles.csv.gz"
        source = ReplaySource(path)
        config = default_config(source, max_turns=max_turns)
        ev = simulate_event(source, detector, seed=k, config=config)
        again = simulate_event(source, detector, seed=k + REPLAY_SECOND_SEED, config=config)
        real = pd.read_csv(path)[["particle_id", "nhits", "px", "py", "pz"]]
        real["recorded_end"] = np.isfinite(source.generate(np.random.default_rng(0), 0).stop_path_mm.to_numpy())
        merged = real.merge(ev.particles[["particle_id", "nhits"]], on="particle_id", suffixes=("_real", "_sim"))
        rows.append(merged.merge(again.particles[["particle_id", "nhits"]].rename(columns={"nhits": "nhits_sim2"}),
                                 on="particle_id"))
    table = pd.concat(rows, ignore_index=True)
    diff = table.nhits_sim - table.nhits_real
    pt = np.hypot(table.px, table.py)
    eta = np.abs(np.arcsinh(table.pz / pt))
    ok = diff.abs() <= 1
    self_ok = (table.nhits_sim - table.nhits_sim2).abs() <= 1
    groups = {}
    for low, high in ((0.15, 0.3), (0.3, 1.0), (1.0, np.inf)):
        for eta_low, eta_high in ((0, 1), (1, 2.5), (2.5, 4)):
            for ended in (False, True):
                sel = (pt >= low) & (pt < high) & (eta >= eta_low) & (eta < eta_high) & (table.recorded_end == ended)
                groups[f"pt {low}-{high}, |eta| {eta_low}-{eta_high}, {'recorded end' if ended else 'no recorded end'}"] = {
                    "particles": int(sel.sum()), "within_1": round(float(ok[sel].mean()), 3),
                    "sim_vs_sim_within_1": round(float(self_ok[sel].mean()), 3), "mean_difference": round(float(diff[sel].mean()), 3)}
    return {
        "files": n_files,
        "particles": len(table),
        "within_1": float(ok.mean()),
        "mean_difference": float(diff.mean()),
        "within_1_pt_gt_1GeV": float(ok[pt > 1].mean()),
        "within_1_pt_below_0.3GeV": float(ok[pt < 0.3].mean()),
        "sim_vs_sim_within_1": float(self_ok.mean()),
        "sim_vs_sim_within_1_pt_below_0.3GeV": float(self_ok[pt < 0.3].mean()),
        "sim_vs_sim_within_1_pt_gt_1GeV": float(self_ok[pt > 1].mean()),
        "by_pt_eta_end": groups,
    }, table


def layer_check(detector, max_turns: float) -> tuple[dict, pd.DataFrame]:
    prefix = DATA / "full_event" / "event000001001"
    real = pd.read_csv(f"{prefix}-hits.csv.gz")
    source = ReplaySource(f"{prefix}-particles.csv.gz")
    ev = simulate_event(source, detector, seed=1001, config=default_config(source, max_turns=max_turns))
    key = ["volume_id", "layer_id"]
    noise = ev.hits.merge(ev.truth[["hit_id", "particle_id"]], on="hit_id").particle_id == 0
    counts = pd.concat([real.groupby(key).size().rename("real"), ev.hits.groupby(key).size().rename("sim"),
                        ev.hits[noise.to_numpy()].groupby(key).size().rename("sim_noise")], axis=1).fillna(0)
    counts["ratio"] = counts.sim / counts.real
    off = (counts.ratio - 1).abs()
    n_real_noise = len(real) - int(pd.read_csv(f"{prefix}-particles.csv.gz").nhits.sum())
    return {
        "hits_real": len(real),
        "hits_sim": len(ev.hits),
        "noise_share_real": n_real_noise / len(real),
        "noise_share_sim": float((ev.truth.particle_id == 0).mean()),
        "layers": len(counts),
        "layers_within_15pct": int((off <= 0.15).sum()),
        "worst_layers": {f"{v}/{l}": round(float(counts.ratio[(v, l)]), 3) for (v, l) in off.sort_values().index[-6:][::-1]},
        "worst_layers_real_sim_simnoise": {f"{v}/{l}": [int(counts.real[(v, l)]), int(counts.sim[(v, l)]),
                                                        int(counts.sim_noise[(v, l)])]
                                           for (v, l) in off.sort_values().index[-6:][::-1]},
    }, counts


def turn_fractions(hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame) -> np.ndarray:
    """Path length to each particle's last hit over one full turn, 2 pi p / (0.3 B), from the
    rotation of the true transverse momentum between the vertex and the hit (in [-0.1, 0.9) turns)."""
    t = truth[truth.particle_id != 0].merge(particles[["particle_id", "px", "py", "q"]], on="particle_id")
    rotation = (np.arctan2(t.tpy, t.tpx) - np.arctan2(t.py, t.px)) * -np.sign(t.q)
    fraction = np.mod(rotation / (2 * np.pi) + 0.1, 1.0) - 0.1
    return t.assign(fraction=fraction).groupby("particle_id").fraction.max().to_numpy()


def pythia_check(detector, max_turns: float, n_events: int):
    """Mean figures of ``n_events`` mu = 200 Pythia events with the defaults, and the first event."""
    from gnn4hep.tracking.simulation.pythia_source import PythiaSource

    source = PythiaSource(pileup=200)
    config = default_config(source, max_turns=max_turns)
    simulate_event(source, detector, seed=1, config=config)  # Pythia initialisation
    rows, first = [], None
    for k in range(n_events):
        start = time.process_time()
        ev = simulate_event(source, detector, seed=2024, config=config, event_index=k)
        cpu = time.process_time() - start
        figures = particle_figures(ev.particles)
        figures.update(hits=len(ev.hits), noise_share=float((ev.truth.particle_id == 0).mean()), cpu_seconds=cpu)
        rows.append(figures)
        first = first or ev
    table = pd.DataFrame(rows)
    return {**table.mean().to_dict(), "events": n_events,
            "standard_error": (table.std() / np.sqrt(len(table))).to_dict()}, first


def _binned_mean(x, y, edges):
    which = np.digitize(x, edges) - 1
    ok = (which >= 0) & (which < len(edges) - 1)
    total = np.bincount(which[ok], y[ok], minlength=len(edges) - 1)
    count = np.bincount(which[ok], minlength=len(edges) - 1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def plots(reals: list[pd.DataFrame], pythia_event, counts: pd.DataFrame | None, sample_fractions, sim_fractions):
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    if counts is not None:
        x = np.arange(len(counts))
        axes[0].bar(x - 0.2, counts.real, 0.4, label="real event 1001")
        axes[0].bar(x + 0.2, counts.sim, 0.4, label="replay + default noise")
        axes[0].set_xticks(x, [f"{v}/{l}" for v, l in counts.index], rotation=90, fontsize=6)
        axes[0].set(ylabel="hits", title="hits per volume/layer")
        axes[0].legend(fontsize=7)
    real = pd.concat(reals, ignore_index=True)
    real = real[real.nhits > 0]
    eta_edges, pt_edges = np.linspace(-4, 4, 33), np.geomspace(0.1, 20, 25)
    for table, label in ((real, "real 1000-1019"), (None if pythia_event is None else pythia_event.particles, "Pythia mu=200")):
        if table is None:
            continue
        table = table[table.nhits > 0]
        pt = np.hypot(table.px, table.py).to_numpy()
        eta = np.arcsinh(table.pz.to_numpy() / pt)
        axes[1].plot(0.5 * (eta_edges[1:] + eta_edges[:-1]), _binned_mean(eta, table.nhits.to_numpy(float), eta_edges), label=label)
        axes[2].plot(np.sqrt(pt_edges[1:] * pt_edges[:-1]), _binned_mean(pt, table.nhits.to_numpy(float), pt_edges), label=label)
    axes[1].set(xlabel="eta", ylabel="mean hits per particle with hits", title="hits per particle vs eta")
    axes[2].set(xlabel="pT [GeV]", xscale="log", ylabel="mean hits per particle with hits", title="hits per particle vs pT")
    bins = np.linspace(-0.1, 0.9, 51)
    for values, label in ((sample_fractions, "real sample event"), (sim_fractions, "Pythia mu=200")):
        if values is not None:
            axes[3].hist(values, bins=bins, histtype="step", density=True, label=label)
    axes[3].set(xlabel="path to last hit / one turn", ylabel="particles (normalised)", yscale="log",
                title="path length to the last hit")
    for ax in axes[1:]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, OUT / "realism_overlays.png", dpi=60)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20, help="real particles files to replay (1-20)")
    parser.add_argument("--max-turns", type=float, default=None,
                        help="extra loop limit (turns) of every simulation (default: the simulator's loop protection only)")
    parser.add_argument("--pythia-events", type=int, default=20,
                        help="mu = 200 Pythia events (0: none); one event's particle count varies by 11%%, so 20 "
                        "events, as many as the real files, give the mean to 2.5%%")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"real TrackML data not found at {DATA}; nothing to check")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    detector = read_detector()
    reals = real_particles(20)
    real_figures = pd.DataFrame([particle_figures(p) for p in reals])
    replay, _ = replay_check(detector, max(1, min(args.files, 20)), args.max_turns)
    layers, counts = layer_check(detector, args.max_turns)
    pythia, pythia_event = (None, None) if args.pythia_events < 1 else pythia_check(detector, args.max_turns, args.pythia_events)
    prefix = DATA / "sample_event" / "event000000001"
    sample = [pd.read_csv(f"{prefix}-{part}.csv.gz") for part in ("hits", "truth", "particles")]
    sample_fractions = turn_fractions(*sample)
    sim_fractions = None if pythia_event is None else turn_fractions(pythia_event.hits, pythia_event.truth, pythia_event.particles)
    plots(reals, pythia_event, counts, sample_fractions, sim_fractions)
    real_mean = real_figures.mean()
    noise_real = layers["noise_share_real"]
    rows = [
        ("hits (mu=200 Pythia, defaults)", pythia and pythia["hits"], real_mean.signal_hits / (1 - noise_real)),
        ("noise share of hits", pythia and pythia["noise_share"], noise_real),
        ("particles", pythia and pythia["particles"], real_mean.particles),
        ("generator particles (generation 0)", pythia and pythia["generator_particles"], real_mean.generator_particles),
        ("collisions with listed particles", pythia and pythia["collisions_with_particles"],
         real_mean.collisions_with_particles),
        ("collision vertex sigma_z (mm)", pythia and pythia["collision_vertex_z_sigma_mm"],
         real_mean.collision_vertex_z_sigma_mm),
        ("particles with hits", pythia and pythia["particles_with_hits"], real_mean.particles_with_hits),
        ("hits per particle with hits", pythia and pythia["hits_per_particle"], real_mean.hits_per_particle),
        ("share of particles with pT < 0.15 GeV", pythia and pythia["share_pt_below_0.15GeV"], real_mean["share_pt_below_0.15GeV"]),
        ("share with hits starting > 10 mm (secondaries)", pythia and pythia["share_with_hits_vertex_r_gt_10mm"],
         real_mean.share_with_hits_vertex_r_gt_10mm),
        ("share with hits ending at a daughter vertex", pythia and pythia["share_with_hits_ending_at_daughter_vertex"],
         real_mean.share_with_hits_ending_at_daughter_vertex),
        ("short tail: <= 6 hits at 2.3 < |eta| < 2.7", pythia and pythia["short_tail_share_le6_hits_eta_2.3_2.7"],
         real_mean["short_tail_share_le6_hits_eta_2.3_2.7"]),
        ("path to last hit / turn, 99th percentile", None if sim_fractions is None else float(np.quantile(sim_fractions, 0.99)),
         float(np.quantile(sample_fractions, 0.99))),
        (f"replay ({replay['files']} files): within +-1 of real nhits", replay["within_1"], ">= 0.90"),
        ("replay: mean sim - real nhits", replay["mean_difference"], "within +-0.2"),
        ("replay: two seeds within +-1 of each other", replay["sim_vs_sim_within_1"], "(ceiling)"),
        ("replay 1001 + noise: layers within 15% of real", f"{layers['layers_within_15pct']}/{layers['layers']}", ">= 46/48"),
        ("replay 1001 + noise: hits", layers["hits_sim"], layers["hits_real"]),
    ]
    print(f"max_turns = {args.max_turns} (stand-in for the path limit); real: mean of events 1000-1019 "
          f"(hits: sum of nhits / (1 - event 1001's noise share))")
    print(f"{'quantity':<52} {'simulation':>12} {'real':>12}")
    for name, sim, real in rows:
        fmt = (lambda v: f"{v:12.4g}" if isinstance(v, (int, float, np.floating, np.integer)) else f"{str(v):>12}")
        print(f"{name:<52} {fmt(sim if sim is not None else '-')} {fmt(real)}")
    if pythia:
        error = pythia["standard_error"]
        print(f"Pythia: mean of {args.pythia_events} events (standard error: particles with hits "
              f"{error['particles_with_hits']:.0f}, hits {error['hits']:.0f}); real: standard error of the 20 files "
              f"{real_figures.particles_with_hits.std() / np.sqrt(len(real_figures)):.0f} particles with hits; "
              f"{pythia['cpu_seconds']:.2f} s CPU per event (Pythia generation included)")
    atomic_write_json(OUT / "realism.json", {
        "max_turns": args.max_turns, "pythia_mu200": pythia, "real_events_1000_1019_mean": real_mean.to_dict(),
        "real_events_1000_1019_min": real_figures.min().to_dict(), "real_events_1000_1019_max": real_figures.max().to_dict(),
        "real_events_1000_1019_standard_error": (real_figures.std() / np.sqrt(len(real_figures))).to_dict(),
        "replay": replay, "event1001_layers": layers,
        "path_over_turn_quantiles": {"real_sample": np.quantile(sample_fractions, [0.5, 0.9, 0.99, 1]).tolist(),
                                     "pythia": None if sim_fractions is None else np.quantile(sim_fractions, [0.5, 0.9, 0.99, 1]).tolist()},
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
