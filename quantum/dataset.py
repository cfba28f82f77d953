"""Dataset maker of the QUBO studies: a barrel-only, density-reduced TrackML event.

This follows the data preparation of Bapst et al., "A pattern recognition algorithm for quantum
annealers" (arXiv:1902.08324, hepqpr-qallse ``dsmaker``):

1. keep only hits of the barrel volumes (TrackML volumes 8, 13 and 17);
2. remove *double hits*: of several hits of one particle on the same (volume, layer), keep the
   first one in file order (noise hits are never removed as duplicates);
3. keep a random fraction ``density`` of the particles (and the same fraction of noise hits);
4. set the scoring weight to 0 for hits whose true transverse momentum (``tpx, tpy`` of the truth
   table) is below ``pt_min`` GeV, and for all hits of particles left with fewer than ``min_hits``
   hits; renormalise the remaining weights to sum to 1.

The weight > 0 hits define the *focus* particles of the metrics (:mod:`gnn4hep.quantum.metrics`).
The maker writes the reduced event with :func:`gnn4hep.tracking.io.write_event`, next to the QUBO.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.errors import ConfigError
from gnn4hep.tracking.event import Event

#: TrackML barrel volumes: pixel (8), short strips (13), long strips (17).
BARREL_VOLUMES: tuple[int, ...] = (8, 13, 17)


def reduce_event(
    event: Event,
    density: float = 0.1,
    seed: int = 0,
    pt_min: float = 1.0,
    min_hits: int = 5,
    volumes: tuple[int, ...] | None = BARREL_VOLUMES,
    remove_double_hits: bool = True,
) -> Event:
    """The reduced event (hits, truth, particles) of the QUBO studies; see the module docstring.

    Args:
        event: an event with hits, truth and particles.
        density: fraction of particles (and of noise hits) kept, in (0, 1].
        seed: random seed of the particle sampling.
        pt_min: hits with true pT (GeV) below this get weight 0.
        min_hits: particles with fewer hits (in the reduced event) get weight 0.
        volumes: volume ids kept; None keeps every volume (e.g. the toy event, volume 8 only anyway).
        remove_double_hits: drop all but the first hit of a particle on a (volume, layer).

    Returns:
        A new Event, ``meta`` recording the parameters and counts.
    """
    if not 0.0 < density <= 1.0:
        raise ConfigError(f"density must be in (0, 1], got {density}")
    event.require("hits", "truth", "particles")
    hits, truth = event.hits, event.truth
    merged = hits.merge(truth[["hit_id", "particle_id"]], on="hit_id", how="inner", validate="one_to_one")
    if volumes is not None:
        merged = merged[merged["volume_id"].isin(volumes)]
    is_noise = merged["particle_id"].to_numpy() == 0
    noise, signal = merged[is_noise], merged[~is_noise]
    if remove_double_hits:
        signal = signal.drop_duplicates(["particle_id", "volume_id", "layer_id"], keep="first")

    rng = np.random.default_rng(seed)
    particle_ids = np.unique(signal["particle_id"].to_numpy())
    n_keep = int(len(particle_ids) * density)
    kept_particles = np.sort(rng.choice(particle_ids, size=n_keep, replace=False)) if n_keep else particle_ids[:0]
    n_noise = int(len(noise) * density)
    kept_noise = noise["hit_id"].to_numpy()[np.sort(rng.choice(len(noise), size=n_noise, replace=False))]
    signal = signal[signal["particle_id"].isin(kept_particles)]
    hit_ids = np.concatenate([signal["hit_id"].to_numpy(), kept_noise])
    keep = np.isin(hits["hit_id"].to_numpy(), hit_ids)  # keep the original file order

    new_hits = hits[keep].reset_index(drop=True)
    new_truth = truth[np.isin(truth["hit_id"].to_numpy(), hit_ids)].reset_index(drop=True)
    new_particles = event.particles[event.particles["particle_id"].isin(kept_particles)].reset_index(drop=True)
    new_truth["weight"] = focus_weights(new_truth, pt_min=pt_min, min_hits=min_hits)

    meta = dict(event.meta)
    meta.update(
        reduced_from=event.name,
        density=density,
        seed=seed,
        pt_min=pt_min,
        min_hits=min_hits,
        volumes=list(volumes) if volumes is not None else None,
        n_hits=int(len(new_hits)),
        n_particles=int(len(kept_particles)),
        n_noise_hits=int(n_noise),
        n_focus_particles=int(new_truth.loc[new_truth["weight"] > 0, "particle_id"].nunique()),
    )
    return Event(event_id=event.event_id, hits=new_hits, particles=new_particles, truth=new_truth, meta=meta)


def focus_weights(truth: pd.DataFrame, pt_min: float = 1.0, min_hits: int = 5) -> np.ndarray:
    """qallse's scoring weights: uniform over focus hits, 0 elsewhere, summing to 1.

    qallse keeps the TrackML weight of focus hits; we keep it too, so the TrackML score of the
    reduced event weights hits as the challenge does. A focus hit belongs to a particle with at
    least ``min_hits`` hits in ``truth`` and has true pT >= ``pt_min`` GeV.
    """
    pid = truth["particle_id"].to_numpy()
    pt = np.hypot(truth["tpx"].to_numpy(np.float64), truth["tpy"].to_numpy(np.float64))
    counts = pd.Series(pid).map(pd.Series(pid).value_counts()).to_numpy()
    focus = (pid != 0) & (pt >= pt_min) & (counts >= min_hits)
    weight = np.where(focus, truth["weight"].to_numpy(np.float64), 0.0)
    if weight.sum() <= 0:  # the original weights may all be zero (e.g. unweighted files)
        weight = focus.astype(np.float64)
    total = weight.sum()
    return (weight / total if total > 0 else weight).astype(np.float32)


def reduced_event_prefix(qubo_path: str | Path, event_name: str) -> Path:
    """Where the reduced event of a QUBO file lives: ``<qubo stem>_event/<event name>``."""
    qubo_path = Path(qubo_path)
    return qubo_path.parent / f"{qubo_path.stem}_event" / event_name
