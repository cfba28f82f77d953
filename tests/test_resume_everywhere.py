"""Every experiment config resumes after a kill at every stage boundary, to the run it would have been.

For each config of experiments/ (on the tiny overrides of tests/test_experiments.py), the run is killed
as the second stage starts, resumed and killed as the third starts, and so on until a last resume
finishes it: a chain of n runs for n stages, in which every stage runs in a fresh run context after
the one before it was killed, so a stage can only see what earlier stages left on disk (the stage
contracts of docs/architecture.md). The kill is a ``BaseException`` raised where the next stage
would start, after the runner recorded the previous one in ``state.json`` - what a SIGKILL between
stages leaves (tests/robustness/test_kill_and_resume.py kills a real process in mid-training).

The finished chain must equal the uninterrupted reference run of tests/test_experiments.py (the same
run folder, shared): the same metrics except timings, the same files, byte-identical data products
(events, graphs, edge scores, track candidates, jets, QUBOs, test scores), the same plots listed in
summary.md, and a log that shows each completed stage skipped on resume.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from gnn4hep.runner import registry
from gnn4hep.runner.run import run_experiment, staging_dir_for
from tests.test_experiments import CASES, EXPERIMENTS, assert_trusted_run_folder, reference_run

#: Files whose bytes must not depend on where the run was interrupted (the data handed between stages
#: and the final predictions); logs, plots, checkpoints and provenance carry times and are checked otherwise.
DATA_SUFFIXES = (".csv", ".parquet", ".npy", ".npz", ".gz", ".pt")
#: Files that legitimately differ: provenance and timings, logs, Lightning checkpoints and logs (they hold
#: times), and plots (their titles may show timings).
VOLATILE = ("run.json", "log.txt", "summary.md", "metrics.json", "state.json")


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so no stage or runner code can swallow it."""


def _kill_at(monkeypatch: pytest.MonkeyPatch, stage_name: str | None) -> None:
    """Make the runner die as stage ``stage_name`` starts (None: let the run finish)."""

    def get_stage(name: str) -> registry.Stage:
        found = registry.get_stage(name)
        if name != stage_name:
            return found

        def die(ctx) -> None:
            raise Killed(f"killed before {name}")

        return dataclasses.replace(found, func=die)

    monkeypatch.setattr("gnn4hep.runner.run.get_stage", get_stage)


def _without_timings(values):
    if isinstance(values, dict):
        return {key: _without_timings(value) for key, value in values.items()
                if not any(word in key for word in ("seconds", "per_s", "time", "_ms"))}  # fmt: skip
    return values


def _files(run: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file of a run folder but logs and provenance."""
    out = {}
    for path in sorted(run.rglob("*")):
        if path.is_file() and path.name not in VOLATILE:
            out[path.relative_to(run).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _plots_listed(run: Path) -> list[str]:
    summary = (run / "summary.md").read_text()
    return [line for line in summary.splitlines() if line.startswith("![")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_killed_after_every_stage_and_resumed_gives_the_same_run(name, tmp_path, tmp_path_factory, monkeypatch):
    reference, overrides = reference_run(name, tmp_path_factory)
    stages = yaml.safe_load((EXPERIMENTS / f"{name}.yaml").read_text())["stages"]
    final = tmp_path / "run"
    staging = staging_dir_for(final)
    for index in range(1, len(stages) + 1):  # run (or resume) until stage ``index`` would start
        kill = stages[index] if index < len(stages) else None
        _kill_at(monkeypatch, kill)
        if kill is None:
            finished = run_experiment(resume=staging) if index > 1 else run_experiment(
                EXPERIMENTS / f"{name}.yaml", overrides, out=final)
            assert finished == final
            break
        with pytest.raises(Killed):
            if index == 1:
                run_experiment(EXPERIMENTS / f"{name}.yaml", overrides, out=final)
            else:
                run_experiment(resume=staging)
        assert not final.exists() and staging.is_dir()
        assert json.loads((staging / "state.json").read_text())["completed"] == stages[:index]

    assert not staging.exists()
    assert_trusted_run_folder(final, EXPERIMENTS / f"{name}.yaml", CASES[name])
    log = (final / "log.txt").read_text()
    for stage_name in stages[:-1]:  # the last resume skipped every stage but the last
        assert f"{stage_name}: already done, skipped" in log
    assert log.count("continue it with --resume") == len(stages) - 1

    metrics = json.loads((final / "metrics.json").read_text())
    assert _without_timings(metrics) == _without_timings(json.loads((reference / "metrics.json").read_text()))
    assert _plots_listed(final) == _plots_listed(reference)
    ours, theirs = _files(final), _files(reference)
    assert sorted(ours) == sorted(theirs)
    data = [path for path in ours if path.endswith(DATA_SUFFIXES)]
    assert {p: ours[p] for p in data} == {p: theirs[p] for p in data}
    info = json.loads((final / "run.json").read_text())
    assert len(info.get("resumed", [])) == len(stages) - 1 and set(info["stage_seconds"]) == set(stages)


#: Runs a config (or resumes a staging folder) in a fresh interpreter and SIGKILLs itself as stage
#: argv[1] starts: a real kill of a real process, between two stages.
_KILLER = """
import dataclasses, os, signal, sys
from gnn4hep.runner import registry, run

def get_stage(name):
    found = registry.get_stage(name)
    if name != sys.argv[1]:
        return found
    return dataclasses.replace(found, func=lambda ctx: os.kill(os.getpid(), signal.SIGKILL))

run.get_stage = get_stage
run.run_experiment(sys.argv[2], sys.argv[4:], out=sys.argv[3])
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_sigkill_at_each_stage_then_cli_resume(name, tmp_path, tmp_path_factory):
    """The exhaustive version: for every stage boundary k, a fresh process is SIGKILLed as stage k+1
    starts, and ``gnn4hep run --resume`` (another fresh process) finishes the run."""
    import os
    import signal
    import subprocess
    import sys

    reference, overrides = reference_run(name, tmp_path_factory)
    stages = yaml.safe_load((EXPERIMENTS / f"{name}.yaml").read_text())["stages"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for index in range(1, len(stages)):
        final = tmp_path / f"killed_before_{stages[index]}"
        killed = subprocess.run([sys.executable, "-c", _KILLER, stages[index], str(EXPERIMENTS / f"{name}.yaml"),
                                 str(final), *overrides], env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        staging = staging_dir_for(final)
        assert json.loads((staging / "state.json").read_text())["completed"] == stages[:index]
        resumed = subprocess.run([sys.executable, "-m", "gnn4hep.cli.main", "run", "--resume", str(staging)], env=env,
                                 capture_output=True, text=True, timeout=600)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert _without_timings(json.loads((final / "metrics.json").read_text())) == _without_timings(
            json.loads((reference / "metrics.json").read_text()))
        ours, theirs = _files(final), _files(reference)
        assert sorted(ours) == sorted(theirs)
        assert {p: h for p, h in ours.items() if p.endswith(DATA_SUFFIXES)} == {
            p: h for p, h in theirs.items() if p.endswith(DATA_SUFFIXES)}
