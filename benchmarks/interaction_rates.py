"""Measure the hadronic interaction rate of each TrackML layer on the real particles files.

For every real particle of events 1000-1019 (``--files``), the replay propagation (stopped where
its daughters start, as in ``replay:``; uniform 2 T, ``--max-turns`` loop limit) gives its layer
crossings; each exposed it to x / (cos * lambda_I(Si)) interaction lengths
(``interactions.crossing_lengths`` with the measured layer material). A particle that ends at an
on-helix daughter vertex (``simulation_realism.ends_at_daughter``) interacted in the layer nearest
that vertex (:func:`vertex_layer`). Per layer, the visible interaction rate per interaction length
is (interactions) / (exposure); divided by the share of the model's interactions that list a
daughter (pT > 0.1 GeV, Monte Carlo of ``interactions.secondaries`` at the same parents) and over
the efficiency of the on-helix match (:func:`matching_efficiency`), it is the scale
``lambda_I(Si) / lambda_eff`` of that layer. Prints the table (pasted into
``interactions.TRACKML_INTERACTION_SCALE``) and writes benchmarks/results/interaction_rates.json.

Run: python benchmarks/interaction_rates.py [--files 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simulation_realism import DATA, ROOT, ends_at_daughter  # noqa: E402

from gnn4hep.tracking.io import read_detector  # noqa: E402
from gnn4hep.tracking.particle_id import decode_particle_id  # noqa: E402
from gnn4hep.tracking.simulation import GunSource, ReplaySource, interactions, simulate_event  # noqa: E402
from gnn4hep.tracking.simulation.batch import default_config  # noqa: E402
from gnn4hep.tracking.simulation.geometry_index import cached_index  # noqa: E402
from gnn4hep.tracking.simulation.material import mass_of  # noqa: E402
from gnn4hep.tracking.simulation.propagation import propagate  # noqa: E402
from gnn4hep.utils.atomic import atomic_write_json  # noqa: E402


LAYER_WINDOW_MM = 10.0


def vertex_layer(index, vertex) -> np.ndarray:
    """Layer (n,) of each vertex (n, 3) mm: the layer whose surface lies nearest within
    :data:`LAYER_WINDOW_MM` (barrel: in r, inside its z range; disks: in z, inside its r range), else
    the nearest layer beyond it (barrel: larger r, disks: larger |z|, same side), as for the beam
    pipe (r = 19 mm) and the pixel support tube (r = 200 mm): the model puts those interactions in
    the next layer's material."""
    r = np.hypot(vertex[:, 0], vertex[:, 1])
    barrel = index.layer_barrel[None, :]
    z = vertex[:, 2:3]
    along = np.where(barrel, r[:, None], z)
    across = np.where(barrel, z, r[:, None])
    position = index.layer_position[None, :]
    within = (across >= index.layer_low - 5) & (across <= index.layer_high + 5)
    distance = np.where(within & (np.abs(along - position) <= LAYER_WINDOW_MM), np.abs(along - position), np.inf)
    beyond = np.where(barrel, position - r[:, None], np.where(np.sign(position) == np.sign(z), np.abs(position) - np.abs(z), -1))
    fallback = np.where(within & (beyond > 0), LAYER_WINDOW_MM + beyond, np.inf)
    distance = np.minimum(distance, fallback)
    best = np.argmin(distance, axis=1)
    found = np.isfinite(distance[np.arange(len(r)), best])
    return np.where(found, best, -1), found & (distance[np.arange(len(r)), best] <= LAYER_WINDOW_MM)


def matching_efficiency(detector, max_turns: float) -> float:
    """Share of simulated visible interactions (a listed daughter) whose parent the on-helix match
    finds: a gun (pT 0.15-2 GeV, |eta| < 3.5, one primary_id per particle, so the true parent is
    known) simulated with the Pythia defaults (interactions on)."""
    source = GunSource(n_particles=4000, pt_gev=(0.15, 2.0), eta=(-3.5, 3.5))
    event = simulate_event(source, detector, seed=1, config=default_config("pythia", max_turns=max_turns))
    fields = decode_particle_id(event.particles.particle_id.to_numpy())
    primary = fields.primary_id.to_numpy(np.int64)
    first = fields.generation.to_numpy() == 0
    has_daughter = np.isin(primary[first], primary[fields.generation.to_numpy() == 1])
    return float(ends_at_daughter(event.particles)[first][has_daughter].mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--max-turns", type=float, default=0.5)
    args = parser.parse_args(argv)
    detector = read_detector()
    index = cached_index(detector)
    n_layers = len(index.layer_id)
    exposure = np.zeros(n_layers)
    ended_at = np.zeros(n_layers)
    visible, tried, assigned, unassigned = 0, 0, 0, 0
    rng = np.random.default_rng(0)
    for k in range(args.files):
        path = DATA / "particles" / f"event{1000 + k:09d}-particles.csv.gz"
        source = ReplaySource(path)
        particles = source.generate(rng, 0)
        stop = particles.pop("stop_path_mm").to_numpy(float)
        config = default_config(source, max_turns=args.max_turns)
        settings = config.propagation_settings(index)
        momentum = particles[["px", "py", "pz"]].to_numpy(float)
        charge = np.where(np.hypot(momentum[:, 0], momentum[:, 1]) >= config.min_pt_gev, particles.q.to_numpy(float), 0)
        result = propagate(index, particles[["vx", "vy", "vz"]].to_numpy(float), momentum, charge,
                           mass_of(particles.particle_type.to_numpy()), detector.field_tesla, rng, settings, max_path=stop)
        order = np.lexsort((result.path, result.particle))
        particle, module, mom = result.particle[order], result.module[order], result.momentum[order]
        layer = index.module_layer[module]
        lengths = interactions.crossing_lengths(index, particle, module, mom, settings.layer_material_mm)
        np.add.at(exposure, layer, lengths)
        real = pd.read_csv(path)
        ended, vertex = ends_at_daughter(real, return_vertex=True)
        where, near = vertex_layer(index, vertex[ended])
        np.add.at(ended_at, where[where >= 0], 1)
        unassigned += int((where < 0).sum())
        assigned += int(near.sum())
        rows = np.flatnonzero(ended)
        daughters = interactions.secondaries(particles.particle_id.to_numpy(np.uint64)[rows], vertex[rows],
                                             momentum[rows], rng)
        visible += len(np.unique(daughters[["vx", "vy", "vz"]].to_numpy(), axis=0))
        tried += len(rows)
    listed_share = visible / max(tried, 1)
    efficiency = matching_efficiency(detector, args.max_turns)
    scale = ended_at / np.maximum(exposure, 1e-12) / listed_share / efficiency
    table = pd.DataFrame({"volume": index.layer_volume, "layer": index.layer_id, "interactions": ended_at.astype(int),
                          "exposure_lambda": exposure.round(3), "scale": scale.round(2)})
    table = table.sort_values(["volume", "layer"])
    print(table.to_string(index=False))
    total = ended_at.sum() / exposure.sum() / listed_share / efficiency
    print(f"on-helix matching efficiency {efficiency:.3f}; listed share {listed_share:.3f}; all layers: scale {total:.2f}; on-helix daughter vertices "
          f"within {LAYER_WINDOW_MM} mm of a layer: {assigned}, given to the next layer: {tried - assigned - unassigned}, "
          f"none: {unassigned}")
    print("TRACKML_INTERACTION_SCALE = {" + ", ".join(f"({v}, {l}): {s:.2f}" for v, l, s in
                                                     zip(table.volume, table.layer, table.scale)) + "}")
    out = ROOT / "benchmarks" / "results" / "interaction_rates.json"
    atomic_write_json(out, {"files": args.files, "max_turns": args.max_turns, "listed_share": listed_share, "matching_efficiency": efficiency,
                            "scale_all_layers": total, "layers": table.to_dict(orient="records")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
