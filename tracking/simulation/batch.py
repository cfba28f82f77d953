"""Simulate many events into TrackML files, optionally in parallel (local processes or a Dask
cluster, through :mod:`gnn4hep.executor`).

Source specifications (strings, as on the command line):

- ``"gun"``: :class:`~.sources.GunSource` (200 particles, pT 0.5-10 GeV, |eta| < 3);
- ``"quick"``: a 300-particle gun, the fast default for demos and smoke tests;
- ``"pythia"``: :class:`~.pythia_source.PythiaSource`, ttbar + Poisson(``pileup``) minimum bias;
- ``"replay:PATH"``: :class:`~.sources.ReplaySource` of a particles file or folder.

The realistic sources (``pythia``, ``replay:``) default to the real detector's behaviour
(:func:`default_config`); ``gun`` and ``quick`` keep the light defaults of :class:`SimulationConfig`.
"""

from __future__ import annotations

import json
from pathlib import Path

from gnn4hep.errors import InputFileError
from gnn4hep.tracking.field import field_from_metadata
from gnn4hep.tracking.io import read_detector, write_event
from gnn4hep.tracking.simulation import digitisation
from gnn4hep.utils.atomic import atomic_write_json
from gnn4hep.tracking.simulation.simulator import SimulationConfig, simulate_event
from gnn4hep.tracking.simulation.sources import GunSource, ParticleSource, ReplaySource

SOURCE_KINDS = ("gun", "quick", "pythia", "replay:PATH")
QUICK_PARTICLES = 300

#: The real detector's behaviour, each measured on the real TrackML data: particles are propagated
#: from pT = 0.15 GeV (the real particles files list particles from 0.1 GeV, 11% of them below 0.15,
#: but of those only 10% have any hit, 1.1 on average, against 89% at 0.150-0.155 GeV and 97% above
#: 0.16 GeV: the challenge simulation did not propagate them) and stopped where their pT falls below
#: 0.1 GeV (no true hit of the real sample event lies below 0.1009 GeV), the measured layer material with its
#: energy loss, noise at the rate of the real event 1001 spread like the sample event's noise, and
#: (pythia only) hadronic interactions in the material.
REALISTIC = {
    "min_pt_gev": 0.15,
    "stop_pt_gev": 0.1,
    "trackml_material": True,
    "energy_loss": True,
    "noise_fraction": digitisation.TRACKML_NOISE_FRACTION,
    "noise_distribution": "trackml",
}


def default_config(source: str | ParticleSource, **overrides) -> SimulationConfig:
    """The default :class:`SimulationConfig` of ``source`` (a specification or a source), with
    ``overrides``. Realistic sources (Pythia, replay) get :data:`REALISTIC`; Pythia adds the
    hadronic interactions; a replay keeps the real particles, secondaries included, and adds none.
    """
    from gnn4hep.tracking.simulation.pythia_source import PythiaSource

    if isinstance(source, str):
        realistic = source == "pythia" or source.startswith("replay:")
        pythia = source == "pythia"
    else:
        realistic = isinstance(source, (PythiaSource, ReplaySource))
        pythia = isinstance(source, PythiaSource)
    values = {**REALISTIC, "interactions": pythia} if realistic else {}
    return SimulationConfig(**{**values, **overrides})


def make_source(spec: str | ParticleSource, pileup: float = 200.0,
                beam_sigma_z_mm: float | tuple[float, ...] | None = None) -> ParticleSource:
    """The source named by ``spec`` (see the module docstring); sources pass through unchanged.

    ``beam_sigma_z_mm`` (pythia only; None: the source's default, 5.5 mm): the beam spot's length, or a tuple
    cycled through event by event (:class:`~gnn4hep.tracking.simulation.pythia_source.PythiaSource`).

    Raises:
        ValueError: unknown specification (the message lists the valid ones).
    """
    if not isinstance(spec, str):
        return spec
    if beam_sigma_z_mm is not None and spec != "pythia":
        raise ValueError(f"a beam-spot length applies to the pythia source only, not {spec!r}")
    if spec == "gun":
        return GunSource()
    if spec == "quick":
        return GunSource(n_particles=QUICK_PARTICLES)
    if spec == "pythia":
        from gnn4hep.tracking.simulation.pythia_source import PythiaSource

        beam = {} if beam_sigma_z_mm is None else {"beam_sigma_z_mm": beam_sigma_z_mm}
        return PythiaSource(pileup=pileup, **beam)
    if spec.startswith("replay:") and len(spec) > len("replay:"):
        return ReplaySource(spec[len("replay:"):])
    raise ValueError(f"unknown source {spec!r}; choose one of {', '.join(SOURCE_KINDS)}")


