"""Edge metrics: known values at a cut, AUC against a pairwise count, degenerate inputs, plots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gnn4hep.training.edge_metrics import edge_metrics, plot_edge_roc, plot_score_distributions


def test_known_counts():
    scores = np.array([0.9, 0.8, 0.3, 0.6, 0.1, 0.7])
    y = np.array([1, 1, 1, 0, 0, 0])
    metrics = edge_metrics(scores, y, cut=0.5)
    # selected: 0.9 (T), 0.8 (T), 0.6 (F), 0.7 (F); true edges: 3
    assert metrics["edge_efficiency"] == pytest.approx(2 / 3)
    assert metrics["edge_purity"] == pytest.approx(2 / 4)
    assert metrics["edge_accuracy"] == pytest.approx(3 / 6)
    assert (metrics["n_edges"], metrics["n_true_edges"], metrics["n_selected_edges"]) == (6, 3, 4)


def test_auc_equals_fraction_of_correctly_ordered_pairs():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = rng.normal(y * 0.8, 1.0)
    positives, negatives = scores[y == 1], scores[y == 0]
    pairs = (positives[:, None] > negatives[None, :]).mean() + 0.5 * (positives[:, None] == negatives[None, :]).mean()
    assert edge_metrics(scores, y)["edge_auc"] == pytest.approx(pairs, abs=1e-12)


def test_tensor_and_list_inputs_equal_numpy():
    scores, y = torch.rand(50, generator=torch.Generator().manual_seed(0)), (torch.arange(50) % 3 == 0).float()
    as_numpy = edge_metrics(scores.numpy(), y.numpy(), 0.4)
    assert edge_metrics(scores, y, 0.4) == as_numpy
    assert edge_metrics([scores[:20], scores[20:]], [y[:20], y[20:]], 0.4) == as_numpy


def test_degenerate_cases_give_nan_not_errors():
    one_class = edge_metrics(np.array([0.2, 0.9]), np.array([1, 1]))
    assert math.isnan(one_class["edge_auc"]) and one_class["edge_efficiency"] == 0.5
    nothing_selected = edge_metrics(np.array([0.2, 0.1]), np.array([1, 0]))
    assert math.isnan(nothing_selected["edge_purity"]) and nothing_selected["edge_efficiency"] == 0.0
    with pytest.raises(ValueError, match="same shape"):
        edge_metrics(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        edge_metrics(np.array([np.nan, 0.1]), np.array([1, 0]))


def test_plots_return_figures():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    scores = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    for figure in (plot_edge_roc(scores, y, cut=0.5), plot_score_distributions(scores, y, cut=0.5)):
        assert figure.axes and figure.axes[0].get_legend() is not None
        import matplotlib.pyplot as plt

        plt.close(figure)
