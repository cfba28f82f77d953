"""CLI-wide bad-input harness: every command and sub-command of ``gnn4hep`` with generated bad input.

For each case: exit code 2; one or two lines on stderr that name the option, file or column; no
traceback; no RuntimeWarning (a silent overflow); nothing new on disk (no file, folder or ``.partial``
run). The cases come from the command templates in :data:`TEMPLATES` and from the parameters of the
typer app (see tests/robustness/cli_harness.py), and every file lives under a folder name with spaces,
``[/x]`` (rich markup), parentheses and a non-ASCII letter. A command without a template fails
:func:`test_every_command_has_a_template`; a path parameter without a slot fails
:func:`test_every_path_parameter_has_a_slot`. Hypothesis draws truncations and byte flips of every input
file kind and numbers around the type limits; the ``slow`` marker runs a larger budget.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.robustness.cli_harness import (
    CSV_CORRUPTIONS,
    H5_CORRUPTIONS,
    JSON_CORRUPTIONS,
    NPY_CORRUPTIONS,
    ODD,
    SUBMISSION_CORRUPTIONS,
    YAML_CORRUPTIONS,
    In,
    Out,
    Template,
    command_paths,
    copy_input,
    event_corruptions,
    parameters,
    parser_of,
    run_cli,
    snapshot,
)

CONFIG = "name: harness\nseed: 1\nstages: [score_demo]\ndemo:\n  n_particles: 20\n"
EVENT = In("event", "sim/event000000001")
SUBMISSION = In("submission", "sim/truth.csv")

#: The valid command line of every command; In/Out mark the file arguments.
TEMPLATES: dict[str, Template] = {
    "info": Template(["info", EVENT], parts=("hits", "cells", "particles", "truth")),
    "score": Template(["score", EVENT, SUBMISSION], parts=("particles", "truth"),
                      bad_values=[(["--weights", "phase9[/x]"], "--weights")]),
    "run": Template(["run", In("config", "config.yaml"), "--out", Out("run", "run")],
                    optional={"--runs-root": Out("dir", "runs"), "--resume": In("partial", "runs/.resumable.partial"),
                              "--data": In("data", "sim/event000000001")},
                    bad_values=[(["-o", "noequals"], "noequals"), (["-o", "demo.n_particles=-5"], "demo.n_particles"),
                                (["-o", "seed=1e400"], "seed"), (["-o", "demo.n_particles=99999999999999999999"], "demo.n_particles"),
                                (["-o", "demo.reassign_fraction=.nan"], "demo.reassign_fraction"),
                                (["-o", "demo.reassign_fraction=-.inf"], "demo.reassign_fraction"),
                                (["-o", "seed=-1"], "seed"), (["-o", "stages=[]"], "stages")]),
    "simulate": Template(["simulate", "--out", Out("dir", "sim"), "--no-progress"],
                         bad_values=[(["--source", "bogus[/x]"], "--source"), (["--source", "replay:"], "--source"),
                                     (["--source", "replay:/no/such [/x]"], "/no/such [/x]"),
                                     (["--material", "lead"], "--material"), (["--field", "dipole[/x]"], "--field"), (["--efficiency", "1.5"], "--efficiency"),
                                     (["--events", "0"], "--events"), (["--workers", "0"], "--workers")]),
    "fit": Template(["fit", EVENT, SUBMISSION, "--out", Out("file", "params.csv")],
                    optional={"--cleaned": Out("file", "cleaned.csv"), "--detector": In("detector", "detectors.csv")},
                    parts=("hits", "cells"), not_bad=("truncated", "hits missing"),  # fit takes any subset of hits
                    bad_values=[(["--error-scale", "0"], "--error-scale"), (["--chi2-cut", "0"], "--chi2-cut"),
                                (["--iterations", "0"], "--iterations"), (["--material", "lead"], "--material")]),
    "runs list": Template(["runs", "list", "--root", In("runs_root", "runs", missing_ok=True)]),
    "runs show": Template(["runs", "show", In("run_dir", "runs/done"), "--root", In("runs_root", "runs")]),
    "jets generate": Template(["jets", "generate", "--jets", "1", "--seed", "1", "--out", Out("dir", "jets"), "--json"],  # seed 0: issue 14 item 3
                              bad_values=[(["--process", "zz[/x]"], "--process"), (["--jets", "0"], "--jets"),
                                          (["--max-constituents", "0"], "--max-constituents")]),
    "jets info": Template(["jets", "info", In("jets", "jets")]),
    "qubo build": Template(["qubo", "build", EVENT, "-o", Out("file", "q.json"), "--density", "0.2"],
                           optional={"--doublets": In("doublets", "doublets.csv"), "--bqm": Out("file", "q.bqm")},
                           parts=("hits", "particles", "truth"),
                           bad_values=[(["--density", "0"], "--density"), (["--min-score", "2"], "--min-score"),
                                       (["--set", "noequals"], "--set"), (["--set", "tplet_max_drz=-1[/x]"], "--set"),
                                       (["--set", "bogus=1"], "--set"), (["--set", "tplet_max_drz=NaN"], "--set"),
                                       (["--set", "max_layer_span=99999999999999999999"], "--set")]),
    "qubo solve": Template(["qubo", "solve", In("qubo", "qubo/q.json"), "-o", Out("file", "s.csv"), "--reads", "1"],
                           bad_values=[(["--sampler", "bogus[/x]"], "--sampler"), (["--reads", "0"], "--reads"),
                                       (["--refit-material", "lead"], "--refit-material"),
                                       (["--sampler-option", "noequals"], "--sampler-option")]),
    "qubo score": Template(["qubo", "score", In("qubo", "qubo/q.json"), In("submission", "qubo/s.csv")]),
    "track": Template(["track", EVENT, "--model", In("model", "model"), "--out", Out("dir", "tracks"), "--no-progress",
                       "--no-plots"], parts=("hits", "cells", "particles", "truth"),
                      bad_values=[(["--device", "tpu[/x]"], "--device")]),
    "export-model": Template(["export-model", In("model_run", "model_run"), Out("dir", "bundle")],
                             optional={"--no-cells": In("model_run", "model_run")}),
}
#: Damage to the files of a model folder (a bundle: ``model``; a run folder: ``model_run``), by file.
MODEL_CORRUPTIONS = {
    "model": {"bundle.json": "binary garbage", "edge_classifier.pt": "a byte flipped", "config.yaml": "a list",
              "graph_builder/layer_pair_cuts.csv": "deleted"},
    "model_run": {"run.json": "truncated", "config.yaml": "a list", "edge_classifier.pt": "binary garbage"},
}

#: Values every int and float option must refuse (exit 2, naming the option).
BAD_NUMBERS = ["abc", "nan", "inf", "-inf", "1e999", "-1", ""]
BAD_INTEGERS = ["1.5", str(2**63), str(-(2**63) - 1), str(10**30)]
PLAIN_TYPES = (int, float)


# ------------------------------------------------------------------------------------------ inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Valid inputs of every command, under a folder name with spaces, markup, parentheses, unicode."""
    import gzip

    from gnn4hep.tracking.detector import default_detector_path
    from gnn4hep.tracking.io import read_event

    root = tmp_path_factory.mktemp("harness") / ODD
    root.mkdir(parents=True)
    assert run_cli(["simulate", "--out", root / "sim", "--no-progress", "--seed", "3"]).code == 0
    truth = read_event(root / "sim" / "event000000001", parts=("truth",)).truth
    truth[["hit_id", "particle_id"]].rename(columns={"particle_id": "track_id"}).to_csv(root / "sim" / "truth.csv", index=False)
    (root / "config.yaml").write_text(CONFIG)
    (root / "detectors.csv").write_bytes(gzip.decompress(default_detector_path().read_bytes()))
    (root / "doublets.csv").write_text("hit_id_in,hit_id_out\n1,2\n")
    assert run_cli(["run", root / "config.yaml", "--out", root / "runs" / "done"]).code == 0
    shutil.copytree(root / "runs" / "done", root / "runs" / ".resumable.partial")  # an unfinished run: no stage done
    (root / "runs" / ".resumable.partial" / "state.json").write_text('{"completed": [], "stage_seconds": {}}')
    assert run_cli(["run", "--list-stages", "--resume", root / "runs" / ".resumable.partial"]).code == 0
    (root / "qubo").mkdir(parents=True)
    assert run_cli(["qubo", "build", root / "sim" / "event000000001", "-o", root / "qubo" / "q.json", "--density", "0.2"]).code == 0
    assert run_cli(["qubo", "solve", root / "qubo" / "q.json", "-o", root / "qubo" / "s.csv", "--reads", "1"]).code == 0
    _write_jets(root / "jets")
    _write_model(root)
    (root / "adir").mkdir(parents=True)
    (root / "afile").write_text("a file, not a folder\n")
    return root


