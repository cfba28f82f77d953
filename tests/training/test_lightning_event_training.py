"""Object condensation and metric learning through Lightning: the loss falls on toy events, the same
seed gives the same weights (another seed does not), and a training interrupted after two epochs and
continued from its ``last.ckpt`` ends with the uninterrupted run's weights."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch_geometric.data import Data

from gnn4hep.errors import InputFileError
from gnn4hep.graphs.features import hit_table
from gnn4hep.graphs.metric_learning import embedding_event
from gnn4hep.models.condensation_net import CondensationNet
from gnn4hep.models.embedding_mlp import EmbeddingMLP
from gnn4hep.training.condensation import fit_condensation
from gnn4hep.training.contrastive import fit_embedding
from gnn4hep.training.sampling import EpochShuffle, derived_seed
from gnn4hep.training.trainer import TrainerConfig, last_checkpoint, make_trainer
from tests.graphs.trackml_toy import trackml_toy_event

EPOCHS = 5
TRAINER = TrainerConfig(max_epochs=EPOCHS, learning_rate=3e-3, progress_bar=False, accelerator="cpu", num_threads=1)


class Interrupt(RuntimeError):
    pass


class StopAtEpoch(L.Callback):
    """Raises when epoch ``epoch`` (0-based) starts: epochs 0..epoch-1 finished and checkpointed."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch:
            raise Interrupt(f"stopped at epoch {self.epoch}")


def _condensation_graphs() -> list[Data]:
    generator = torch.Generator().manual_seed(0)
    graphs = []
    for _ in range(3):
        pid = torch.repeat_interleave(torch.arange(1, 7), 10)
        x = torch.randn(len(pid), 4, generator=generator) + pid[:, None].float()
        edges = torch.stack([torch.arange(len(pid) - 1), torch.arange(1, len(pid))])
        graphs.append(Data(x=x, edge_index=edges, particle_id=pid, pt=torch.full((len(pid),), 2.0)))
    return graphs


def _condensation(run_dir, seed=0, callbacks=None):
    torch.manual_seed(seed)
    model = CondensationNet(in_features=4, hidden=16, cluster_dim=3, n_layers=2)
    history = fit_condensation(model, _condensation_graphs(), TRAINER, run_dir, seed=seed, callbacks=callbacks)
    return model, history


def _embedding_events():
    return [embedding_event(hit_table(trackml_toy_event(n_particles=40, seed=s))) for s in range(2)]


def _embedding(run_dir, seed=0, callbacks=None):
    torch.manual_seed(seed)
    model = EmbeddingMLP(in_features=5, hidden=16, embedding_dim=3, n_layers=3)
    history = fit_embedding(model, _embedding_events(), TRAINER, run_dir, seed=seed, margin=0.1, n_random=2000, k_hard=4,
                            n_hard_hits=200, callbacks=callbacks)
    return model, history


FITS = {"condensation": _condensation, "embedding": _embedding}
NAMES = {"condensation": "condensation_net", "embedding": "embedding"}  # checkpoints/<name>/


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module", params=sorted(FITS))
def reference(request, tmp_path_factory):
    """(kind, model, loss history, run folder) of one uninterrupted seed-0 run per kind."""
    run_dir = tmp_path_factory.mktemp(request.param)
    model, history = FITS[request.param](run_dir)
    return request.param, model, history, run_dir


def test_loss_falls_and_checkpoints_are_written(reference, tmp_path):
    kind, model, history, run_dir = reference
    assert len(history) == EPOCHS and history[-1] < history[0]
    assert not model.training  # handed back in eval mode
    folder = run_dir / "checkpoints" / NAMES[kind]
    assert {p.name for p in folder.iterdir()} == {"best.ckpt", "last.ckpt"}
    last = torch.load(folder / "last.ckpt", weights_only=True)
    assert last["epoch"] == EPOCHS - 1 and last["optimizer_states"] and last["loss_history"] == history


def test_same_seed_same_weights_other_seed_differs(reference, tmp_path):
    kind, model, _, _ = reference
    again, _ = FITS[kind](tmp_path / "again", seed=0)
    assert _same(model, again)
    other, _ = FITS[kind](tmp_path / "other", seed=1)
    assert not _same(model, other)


def test_resume_from_mid_training_checkpoint_gives_the_same_weights(reference, tmp_path):
    kind, model, history, _ = reference
    with pytest.raises(Interrupt):
        FITS[kind](tmp_path, callbacks=[StopAtEpoch(2)])
    checkpoint = last_checkpoint(tmp_path, NAMES[kind])
    assert checkpoint is not None and torch.load(checkpoint, weights_only=True)["epoch"] == 1  # two epochs done
    with pytest.raises(InputFileError, match="last.ckpt: a checkpoint of another training"):
        FITS[kind](tmp_path, seed=5)  # never continues a checkpoint of other settings
    resumed, resumed_history = FITS[kind](tmp_path)
    assert _same(model, resumed)
    assert resumed_history == history  # the first two epochs come from the checkpoint


def test_epoch_order_depends_on_seed_and_epoch_only():
    sampler = EpochShuffle(50, seed=3)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(first) == list(range(50)) and first != second
    sampler.set_epoch(0)
    assert list(sampler) == first == list(EpochShuffle(50, seed=3))
    assert derived_seed(1, 2, 3) != derived_seed(1, 3, 2) and 0 <= derived_seed(-1, 0) < 2**63


def test_gpu_settings_fall_back_to_cpu(tmp_path):
    trainer, _ = make_trainer(TrainerConfig(accelerator="gpu", precision="16-mixed", progress_bar=False), tmp_path)
    if torch.cuda.is_available():
        assert trainer.accelerator.__class__.__name__ == "CUDAAccelerator"
    else:
        assert trainer.accelerator.__class__.__name__ == "CPUAccelerator" and trainer.precision == "32-true"
