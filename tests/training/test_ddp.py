"""Lightning DDP on CPU: two processes (gloo) train the edge classifier through the project's code path.

``trainer.devices: 2`` on CPU makes :func:`gnn4hep.training.trainer.make_trainer` use DDP with the gloo
backend (processes started with spawn). Checked: two ranks ran in one process group of size 2, each
on half of the training graphs; both ranks ended with the same weights (gradients were averaged);
the class weight is counted over the whole training set, not one rank's share; the checkpoint is
written and the model handed back to the caller is the trained one; the loss fell and the edge AUC
rose.
"""

from __future__ import annotations

import hashlib
import json
import resource
import time

import lightning as L
import pandas as pd
import pytest
import torch

from gnn4hep.training import trainer as trainer_module
from gnn4hep.training.edge_classifier import count_pos_weight, predict_edge_scores
from gnn4hep.training.edge_metrics import edge_metrics
from gnn4hep.training.edge_training import EdgeModelConfig, EdgeTrainingConfig, build_edge_model, fit_edge_classifier, load_edge_model
from gnn4hep.training.trainer import TrainerConfig
from tests.training.test_edge_classifier import _graphs

N_TRAIN, BATCH, EPOCHS = 16, 2, 4


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished children (the spawned ranks)."""
    return time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime


class RankProbe(L.Callback):
    """Writes, in each process at the end of training: rank, world size, graphs seen, weight digest."""

    def __init__(self, folder):
        self.folder = folder
        self.graphs_seen = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.graphs_seen += int(batch.num_graphs)

    def on_train_end(self, trainer, pl_module):
        digest = hashlib.sha256(b"".join(p.detach().cpu().numpy().tobytes() for p in pl_module.parameters())).hexdigest()
        record = {
            "global_rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
            "graphs_seen": self.graphs_seen,
            "pos_weight": float(pl_module.pos_weight),
            "digest": digest,
        }
        (self.folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


def test_two_process_ddp_trains_the_edge_classifier(tmp_path, monkeypatch):
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    make_trainer = trainer_module.make_trainer

    def make_probed_trainer(config, run_dir, name="model"):
        trainer, checkpoint = make_trainer(config, run_dir, name)
        trainer.callbacks.append(RankProbe(probe_dir))
        return trainer, checkpoint

    monkeypatch.setattr(trainer_module, "make_trainer", make_probed_trainer)
    torch.manual_seed(0)
    config = EdgeModelConfig(hidden=16, n_iterations=2)
    model = build_edge_model(config, node_features=3, edge_features=4)
    train, val = _graphs(range(N_TRAIN)), _graphs(range(100, 104))
    val_y = torch.cat([g.y for g in val])
    before = edge_metrics(torch.cat(predict_edge_scores(model, val)), val_y)["edge_auc"]
    trainer_config = TrainerConfig(max_epochs=EPOCHS, learning_rate=5e-3, batch_size=BATCH, accelerator="cpu",
                                   devices=2, progress_bar=False, num_threads=1)  # fmt: skip
    start_wall, start_cpu = time.perf_counter(), _cpu_seconds()
    model, path = fit_edge_classifier(model, train, val, trainer_config, EdgeTrainingConfig(scheduler="none"),
                                      tmp_path, "edge", config)  # fmt: skip
    wall, cpu = time.perf_counter() - start_wall, _cpu_seconds() - start_cpu

    ranks = [json.loads((probe_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["global_rank"] for r in ranks] == [0, 1]
    assert {r["world_size"] for r in ranks} == {2} and {r["backend"] for r in ranks} == {"gloo"}
    assert [r["graphs_seen"] for r in ranks] == [EPOCHS * N_TRAIN // 2] * 2  # each rank: half the graphs
    assert ranks[0]["digest"] == ranks[1]["digest"]  # averaged gradients keep the replicas identical
    full_weight = count_pos_weight(train)
    assert ranks[0]["pos_weight"] == pytest.approx(full_weight, rel=1e-6) == ranks[1]["pos_weight"]

    best, last = tmp_path / "checkpoints" / "edge" / "best.ckpt", tmp_path / "checkpoints" / "edge" / "last.ckpt"
    assert best.is_file() and last.is_file()
    assert torch.load(last, weights_only=True)["global_step"] == EPOCHS * N_TRAIN // 2 // BATCH
    payload = torch.load(path, weights_only=True)
    assert payload["pos_weight"] == pytest.approx(full_weight, rel=1e-6)
    best_state = torch.load(best, weights_only=True)["state_dict"]
    for key, value in payload["state_dict"].items():
        assert torch.equal(best_state[f"model.{key}"], value), key
    scores = torch.cat(predict_edge_scores(model, val))
    assert torch.allclose(torch.cat(predict_edge_scores(load_edge_model(path), val)), scores, atol=1e-6)

    log = pd.read_csv(tmp_path / "logs" / "edge" / "metrics.csv")
    losses = log.dropna(subset=["train_loss"]).groupby("epoch")["train_loss"].mean()
    assert list(losses.index) == list(range(EPOCHS)) and losses.iloc[-1] < losses.iloc[0]
    after = edge_metrics(scores, val_y)["edge_auc"]
    assert after > max(before, 0.8)
    print(f"\nDDP 2 x CPU (gloo): {wall:.1f} s wall, {cpu:.1f} s CPU (parent + both ranks); train_loss per epoch "
          f"{[round(v, 4) for v in losses]}; val edge AUC {before:.3f} -> {after:.3f}; "
          f"pos_weight {full_weight:.3f} on both ranks; global_step {EPOCHS * N_TRAIN // 2 // BATCH}")


@pytest.mark.parametrize("strategy", ["auto", "ddp", "ddp_spawn"])
def test_processes_started_by_gnn4hep_are_spawned(tmp_path, monkeypatch, strategy):
    """Lightning's 'ddp' would re-run the command line per process (for `gnn4hep run`: the whole
    experiment, which then stops on the run folder the first process made); gnn4hep spawns them."""
    for name in ("LOCAL_RANK", "TORCHELASTIC_RUN_ID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    config = TrainerConfig(accelerator="cpu", devices=2, strategy=strategy, progress_bar=False)
    trainer, _ = trainer_module.make_trainer(config, tmp_path)
    assert type(trainer.strategy).__name__ == "DDPStrategy"
    assert trainer.strategy._start_method == "spawn" and trainer.strategy._process_group_backend == "gloo"
    assert trainer.world_size == 2


def test_several_nodes_need_an_external_launcher(tmp_path, monkeypatch):
    from gnn4hep.errors import ConfigError

    for name in ("LOCAL_RANK", "TORCHELASTIC_RUN_ID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="trainer.num_nodes=2"):
        trainer_module.make_trainer(TrainerConfig(accelerator="cpu", num_nodes=2), tmp_path)
    monkeypatch.setenv("LOCAL_RANK", "0")  # as torchrun sets it in each process it starts
    trainer, _ = trainer_module.make_trainer(TrainerConfig(accelerator="cpu", devices=2, num_nodes=2), tmp_path)
    assert trainer.strategy._start_method == "popen" and trainer.num_nodes == 2
