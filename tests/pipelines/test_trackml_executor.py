"""Per-event work through the ``executor:`` section: the quickstart pipeline (simulation, graphs,
inference, track building, Kalman refit, scoring) gives the same events, per-event files and
metrics serially, in two local processes and on a local two-worker Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gnn4hep.runner.run import run_experiment
from tests.test_experiments import EXPERIMENTS, TRACKML_GNN_TINY

#: two test events, so every per-event stage has more than one item to share out
TINY = [*TRACKML_GNN_TINY, "data.n_test=2"]
#: per-event outputs compared byte for byte
PER_EVENT = ("data/train/*.csv.gz", "data/test/*.csv.gz", "submissions/test/*.csv", "refitted/test/*.csv",
             "track_params/test/*.parquet", "edge_scores/test/*.parquet")
TIMING_KEYS = {"time_per_event", "seconds", "fit_seconds"}


def _without_timing(node):
    if isinstance(node, dict):
        return {key: _without_timing(value) for key, value in node.items() if key not in TIMING_KEYS}
    return node


def _run(out: Path, *overrides: str) -> Path:
    return run_experiment(EXPERIMENTS / "quickstart.yaml", [*TINY, *overrides], out=out)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("serial") / "run", "executor.kind=serial")


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_parallel_run_matches_serial(kind, serial_run, tmp_path):
    if kind == "dask":
        pytest.importorskip("dask.distributed", reason="dask is an optional extra (pip install 'gnn4hep[dask]')")
    run = _run(tmp_path / "run", f"executor.kind={kind}", "executor.workers=2")
    reference = json.loads((serial_run / "metrics.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert reference["n_events"]["test"] == 2 and "refit" in reference and "time_per_event" in metrics
    assert _without_timing(metrics) == _without_timing(reference)
    for pattern in PER_EVENT:
        files = sorted(serial_run.glob(pattern))
        assert files and [f.name for f in files] == [f.name for f in sorted(run.glob(pattern))], pattern
        for file in files:
            assert (run / file.relative_to(serial_run)).read_bytes() == file.read_bytes(), file
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["executor"] == {"kind": kind, "workers": 2, "scheduler_address": None}


def test_data_workers_still_sets_simulation_processes(tmp_path):
    """Older configs give data.workers (simulation processes) and no executor section: simulation
    keeps its processes, the other stages stay serial."""
    from types import SimpleNamespace

    from gnn4hep.executor import ExecutorConfig, ProcessExecutor
    from gnn4hep.pipelines.trackml_config import TrackmlDataConfig
    from gnn4hep.pipelines.trackml_gnn import executor

    ctx = SimpleNamespace(config=SimpleNamespace(data=TrackmlDataConfig(workers=3), executor=ExecutorConfig()))
    simulation, other = executor(ctx, simulation=True), executor(ctx)
    assert isinstance(simulation, ProcessExecutor) and simulation.workers == 3
    assert isinstance(other, ProcessExecutor) and other.workers == 1
    ctx.config.executor = ExecutorConfig(kind="dask", workers=2)
    assert type(executor(ctx, simulation=True)).__name__ == "DaskExecutor"
