"""Benchmark: the loop protection of the challenge simulation, measured on the real sample event's truth.

For every particle of the real sample event (event000000001) with hits, the path length from its production
vertex to its last hit is compared with one full helix turn, 2 pi p / (K |q| B) (p at the vertex, K =
0.299792458e-3 GeV / (T mm)), for three choices of B: the solenoid's |B| at the vertex (what ACTS's loop
protection uses), a uniform 2 T, and the mean |B| along the particle's path. The path is the sum over
consecutive hits (ordered by the turning angle of the true momentum, or by distance from the vertex for
stiff tracks) of the exact circle arc through the chord, 2 R asin(c_T / 2R) * p / pT, with R from the local B_z.

Prints, per choice of B, the largest fraction of a turn reached and its quantiles for the particles that
turn the most. The same estimator then runs on replays of the same particles (3 seeds, solenoid field,
pT > 0.1 GeV) simulated without a loop limit and with loop fractions 0.5-0.65 (p and |B| at the vertex, as
ACTS's propagator does): the share of particles beyond 0.45, 0.5, 0.55, 0.6 and 0.7 of a turn, and the same
shares among the particles beyond 0.45 (which removes the simulation's overall excess of long tracks).
Writes benchmarks/results/path_limit.json and, with matplotlib, path_limit.png.
Run: python benchmarks/path_limit.py

Result (real sample event, 468 particles; B = |B| at the vertex): 16 particles (3.4%) beyond 0.5 of a turn,
5 beyond 0.6 (two displaced secondaries at 0.85-0.89). The estimator itself reads up to 0.65 on simulated
particles stopped at exactly 0.5 turn. Among the particles beyond 0.45: real 0.73 / 0.36 / 0.23 beyond
0.5 / 0.55 / 0.6; simulated with loop fraction 0.5: 0.21 / 0.05 / 0.02, 0.55: 0.61 / 0.13 / 0.05,
0.6: 0.78 / 0.39 / 0.10, no limit: 0.80 / 0.46 / 0.28. ACTS's default of 0.5 stops too early; 0.6 fits best
(SimulationConfig.loop_fraction).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.tracking.field import TRACKML_SOLENOID
from gnn4hep.utils.atomic import atomic_write_json

K = 0.299792458e-3
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"
OUT = ROOT / "benchmarks" / "results" / "path_limit.json"


def path_to_last_hit(particle: pd.Series, hits: pd.DataFrame) -> tuple[float, float]:
    """(path length in mm from the vertex to the last hit, mean |B| in T along it) of one particle."""
    vertex = particle[["vx", "vy", "vz"]].to_numpy(float)
    p0 = particle[["px", "py", "pz"]].to_numpy(float)
    pos = hits[["tx", "ty", "tz"]].to_numpy(float)
    mom = hits[["tpx", "tpy", "tpz"]].to_numpy(float)
    sense = -np.sign(particle.q)  # + : counter-clockwise in a +z field
    turn = np.mod(sense * (np.arctan2(mom[:, 1], mom[:, 0]) - np.arctan2(p0[1], p0[0])), 2 * np.pi)
    turn = np.where(turn > 1.9 * np.pi, turn - 2 * np.pi, turn)  # scattering just before the first hit
    key = turn if turn.max() > 1.0 else np.linalg.norm(pos - vertex, axis=1)
    order = np.argsort(key)
    pos = np.vstack([vertex, pos[order]])
    mom = np.vstack([p0, mom[order]])
    mid = 0.5 * (pos[1:] + pos[:-1])
    field = TRACKML_SOLENOID(mid)
    pt = 0.5 * (np.hypot(mom[1:, 0], mom[1:, 1]) + np.hypot(mom[:-1, 0], mom[:-1, 1]))
    p = 0.5 * (np.linalg.norm(mom[1:], axis=1) + np.linalg.norm(mom[:-1], axis=1))
    radius = pt / (K * abs(particle.q) * np.abs(field[:, 2]))
    chord = np.hypot(*(pos[1:, :2] - pos[:-1, :2]).T)
    arc = 2 * radius * np.arcsin(np.minimum(chord / (2 * radius), 1.0)) * p / pt
    dz = np.abs(pos[1:, 2] - pos[:-1, 2])
    arc = np.maximum(arc, np.hypot(chord, dz))  # never shorter than the straight line
    b_mean = float(np.sum(np.linalg.norm(field, axis=1) * arc) / arc.sum())
    return float(arc.sum()), b_mean


def measure(prefix: Path = SAMPLE) -> pd.DataFrame:
    particles = pd.read_csv(f"{prefix}-particles.csv.gz")
    truth = pd.read_csv(f"{prefix}-truth.csv.gz")
    truth = truth[truth.particle_id != 0]
    particles = particles[(particles.nhits > 0) & (particles.q != 0)].set_index("particle_id")
    rows = []
    for pid, hits in truth.groupby("particle_id"):
        if pid not in particles.index:
            continue
        particle = particles.loc[pid]
        path, b_mean = path_to_last_hit(particle, hits)
        p = float(np.linalg.norm(particle[["px", "py", "pz"]].to_numpy(float)))
        b_vertex = float(np.linalg.norm(TRACKML_SOLENOID(particle[["vx", "vy", "vz"]].to_numpy(float)[None])[0]))
        turn = 2 * np.pi * p / (K * abs(particle.q))
        rows.append({"particle_id": pid, "pt": float(np.hypot(particle.px, particle.py)), "p": p, "nhits": len(hits),
                     "path_mm": path, "b_vertex": b_vertex, "b_mean": b_mean,
                     "fraction_b_vertex": path / (turn / b_vertex), "fraction_2T": path / (turn / 2.0),
                     "fraction_b_mean": path / (turn / b_mean)})  # fmt: skip
    return pd.DataFrame(rows)


CUTS = (0.45, 0.5, 0.55, 0.6, 0.7)
FRACTIONS = (None, 0.5, 0.55, 0.6, 0.65)


def shares(fraction: np.ndarray) -> dict:
    """Share of particles beyond each cut, and among those beyond the first cut."""
    above = {c: float(np.mean(fraction > c)) for c in CUTS}
    base = max(above[CUTS[0]], 1e-12)
    return {"beyond": above, "beyond_given_045": {c: above[c] / base for c in CUTS}}


def simulated(loop_fraction, seeds=(0, 1, 2)) -> pd.DataFrame:
    """The estimator on replays of the sample event's particles with the given loop fraction."""
    import tempfile

    from gnn4hep.tracking.io import read_detector, write_event
    from gnn4hep.tracking.simulation import ReplaySource, SimulationConfig, simulate_event

    detector = read_detector()
    source = ReplaySource(f"{SAMPLE}-particles.csv.gz")
    tables = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            config = SimulationConfig(field="solenoid", min_pt_gev=0.1, loop_fraction=loop_fraction)
            write_event(simulate_event(source, detector, seed=seed, config=config), Path(folder) / "event000000001")
            tables.append(measure(Path(folder) / "event000000001"))
    return pd.concat(tables, ignore_index=True)