def _write_model(root: Path) -> None:
    """A tiny trained tracking run (``model_run``: graph and GNN of the quickstart pipeline fitted on the
    simulated event, one epoch, no refit) and its exported bundle (``model``)."""
    from gnn4hep.runner.run import run_experiment

    repo = Path(__file__).resolve().parents[2]
    run_experiment(repo / "experiments" / "quickstart.yaml", [
        f"data.train_dir={root / 'sim'}", f"data.test_dir={root / 'sim'}", "data.n_train=1", "data.n_test=1",
        "data.val_fraction=0.0", "trainer.max_epochs=1", "model.hidden=8", "model.n_iterations=1",
        "stages=[trackml_build_graphs,trackml_train]"], out=root / "model_run")  # fmt: skip
    assert run_cli(["export-model", root / "model_run", root / "model"]).code == 0


def _write_jets(folder: Path) -> None:
    """A tiny Particle-Transformer-layout jet set (4 jets of 3 constituents), without running Pythia."""
    import numpy as np

    from gnn4hep.jets.io import PART_SUFFIXES

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n, m = 4, 3
    p = rng.normal(size=(n, 3, m)) * 10
    energy = np.linalg.norm(p, axis=1) + 0.1
    arrays = {
        "_pf_vectors.npy": np.concatenate([p, energy[:, None, :]], axis=1).astype(np.float32),
        "_pf_mask.npy": np.ones((n, 1, m), np.float32),
        "_labels.npy": np.array([0, 1, 0, 1], np.int64),
        "_pf_points.npy": rng.normal(size=(n, 2, m)).astype(np.float32),
    }
    for suffix in PART_SUFFIXES:
        if suffix in arrays:
            np.save(folder / f"jets{suffix}", arrays[suffix])


