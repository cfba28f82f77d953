"""Metric-learning graph construction (``graph.method: metric_learning`` of the TrackML pipeline).

Exa.TrkX stage 1 (Ju et al., arXiv:2103.06995): an :class:`~gnn4hep.models.embedding_mlp.EmbeddingMLP`
maps every hit to an embedding trained with the hinge loss of :mod:`gnn4hep.training.contrastive`;
the graph is the fixed-radius neighbourhood in that space (:func:`gnn4hep.neighbors.radius_graph`,
k-d tree; PyG's needs pyg-lib), each pair kept once and directed inner -> outer
(:func:`gnn4hep.graphs.truth.orient_pairs`).

Embedding inputs (:func:`embedding_features`): r/1000, cos(phi), sin(phi), z/1000, eta (phi enters
through cos/sin so the embedding has no seam at phi = +-pi).

Training runs through Lightning (:func:`gnn4hep.training.contrastive.fit_embedding`) with the
experiment's ``trainer:`` section (CPU/GPU, DDP, precision, threads) and ``graph.embedding_epochs``
epochs; its checkpoints go to ``<out_dir>/checkpoints/embedding/`` (an interrupted fit continues).

The fitted state is a plain dict (``state_dict`` + sizes) saved with ``torch.save`` and read back
with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gnn4hep.errors import InputFileError
from gnn4hep.graphs.truth import consecutive_pairs, hit_rank_along_particle, orient_pairs
from gnn4hep.models.embedding_mlp import EmbeddingMLP
from gnn4hep.neighbors import radius_graph
from gnn4hep.training.contrastive import EmbeddingEvent, fit_embedding
from gnn4hep.utils.atomic import atomic_write_bytes
from gnn4hep.utils.torch_files import load_torch_file

N_FEATURES = 5
N_LAYERS = 4


def embedding_features(table: pd.DataFrame) -> torch.Tensor:
    """(N, 5) float32: r/1000, cos(phi), sin(phi), z/1000, eta of a hit table."""
    phi = table["phi"].to_numpy()
    columns = [table["r"].to_numpy() / 1000.0, np.cos(phi), np.sin(phi), table["z"].to_numpy() / 1000.0, table["eta"].to_numpy()]
    return torch.from_numpy(np.stack(columns, axis=1).astype(np.float32))


def embedding_event(table: pd.DataFrame, pt_min: float = 0.0) -> EmbeddingEvent:
    """Training data of one hit table: features, true pairs (of particles with pT > pt_min), truth."""
    pairs = consecutive_pairs(table)
    pairs = pairs[:, table["pt"].to_numpy()[pairs[0]] > pt_min]
    pid = table["particle_id"].to_numpy(np.int64).copy()
    rank = hit_rank_along_particle(pid, table["distance"].to_numpy())
    return EmbeddingEvent(embedding_features(table), torch.from_numpy(pairs), torch.from_numpy(pid), torch.from_numpy(rank))


def make_embedding_model(cfg) -> EmbeddingMLP:
    """The embedding model sized by a :class:`~gnn4hep.pipelines.trackml_config.GraphConfig`."""
    return EmbeddingMLP(in_features=N_FEATURES, hidden=cfg.embedding_hidden, embedding_dim=cfg.embedding_dim, n_layers=N_LAYERS)


def fit_metric_learning(tables: list[pd.DataFrame], cfg, out_dir: str | Path | None = None, seed: int = 0, logger=None,
                        trainer=None) -> dict[str, Any]:
    """Train the embedding on training hit tables; returns (and saves as ``embedding.pt``) the state.

    Args:
        cfg: the ``graph:`` section (:class:`~gnn4hep.pipelines.trackml_config.GraphConfig`).
        out_dir: where ``embedding.pt`` and the Lightning checkpoints/logs go (None: a temporary
            folder, removed afterwards).
        seed: initial weights, event order and pair draws.
        trainer: the ``trainer:`` section (:class:`~gnn4hep.training.trainer.TrainerConfig`); None:
            the defaults (``accelerator: auto``, one device, float32, no progress bar).
    """
    import tempfile

    from gnn4hep.training.trainer import TrainerConfig

    trainer = trainer if trainer is not None else TrainerConfig(progress_bar=False)
    torch.manual_seed(seed)
    model = make_embedding_model(cfg)
    events = [embedding_event(t, cfg.pt_min) for t in tables]
    with tempfile.TemporaryDirectory(prefix="embedding-") as scratch:
        run_dir = Path(out_dir) if out_dir is not None else Path(scratch)
        history = fit_embedding(model, events, trainer, run_dir, name="embedding", seed=seed, epochs=cfg.embedding_epochs,
                                margin=cfg.margin_hinge, logger=logger)
    state = {
        "state_dict": model.state_dict(),
        "embedding_dim": cfg.embedding_dim,
        "embedding_hidden": cfg.embedding_hidden,
        "loss_history": torch.tensor(history, dtype=torch.float64),
    }
    if out_dir is not None:
        import io

        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(Path(out_dir) / "embedding.pt", buffer.getvalue())
    state["model"] = model
    return state


def load_metric_learning(path: str | Path) -> dict[str, Any]:
    """Read ``embedding.pt`` written by :func:`fit_metric_learning` (weights_only)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such file (fit the metric-learning graph builder first)")
    state = load_torch_file(path, "embedding file")
    model = EmbeddingMLP(in_features=N_FEATURES, hidden=int(state["embedding_hidden"]), embedding_dim=int(state["embedding_dim"]), n_layers=N_LAYERS)
    model.load_state_dict(state["state_dict"])
    model.eval()
    state["model"] = model
    return state


def embed_hits(table: pd.DataFrame, state: dict[str, Any]) -> torch.Tensor:
    """(N, D) embedding of a hit table with the fitted model."""
    with torch.inference_mode():
        return state["model"](embedding_features(table))


def build_metric_learning_edges(table: pd.DataFrame, state: dict[str, Any], cfg) -> np.ndarray:
    """Edges (2, E) of the radius-``cfg.radius`` graph in embedding space, once per pair, inner -> outer."""
    embedding = embed_hits(table, state)
    edges = radius_graph(embedding, r=cfg.radius, max_num_neighbors=cfg.max_neighbours).numpy()
    radius = np.hypot(table["r"].to_numpy(), table["z"].to_numpy())
    source, target = orient_pairs(edges, table["rank"].to_numpy(), radius)
    keys = np.unique(source * len(table) + target)
    return np.stack([keys // len(table), keys % len(table)]).astype(np.int64)
