"""Config sections, model factory and fit/load helpers for edge classifiers on hit graphs.

Shared by the HEP.TrkX stages (:mod:`gnn4hep.training.edge_stages`) and any pipeline that trains an
edge classifier on :mod:`gnn4hep.graphs.schema` graphs:

- :class:`EdgeModelConfig` (the ``model:`` section) and :func:`build_edge_model`;
- :class:`EdgeTrainingConfig` (the ``classifier:`` section: loss weighting, schedule);
- :func:`fit_edge_classifier` trains with :func:`gnn4hep.training.trainer.make_trainer` and saves
  ``<run_dir>/<name>.pt`` (a plain dict: state_dict + model config), which :func:`load_edge_model`
  reads back with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import InputFileError
from gnn4hep.training.trainer import TrainerConfig


class EdgeModelConfig(Section):
    """The ``model:`` section: which edge classifier and its size."""

    type: Literal["interaction_network", "edgeconv"] = "interaction_network"
    hidden: int = Field(64, ge=1, description="width of hidden node/edge features")
    n_iterations: int = Field(4, ge=1, description="message-passing steps (interaction network) or EdgeConv layers")
    n_mlp_layers: int = Field(2, ge=1, description="Linear layers per MLP")
    layer_norm: bool = True
    bidirectional: bool = Field(True, description="interaction network: aggregate outgoing as well as incoming edges")
    shared_weights: bool = Field(False, description="interaction network: one layer applied n_iterations times")
    k: int = Field(8, ge=1, description="edgeconv: neighbours of the dynamic kNN graph")
    use_edge_features: bool = Field(True, description="feed edge_attr (e.g. dr, dphi, dz, dR) to the model")


class EdgeTrainingConfig(Section):
    """The ``classifier:`` section: loss weighting and learning-rate schedule of edge-classifier training."""

    pos_weight: Union[Literal["auto"], float] = Field("auto", description="BCE weight of true edges; auto = n_neg/n_pos")
    scheduler: Literal["none", "cosine"] = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    edge_cut: float = Field(0.5, ge=0, le=1, description="score cut of the logged validation efficiency/purity")


def build_edge_model(config: EdgeModelConfig, node_features: int, edge_features: int = 0):
    """The ``nn.Module`` described by ``config`` for graphs with these feature counts."""
    n_edge = edge_features if config.use_edge_features else 0
    if config.type == "interaction_network":
        from gnn4hep.models.interaction_network import InteractionNetwork

        return InteractionNetwork(
            node_features=node_features,
            edge_features=n_edge,
            hidden=config.hidden,
            n_iterations=config.n_iterations,
            n_mlp_layers=config.n_mlp_layers,
            layer_norm=config.layer_norm,
            bidirectional=config.bidirectional,
            shared_weights=config.shared_weights,
        )
    from gnn4hep.models.edgeconv_classifier import EdgeConvClassifier

    return EdgeConvClassifier(
        node_features=node_features,
        edge_features=n_edge,
        hidden=config.hidden,
        n_layers=config.n_iterations,
        k=config.k,
        n_mlp_layers=config.n_mlp_layers,
        layer_norm=config.layer_norm,
    )


def fit_edge_classifier(
    model,
    train_graphs: list,
    val_graphs: list,
    trainer_config: TrainerConfig,
    training_config: EdgeTrainingConfig,
    run_dir: str | Path,
    name: str = "edge_classifier",
    model_config: Optional[EdgeModelConfig] = None,
):
    """Train ``model`` on lists of graphs; return (model with the best weights, path of ``<name>.pt``).

    The best checkpoint (lowest ``trainer_config.monitor``) is reloaded when validation graphs
    exist, else the last weights are kept. ``<run_dir>/<name>.pt`` holds {"state_dict", "model_config",
    "node_features", "edge_features", "pos_weight"}.
    """
    import torch
    from torch_geometric.loader import DataLoader

    from gnn4hep.training.edge_classifier import EdgeClassifierModule
    from gnn4hep.training.trainer import make_trainer
    from gnn4hep.utils.atomic import atomic_write_bytes

    if not train_graphs:
        raise ValueError("no training graphs")
    run_dir = Path(run_dir)
    module = EdgeClassifierModule(
        model,
        learning_rate=trainer_config.learning_rate,
        pos_weight=training_config.pos_weight,
        edge_cut=training_config.edge_cut,
        weight_decay=training_config.weight_decay,
        scheduler=training_config.scheduler,
    )
    train_loader = DataLoader(train_graphs, batch_size=trainer_config.batch_size, shuffle=True)
    val_loader = DataLoader(val_graphs, batch_size=trainer_config.batch_size) if val_graphs else None
    config = trainer_config
    if not val_graphs and config.monitor.startswith("val_"):
        config = config.model_copy(update={"monitor": "train_loss"})
    trainer, checkpoint = make_trainer(config, run_dir, name)
    trainer.fit(module, train_loader, val_loader)
    best = checkpoint.best_model_path
    if best and Path(best).exists():
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    payload = {
        "state_dict": module.model.state_dict(),
        "model_config": model_config.model_dump(mode="json") if model_config is not None else None,
        "node_features": int(train_graphs[0].x.shape[1]),
        "edge_features": int(train_graphs[0].edge_attr.shape[1]) if getattr(train_graphs[0], "edge_attr", None) is not None else 0,
        "pos_weight": float(module.pos_weight),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path = atomic_write_bytes(run_dir / f"{name}.pt", buffer.getvalue())
    return module.model, path


def load_edge_model(path: str | Path):
    """Rebuild the model saved by :func:`fit_edge_classifier` (``torch.load(weights_only=True)``), in eval mode."""
    from gnn4hep.utils.torch_files import load_torch_file

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such model file (run the training stage first)")
    payload = load_torch_file(path, "model file")
    if not isinstance(payload, dict) or "state_dict" not in payload or not payload.get("model_config"):
        raise InputFileError(path, "not an edge-classifier file written by fit_edge_classifier")
    config = EdgeModelConfig.model_validate(payload["model_config"])
    model = build_edge_model(config, payload["node_features"], payload["edge_features"])
    model.load_state_dict(payload["state_dict"])
    return model.eval()