def _build(template: Template, inputs: Path, scratch: Path, replace: dict | None = None, extra=()) -> list:
    """The command line of ``template`` with slots filled: inputs from ``inputs``, outputs in ``scratch``;
    ``replace`` maps a slot to the value to use instead."""
    replace = replace or {}
    argv = []
    for token in list(template.argv) + list(extra):
        if token in replace:
            argv.append(replace[token])
        elif isinstance(token, In):
            argv.append(inputs / token.name)
        elif isinstance(token, Out):
            argv.append(scratch / token.name)
        else:
            argv.append(token)
    return argv


def _check_bad(result, must_name: str, before: set, after: set, case) -> None:
    """The promises for one bad input."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 2, (case, result.code, result.err[-2000:], result.out[-500:])
    assert "Traceback" not in result.err + result.out, (case, result.err[-3000:])
    assert 1 <= len(lines) <= 2, (case, result.err)
    assert must_name in result.err, (case, must_name, result.err)
    assert not result.warnings, (case, result.warnings)
    assert after == before, (case, "new on disk:", sorted(after - before), "gone:", sorted(before - after))


# ------------------------------------------------------------------------------------ case lists


def _number_cases():
    cases = []
    for command, click_command in command_paths().items():
        for name, opts, annotation, is_option in parameters(click_command):
            if not is_option or annotation not in PLAIN_TYPES:
                continue
            values = BAD_NUMBERS + (BAD_INTEGERS if annotation is int else [])
            cases += [pytest.param(command, opts[-1], value, id=f"{command}:{opts[-1]}={value}") for value in values]
    return cases


def _input_cases():
    cases = []
    for command, template in TEMPLATES.items():
        slots = [t for t in template.argv if isinstance(t, In)] + [s for s in template.optional.values() if isinstance(s, In)]
        for slot in dict.fromkeys(slots):
            option = next((o for o, s in template.optional.items() if s == slot), None)
            for problem in _problems(slot, template):
                cases.append(pytest.param(command, option, slot, problem, id=f"{command}:{option or slot.kind}:{problem}"))
    return cases


def _problems(slot: In, template: Template) -> list[str]:
    problems = [] if slot.missing_ok else ["missing"]
    problems += ["a folder" if slot.kind not in ("jets", "run_dir", "runs_root", "data", "partial", "model", "model_run")
                 else "a file"]
    if slot.kind == "event":
        problems += [f"{part}: {name}" for part in template.parts for name in event_corruptions(part)]
    elif slot.kind == "submission":
        problems += list(SUBMISSION_CORRUPTIONS)
    elif slot.kind == "detector":
        problems += list(CSV_CORRUPTIONS) + ["column cx missing", "NaN in cx", "module_id = 2**40"]
    elif slot.kind == "config":
        problems += list(YAML_CORRUPTIONS)
    elif slot.kind == "qubo":
        problems += list(JSON_CORRUPTIONS)
    elif slot.kind == "jets":
        problems += [f"h5: {name}" for name in H5_CORRUPTIONS] + [f"npy: {name}" for name in NPY_CORRUPTIONS]
        problems += ["npz: binary garbage", "empty folder"]
    elif slot.kind == "doublets":
        problems += list(CSV_CORRUPTIONS) + ["column hit_id_out missing", "pt: binary garbage", "parquet: binary garbage"]
    elif slot.kind == "data":
        problems += ["not an event file", "empty folder", "zip: binary garbage"]
    elif slot.kind == "partial":
        problems += [f"{name}: {damage}" for name in ("state.json", "config.yaml") for damage in ("binary garbage", "truncated", "a list")]
    elif slot.kind in MODEL_CORRUPTIONS:
        problems += [f"{name}: {damage}" for name, damage in MODEL_CORRUPTIONS[slot.kind].items()]
    return problems


def _output_cases():
    cases = []
    for command, template in TEMPLATES.items():
        slots = [t for t in template.argv if isinstance(t, Out)] + [s for s in template.optional.values() if isinstance(s, Out)]
        for slot in slots:
            option = next((o for o, s in template.optional.items() if s == slot), None)
            problems = ["parent is a file", "unwritable place", "a file" if slot.kind in ("dir", "run") else "a folder"]
            cases += [pytest.param(command, option, slot, p, id=f"{command}:{option or slot.name}:{p}") for p in problems]
    return cases


def _value_cases():
    return [pytest.param(command, extra, text, id=f"{command}:{' '.join(extra)}")
            for command, template in TEMPLATES.items() for extra, text in template.bad_values]


# ------------------------------------------------------------------------------------------ tests


def test_every_command_has_a_template():
    """A new command without a template (hence without cases) fails here."""
    assert set(command_paths()) == set(TEMPLATES)


def test_every_path_parameter_has_a_slot():
    """Each Path parameter of each command is an In or Out slot of its template."""
    for command, click_command in command_paths().items():
        template = TEMPLATES[command]
        n_slots = sum(isinstance(t, (In, Out)) for t in template.argv) + len(template.optional)
        n_paths = sum(annotation is Path for _, _, annotation, _ in parameters(click_command))
        assert n_slots >= n_paths, (command, n_slots, n_paths)  # runs show: RUN is a name or a path (str)


def test_every_option_in_a_template_exists():
    for command, template in TEMPLATES.items():
        known = {o for _, opts, _, _ in parameters(command_paths()[command]) for o in opts}
        for option in list(template.optional) + [e[0] for e, _ in template.bad_values]:
            assert option in known, (command, option)


@pytest.mark.parametrize("command", sorted(TEMPLATES))
def test_valid_command_line_succeeds(command, inputs, tmp_path):
    """The templates are valid: without a fault each command exits 0 (the bad cases below fail because
    of the one thing changed). Outputs go under a folder name with markup and unicode characters."""
    scratch = tmp_path / ODD
    scratch.mkdir(parents=True)
    result = run_cli(_build(TEMPLATES[command], inputs, scratch), cwd=tmp_path)
    assert result.code == 0, (command, result.err[-3000:])
    assert "Traceback" not in result.err and not result.warnings, (command, result.err, result.warnings)


@pytest.mark.parametrize(("command", "option", "value"), _number_cases())
def test_bad_number(command, option, value, inputs, tmp_path):
    scratch = tmp_path / ODD
    scratch.mkdir(parents=True)
    argv = _build(TEMPLATES[command], inputs, scratch) + [option, value]
    before = snapshot(inputs, tmp_path)
    result = run_cli(argv, cwd=tmp_path)
    _check_bad(result, option, before, snapshot(inputs, tmp_path), (command, option, value))


@pytest.mark.parametrize(("command", "extra", "text"), _value_cases())
def test_bad_value(command, extra, text, inputs, tmp_path):
    scratch = tmp_path / ODD
    scratch.mkdir(parents=True)
    before = snapshot(inputs, tmp_path)
    result = run_cli(_build(TEMPLATES[command], inputs, scratch) + extra, cwd=tmp_path)
    _check_bad(result, text, before, snapshot(inputs, tmp_path), (command, extra))


@pytest.mark.parametrize(("command", "option", "slot", "problem"), _input_cases())
def test_bad_input_file(command, option, slot, problem, inputs, tmp_path):
    template = TEMPLATES[command]
    scratch = tmp_path / ODD
    scratch.mkdir(parents=True)
    bad, must_name = _make_bad_input(slot, problem, inputs, tmp_path / "bad [/x] ü")
    if option is None:
        argv = _build(template, inputs, scratch, replace={slot: bad})
        if command == "runs show" and slot.kind == "runs_root":  # the run is then looked up in the bad root
            argv[2] = "done"
    else:
        argv = _build(template, inputs, scratch) + [option, bad]
        if option == "--resume":  # a resumed run takes no CONFIG
            argv = ["run", option, bad]
    before = snapshot(inputs, tmp_path)
    result = run_cli(argv, cwd=tmp_path)
    if problem in template.not_bad and result.code == 0:
        assert "Traceback" not in result.err and not result.warnings, (command, problem, result.err)
        return
    _check_bad(result, must_name, before, snapshot(inputs, tmp_path), (command, option, slot, problem))


@pytest.mark.parametrize(("command", "option", "slot", "problem"), _output_cases())
def test_bad_output_path(command, option, slot, problem, inputs, tmp_path):
    template = TEMPLATES[command]
    scratch = tmp_path / ODD
    scratch.mkdir(parents=True)
    if problem == "parent is a file":
        (scratch / "blocker").write_text("x")
        bad = scratch / "blocker" / slot.name
    elif problem == "unwritable place":
        bad = _unwritable() / slot.name
    elif problem == "a file":
        bad = scratch / f"{slot.name} [/x]"
        bad.parent.mkdir(parents=True)
        bad.write_text("x")
    else:
        bad = scratch / f"{slot.name} [/x]"
        bad.mkdir(parents=True)
    argv = (_build(template, inputs, scratch, replace={slot: bad}) if option is None
            else _build(template, inputs, scratch) + [option, bad])
    before = snapshot(inputs, tmp_path)
    result = run_cli(argv, cwd=tmp_path)
    _check_bad(result, str(bad), before, snapshot(inputs, tmp_path), (command, option, problem))


def _unwritable() -> Path:
    """A folder nobody (root included) can create files in."""
    for candidate in (Path("/proc/1"), Path("/sys")):
        try:
            probe = candidate / ".gnn4hep-probe"
            probe.write_text("")
            probe.unlink()
        except OSError:
            return candidate
    pytest.skip("no folder refuses new files on this machine")


def _make_bad_input(slot: In, problem: str, inputs: Path, folder: Path) -> tuple[Path, str]:
    """A bad version of ``slot``'s input in ``folder``, and the text the error must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    source = inputs / slot.name
    if problem == "missing":
        missing = folder / "missing [/x] ü" / ("event000000007" if slot.kind in ("event", "data") else source.name)
        return missing, str(missing)
    if problem == "a folder":
        target = folder / "event000000001" if slot.kind == "event" else folder / source.name
        target.mkdir(parents=True)
        return target, str(target)
    if problem == "a file":
        target = folder / "plain file [/x].txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("not what is expected\n")
        return target, str(target)
    copy = copy_input(source, folder)
    if slot.kind == "event":
        part, name = problem.split(": ", 1)
        part_file = next(folder.glob(f"{copy.name}-{part}.csv*"))
        column, edit = event_corruptions(part)[name]
        edit(part_file)
        return copy, (f"{part_file}" + (f", column '{column}'" if column else ""))
    if slot.kind == "submission":
        column, edit = SUBMISSION_CORRUPTIONS[problem]
        edit(copy)
        return copy, (f"{copy}, column '{column}'" if column and problem != "unknown hit_id" else str(copy))
    if slot.kind in ("detector", "doublets"):
        return _bad_table(slot, problem, copy)
    if slot.kind == "config":
        YAML_CORRUPTIONS[problem](copy)
        return copy, str(copy)
    if slot.kind == "qubo":
        JSON_CORRUPTIONS[problem](copy)
        return copy, str(copy)
    if slot.kind == "jets":
        return _bad_jets(problem, copy, folder)
    if slot.kind == "data":
        return _bad_data(problem, folder)
    if slot.kind in MODEL_CORRUPTIONS:
        name, _, damage = problem.partition(": ")
        target = copy / name
        if damage == "deleted":
            target.unlink()
        elif damage == "a byte flipped":
            data = bytearray(target.read_bytes())
            data[len(data) // 2] ^= 0xFF
            target.write_bytes(bytes(data))
        else:
            {"binary garbage": lambda p: p.write_bytes(bytes(range(256))), "truncated": CSV_CORRUPTIONS["truncated"],
             "a list": lambda p: p.write_text("[1, 2]\n")}[damage](target)
        return copy, str(target)
    if slot.kind == "partial":
        name, _, damage = problem.partition(": ")
        target = copy / name
        {"binary garbage": lambda p: p.write_bytes(bytes(range(256))), "truncated": CSV_CORRUPTIONS["truncated"],
         "a list": lambda p: p.write_text("[1, 2]\n")}[damage](target)
        return copy, str(target)
    raise AssertionError(f"no corruption {problem!r} for {slot}")


def _bad_table(slot: In, problem: str, copy: Path) -> tuple[Path, str]:
    from tests.robustness.cli_harness import _drop_column, _rewrite_csv, _set_cell

    if problem in CSV_CORRUPTIONS:
        CSV_CORRUPTIONS[problem](copy)
        return copy, str(copy)
    if problem.startswith(("pt:", "parquet:")):
        target = copy.with_suffix("." + problem.split(":")[0])
        target.write_bytes(bytes(range(256)) * 4)
        return target, str(target)
    edits = {
        "column cx missing": ("cx", _drop_column("cx")),
        "NaN in cx": ("cx", _set_cell("cx", "nan")),
        "module_id = 2**40": ("module_id", _set_cell("module_id", str(2**40))),
        "column hit_id_out missing": ("hit_id_out", _drop_column("hit_id_out")),
    }
    column, edit = edits[problem]
    _rewrite_csv(copy, edit)
    return copy, f"{copy}, column '{column}'" if slot.kind == "detector" else str(copy)


def _bad_jets(problem: str, copy: Path, folder: Path) -> tuple[Path, str]:
    kind, _, name = problem.partition(": ")
    if kind == "h5":
        target = folder / "jets.h5"
        target.write_bytes(b"")
        H5_CORRUPTIONS[name](target)
        return target, str(target)
    if kind == "npy":
        NPY_CORRUPTIONS[name](copy)
        return copy, str(copy)
    if kind == "npz":
        target = folder / "jets.npz"
        target.write_bytes(bytes(range(256)))
        return target, str(target)
    shutil.rmtree(copy)
    copy.mkdir(parents=True)
    return copy, str(copy)


def _bad_data(problem: str, folder: Path) -> tuple[Path, str]:
    if problem == "not an event file":
        target = folder / "notes.txt"
        target.write_text("x\n")
        return target, str(target)
    if problem == "empty folder":
        target = folder / "event000000009"
        target.mkdir(parents=True)
        return target, str(target)
    target = folder / "events.zip"
    target.write_bytes(bytes(range(256)))
    return target, str(target)


# --------------------------------------------------------------------------------- hypothesis


FILE_KINDS = {
    "submission": ("score", SUBMISSION),
    "event hits": ("fit", EVENT),
    "config": ("run", In("config", "config.yaml")),
    "qubo": ("qubo solve", In("qubo", "qubo/q.json")),
    "detector": ("fit", In("detector", "detectors.csv")),
    "jet arrays (npy)": ("jets info", In("jets", "jets")),
    "run state (json)": ("run", In("partial", "runs/.resumable.partial")),
}
#: The file damaged inside a folder input.
INNER_FILE = {"jets": "jets_pf_vectors.npy", "partial": "state.json"}


def _damage(path: Path, cut: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(path.read_bytes())
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    path.write_bytes(bytes(data[: max(0, int(len(data) * cut))]))


def _fuzz_file(kind: str, cut: float, flips, inputs: Path, folder: Path) -> None:
    command, slot = FILE_KINDS[kind]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    scratch = folder / ODD
    scratch.mkdir(parents=True)
    copy = copy_input(inputs / slot.name, folder / "in")
    if slot.kind == "event":
        target = next(copy.parent.glob(copy.name + "-hits.csv*"))
    else:
        target = copy / INNER_FILE[slot.kind] if slot.kind in INNER_FILE else copy
    _damage(target, cut, flips)
    template = TEMPLATES[command]
    if slot.kind == "detector":
        argv = _build(template, inputs, scratch) + ["--detector", copy]
    elif slot.kind == "partial":
        argv = ["run", "--resume", copy]
    else:
        argv = _build(template, inputs, scratch, replace={slot: copy})
    before = snapshot(inputs, folder / "in")
    result = run_cli(argv, cwd=folder)
    assert "Traceback" not in result.err + result.out, (kind, cut, flips, result.err[-3000:])
    assert not result.warnings, (kind, result.warnings)
    if result.code != 0:  # a damaged file may still be valid (a cut at a line end, a flip in a digit)
        _check_bad(result, str(target), before, snapshot(inputs, folder / "in"), (kind, cut, flips))


DAMAGE = dict(
    kind=st.sampled_from(sorted(FILE_KINDS)),
    cut=st.one_of(st.just(1.0), st.floats(0.0, 1.0)),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=3),
)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(**DAMAGE)
def test_damaged_files(kind, cut, flips, inputs, tmp_path_factory):
    _fuzz_file(kind, cut, flips, inputs, tmp_path_factory.mktemp("fuzz"))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(**DAMAGE)
def test_damaged_files_many(kind, cut, flips, inputs, tmp_path_factory):
    _fuzz_file(kind, cut, flips, inputs, tmp_path_factory.mktemp("fuzz"))


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=2**63, max_value=2**200).map(str),
    st.integers(max_value=-1).map(str),
    st.text(alphabet="0123456789.eE+-nanif[]/x ", min_size=0, max_size=8),
)


