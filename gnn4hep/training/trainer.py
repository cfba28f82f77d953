"""One place that turns the ``trainer:`` config section into a ``lightning.Trainer``.

CPU by default; a GPU when one is present and ``accelerator: auto``; DDP across ``devices`` and
``num_nodes`` (gloo on CPU, nccl on GPU; processes spawned on one machine, or started by
torchrun/srun across machines). Checkpoints (best and last) and a CSV log of the losses
go into the run folder; early stopping is optional.

:func:`fit_resumable` is the fit of trainings that must survive an interruption (object
condensation, metric learning): full checkpoints (weights, optimizer, scheduler, loop state) in
``<run_dir>/checkpoints/<name>/``, and a later call in the same folder continues from ``last.ckpt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import ConfigError, InputFileError
from gnn4hep.utils.cpus import CoreCount


class TrainerConfig(Section):
    """The ``trainer:`` section of experiment configs."""

    max_epochs: int = Field(10, ge=1, description="training epochs")
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    devices: int = Field(1, ge=1, description="processes/GPUs per node; >1 uses DDP")
    num_nodes: int = Field(1, ge=1, description="machines for DDP")
    strategy: Literal["auto", "ddp", "ddp_spawn"] = Field(
        "auto", description="auto: DDP when devices or num_nodes > 1; ddp and ddp_spawn both spawn the processes gnn4hep starts"
    )
    precision: Literal["32", "16-mixed", "bf16-mixed"] = "32"
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(32, ge=1)
    early_stopping_patience: Optional[int] = Field(None, ge=1, description="epochs without improvement")
    monitor: str = "val_loss"
    gradient_clip: Optional[float] = Field(None, gt=0)
    limit_train_batches: Optional[Union[int, float]] = Field(
        None, gt=0, description="an integer: number of batches per epoch; a float: fraction of them (1.0: all)")
    progress_bar: bool = True
    num_threads: Optional[CoreCount] = Field(
        None, description="torch CPU threads: a number >= 1; 'auto': every core this process may use "
        "(OMP_NUM_THREADS when set); null: torch's default")


def cpu_threads(num_threads: int | str | None) -> int | None:
    """Threads for ``torch.set_num_threads``: ``'auto'`` is :func:`gnn4hep.utils.cpus.usable_cpus`
    (OMP_NUM_THREADS when set, else the cores this process may use); None leaves torch's."""
    from gnn4hep.utils.cpus import resolve_count

    return resolve_count(num_threads)


