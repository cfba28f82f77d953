"""Training of the edge filter (:class:`gnn4hep.models.edge_filter.EdgeFilterMLP`) on hit pairs of many events.

The filter sees the candidate edges of a graph builder (module map / ring map), described by the pair
features of :func:`gnn4hep.graphs.pair_features.pair_features`, with the consecutive-pair truth
``y`` of :mod:`gnn4hep.graphs.truth`. Candidate graphs at mu = 200 hold millions of edges with a
few per cent true, so each training event contributes all its true edges and a random
``fake_fraction`` of its fake ones (:func:`sample_edges`), the fakes weighted by 1 / fake_fraction so
that the weighted sample keeps the event's class balance. The loss is the weighted binary cross
entropy with the true edges further weighted by ``pos_weight`` ("auto": the weighted fake / true
ratio, i.e. balanced classes), trained with Adam on shuffled mini-batches. The epoch with the
lowest validation loss is kept.

The operating point (:func:`efficiency_threshold`) is the score cut that keeps ``target_efficiency``
of the validation true edges (of particles above ``target_pt_min`` GeV): the filter's job is to keep
nearly every true edge while cutting the graph, so the cut is set by efficiency, not by accuracy.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd


@dataclass
class EdgeSamples:
    """Features (n, F) float32, truth y (n,) float32, weight (n,) float32 and pT [GeV] (n,) of edges."""

    features: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    pt: np.ndarray

    @staticmethod
    def concat(parts: list["EdgeSamples"]) -> "EdgeSamples":
        return EdgeSamples(*(np.concatenate([getattr(p, name) for p in parts])
                             for name in ("features", "y", "weight", "pt")))

    def focused(self, pt_min: float) -> "EdgeSamples":
        """The same edges with the true edges of particles at or below ``pt_min`` [GeV] weighted 0: the
        loss then neither rewards nor penalises them, so the filter learns to separate the true edges of
        faster particles from the fakes (a sharper cut for them; slow particles' edges may be cut). They
        stay in the sample, so the all-pT efficiency can still be measured on it. ``pt_min`` <= 0: unchanged."""
        if pt_min <= 0:
            return self
        slow = (self.y > 0.5) & (self.pt <= pt_min)
        return EdgeSamples(self.features, self.y, np.where(slow, 0.0, self.weight).astype(np.float32), self.pt)


def sample_edges(table: pd.DataFrame, edge_index: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                 fake_fraction: float = 0.1, cells: pd.DataFrame | None = None,
                 cell_features: bool = False) -> EdgeSamples:
    """All true edges and a ``fake_fraction`` random sample of the fake ones, with their features.

    Args:
        table: hit table of the event; ``edge_index`` (2, E) row positions in it; ``y`` (E,) truth.
        rng: the generator (seeded by the caller) that draws the fakes.
        fake_fraction: share of fake edges kept (weighted 1 / fake_fraction).
        cells, cell_features: as :func:`gnn4hep.graphs.pair_features.pair_features`.
    """
    from gnn4hep.graphs.pair_features import pair_features

    y = np.asarray(y) > 0.5
    keep = y | (rng.random(len(y)) < fake_fraction)
    chosen = np.asarray(edge_index)[:, keep]
    features = pair_features(table, chosen, cells=cells, cell_features=cell_features)
    truth = y[keep]
    weight = np.where(truth, 1.0, 1.0 / fake_fraction).astype(np.float32)
    pt = table["pt"].to_numpy(np.float32)[chosen[0]]
    return EdgeSamples(features, truth.astype(np.float32), weight, np.where(truth, pt, 0.0).astype(np.float32))


def efficiency_threshold(scores: np.ndarray, y: np.ndarray, target_efficiency: float,
                         pt: np.ndarray | None = None, pt_min: float = 0.0) -> float:
    """The largest score cut keeping at least ``target_efficiency`` of the true edges (above pt_min)."""
    true = np.asarray(y) > 0.5
    if pt is not None and pt_min > 0:
        true &= np.asarray(pt) > pt_min
    true_scores = np.sort(np.asarray(scores)[true])
    if len(true_scores) == 0:
        return 0.5
    n_lost = int(np.floor((1.0 - target_efficiency) * len(true_scores)))
    return float(true_scores[n_lost]) if n_lost < len(true_scores) else float(true_scores[-1])


def predict_scores(model, features: np.ndarray, batch_size: int = 262_144) -> np.ndarray:
    """Sigmoid scores (n,) float32 of ``model`` on a feature matrix, in batches, without gradients."""
    import torch

    model.eval()
    out = np.empty(len(features), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(features[start:start + batch_size]))
            out[start:start + batch_size] = torch.sigmoid(model(chunk)).numpy()
    return out


def _weighted_loss(model, samples: EdgeSamples, pos_weight: float, batch_size: int = 262_144) -> float:
    import torch

    total, norm = 0.0, 0.0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(samples.y), batch_size):
            end = start + batch_size
            logits = model(torch.from_numpy(samples.features[start:end]))
            y = torch.from_numpy(samples.y[start:end])
            w = torch.from_numpy(samples.weight[start:end]) * torch.where(y > 0.5, pos_weight, 1.0)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, weight=w, reduction="sum")
            total += float(loss)
            norm += float(w.sum())
    return total / max(norm, 1e-12)


def train_edge_filter(train: EdgeSamples, val: EdgeSamples | None, hidden: tuple[int, ...] = (64, 64),
                      epochs: int = 5, batch_size: int = 8192, learning_rate: float = 2e-3,
                      pos_weight: Union[str, float] = "auto", seed: int = 0, target_efficiency: float = 0.99,
                      target_pt_min: float = 0.0, layer_norm: bool = True, logger=None):
    """Train an :class:`EdgeFilterMLP` and choose its threshold; returns (model, info dict).

    info: pos_weight, per-epoch train/val loss, best epoch, threshold, and at that threshold the
    validation (or training, without validation edges) efficiency, efficiency of pT > 1 GeV edges,
    and ``kept_fake_fraction`` (weighted share of fake edges kept).
    """
    import torch

    from gnn4hep.models.edge_filter import EdgeFilterMLP

    if len(train.y) == 0 or train.y.sum() == 0:
        raise ValueError("edge filter training needs true edges")
    generator = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    model = EdgeFilterMLP(train.features.shape[1], tuple(hidden), layer_norm=layer_norm)
    features = torch.from_numpy(train.features)
    model.set_normalisation(features)
    y = torch.from_numpy(train.y)
    n_true = float(train.weight[train.y > 0.5].sum())  # weighted: true edges weighted 0 (EdgeSamples.focused) do not count
    if n_true <= 0:
        raise ValueError("edge filter training needs true edges of nonzero weight (none above the focus pT?)")
    weighted_fakes = float(train.weight[train.y < 0.5].sum())
    positive = weighted_fakes / n_true if pos_weight == "auto" else float(pos_weight)
    weight = torch.from_numpy(train.weight) * torch.where(y > 0.5, positive, 1.0)
    weight = weight / weight.mean()
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(epochs, 1))
    history, best_loss, best_state, best_epoch = [], float("inf"), None, -1
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(features[index]), y[index],
                                                                        weight=weight[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        scheduler.step()
        train_loss = total / len(order)
        val_loss = _weighted_loss(model, val, positive) if val is not None and len(val.y) else train_loss
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        if logger is not None:
            logger.info(f"  filter epoch {epoch}: train loss {train_loss:.4f}, val loss {val_loss:.4f}")
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    check = val if val is not None and len(val.y) and val.y.sum() > 0 else train
    scores = predict_scores(model, check.features)
    threshold = efficiency_threshold(scores, check.y, target_efficiency, check.pt, target_pt_min)
    info = {"pos_weight": positive, "history": history, "best_epoch": best_epoch, "threshold": threshold,
            **operating_point(scores, check, threshold)}
    return model.eval(), info


def operating_point(scores: np.ndarray, samples: EdgeSamples, threshold: float) -> dict[str, float]:
    """Efficiency (all, pT > 1 GeV) and weighted kept fake fraction of ``scores >= threshold``."""
    keep = scores >= threshold
    true = samples.y > 0.5
    high = true & (samples.pt > 1.0)
    fake_weight = samples.weight[~true]
    return {
        "efficiency": float(keep[true].mean()) if true.any() else float("nan"),
        "efficiency_pt1": float(keep[high].mean()) if high.any() else float("nan"),
        "kept_fake_fraction": float(fake_weight[keep[~true]].sum() / fake_weight.sum()) if fake_weight.size else float("nan"),
    }


def save_edge_filter(path: str | Path, model, feature_names: list[str], threshold: float,
                     extra: dict | None = None) -> Path:
    """Write ``path`` (a plain dict, loadable with weights_only=True): state_dict, config (in_features,
    hidden, layer_norm), feature_names, threshold and ``extra`` (JSON-like values: training info)."""
    import torch

    from gnn4hep.utils.atomic import atomic_write_bytes

    hidden = [m.out_features for m in model.net if isinstance(m, torch.nn.Linear)]
    layer_norm = any(isinstance(m, torch.nn.LayerNorm) for m in model.net)
    payload = {
        "state_dict": model.state_dict(),
        "config": {"in_features": int(model.in_features), "hidden": hidden, "layer_norm": bool(layer_norm)},
        "feature_names": list(feature_names),
        "threshold": float(threshold),
        "extra": extra or {},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write_bytes(Path(path), buffer.getvalue())
