"""``trainer.num_threads: auto`` uses the cores that are there (OMP_NUM_THREADS first, when set)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gnn4hep.errors import ConfigError
from gnn4hep.runner.run import resolve_config
from gnn4hep.training.trainer import TrainerConfig, cpu_threads, make_trainer

JETS_QG = Path(__file__).resolve().parents[2] / "experiments" / "jets_qg.yaml"


def test_auto_is_omp_num_threads_when_set_else_the_usable_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads("auto") == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_threads("auto") == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert cpu_threads("auto") == len(os.sched_getaffinity(0))
    assert cpu_threads(5) == 5 and cpu_threads(None) is None


def test_make_trainer_sets_torch_threads(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        make_trainer(TrainerConfig(num_threads="auto", progress_bar=False), tmp_path)
        assert torch.get_num_threads() == 2
        make_trainer(TrainerConfig(num_threads=1, progress_bar=False), tmp_path)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", ["0", "-2", "all"])
def test_bad_thread_counts_name_the_key(bad):
    with pytest.raises(ConfigError, match="trainer.num_threads"):
        resolve_config(JETS_QG, [f"trainer.num_threads={bad}"])


def test_jet_generation_workers_accept_auto():
    from gnn4hep.jets.stages import JetDataConfig

    assert JetDataConfig(workers="auto").workers == "auto"
    with pytest.raises(ConfigError, match="data.workers"):
        resolve_config(JETS_QG, ["data.workers=0"])