def _float_in_domain(command: str, option: str, text: str) -> bool:
    """True when ``text`` is a value the option accepts (then the case says nothing)."""
    from gnn4hep.cli.main import app  # noqa: F401 - parsers are attached to the commands

    click_command = command_paths()[command]
    param = next(p for p in click_command.params if option in p.opts)
    parser = parser_of(click_command, param.name)
    try:
        parser(text)
    except Exception:  # noqa: BLE001 - refused: a bad case
        return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_numbers_near_type_limits(data, inputs, tmp_path_factory):
    """Every number option refuses what its parser refuses, as one line naming the option; every option
    has a parser (no bare int/float, which lets nan, inf and int64 overflow through)."""
    options = [(c, opts[-1]) for c, cmd in command_paths().items() for _, opts, a, is_opt in parameters(cmd)
               if is_opt and a in PLAIN_TYPES]
    command, option = data.draw(st.sampled_from(options))
    text = data.draw(NUMBER_TEXT)
    if _float_in_domain(command, option, text):
        return
    folder = tmp_path_factory.mktemp("numbers")
    scratch = folder / ODD
    scratch.mkdir(parents=True)
    before = snapshot(inputs, folder)
    result = run_cli(_build(TEMPLATES[command], inputs, scratch) + [option, text], cwd=folder)
    _check_bad(result, option, before, snapshot(inputs, folder), (command, option, text))


