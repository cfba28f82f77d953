"""1/ε_B at fixed ε_S against a brute-force ROC, and its bootstrap error against the spread of
independent samples from known distributions; the ROC figure with its working points."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from gnn4hep.jets.metrics import background_efficiency, plot_roc_curves, rejection_with_errors, tagging_metrics


def brute_force_background_efficiency(labels, scores, signal_efficiency):
    """Count jets above every threshold (highest first), then interpolate ε_B linearly in ε_S."""
    thresholds = sorted(set(scores.tolist()), reverse=True)
    points = [(0.0, 0.0)]
    for t in thresholds:
        points.append((np.mean(scores[labels == 1] >= t), np.mean(scores[labels == 0] >= t)))
    for (s0, b0), (s1, b1) in zip(points[:-1], points[1:]):
        if s1 >= signal_efficiency:
            if s1 == s0:
                return b1
            return b0 + (signal_efficiency - s0) / (s1 - s0) * (b1 - b0)
    raise AssertionError("unreachable")


def gaussian_scores(n, seed):
    """n signal ~ N(1, 1) and n background ~ N(0, 1) scores: at ε_S = 0.5 the cut is 1, ε_B = 1 − Φ(1)."""
    rng = np.random.default_rng(seed)
    return np.repeat([1, 0], n), np.concatenate([rng.normal(1, 1, n), rng.normal(0, 1, n)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_background_efficiency_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.4 * labels, 2)  # rounded: ties between jets
    for eff in (0.1, 0.3, 0.5, 0.77, 1.0):
        assert background_efficiency(labels, scores, eff) == pytest.approx(
            brute_force_background_efficiency(labels, scores, eff), abs=1e-12)


def test_rejection_and_its_error_against_the_analytic_values():
    n = 20_000
    labels, scores = gaussian_scores(n, seed=3)
    eps_b = 1 - norm.cdf(1.0)
    # error propagation: ε_B fluctuates binomially, and through the cut, which moves with ε_S (binomial):
    # σ²(ε_B) = ε_B(1−ε_B)/n + (φ(1)/φ(0))² ε_S(1−ε_S)/n, and σ(1/ε_B) = σ(ε_B)/ε_B²
    sigma = np.sqrt(eps_b * (1 - eps_b) / n + (norm.pdf(1.0) / norm.pdf(0.0)) ** 2 * 0.25 / n) / eps_b**2
    value, error = rejection_with_errors(labels, scores, (0.5,), n_bootstrap=100)[0.5]
    assert value == pytest.approx(1 / eps_b, abs=3 * sigma)
    assert error == pytest.approx(sigma, rel=0.25)


def test_bootstrap_error_matches_the_spread_of_independent_samples():
    n = 1000
    independent = [rejection_with_errors(*gaussian_scores(n, seed), (0.3, 0.5), n_bootstrap=2, seed=0)
                   for seed in range(100, 300)]
    bootstrap = [rejection_with_errors(*gaussian_scores(n, seed), (0.3, 0.5), n_bootstrap=200, seed=seed)
                 for seed in range(6)]
    for eff in (0.3, 0.5):
        true_spread = np.std([r[eff][0] for r in independent], ddof=1)
        estimated = np.mean([r[eff][1] for r in bootstrap])
        assert estimated == pytest.approx(true_spread, rel=0.25)


def test_bootstrap_is_seeded_and_tagging_metrics_reports_it():
    labels, scores = gaussian_scores(300, seed=4)
    first = rejection_with_errors(labels, scores, seed=7)
    assert rejection_with_errors(labels, scores, seed=7) == first
    assert rejection_with_errors(labels, scores, seed=8)[0.3][1] != first[0.3][1]
    metrics = tagging_metrics(labels, scores, seed=7)
    assert (metrics["rej30"], metrics["rej30_err"]) == first[0.3]
    assert (metrics["rej50"], metrics["rej50_err"]) == first[0.5]


def test_perfect_separation_has_infinite_rejection_and_error():
    labels = np.array([0, 0, 0, 1, 1, 1])
    value, error = rejection_with_errors(labels, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]), (0.5,))[0.5]
    assert value == np.inf and error == np.inf


def test_a_few_infinite_resamples_leave_the_error_finite():
    # 400 jets where about 1 background jet in 100 passes the ε_S = 0.3 cut: some resamples have none
    labels, scores = gaussian_scores(200, seed=11)
    scores = np.where(labels == 1, scores + 0.5, scores)  # 6 of 200 resamples pass no background
    value, error = rejection_with_errors(labels, scores, (0.3,), n_bootstrap=200)[0.3]
    rng = np.random.default_rng(0)
    signal, background = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    resampled = []
    for _ in range(200):  # brute force: the same resampling, by hand
        index = np.concatenate([rng.choice(signal, signal.size), rng.choice(background, background.size)])
        fpr = brute_force_background_efficiency(labels[index], scores[index], 0.3)
        resampled.append(np.inf if fpr == 0 else 1 / fpr)
    resampled = np.sort(resampled)
    assert np.isinf(resampled).any() and np.isfinite(error)
    assert error == pytest.approx((resampled[int(np.ceil(0.84 * 199))] - resampled[int(np.floor(0.16 * 199))]) / 2)


def test_roc_figure_marks_the_working_points():
    labels, scores = gaussian_scores(400, seed=5)
    fig = plot_roc_curves({"particlenet": (labels, scores)}, "test")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    marked = [c for c in ax.containers]  # one errorbar container per model
    assert len(marked) == 1
    x, y = marked[0].lines[0].get_data()
    rej = rejection_with_errors(labels, scores)
    np.testing.assert_allclose(x, [0.3, 0.5])
    np.testing.assert_allclose(y, [rej[0.3][0], rej[0.5][0]])