def make_trainer(config: TrainerConfig, run_dir: str | Path, name: str = "model", resumable: bool = False, callbacks: list | None = None):
    """Build a ``lightning.Trainer`` writing checkpoints and CSV logs under ``run_dir``.

    Args:
        resumable: full checkpoints (optimizer, scheduler and loop state too) that ``trainer.fit(...,
            ckpt_path=...)`` can continue from; else weights only.
        callbacks: more Lightning callbacks.

    On a machine without CUDA, ``accelerator: gpu`` runs on the CPU and ``precision: 16-mixed``
    (no fp16 autocast on CPUs) in float32.

    Checkpoints: ``<run_dir>/checkpoints/<name>/best.ckpt`` (lowest ``config.monitor``) and
    ``last.ckpt`` (written at the end of every epoch).

    Returns:
        (trainer, the best checkpoint's callback)
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    threads = cpu_threads(config.num_threads)
    if threads:
        torch.set_num_threads(threads)
    run_dir = Path(run_dir)
    folder = run_dir / "checkpoints" / name
    checkpoint = ModelCheckpoint(dirpath=folder, filename="best", monitor=config.monitor, mode="min",
                                 save_weights_only=not resumable, enable_version_counter=False)
    # last.ckpt at the end of every epoch (ModelCheckpoint's own save_last writes it only in the
    # epochs that improved best.ckpt); after the best one, so that it holds the best one's state
    every_epoch = ModelCheckpoint(dirpath=folder, filename="last", monitor=None, save_top_k=1,
                                  save_weights_only=not resumable, enable_version_counter=False)
    callbacks = [checkpoint, every_epoch] + list(callbacks or [])
    if config.early_stopping_patience:
        callbacks.append(EarlyStopping(monitor=config.monitor, patience=config.early_stopping_patience, mode="min"))
    accelerator = config.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    elif accelerator == "gpu" and not torch.cuda.is_available():
        accelerator = "cpu"
    precision = config.precision
    if accelerator == "cpu" and precision == "16-mixed":
        precision = "32"
    strategy = _strategy(config, accelerator)
    trainer = L.Trainer(
        max_epochs=config.max_epochs,
        accelerator=accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=strategy,
        precision=precision,
        callbacks=callbacks,
        logger=CSVLogger(run_dir / "logs", name=name, version=""),
        default_root_dir=run_dir,
        enable_progress_bar=config.progress_bar,
        enable_model_summary=False,
        gradient_clip_val=config.gradient_clip,
        limit_train_batches=config.limit_train_batches,
        log_every_n_steps=1,
        deterministic="warn",  # same seed, same weights on CPU; GPU ops without a deterministic kernel only warn
    )
    return trainer, checkpoint


def last_checkpoint(run_dir: str | Path, name: str) -> Path | None:
    """``<run_dir>/checkpoints/<name>/last.ckpt`` when an earlier (interrupted) fit left it, else None."""
    path = Path(run_dir) / "checkpoints" / name / "last.ckpt"
    return path if path.is_file() else None


def fit_resumable(module, train_loader, config: TrainerConfig, run_dir: str | Path, name: str, callbacks: list | None = None):
    """``trainer.fit`` with full checkpoints, continuing from :func:`last_checkpoint` when there is one.

    The checkpoint is saved at the end of every epoch, so an interrupted training loses at most the
    epoch it was in. Continuing gives the uninterrupted run's weights when every random draw of a
    step is a function of (seed, epoch, event) (:mod:`gnn4hep.training.sampling`). A checkpoint of a
    finished training leaves the weights as they are. A ``last.ckpt`` written with other module
    hyperparameters (another loss, learning rate or seed) is an error naming the file, never
    silently continued. Returns the checkpoint callback.
    """
    import torch

    last = last_checkpoint(run_dir, name)
    if last is not None:
        saved = torch.load(last, map_location="cpu", weights_only=True).get("hyper_parameters", {})
        wanted = dict(module.hparams)
        if saved != wanted:
            raise InputFileError(last, f"a checkpoint of another training ({saved} != {wanted}); remove it to start afresh")
    trainer, checkpoint = make_trainer(config, run_dir, name, resumable=True, callbacks=callbacks)
    trainer.fit(module, train_loader, ckpt_path=last)
    return checkpoint


def checkpoint_loss_history(run_dir: str | Path, name: str) -> list[float]:
    """``loss_history`` saved by a :class:`LossHistory` module in ``last.ckpt`` (complete also when
    DDP trained in spawned processes and after a resume); [] when there is none."""
    import torch

    path = last_checkpoint(run_dir, name)
    if path is None:
        return []
    return [float(v) for v in torch.load(path, map_location="cpu", weights_only=True).get("loss_history", [])]


class LossHistory:
    """Mixin for a ``LightningModule`` that logs ``train_loss`` per epoch: keeps ``loss_history``
    (the epoch means, in order), saves it in checkpoints, restores it on resume, and writes each
    epoch's mean to ``self._python_logger`` (a ``logging.Logger`` or None) as
    ``"  <label> epoch e/E: loss x"``."""

    history_label = "training"

    def on_train_epoch_end(self) -> None:
        value = float(self.trainer.callback_metrics["train_loss"])
        self.loss_history.append(value)
        if getattr(self, "_python_logger", None) is not None:
            self._python_logger.info(f"  {self.history_label} epoch {self.current_epoch + 1}/{self.trainer.max_epochs}: loss {value:.4f}")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["loss_history"] = list(self.loss_history)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.loss_history = list(checkpoint.get("loss_history", []))


def _launched_externally() -> bool:
    """True when torchrun, SLURM (several tasks) or another launcher started one process per device."""
    return "LOCAL_RANK" in os.environ or "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("SLURM_NTASKS", "1")) > 1


def _strategy(config: TrainerConfig, accelerator: str):
    """Lightning strategy: "auto" for one process, else DDP (gloo on CPU, nccl on GPU).

    Processes that gnn4hep starts itself are always spawned: Lightning's default for "ddp" re-runs
    the command line once per extra process, which for ``gnn4hep run`` would re-run the experiment
    (and stop on the run folder the first process created). Under torchrun/srun the launcher's
    processes are used as they are.
    """
    if config.strategy == "auto" and config.devices == 1 and config.num_nodes == 1:
        return "auto"
    from lightning.pytorch.strategies import DDPStrategy

    external = _launched_externally()
    if config.num_nodes > 1 and not external:
        raise ConfigError(
            f"trainer.num_nodes={config.num_nodes}: several machines need one process per device started by "
            "torchrun or srun (LOCAL_RANK/SLURM_NTASKS not set)"
        )
    return DDPStrategy(
        process_group_backend="gloo" if accelerator == "cpu" else None,
        start_method="popen" if external else "spawn",
    )


def plot_loss_curves(run_dir: str | Path, name: str = "model"):
    """A matplotlib figure of train/val loss per epoch from the CSV log, or None if there is none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    path = Path(run_dir) / "logs" / name / "metrics.csv"
    if not path.exists():
        return None
    log = pd.read_csv(path)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for column in [c for c in log.columns if c.endswith("loss") or c.endswith("loss_epoch")]:
        series = log.dropna(subset=[column]).groupby("epoch")[column].mean()
        if len(series):
            ax.plot(series.index, series.to_numpy(), marker="o", label=column)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title(f"{name}: loss curves")
    return fig