def test_every_number_option_has_a_parser():
    """A bare int/float option lets nan, inf and int64 overflow through: each has a parser of
    gnn4hep.cli.params."""
    for command, click_command in command_paths().items():
        for name, opts, annotation, is_option in parameters(click_command):
            if is_option and annotation in PLAIN_TYPES:
                assert parser_of(click_command, name) is not None, (command, opts)


def test_case_counts_per_command(capsys):
    """Prints the number of generated cases per command (for the issue note) and checks each has some."""
    counts = {command: 0 for command in TEMPLATES}
    for group in (_number_cases(), _input_cases(), _output_cases(), _value_cases()):
        for case in group:
            counts[case.values[0]] += 1
    with capsys.disabled():
        print("\ncases per command:", ", ".join(f"{c} {n}" for c, n in sorted(counts.items())), f"(total {sum(counts.values())})")
    assert all(n >= 1 for n in counts.values()), counts


if os.environ.get("GNN4HEP_HARNESS_LIST"):  # pragma: no cover - for looking at the cases by hand
    for case in _number_cases() + _input_cases() + _output_cases() + _value_cases():
        print(case.id)


# ------------------------------------------------------------------------------ interruptions

WRITERS = [command for command, template in TEMPLATES.items()
           if any(isinstance(t, Out) for t in template.argv) and command != "jets generate"]  # Pythia: slow marker


