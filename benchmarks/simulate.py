"""Benchmark: seconds per mu = 200 event on one core, where the time goes, particles per second.

Times (CPU time, time.process_time) each stage of simulate_event for Pythia (ttbar + 200 pileup) events after a warm-up event
(Pythia initialisation and numba's compiled-code cache excluded): generation, propagation, digitisation (clusters)
and the rest (efficiency, noise, tables, weights), with the default settings (the solenoid field, Runge-Kutta-Nystroem
propagation, loop protection) and, in the same run on the same events, with the settings before issue 12 (uniform
2 T, exact helices, no loop limit). Also the propagation alone on a 10k-particle gun, and a replay of the real
particles of event 1000 when ../shared/data is present.
Prints a table and writes benchmarks/results/simulate.json. Run: python benchmarks/simulate.py [N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from gnn4hep.tracking.field import TRACKML_SOLENOID
from gnn4hep.utils.atomic import atomic_write_json

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource, ReplaySource, simulate_event
from gnn4hep.tracking.simulation import simulator as simulator_module
from gnn4hep.tracking.simulation.geometry_index import cached_index
from gnn4hep.tracking.simulation.material import mass_of
from gnn4hep.tracking.simulation.propagation import propagate
from gnn4hep.tracking.simulation.pythia_source import PythiaSource
from gnn4hep.tracking.simulation.simulator import SimulationConfig

#: CPU time of this process (the machine's cores are shared, so wall time overstates the cost).
_clock = time.process_time
OUT = Path(__file__).resolve().parent / "results" / "simulate.json"
REPLAY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "trackml" / "particles" / "event000001000-particles.csv.gz"
#: CPU seconds (time.process_time) of this benchmark at commit c818de9, before the digitisation
#: gathers its pixel grid once per hit and the propagation reuses each step's helix frame (3 events).
BEFORE_CPU = {"seconds_per_event": 2.133, "stage_seconds_per_event": {"generation": 0.547, "propagation": 0.894,
              "digitisation": 0.518, "tables_noise_weights": 0.174}, "gun_10k_propagation_seconds": 0.602,
              "profile": "digitisation: pixel look-up per sample 0.44 of 0.62 s; propagation: "
              "_next_layer_crossing 0.26 s, _candidate_pairs 0.16 s, module crossings 0.20 s (3 helix frames each)"}  # fmt: skip
#: WALL seconds of the same benchmark at commit 8827e20 (before the navigation rewrite), shared cores.
BEFORE = {"seconds_per_event": 8.51, "pythia_generation_seconds_per_event": 1.68,
          "simulation_after_generation_seconds_per_event": 6.83, "gun_10k_propagation_seconds": 3.73,
          "profile_replay_event1000": "propagation 5.5 s (helix_at on (particles x 48 layers) 2.6 s, module "
          "crossings 1.9 s), clusters 1.1 s, pandas cell sort 0.35 s; total 7.3 s"}  # fmt: skip


class _Timers:
    """Wraps the stage functions used by simulate_event and accumulates their CPU time."""

    def __init__(self):
        self.seconds = {"generation": 0.0, "propagation": 0.0, "digitisation": 0.0}

    def wrap(self, name, function):
        def timed(*args, **kwargs):
            start = _clock()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += _clock() - start

        return timed


def _timed_event(source, detector, seed, index, config=None):
    timers = _Timers()
    original = (source.generate, simulator_module.propagate, simulator_module.digitisation.clusters,
                simulator_module.digitisation.trackml_clusters)
    source.generate = timers.wrap("generation", source.generate)
    simulator_module.propagate = timers.wrap("propagation", original[1])
    simulator_module.digitisation.clusters = timers.wrap("digitisation", original[2])
    simulator_module.digitisation.trackml_clusters = timers.wrap("digitisation", original[3])
    try:
        start = _clock()
        event = simulate_event(source, detector, seed=seed, event_index=index, config=config)
        total = _clock() - start
    finally:
        del source.generate
        simulator_module.propagate = original[1]
        simulator_module.digitisation.clusters = original[2]
        simulator_module.digitisation.trackml_clusters = original[3]
    stages = dict(timers.seconds)
    stages["tables_noise_weights"] = total - sum(stages.values())
    return event, total, stages


#: The settings before issue 12 (uniform 2 T, exact helices, no loop protection), timed in the same run.
UNIFORM_BEFORE = {"field": "uniform", "loop_fraction": None}

#: Every option of this branch on, in the solenoid: measured material with energy loss, random unrecorded ends,
#: particles down to pT = 0.1 GeV, noise at 20% of the signal hits.
ALL_ON = {"trackml_material": True, "energy_loss": True, "unrecorded_ends": True, "min_pt_gev": 0.1,
          "noise_fraction": 0.2}


def _pythia_figures(source, detector, n_events, config):
    totals, stages, particles, hits = [], [], [], []
    for i in range(1, n_events + 1):
        event, total, stage = _timed_event(source, detector, 0, i, config)
        totals.append(total)
        stages.append(stage)
        particles.append(len(event.particles))
        hits.append(len(event.hits))
    stage_means = {k: float(np.mean([s[k] for s in stages])) for k in stages[0]}
    return {
        "seconds_per_event": float(np.mean(totals)),
        "seconds_per_event_each": [float(t) for t in totals],
        "pythia_generation_seconds_per_event": stage_means["generation"],
        "simulation_after_generation_seconds_per_event": float(np.mean(totals)) - stage_means["generation"],
        "stage_seconds_per_event": stage_means,
        "particles_per_event": float(np.mean(particles)),
        "hits_per_event": float(np.mean(hits)),
        "particles_per_second_end_to_end": float(np.sum(particles) / np.sum(totals)),
    }


def _gun_figures(index, field, settings):
    gun = GunSource(n_particles=10_000, pt_gev=(0.15, 5.0), eta=(-4, 4)).generate(np.random.default_rng(0), 0)
    args = (index, gun[["vx", "vy", "vz"]].to_numpy(float), gun[["px", "py", "pz"]].to_numpy(float),
            gun["q"].to_numpy(float), mass_of(gun.particle_type), field)  # fmt: skip
    propagate(*args, np.random.default_rng(0), settings)  # warm-up (numba's compiled-code cache)
    t0 = _clock()
    result = propagate(*args, np.random.default_rng(0), settings)
    seconds = _clock() - t0
    return {"gun_10k_propagation_seconds": seconds, "particles_propagated_per_second": 10_000 / seconds,
            "gun_10k_crossings": int(len(result.particle))}


def main(n_events: int = 3) -> int:
    import torch

    torch.set_num_threads(1)
    detector = read_detector()
    start = _clock()
    index = cached_index(detector)
    index_seconds = _clock() - start
    source = PythiaSource(pileup=200)
    simulate_event(source, detector, seed=0, event_index=0)  # warm-up: Pythia init, numba's cache
    simulate_event(source, detector, seed=0, event_index=0, config=SimulationConfig(**UNIFORM_BEFORE))
    default = SimulationConfig()
    figures = {"events": n_events, "field": default.resolved_field(source), "loop_fraction": default.loop_fraction}
    figures.update(_pythia_figures(source, detector, n_events, default))
    figures.update(_gun_figures(index, TRACKML_SOLENOID, default.propagation_settings(index)))
    figures["geometry_index_build_seconds"] = index_seconds
    figures["target_seconds_per_event"] = 3.0
    figures["clock"] = "time.process_time (CPU seconds of this process, one thread)"
    if REPLAY.exists():
        replay = ReplaySource(REPLAY)
        event, total, stage = _timed_event(replay, detector, 0, 0)
        figures["replay_event1000_seconds"] = total
        figures["replay_event1000_stage_seconds"] = stage
        figures["replay_event1000_hits"] = len(event.hits)
    everything = SimulationConfig(**ALL_ON)
    figures["all_options_on_same_run"] = {"settings": ALL_ON, **_pythia_figures(source, detector, n_events, everything)}
    before = SimulationConfig(**UNIFORM_BEFORE)
    figures["uniform_no_loop_limit_same_run"] = {
        **_pythia_figures(source, detector, n_events, before),
        **_gun_figures(index, detector.field_tesla, before.propagation_settings(index)),
    }
    figures["before_cpu_commit_c818de9"] = BEFORE_CPU
    figures["before_wall_commit_8827e20"] = BEFORE
    print(f"{'figure':<56}{'value':>14}")
    for key, value in figures.items():
        if isinstance(value, dict):
            for sub, number in value.items():
                if isinstance(number, dict):
                    for name, x in number.items():
                        print(f"  {key[:20]}.{sub[:14]}.{name:<16}{x:>14.4g}")
                    continue
                text = f"{number:>14.4g}" if isinstance(number, float) else f"  {number}"[:60]
                print(f"  {key}.{sub:<38}"[:56].ljust(56) + text)
        else:
            print(f"{key:<56}{value:>14.4g}" if isinstance(value, float) else f"{key:<56}{str(value):>14}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(OUT, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
