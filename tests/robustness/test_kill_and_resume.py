"""A run killed with SIGKILL in the middle of training leaves only its ``.<name>.partial`` staging
folder, every file in it complete; ``gnn4hep run --resume`` finishes it with the metrics of an
uninterrupted run of the same config."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from gnn4hep.runner.history import read_run
from gnn4hep.runner.run import staging_dir_for

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "experiments" / "trackml_demo.yaml"
TINY = ["data.n_train=4", "data.n_test=1", "trainer.max_epochs=3", "trainer.num_threads=1"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _command(*args, tiny: bool = True) -> list[str]:
    overrides = [item for override in TINY for item in ("-o", override)] if tiny else []
    return [sys.executable, "-m", "gnn4hep.cli.main", *map(str, args), *overrides]


def _check_complete(folder: Path) -> int:
    """Parse every file of ``folder``; only atomic-write temporaries (.<name>.<random>.tmp) may be partial."""
    checked = 0
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.name.endswith(".tmp"):
            assert path.name.startswith("."), path
            continue
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text())
        elif path.suffix in (".pt", ".ckpt"):
            torch.load(path, weights_only=True)
        elif path.suffix == ".gz":
            with gzip.open(path) as handle:
                handle.read()
        elif path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".csv":
            pd.read_csv(path)
        else:
            continue
        checked += 1
    return checked


def _metrics_without_timings(folder: Path) -> dict:
    def strip(values: dict) -> dict:
        return {k: strip(v) if isinstance(v, dict) else v for k, v in values.items()
                if "seconds" not in k and not k.startswith("time")}  # fmt: skip

    return strip(json.loads((folder / "metrics.json").read_text()))


def test_sigkill_mid_training_then_resume(tmp_path):
    reference = subprocess.run(_command("run", CONFIG, "--out", tmp_path / "reference"), env=ENV,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    assert reference.returncode == 0, reference.stderr[-2000:]

    final = tmp_path / "killed"
    staging = staging_dir_for(final)
    process = subprocess.Popen(_command("run", CONFIG, "--out", final), env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:  # kill once training has written a checkpoint
            state = staging / "state.json"
            done = json.loads(state.read_text())["completed"] if state.exists() else []
            if "trackml_build_graphs" in done and any((staging / "checkpoints").rglob("*.ckpt")):
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    assert not final.exists() and staging.is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.name not in ("reference",)] == [staging.name]
    assert json.loads((staging / "state.json").read_text())["completed"] == ["trackml_simulate", "trackml_build_graphs"]
    assert _check_complete(staging) > 5
    assert read_run(staging).status == "partial"

    resumed = subprocess.run(_command("run", "--resume", staging, tiny=False), env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert final.is_dir() and not staging.exists() and not (final / "state.json").exists()
    log = (final / "log.txt").read_text()
    assert "trackml_simulate: already done, skipped" in log and "trackml_build_graphs: already done, skipped" in log
    _check_complete(final)
    assert _metrics_without_timings(final) == _metrics_without_timings(tmp_path / "reference")
    assert read_run(final).status == "finished"
    assert 0 < json.loads((final / "metrics.json").read_text())["trackml_score"] <= 1