def _interrupted_run(command: str, inputs: Path, folder: Path, at: int | None, monkeypatch):
    """Run ``command``'s template, raising KeyboardInterrupt at its ``at``-th file rename (the last step
    of every atomic write); ``at=None`` counts the renames of an uninterrupted run."""
    import gnn4hep.utils.atomic as atomic

    scratch = folder / ODD
    scratch.mkdir(parents=True)
    real_replace, calls = atomic.os.replace, []

    def replace(src, dst, *args, **kwargs):
        calls.append(dst)
        if at is not None and len(calls) == at:
            raise KeyboardInterrupt
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "replace", replace)
    result = run_cli(_build(TEMPLATES[command], inputs, scratch), cwd=folder)
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    return result, calls, scratch


def _check_interrupted(command, at, result, reference: Path, scratch: Path):
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 130 and lines[-1] == "error: interrupted", (command, at, result.code, result.err[-2000:])
    assert "Traceback" not in result.err + result.out, (command, at, result.err[-2000:])
    leftovers = [p for p in scratch.parent.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".gnn4hep-write-test")]
    assert not leftovers, (command, at, leftovers)
    for path in scratch.rglob("*"):  # every file written before the interruption is whole
        twin = reference / path.relative_to(scratch)
        if path.is_file() and path.suffix in (".csv", ".gz", ".npy") and twin.is_file():
            assert path.read_bytes() == twin.read_bytes(), (command, at, path)


@pytest.mark.parametrize("command", WRITERS)
def test_interrupted_at_first_and_last_write(command, inputs, tmp_path, monkeypatch):
    """Ctrl-C while a command writes its outputs: exit 130, one line, no traceback, no temporary file,
    and each output already there is complete (byte-identical to the uninterrupted run's)."""
    _, calls, reference = _interrupted_run(command, inputs, tmp_path / "reference", None, monkeypatch)
    assert calls, command
    for at in sorted({1, len(calls)}):
        result, _, scratch = _interrupted_run(command, inputs, tmp_path / f"at{at}", at, monkeypatch)
        _check_interrupted(command, at, result, reference, scratch)


@pytest.mark.slow
@pytest.mark.parametrize("command", WRITERS + ["jets generate"])
def test_interrupted_at_every_write(command, inputs, tmp_path, monkeypatch):
    _, calls, reference = _interrupted_run(command, inputs, tmp_path / "reference", None, monkeypatch)
    for at in range(1, len(calls) + 1):
        result, _, scratch = _interrupted_run(command, inputs, tmp_path / f"at{at}", at, monkeypatch)
        _check_interrupted(command, at, result, reference, scratch)
