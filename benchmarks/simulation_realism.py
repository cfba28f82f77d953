"""Realism checks of the TrackML simulation against the real TrackML data (../shared/data).

1. Replay of the real particles of events 1000-1019: simulated vs real nhits per particle.
2. Event 1001: hits per (volume_id, layer_id), r-z and phi distributions vs the real hits.
3. A mu = 200 Pythia event: particle and hit counts vs a real event.

Writes PNG plots to benchmarks/results/simulation/ and the figures to
benchmarks/results/simulation/realism.json. Run: python benchmarks/simulation_realism.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import ReplaySource, SimulationConfig, simulate_event

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trackml"
OUT = ROOT / "benchmarks" / "results" / "simulation"
NOISE_FRACTION = 0.23


def nhits_check(detector, n_events: int = 20) -> dict:
    rows = []
    for k in range(n_events):
        path = DATA / "particles" / f"event{1000 + k:09d}-particles.csv.gz"
        ev = simulate_event(ReplaySource(path), detector, seed=k)
        real = pd.read_csv(path)[["particle_id", "nhits", "px", "py"]]
        merged = real.merge(ev.particles[["particle_id", "nhits"]], on="particle_id", suffixes=("_real", "_sim"))
        rows.append(merged.assign(event=1000 + k))
    table = pd.concat(rows, ignore_index=True)
    diff = table.nhits_sim - table.nhits_real
    pt = np.hypot(table.px, table.py)
    result = {
        "events": n_events,
        "particles": len(table),
        "within_1": float((diff.abs() <= 1).mean()),
        "exact": float((diff == 0).mean()),
        "within_1_pt_gt_1GeV": float((diff[pt > 1].abs() <= 1).mean()),
        "within_1_particles_with_real_hits": float((diff[table.nhits_real > 0].abs() <= 1).mean()),
        "mean_difference": float(diff.mean()),
        "total_hits_sim": int(table.nhits_sim.sum()),
        "total_hits_real": int(table.nhits_real.sum()),
    }
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    h = ax.hist2d(table.nhits_real, table.nhits_sim, bins=[np.arange(-0.5, 26), np.arange(-0.5, 26)], cmin=1,
                  norm=matplotlib.colors.LogNorm())
    fig.colorbar(h[3], ax=ax, label="particles")
    ax.plot([0, 25], [0, 25], "w--", lw=0.8)
    ax.set(xlabel="real nhits", ylabel="simulated nhits",
           title=f"replay events 1000-{999 + n_events}: {100 * result['within_1']:.1f}% within ±1")
    fig.tight_layout()
    fig.savefig(OUT / "nhits_replay.png", dpi=80)
    plt.close(fig)
    return result


def layer_check(detector) -> dict:
    prefix = DATA / "full_event" / "event000001001"
    # event 1001 has 93,680 hits and its particles 76,210 nhits: 23% of signal in noise hits
    config = SimulationConfig(noise_fraction=NOISE_FRACTION)
    ev = simulate_event(ReplaySource(f"{prefix}-particles.csv.gz"), detector, seed=1001, config=config)
    real = pd.read_csv(f"{prefix}-hits.csv.gz")
    sim = ev.hits
    key = ["volume_id", "layer_id"]
    counts = pd.concat([real.groupby(key).size().rename("real"), sim.groupby(key).size().rename("sim")], axis=1).fillna(0)
    counts["ratio"] = counts.sim / counts.real
    within = (counts.ratio - 1).abs() <= 0.15
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    labels = [f"{v}/{l}" for v, l in counts.index]
    x = np.arange(len(counts))
    axes[0].bar(x - 0.2, counts.real, 0.4, label="real event 1001")
    axes[0].bar(x + 0.2, counts.sim, 0.4, label="simulated (replay)")
    axes[0].set_xticks(x, labels, rotation=90, fontsize=6)
    axes[0].set(ylabel="hits", title="hits per volume/layer")
    axes[0].legend()
    for table, name in ((real, "real"), (sim, "simulated")):
        r = np.hypot(table.x, table.y)
        axes[1].scatter(table.z[::7], r[::7], s=0.3, alpha=0.4, label=name)
        axes[2].hist(np.arctan2(table.y, table.x), bins=90, histtype="step", label=name)
    axes[1].set(xlabel="z [mm]", ylabel="r [mm]", title="r-z (every 7th hit)")
    axes[1].legend(markerscale=20)
    axes[2].set(xlabel="phi", ylabel="hits", title="phi")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(OUT / "event1001_layers_rz_phi.png", dpi=70)
    plt.close(fig)
    phi_real, _ = np.histogram(np.arctan2(real.y, real.x), bins=36, range=(-np.pi, np.pi))
    phi_sim, _ = np.histogram(np.arctan2(sim.y, sim.x), bins=36, range=(-np.pi, np.pi))
    return {
        "hits_real": len(real),
        "hits_sim": len(sim),
        "layers": len(counts),
        "layers_within_15pct": int(within.sum()),
        "worst_layers": {f"{v}/{l}": round(float(r), 3) for (v, l), r in
                         counts.ratio.sub(1).abs().sort_values(ascending=False).head(8).items()},
        "ratio_per_layer": {f"{v}/{l}": round(float(r), 3) for (v, l), r in counts.ratio.items()},
        "phi_chi2_per_bin": float(np.mean((phi_sim / phi_sim.sum() * phi_real.sum() - phi_real) ** 2 / phi_real)),
        "note": f"real hits include noise (no truth for event 1001); simulation adds noise_fraction={NOISE_FRACTION} "
        "spread over layers like the real sample event's noise",
    }


def pythia_check(detector) -> dict:
    from gnn4hep.tracking.simulation.pythia_source import PythiaSource

    start = time.perf_counter()
    ev = simulate_event(PythiaSource(pileup=200), detector, seed=2024)
    seconds = time.perf_counter() - start
    real_particles = pd.read_csv(DATA / "particles" / "event000001000-particles.csv.gz")
    real_hits = pd.read_csv(DATA / "full_event" / "event000001001-hits.csv.gz")
    return {
        "sim_particles": len(ev.particles),
        "sim_particles_with_hits": int((ev.particles.nhits > 0).sum()),
        "sim_hits": len(ev.hits),
        "real_particles_event1000": len(real_particles),
        "real_particles_with_hits_event1000": int((real_particles.nhits > 0).sum()),
        "real_hits_event1001": len(real_hits),
        "seconds_including_pythia_init": round(seconds, 2),
    }


def main() -> int:
    if not DATA.is_dir():
        print(f"real TrackML data not found at {DATA}; nothing to check")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    detector = read_detector()
    results = {"nhits_replay": nhits_check(detector), "event1001_layers": layer_check(detector),
               "pythia_mu200": pythia_check(detector)}
    (OUT / "realism.json").write_text(json.dumps(results, indent=1) + "\n")
    for name, values in results.items():
        print(f"== {name}")
        for key, value in values.items():
            if key != "ratio_per_layer":
                print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
