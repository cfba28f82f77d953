"""Tagging metrics: AUC, accuracy, background rejection 1/ε_B at fixed signal efficiency, ROC curves.

Definitions (as in the top-tagging comparison, arXiv:1902.09914):

* AUC: ``sklearn.metrics.roc_auc_score``;
* accuracy: fraction of jets whose class (score ≥ 0.5 → signal) is right;
* 1/ε_B at ε_S = x: on the ROC curve (ε_S = TPR, ε_B = FPR from ``sklearn.metrics.roc_curve``)
  find the first point where ε_S ≥ x, interpolate ε_B linearly between it and the previous point
  at ε_S = x, and return 1/ε_B (inf when ε_B = 0).
"""

from __future__ import annotations

import numpy as np


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = np.asarray(labels).astype(np.int64).ravel(), np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"{labels.size} labels but {scores.size} scores")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    if set(np.unique(labels)) != {0, 1}:
        raise ValueError("labels must contain both classes 0 and 1")
    return labels, scores


def background_efficiency(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float) -> float:
    """ε_B at ε_S = ``signal_efficiency`` by linear interpolation of the ROC curve."""
    from sklearn.metrics import roc_curve

    if not 0 < signal_efficiency <= 1:
        raise ValueError(f"signal efficiency must be in (0, 1], got {signal_efficiency}")
    labels, scores = _check(labels, scores)
    fpr, tpr, _ = roc_curve(labels, scores)
    i = int(np.argmax(tpr >= signal_efficiency))
    if i == 0 or tpr[i] == tpr[i - 1]:
        return float(fpr[i])
    t = (signal_efficiency - tpr[i - 1]) / (tpr[i] - tpr[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def rejection(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float) -> float:
    """1/ε_B at ε_S = ``signal_efficiency`` (inf when no background passes)."""
    eff = background_efficiency(labels, scores, signal_efficiency)
    return float("inf") if eff == 0 else 1.0 / eff


def tagging_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """``auc``, ``accuracy``, ``rej30`` (1/ε_B at ε_S = 0.3) and ``rej50`` (at 0.5)."""
    from sklearn.metrics import roc_auc_score

    labels, scores = _check(labels, scores)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "accuracy": float(np.mean((scores >= 0.5) == (labels == 1))),
        "rej30": rejection(labels, scores, 0.3),
        "rej50": rejection(labels, scores, 0.5),
    }


def plot_roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = ""):
    """Figure of 1/ε_B against ε_S (log scale) for {model name: (labels, scores)}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, (labels, scores) in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        keep = fpr > 0
        ax.plot(tpr[keep], 1.0 / fpr[keep], label=f"{name} (AUC {roc_auc_score(labels, scores):.3f})")
    ax.plot(np.linspace(0.01, 1, 100), 1 / np.linspace(0.01, 1, 100), "k:", label="random")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency ε_S")
    ax.set_ylabel("background rejection 1/ε_B")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig
