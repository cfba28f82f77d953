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


def _brute_force_roc(scores: np.ndarray, y: np.ndarray) -> set[tuple[float, float]]:
    """(fake rate, efficiency) of the selection ``score >= t`` for every score t, plus (0, 0)."""
    positives, negatives = scores[y == 1], scores[y == 0]
    points = {(0.0, 0.0)}
    for t in np.unique(scores):
        points.add((float(np.mean(negatives >= t)), float(np.mean(positives >= t))))
    return points


def test_roc_plot_draws_the_brute_force_roc_and_the_cut():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    scores = np.round(np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1), 2)  # rounded: ties, as real scores have
    figure = plot_edge_roc(scores, y, cut=0.5)
    ax = figure.axes[0]
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    curve = max(lines, key=lambda line: len(line.get_xdata()))
    fake, eff = np.asarray(curve.get_xdata(), float), np.asarray(curve.get_ydata(), float)
    if np.mean(fake) > np.mean(eff):  # whichever axis holds which rate
        fake, eff = eff, fake
    expected = _brute_force_roc(scores, y)
    assert len(fake) >= 10
    assert all(any(abs(f - a) < 1e-12 and abs(e - b) < 1e-12 for a, b in expected) for f, e in zip(fake, eff))
    marker = [line for line in ax.get_lines() if len(line.get_xdata()) == 1]
    assert len(marker) == 1
    selected = scores > 0.5
    at_cut = {float(np.mean(selected[y == 0])), float(np.mean(selected[y == 1]))}
    assert {float(marker[0].get_xdata()[0]), float(marker[0].get_ydata()[0])} == at_cut
    pairs = (scores[y == 1][:, None] > scores[y == 0][None, :]).mean() + 0.5 * (scores[y == 1][:, None] == scores[y == 0][None, :]).mean()
    assert any(f"{pairs:.4f}" in text.get_text() for text in ax.get_legend().get_texts())
    plt.close(figure)


def test_score_distributions_hold_the_counts_of_numpy_histogram():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    scores = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    figure = plot_score_distributions(scores, y, cut=0.5, bins=10)
    ax = figure.axes[0]
    bins = np.linspace(0, 1, 11)
    steps = [patch.get_xy()[1:20:2, 1] for patch in ax.patches]  # a step outline: (x_i, n_i), (x_i+1, n_i), ...
    assert len(steps) == 2
    np.testing.assert_array_equal(steps[0], np.histogram(scores[y == 1], bins)[0])
    np.testing.assert_array_equal(steps[1], np.histogram(scores[y == 0], bins)[0])
    assert ax.get_yscale() == "log"
    assert any(abs(line.get_xdata()[0] - 0.5) < 1e-12 for line in ax.get_lines())  # the cut
    plt.close(figure)
