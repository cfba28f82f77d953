"""Top level: simulate one event (:func:`simulate_event`) or many into files (:func:`simulate_events`).

Random numbers: event ``i`` of seed ``s`` uses ``numpy.random.SeedSequence([s, i])``, spawned into
independent streams for the source, the propagation (scattering), efficiency and noise, and the
digitisation. An event is therefore identical bit for bit whatever the number of workers, and
changing one stage never changes the random numbers of another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from gnn4hep.tracking.detector import Detector
from gnn4hep.tracking.event import Event, coerce_table
from gnn4hep.tracking.field import field_from_name
from gnn4hep.tracking.scoring import weight_hits
from gnn4hep.tracking.simulation import digitisation
from gnn4hep.tracking.simulation import interactions as interaction_model
from gnn4hep.tracking.simulation.geometry_index import GeometryIndex, cached_index
from gnn4hep.tracking.simulation.material import layer_material_mm, mass_of
from gnn4hep.tracking.simulation.propagation import PropagationResult, PropagationSettings, propagate
from gnn4hep.tracking.simulation.sources import ParticleSource


#: Sources whose default field is the solenoid (see SimulationConfig.resolved_field).
REALISTIC_SOURCES = ("PythiaSource", "ReplaySource")
#: ACTS loopFraction of the challenge simulation (see SimulationConfig.loop_fraction).
LOOP_FRACTION = 0.6


class SimulationConfig(BaseModel):
    """Options of the detector simulation (mm, GeV, T)."""

    model_config = ConfigDict(extra="forbid")

    min_pt_gev: float = Field(0.15, ge=0, description="only particles above this pT are propagated")
    multiple_scattering: bool = True
    energy_loss: bool = False
    trackml_material: bool = Field(
        False,
        description="layers carry the silicon-equivalent material measured on the real sample event "
        "(material.TRACKML_LAYER_MATERIAL_MM: sensors plus supports, 0.15-4.6 mm of Si per layer); "
        "False (default, the material model of the Kalman fitter): bare sensors (2 * module_t)",
    )
    unrecorded_ends: bool = Field(
        False,
        description="particles without a known end may end after a hit with the per-hit probability "
        "fitted on the real sample event (material.unrecorded_end_probability). Off by default: that "
        "reduced event lacks daughters, so the rate is an upper bound (it turns the replay's mean nhits "
        "excess of +0.3 into -0.7), and random ends lower the per-particle agreement",
    )
    max_path_mm: float = Field(12_000.0, gt=0, description="loopers stop after this path length")
    stop_pt_gev: float = Field(
        0.01, ge=0,
        description="a particle stops where its transverse momentum falls below this (energy loss, the solenoid's "
        "end field); 0.1 for the realistic sources (batch.REALISTIC): none of the 4,698 true hits of the real "
        "sample event has pT < 0.1009 GeV, while a replay of its particles without the cut made 6-9 of about 5,200",
    )
    max_turns: float | None = Field(None, gt=0, description="optional limit on the turns of a looper")
    trackml_navigation: bool = Field(
        True,
        description="emulate the challenge simulation: barrel layers are hit only outward and a "
        "looper that turns back inside the barrel stops (as in the real data); False follows "
        "loopers through every layer until they leave or reach max_path_mm",
    )
    stop_turning_in_endcaps: bool = Field(
        True,
        description="with trackml_navigation: a looper also stops where it turns back (largest radius) "
        "outside the barrel (the real sample event has 1.6-2.7% of its strip end-cap hits on inward-going "
        "particles, 7% in volume 18; following them gives 8-14%)",
    )
    skip_start_layer: bool = Field(
        True,
        description="with trackml_navigation: a particle produced inside a layer makes no hit on it",
    )
    inward_start_volume: bool = Field(
        True,
        description="with trackml_navigation: a particle produced moving inward in a barrel volume hits "
        "that volume's layers only on its way in, none after it turns (as in the real sample event's "
        "truth; see propagation._inward_start_volume)",
    )
    barrel_eta_max: float | None = Field(
        3.0,
        description="with trackml_navigation: no barrel hit beyond this |pseudorapidity| seen from the "
        "production vertex (the real sample event has none beyond 2.97 in the innermost barrel layer)",
    )
    field: Literal["uniform", "solenoid"] | None = Field(
        None,
        description="magnetic field: 'solenoid' (the TrackML finite solenoid, field.TRACKML_SOLENOID, "
        "Runge-Kutta-Nystroem propagation) or 'uniform' (B_z = detector.field_tesla, exact helices); None: "
        "the solenoid for the realistic sources (Pythia, replay), uniform for particle guns (resolved_field)",
    )
    loop_fraction: float | None = Field(
        LOOP_FRACTION,
        gt=0,
        description="with trackml_navigation: the challenge simulation's loop protection (ACTS "
        "loopFraction): a particle stops after this fraction of one turn of path, 2 pi p / (0.3 |q| |B|) with "
        "p and B at its vertex (benchmarks/path_limit.py); None: no limit",
    )
    hit_efficiency: float = Field(0.99, ge=0, le=1, description="the real sample event: 98.4% of the "
                                  "layers predicted from a real hit's truth state hold a later real hit")
    noise_hits: int = Field(0, ge=0, description="noise hits per event")
    noise_fraction: float = Field(0.0, ge=0, description="extra noise hits as a fraction of signal hits "
                                  "(0.23 in the real event 1001)")
    noise_distribution: Literal["trackml", "uniform", "volumes"] = Field(
        "trackml",
        description="trackml (or its older name uniform): noise hits uniform over the modules, as measured "
        "on the real data (digitisation.TRACKML_NOISE_PER_MODULE); volumes: spread over volumes like the "
        "sample event's 829 noise hits (digitisation.TRACKML_NOISE_PER_VOLUME)",
    )
    interactions: bool = Field(
        False,
        description="hadronic interactions in the layer material end particles and make secondaries "
        "(interactions.py, measured on the real events 1000-1019); on by default for the pythia source",
    )
    interaction_scale: float = Field(
        1.4, ge=0,
        description="multiplies every layer's measured interaction rate (interactions.TRACKML_INTERACTION_SCALE). "
        "FITTED: mu = 200 Pythia events with the defaults then end 7.7% of their particles with hits at an "
        "on-helix daughter vertex, as the real events 1000-1019 (7.75%); 1.0 gives 5.7% (the per-layer "
        "measurement misses interactions whose vertex the 2 T helix match does not find, e.g. in the "
        "end-caps' weaker field)",
    )
    max_generations: int = Field(3, ge=0, description="with interactions: generations of secondaries followed")
    digitisation: Literal["trackml", "clusters", "smear"] = Field(
        "trackml", description="trackml: the real detector's cluster response (digitisation.TRACKML_RESPONSE, "
        "calibrated by benchmarks/cluster_shapes.py); clusters: straight path through the full thickness; "
        "smear: Gaussian pitch/sqrt(12)")
    primaries_only_weights: bool = False

    def propagation_settings(self, index: GeometryIndex | None = None) -> PropagationSettings:
        """The propagation options; the layer material needs the geometry ``index``."""
        material = None
        if self.trackml_material and index is not None:
            material = layer_material_mm(index.layer_volume, index.layer_id)
        return PropagationSettings(
            multiple_scattering=self.multiple_scattering,
            energy_loss=self.energy_loss,
            max_path_mm=self.max_path_mm,
            max_turns=self.max_turns,
            min_pt_gev=self.stop_pt_gev,
            barrel_outward_only=self.trackml_navigation,
            stop_turning_in_barrel=self.trackml_navigation,
            stop_turning_in_endcaps=self.trackml_navigation and self.stop_turning_in_endcaps,
            layer_material_mm=material,
            unrecorded_ends=self.unrecorded_ends,
            barrel_eta_max=self.barrel_eta_max if self.trackml_navigation else None,
            skip_start_layer=self.trackml_navigation and self.skip_start_layer,
            inward_start_volume=self.trackml_navigation and self.inward_start_volume,
            loop_fraction=self.loop_fraction if self.trackml_navigation else None,
        )

    def resolved_field(self, source: ParticleSource | None = None) -> str:
        """``field``, or for None: 'solenoid' for the realistic sources (Pythia, replay), else 'uniform'."""
        if self.field is not None:
            return self.field
        return "solenoid" if type(source).__name__ in REALISTIC_SOURCES else "uniform"

    def magnetic_field(self, detector: Detector, source: ParticleSource | None = None):
        """The :mod:`gnn4hep.tracking.field` model to propagate in (uniform: B_z = detector.field_tesla)."""
        return field_from_name(self.resolved_field(source), detector.field_tesla)


def event_streams(seed: int, event_index: int, n: int = 5) -> list[np.random.Generator]:
    """The independent random generators of one event (source, propagation, efficiency+noise, digi,
    interactions). Spawned children do not depend on ``n``, so adding a stream changes no other."""
    children = np.random.SeedSequence([int(seed), int(event_index)]).spawn(n)
    return [np.random.default_rng(child) for child in children]


def simulate_event(
    source: ParticleSource,
    detector: Detector,
    seed: int = 0,
    config: SimulationConfig | None = None,
    event_index: int = 0,
    event_id: int | None = None,
) -> Event:
    """Simulate event ``event_index`` of ``source`` in ``detector``, reproducibly from ``seed``.

    Returns:
        An :class:`Event` with hits, cells, particles (with nhits) and truth (with true positions,
        momenta at each hit (entering the module) and TrackML weights), in the challenge format.
    """
    if config is None:
        from gnn4hep.tracking.simulation.batch import default_config

        config = default_config(source)
    source_rng, propagation_rng, efficiency_rng, digitisation_rng, interaction_rng = event_streams(seed, event_index)
    index = cached_index(detector)
    field = config.magnetic_field(detector, source)
    particles = source.generate(source_rng, event_index).reset_index(drop=True)
    stop = particles.pop("stop_path_mm").to_numpy(float) if "stop_path_mm" in particles else None
    particles, result = _propagate_generations(index, detector, field, particles, stop, config, propagation_rng,
                                               interaction_rng)
    detected = efficiency_rng.random(len(result.particle)) < config.hit_efficiency
    part, module = result.particle[detected], result.module[detected]
    true_position, true_momentum = result.position[detected], result.momentum[detected]
    n_noise = config.noise_hits + int(round(config.noise_fraction * len(part)))
    noise_module, noise_position, noise_cells = digitisation.noise_hits(
        index, n_noise, efficiency_rng, config.noise_distribution, config.digitisation
    )
    if config.digitisation == "trackml":
        measured, cells = digitisation.trackml_clusters(index, module, true_position, true_momentum,
                                                        rng=digitisation_rng)
    elif config.digitisation == "clusters":
        measured, cells = digitisation.clusters(index, module, true_position, true_momentum)
    else:
        measured, cells = digitisation.smear(index, module, true_position, digitisation_rng)
    all_module = np.concatenate([module, noise_module])
    all_measured = np.concatenate([measured, noise_position])
    all_true = np.concatenate([true_position, noise_position])
    all_momentum = np.concatenate([true_momentum, np.zeros((n_noise, 3))])
    pid = np.concatenate([particles["particle_id"].to_numpy(np.uint64)[part], np.zeros(n_noise, np.uint64)])
    cells = pd.concat([cells, noise_cells.assign(hit=noise_cells["hit"] + len(part))], ignore_index=True)
    # hit_id 1..n in detector order (volume, layer, module), as in the challenge files
    ids = index.module_ids[all_module]
    order = np.lexsort((all_measured[:, 2], all_module, ids[:, 1], ids[:, 0]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    hits = pd.DataFrame({
        "hit_id": np.arange(1, len(order) + 1),
        "x": all_measured[order, 0], "y": all_measured[order, 1], "z": all_measured[order, 2],
        "volume_id": ids[order, 0], "layer_id": ids[order, 1], "module_id": ids[order, 2],
    })  # fmt: skip
    truth = pd.DataFrame({
        "hit_id": hits["hit_id"].to_numpy(), "particle_id": pid[order],
        "tx": all_true[order, 0], "ty": all_true[order, 1], "tz": all_true[order, 2],
        "tpx": all_momentum[order, 0], "tpy": all_momentum[order, 1], "tpz": all_momentum[order, 2],
    })  # fmt: skip
    nhits = np.bincount(part, minlength=len(particles))
    particles = particles.assign(nhits=nhits.astype(np.int32))
    truth["weight"] = weight_hits(truth, particles, primaries_only=config.primaries_only_weights).to_numpy()
    cell_hit_id = rank[cells["hit"].to_numpy()]
    cell_ch0, cell_ch1 = cells["ch0"].to_numpy(), cells["ch1"].to_numpy()
    # (hit_id, ch0, ch1) is unique per cell, so one unstable sort of a packed key gives the order
    cell_order = np.argsort((cell_hit_id << 40) | (cell_ch0.astype(np.int64) << 20) | cell_ch1.astype(np.int64))
    cells = pd.DataFrame({"hit_id": cell_hit_id[cell_order], "ch0": cell_ch0[cell_order],
                          "ch1": cell_ch1[cell_order], "value": cells["value"].to_numpy()[cell_order]})  # fmt: skip
    particles = particles[["particle_id", "particle_type", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits"]]
    tables = {"hits": hits, "cells": cells, "particles": particles, "truth": truth}
    event = Event(
        event_id=event_index if event_id is None else event_id,
        **{part: coerce_table(part, table) for part, table in tables.items()},
    )
    event.meta.update(seed=seed, event_index=event_index, n_noise=n_noise, field=field.metadata())
    return event


def _take(result: PropagationResult, rows) -> PropagationResult:
    return PropagationResult(**{k: getattr(result, k)[rows] for k in PropagationResult.__dataclass_fields__})


def _propagate_generations(index, detector, field, particles, stop, config, propagation_rng, interaction_rng):
    """Propagate the source's particles and (with ``config.interactions``) the secondaries of their
    interactions in the material (charged particles, and neutral hadrons on straight lines),
    generation after generation, charged ones in ``field`` (neutral ones on straight lines: the uniform
    helix navigator with a huge momentum is exact and fastest there). Returns (charged particles with the secondaries appended, the
    crossings of all of them with ``particle`` rows into that table)."""
    settings = config.propagation_settings(index)
    tables, results, offset = [], [], 0
    current = particles
    for generation in range(1 + (config.max_generations if config.interactions else 0)):
        neutral = current["q"].to_numpy() == 0
        if neutral.any():  # neutral particles are not listed (as in the real particles files)
            neutral_hadrons, current = current[neutral], current[~neutral].reset_index(drop=True)
            stop = None if stop is None else stop[~neutral]
        else:
            neutral_hadrons = current.iloc[:0]
        momentum = current[["px", "py", "pz"]].to_numpy(np.float64)
        pt = np.hypot(momentum[:, 0], momentum[:, 1])
        charge = np.where(pt >= config.min_pt_gev, current["q"].to_numpy(np.float64), 0.0)
        result = propagate(
            index, current[["vx", "vy", "vz"]].to_numpy(np.float64), momentum, charge,
            mass_of(current["particle_type"].to_numpy()), field, propagation_rng, settings,
            max_path=stop, may_end=None if stop is None else ~np.isfinite(stop),
        )  # fmt: skip
        daughters = None
        if config.interactions:
            result = _take(result, np.lexsort((result.path, result.particle)))
            layer_scale = interaction_model.layer_interaction_scale(index.layer_volume, index.layer_id)
            lengths = interaction_model.crossing_lengths(index, result.particle, result.module,
                                                         result.momentum, settings.layer_material_mm, layer_scale)
            budget = interaction_rng.exponential(size=len(current))
            keep, interacting = interaction_model.find_interactions(result.particle, lengths, budget,
                                                                    config.interaction_scale)
            ids, points, momenta = interaction_model.neutral_interactions(
                index, neutral_hadrons, detector.field_tesla, settings.layer_material_mm, layer_scale,
                config.interaction_scale, interaction_rng)
            daughters = interaction_model.secondaries(
                np.concatenate([current["particle_id"].to_numpy(np.uint64)[result.particle[interacting]], ids]),
                np.concatenate([result.position[interacting], points]),
                np.concatenate([result.momentum[interacting], momenta]), interaction_rng,
            )
            result = _take(result, keep)
        result.particle = result.particle + offset
        tables.append(current)
        results.append(result)
        offset += len(current)
        if daughters is None or daughters.empty:
            break
        current, stop = daughters, None
    if len(results) == 1:
        return tables[0], results[0]
    merged = PropagationResult(**{k: np.concatenate([getattr(r, k) for r in results])
                                  for k in PropagationResult.__dataclass_fields__})
    return pd.concat(tables, ignore_index=True), merged
