"""Where the TrackML pipeline's events are: given folders, or events simulated into the run folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gnn4hep.errors import ConfigError
from gnn4hep.pipelines.trackml_config import TrackmlDataConfig
from gnn4hep.tracking.io import available_parts

#: Toy cylinders relabelled as the TrackML barrel layers they mimic (for the ``toy`` source).
_TOY_VOLUME = np.array([8, 8, 8, 8, 13, 13, 13, 13, 17, 17])
_TOY_LAYER = np.array([2, 4, 6, 8, 2, 4, 6, 8, 2, 4])


def data_dirs(run_dir: Path, cfg: TrackmlDataConfig) -> tuple[Path, Path]:
    """(train folder, test folder): the configured ones or ``<run>/data/{train,test}``."""
    train = Path(cfg.train_dir) if cfg.train_dir is not None else Path(run_dir) / "data" / "train"
    test = Path(cfg.test_dir) if cfg.test_dir is not None else Path(run_dir) / "data" / "test"
    return train, test


def _prefixes(folder: Path, n: int, key: str) -> list[Path]:
    return [folder / name for name in _prefix_names(folder, key, " (run trackml_simulate first?)")[:n]]


def split_event_prefixes(run_dir: Path, cfg: TrackmlDataConfig) -> tuple[list[Path], list[Path]]:
    """Event prefixes of the training and test sets (at most n_train / n_test)."""
    if cfg.path is not None:
        return split_one_folder(Path(cfg.path), cfg.n_train, cfg.n_test)
    train, test = data_dirs(run_dir, cfg)
    return _prefixes(train, cfg.n_train, "train_dir"), _prefixes(test, cfg.n_test, "test_dir")


def split_one_folder(folder: Path, n_train: int, n_test: int) -> tuple[list[Path], list[Path]]:
    """The first ``n_train`` events of ``folder`` (in event-id order) and the next ``n_test``."""
    names = [folder / name for name in _prefix_names(folder, "path")]
    if len(names) <= n_train:
        raise ConfigError(f"data.path: {folder} holds {len(names)} events; data.n_train = {n_train} leaves none "
                          "to test on (lower data.n_train)")
    return names[:n_train], names[n_train:n_train + n_test]


def _prefix_names(folder: Path, key: str, hint: str = "") -> list[str]:
    """Sorted event names of ``folder``; a ConfigError naming ``data.<key>`` when there are none."""
    from gnn4hep.tracking.io import list_events

    if not folder.is_dir():
        raise ConfigError(f"data.{key}: {folder} is not a folder of TrackML events{hint}")
    names = list_events(folder)
    if not names:
        raise ConfigError(f"data.{key}: no eventNNNNNNNNN-*.csv[.gz] files in {folder}")
    return names


def eval_event_prefixes(cfg: TrackmlDataConfig) -> list[Path]:
    """The extra evaluation events (checked to exist)."""
    out = []
    for prefix in cfg.eval_events:
        if not available_parts(prefix, ("hits",)):
            raise ConfigError(f"data.eval_events: no hits file for event prefix {prefix}")
        out.append(Path(prefix))
    return out


def write_toy_events(out_dir: Path, n_events: int, n_particles: int, seed: int, first_id: int = 1) -> None:
    """Analytic toy events (:func:`gnn4hep.tracking.toy.make_toy_event`) relabelled with TrackML
    barrel layer ids, written in the TrackML format."""
    from gnn4hep.tracking.io import write_event
    from gnn4hep.tracking.toy import make_toy_event

    for i in range(n_events):
        event = make_toy_event(n_particles=n_particles, seed=seed + i, event_id=first_id + i)
        index = event.hits["layer_id"].to_numpy() // 2 - 1
        event.hits["volume_id"] = _TOY_VOLUME[index].astype(np.int32)
        event.hits["layer_id"] = _TOY_LAYER[index].astype(np.int32)
        write_event(event, Path(out_dir) / event.name)


def simulate_missing(run_dir: Path, cfg: TrackmlDataConfig, seed: int, logger: logging.Logger, executor=None) -> None:
    """Fill ``<run>/data/{train,test}`` for the sets not given in the config.

    Training and test events get different seeds (and event ids), so they never overlap. Events are
    simulated through ``executor`` (:func:`gnn4hep.executor.make_executor`; None: ``cfg.workers``
    local processes); they do not depend on it.
    """
    if cfg.path is not None:  # real events given: nothing to simulate
        return
    train, test = data_dirs(run_dir, cfg)
    jobs = []
    if cfg.train_dir is None:
        beam = None if cfg.train_beam_sigma_z_mm is None else tuple(cfg.train_beam_sigma_z_mm)
        if beam is not None and cfg.source != "pythia":
            logger.info(f"  data.train_beam_sigma_z_mm applies to pythia events only: ignored for source {cfg.source}")
            beam = None
        jobs.append((train, cfg.n_train, seed * 1000 + 1, 1, beam))
    if cfg.test_dir is None:
        jobs.append((test, cfg.n_test, seed * 1000 + 500_001, 100_001, None))
    for folder, n_events, job_seed, first_id, beam in jobs:
        folder.mkdir(parents=True, exist_ok=True)
        pileup = f" (pile-up {cfg.pileup:g})" if cfg.source == "pythia" else ""
        logger.info(f"  simulating {n_events} {cfg.source} events{pileup} into {folder}")
        if cfg.source == "toy":
            write_toy_events(folder, n_events, cfg.n_particles, job_seed, first_id)
            continue
        from gnn4hep.tracking.simulation import simulate_events
        from gnn4hep.tracking.simulation.batch import make_source

        source = cfg.source if beam is None else make_source(cfg.source, cfg.pileup, beam)
        simulate_events(folder, n_events, source=source, pileup=cfg.pileup, seed=job_seed, workers=cfg.workers,
                        executor=executor)


def read_available(prefix: str | Path, parts: tuple[str, ...] = ("hits", "cells", "particles", "truth")):
    """Read the parts of an event that exist on disk (cells and truth are optional; hits are not)."""
    from gnn4hep.tracking.io import read_event

    present = available_parts(prefix, parts)
    return read_event(prefix, parts=tuple(part for part in parts if part == "hits" or part in present))
