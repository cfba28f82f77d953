"""Edge-classification metrics and plots: AUC, efficiency and purity at a cut, ROC, score distributions.

Pure functions on arrays. With scores s, truth y and a cut c (an edge is kept when s > c):

    efficiency = TP / (TP + FN)     (fraction of true edges kept; "recall")
    purity     = TP / (TP + FP)     (fraction of kept edges that are true; "precision")

The AUC is ``sklearn.metrics.roc_auc_score``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    if isinstance(values, (list, tuple)):
        values = np.concatenate([_as_numpy(v) for v in values]) if len(values) else np.zeros(0)
    return np.asarray(values, dtype=np.float64).ravel()


def _figure_axes(ax=None):
    """(figure, axes): those of ``ax``, or a new 5x4-inch figure (Agg backend)."""
    if ax is not None:
        return ax.figure, ax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 4))


def edge_metrics(scores, y, cut: float = 0.5) -> dict[str, float]:
    """AUC, efficiency, purity, accuracy and counts of an edge classifier.

    Args:
        scores: (E,) edge scores (probabilities, or logits with a matching cut); a list of per-graph
            arrays/tensors is concatenated.
        y: (E,) truth, 1 = true edge.
        cut: an edge is predicted true when its score is > cut.

    Returns:
        dict with edge_auc (NaN when y has one class only), edge_efficiency, edge_purity,
        edge_accuracy, edge_cut, n_edges, n_true_edges, n_selected_edges. Efficiency (purity) is
        NaN when there is no true (selected) edge.
    """
    from sklearn.metrics import roc_auc_score

    scores, y = _as_numpy(scores), _as_numpy(y)
    if scores.shape != y.shape:
        raise ValueError(f"scores {scores.shape} and y {y.shape} must have the same shape")
    if not np.isfinite(scores).all():
        raise ValueError("edge scores contain NaN or infinite values")
    truth = y > 0.5
    selected = scores > cut
    true_positive = int(np.sum(truth & selected))
    n_true, n_selected = int(truth.sum()), int(selected.sum())
    both_classes = 0 < n_true < len(truth)
    return {
        "edge_auc": float(roc_auc_score(truth, scores)) if both_classes else float("nan"),
        "edge_efficiency": true_positive / n_true if n_true else float("nan"),
        "edge_purity": true_positive / n_selected if n_selected else float("nan"),
        "edge_accuracy": float(np.mean(truth == selected)) if len(truth) else float("nan"),
        "edge_cut": float(cut),
        "n_edges": int(len(truth)),
        "n_true_edges": n_true,
        "n_selected_edges": n_selected,
    }


def plot_edge_roc(scores, y, cut: float | None = None, label: str = "model", ax=None):
    """ROC curve: true-edge efficiency (linear) against the fake-edge rate on a log axis, where the
    rates of 1e-4..1e-2 that matter for graph building are visible; the AUC in the legend, the cut marked.
    Points with a fake rate of 0 cannot sit on the log axis: the axis starts at one fake edge
    (1 / number of fake edges).

    Returns the matplotlib figure.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    scores, y = _as_numpy(scores), _as_numpy(y) > 0.5
    fig, ax = _figure_axes(ax)
    false_rate, true_rate, _ = roc_curve(y, scores)
    floor = 1.0 / max(int((~y).sum()), 1)
    shown = false_rate > 0
    ax.plot(false_rate[shown], true_rate[shown], label=f"{label} (AUC {roc_auc_score(y, scores):.4f})")
    if cut is not None:
        selected = scores > cut
        fake = max(float(np.mean(selected[~y])), floor)
        ax.plot([fake], [np.mean(selected[y])], "o", color="black", label=f"cut {cut:g}")
    chance = np.logspace(np.log10(floor), 0, 50)
    ax.plot(chance, chance, ls=":", color="grey", label="random")
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("fake-edge rate (FP / negatives, log scale)")
    ax.set_ylabel("edge efficiency (TP / positives)")
    ax.set_title("edge ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_score_distributions(scores, y, cut: float | None = None, bins: int | Sequence[float] = 50, ax=None):
    """Histograms of the edge scores of true and fake edges (log y axis), with the cut marked.

    Returns the matplotlib figure.
    """
    scores, y = _as_numpy(scores), _as_numpy(y) > 0.5
    fig, ax = _figure_axes(ax)
    edges = np.linspace(0.0, 1.0, bins + 1) if isinstance(bins, int) and scores.min() >= 0 and scores.max() <= 1 else bins
    ax.hist(scores[y], bins=edges, histtype="step", label=f"true edges ({y.sum()})")
    ax.hist(scores[~y], bins=edges, histtype="step", label=f"fake edges ({(~y).sum()})")
    if cut is not None:
        ax.axvline(cut, color="black", ls="--", label=f"cut {cut:g}")
    ax.set_yscale("log")
    ax.set_xlabel("edge score")
    ax.set_ylabel("edges")
    ax.legend()
    return fig