def main() -> int:
    if not Path(f"{SAMPLE}-truth.csv.gz").exists():
        print(f"real sample event not found at {SAMPLE} (../shared/data is absent)")
        return 2
    table = measure()
    figures = {"particles": len(table)}
    print(f"{'B used for one turn':<26}{'max':>8}{'q99.5':>8}{'q99':>8}{'top-10 mean':>13}{'> 0.5':>7}")
    for column in ("fraction_b_vertex", "fraction_2T", "fraction_b_mean"):
        f = table[column].to_numpy()
        top = np.sort(f)[-10:]
        figures[column] = {"max": float(f.max()), "q995": float(np.quantile(f, 0.995)), "q99": float(np.quantile(f, 0.99)),
                           "top10_mean": float(top.mean()), "above_half": int((f > 0.5).sum())}  # fmt: skip
        print(f"{column:<26}{f.max():>8.3f}{np.quantile(f, 0.995):>8.3f}{np.quantile(f, 0.99):>8.3f}"
              f"{top.mean():>13.3f}{(f > 0.5).sum():>7d}")
    print(table.sort_values("fraction_b_vertex").tail(12).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nshare of particles beyond {CUTS} of a turn (|B| at the vertex); then among those beyond {CUTS[0]}")
    rows = {"real": shares(table.fraction_b_vertex.to_numpy())}
    for loop_fraction in FRACTIONS:
        rows[f"sim loop {loop_fraction}"] = shares(simulated(loop_fraction).fraction_b_vertex.to_numpy())
    for name, row in rows.items():
        beyond = " ".join(f"{v:.3f}" for v in row["beyond"].values())
        given = " ".join(f"{v:.2f}" for v in row["beyond_given_045"].values())
        print(f"{name:<18} {beyond}   |  {given}")
    figures["shares"] = {name: {k: {str(c): v for c, v in part.items()} for k, part in row.items()} for name, row in rows.items()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(OUT, figures)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(table.pt, table.fraction_b_vertex, s=6)
        ax.axhline(0.5, color="red", lw=1, label="0.5 turn")
        ax.set_xscale("log")
        ax.set_xlabel("pT at the vertex (GeV)")
        ax.set_ylabel("path to last hit / one turn (|B| at vertex)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(OUT.with_suffix(".png"), dpi=100)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