def _event_ids(source: ParticleSource, n_events: int, first_event_id: int) -> list[int]:
    """Replayed files keep their TrackML event numbers when each is used once."""
    if isinstance(source, ReplaySource) and n_events <= len(source.files):
        ids = [source.event_id(i) for i in range(n_events)]
        if None not in ids and len(set(ids)) == len(ids):
            return ids
    return [first_event_id + i for i in range(n_events)]


SETTINGS_FILE = "simulation.json"


def write_settings(out_dir: Path, source: ParticleSource, config: SimulationConfig, seed: int, detector) -> Path:
    """Record how the events in ``out_dir`` were simulated: ``simulation.json`` with the source, the seed, the
    configuration and the magnetic field (:meth:`MagneticField.metadata`, read back by :func:`read_field`)."""
    settings = {"source": type(source).__name__, "seed": int(seed), "config": config.model_dump(mode="json"),
                "field": config.magnetic_field(detector, source).metadata()}  # fmt: skip
    if hasattr(source, "beam_sigma_z_mm"):
        settings["beam_sigma_z_mm"] = source.beam_sigma_z_mm
    path = Path(out_dir) / SETTINGS_FILE
    atomic_write_json(path, settings)
    return path


def read_settings(folder: str | Path) -> dict | None:
    """The ``simulation.json`` record of the events in ``folder`` (:func:`write_settings`), or None when the
    folder has none (real data, or events simulated before the settings were recorded)."""
    path = Path(folder) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        settings = json.loads(path.read_text())
        field_from_metadata(settings["field"])  # the part readers rely on
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputFileError(path, f"not a simulation record ({type(exc).__name__}: {exc})") from None
    return settings


def read_field(folder: str | Path):
    """The field the events in ``folder`` were simulated in (from its ``simulation.json``), or None when the
    folder has no such record (real data, or events simulated before the field was recorded)."""
    settings = read_settings(folder)
    return None if settings is None else field_from_metadata(settings["field"])


#: Per-process simulation state, set by :func:`_init_worker` (the executor's initializer).
_WORKER: dict = {}


def _init_worker(source, detector_path, config):
    _WORKER.update(source=source, detector=read_detector(detector_path), config=config)


def _run_one(task) -> Path:
    event_index, event_id, seed, out_dir = task
    event = simulate_event(_WORKER["source"], _WORKER["detector"], seed, _WORKER["config"], event_index, event_id)
    prefix = Path(out_dir) / event.name
    write_event(event, prefix)
    return prefix


def simulate_events(
    out_dir: str | Path,
    n_events: int,
    source: str | ParticleSource = "quick",
    pileup: float = 200.0,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    config: SimulationConfig | None = None,
    detector_path: str | Path | None = None,
    first_event_id: int = 1,
    executor=None,
) -> list[Path]:
    """Simulate ``n_events`` events and write them as ``out_dir/eventNNNNNNNNN-*.csv.gz``, and the settings
    (source, seed, configuration, magnetic field) as ``out_dir/simulation.json`` (:func:`write_settings`).

    ``config`` None: the source's :func:`default_config`.

    Event ``i`` depends only on (``seed``, ``i``), so results do not depend on ``workers`` or the
    executor. The source, detector and config are set up once per worker process.

    Args:
        workers: local processes (used when ``executor`` is None).
        executor: a :func:`gnn4hep.executor.make_executor` back-end (e.g. a Dask cluster).

    Returns:
        The event prefixes written (``out_dir/eventNNNNNNNNN``), in event order.
    """
    if n_events < 0:
        raise ValueError("n_events must be >= 0")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    source = make_source(source, pileup)
    config = config or default_config(source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(i, eid, seed, str(out_dir)) for i, eid in enumerate(_event_ids(source, n_events, first_event_id))]
    if executor is None:
        from gnn4hep.executor import make_executor

        executor = make_executor(workers=workers)
    prefixes = executor.map(_run_one, tasks, progress=progress, description="simulating",
                            initializer=_init_worker, initargs=(source, detector_path, config))
    write_settings(out_dir, source, config, seed, read_detector(detector_path))
    return prefixes
