"""Every CLI command that takes ``--seed`` writes identical outputs for identical seeds, seed 0 included.

The seeded commands are found by walking the CLI's command tree (every command with a ``seed``
option), so a new seeded command without an entry in RECIPES fails
:func:`test_every_seeded_command_has_a_recipe`. Each recipe runs twice with seed 0 into two folders
and once with seed 1: the two seed-0 outputs must be equal file by file (bytes, or the datasets of an
HDF5 file), and the seed-1 output must differ from them (so a command that ignored its seed, or read
the clock, could not pass). ``gnn4hep run`` takes its seed from the config (``-o seed=N``); its
reproducibility is checked by tests/test_resume_everywhere.py, where an uninterrupted run and a run
killed after every stage give byte-identical data products for every config of experiments/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from gnn4hep.cli.main import app
from gnn4hep.utils.seeds import PYTHIA_MAX_SEED, pythia_seed


def seeded_commands() -> set[str]:
    """Names ("jets generate") of every CLI command with a ``seed`` parameter."""
    found = set()

    def walk(command, path: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))
        if any(param.name == "seed" for param in getattr(command, "params", [])):
            found.add(" ".join(path))

    walk(get_command(app), ())
    return found


@pytest.fixture(scope="module")
def toy_event(tmp_path_factory) -> Path:
    """A small analytic TrackML event on disk (hits, particles, truth)."""
    from gnn4hep.tracking.io import write_event
    from gnn4hep.tracking.toy import make_toy_event

    prefix = tmp_path_factory.mktemp("event") / "event000000001"
    write_event(make_toy_event(n_particles=80, seed=3), prefix)
    return prefix


@pytest.fixture(scope="module")
def toy_qubo(toy_event, tmp_path_factory) -> Path:
    """A QUBO of the toy event (built once, with seed 0)."""
    out = tmp_path_factory.mktemp("qubo") / "qubo.json"
    _invoke(["qubo", "build", str(toy_event), "--out", str(out), "--density", "0.5", "--seed", "0"])
    return out


#: command -> recipe(out folder, seed, fixtures) -> argv. Each writes only into ``out``.
RECIPES: dict[str, Callable[[Path, int, dict], list[str]]] = {
    "simulate": lambda out, seed, fx: ["simulate", "--out", str(out), "--events", "2", "--source", "pythia",
                                       "--pileup", "2", "--seed", str(seed), "--no-progress"],
    "jets generate": lambda out, seed, fx: ["jets", "generate", "--process", "qg", "--jets", "3", "--out", str(out),
                                            "--max-constituents", "32", "--seed", str(seed), "--json"],
    "qubo build": lambda out, seed, fx: ["qubo", "build", str(fx["toy_event"]), "--out", str(out / "qubo.json"),
                                         "--density", "0.5", "--seed", str(seed)],
    "qubo solve": lambda out, seed, fx: ["qubo", "solve", str(fx["toy_qubo"]), "--out", str(out / "tracks.csv"),
                                         "--reads", "1", "--sweeps", "2", "--seed", str(seed)],  # short anneals: the seed shows
}


def _invoke(argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, (argv, result.output, result.exception)


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _contents(folder: Path) -> dict[str, object]:
    """Relative path -> comparable content: the datasets of .h5 files, JSON without its timings (a QUBO
    file records its build_seconds), the bytes of any other file."""
    import json

    import h5py

    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        key = path.relative_to(folder).as_posix()
        if path.suffix == ".h5":
            with h5py.File(path, "r") as handle:
                out[key] = {name: handle[name][()].tobytes() for name in sorted(handle)}
        elif path.suffix == ".json":
            out[key] = _without_timings(json.loads(path.read_text()))
        else:
            out[key] = path.read_bytes()
    return out


def test_every_seeded_command_has_a_recipe():
    assert seeded_commands() == set(RECIPES)


@pytest.mark.parametrize("command", sorted(RECIPES))
def test_same_seed_same_outputs_seed_zero_included(command, tmp_path, toy_event, toy_qubo):
    fixtures = {"toy_event": toy_event, "toy_qubo": toy_qubo}
    outputs = {}
    for name, seed in (("first", 0), ("second", 0), ("other", 1)):
        folder = tmp_path / name
        folder.mkdir()
        _invoke(RECIPES[command](folder, seed, fixtures))
        outputs[name] = _contents(folder)
    assert outputs["first"], f"{command} wrote nothing"
    assert outputs["first"] == outputs["second"], f"{command} --seed 0 gave different outputs on two runs"
    assert set(outputs["other"]) == set(outputs["first"])
    assert outputs["other"] != outputs["first"], f"{command}: --seed 1 gave the outputs of --seed 0"


def test_pythia_never_gets_seed_zero():
    """Pythia reads Random:seed = 0 as "from the clock" (the manual's Random-Number Generation page):
    every seed, 0 and multiples of 900,000,000 included, must land in 1..900,000,000, and seeds
    already there are kept, so samples made with them do not change."""
    for seed in (0, PYTHIA_MAX_SEED, 2 * PYTHIA_MAX_SEED, -PYTHIA_MAX_SEED):
        assert pythia_seed(seed) == PYTHIA_MAX_SEED
    for seed in (1, 2, 19_780_503, PYTHIA_MAX_SEED - 1):
        assert pythia_seed(seed) == seed
    assert pythia_seed(PYTHIA_MAX_SEED + 7) == 7 and pythia_seed(-1) == PYTHIA_MAX_SEED - 1
    seeds = np.array([pythia_seed(s) for s in range(-2000, 2000)])
    assert seeds.min() >= 1 and seeds.max() <= PYTHIA_MAX_SEED and len(np.unique(seeds)) == len(seeds)

