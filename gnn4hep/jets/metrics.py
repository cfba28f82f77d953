"""Tagging metrics: AUC, accuracy, background rejection 1/ε_B at fixed signal efficiency, ROC curves.

Definitions (as in the top-tagging comparison, arXiv:1902.09914):

* AUC: ``sklearn.metrics.roc_auc_score``;
* accuracy: fraction of jets whose class (score ≥ 0.5 → signal) is right;
* 1/ε_B at ε_S = x: on the ROC curve (ε_S = TPR, ε_B = FPR from ``sklearn.metrics.roc_curve``)
  find the first point where ε_S ≥ x, interpolate ε_B linearly between it and the previous point
  at ε_S = x, and return 1/ε_B (inf when ε_B = 0);
* its statistical error: half the central 68% interval (16th to 84th percentile; the standard deviation
  for a normal spread) of 1/ε_B over bootstrap resamples of the test set (Efron & Tibshirani, "An
  Introduction to the Bootstrap", 1993), resampled within each class so that every resample keeps the
  numbers of signal and background jets; seeded, so it is reproducible. Percentiles rather than the
  standard deviation, because on small test sets a few resamples let no background through (1/ε_B = inf).
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
    labels, scores = _check(labels, scores)
    return _background_efficiencies(labels, scores, (signal_efficiency,))[0]


def _background_efficiencies(labels: np.ndarray, scores: np.ndarray, signal_efficiencies) -> list[float]:
    """ε_B at each ε_S from one ROC curve (checked inputs)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    out = []
    for signal_efficiency in signal_efficiencies:
        if not 0 < signal_efficiency <= 1:
            raise ValueError(f"signal efficiency must be in (0, 1], got {signal_efficiency}")
        i = int(np.argmax(tpr >= signal_efficiency))
        if i == 0 or tpr[i] == tpr[i - 1]:
            out.append(float(fpr[i]))
            continue
        t = (signal_efficiency - tpr[i - 1]) / (tpr[i] - tpr[i - 1])
        out.append(float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1])))
    return out


def _inverse(efficiency: float) -> float:
    return float("inf") if efficiency == 0 else 1.0 / efficiency


def rejection(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float) -> float:
    """1/ε_B at ε_S = ``signal_efficiency`` (inf when no background passes)."""
    return _inverse(background_efficiency(labels, scores, signal_efficiency))


def rejection_with_errors(labels: np.ndarray, scores: np.ndarray, signal_efficiencies=(0.3, 0.5),
                          n_bootstrap: int = 200, seed: int = 0) -> dict[float, tuple[float, float]]:
    """{ε_S: (1/ε_B, bootstrap standard deviation of 1/ε_B)} for every ε_S in ``signal_efficiencies``.

    Each of the ``n_bootstrap`` resamples draws, with replacement and from ``numpy.random.default_rng(seed)``,
    as many signal jets from the signal jets and as many background jets from the background jets. The
    error is half the 16th-84th percentile range of the resamples' 1/ε_B; inf when more than 16% of
    them let no background through (1/ε_B = inf).
    """
    labels, scores = _check(labels, scores)
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be >= 2, got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    signal, background = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    samples = np.empty((n_bootstrap, len(signal_efficiencies)))
    for b in range(n_bootstrap):
        index = np.concatenate([rng.choice(signal, signal.size), rng.choice(background, background.size)])
        samples[b] = [_inverse(e) for e in _background_efficiencies(labels[index], scores[index], signal_efficiencies)]
    central = _background_efficiencies(labels, scores, signal_efficiencies)
    out = {}
    for column, eff in enumerate(signal_efficiencies):
        low, high = np.sort(samples[:, column])[[int(np.floor(0.16 * (n_bootstrap - 1))),
                                                  int(np.ceil(0.84 * (n_bootstrap - 1)))]]
        error = float((high - low) / 2) if np.isfinite(high) else float("inf")
        out[eff] = (_inverse(central[column]), error)
    return out


def tagging_metrics(labels: np.ndarray, scores: np.ndarray, n_bootstrap: int = 200, seed: int = 0) -> dict[str, float]:
    """``auc``, ``accuracy``, ``rej30`` (1/ε_B at ε_S = 0.3), ``rej50`` (at 0.5) and their bootstrap
    errors ``rej30_err``, ``rej50_err`` (see :func:`rejection_with_errors`)."""
    from sklearn.metrics import roc_auc_score

    labels, scores = _check(labels, scores)
    rejections = rejection_with_errors(labels, scores, (0.3, 0.5), n_bootstrap, seed)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "accuracy": float(np.mean((scores >= 0.5) == (labels == 1))),
        "rej30": rejections[0.3][0],
        "rej30_err": rejections[0.3][1],
        "rej50": rejections[0.5][0],
        "rej50_err": rejections[0.5][1],
    }


def plot_roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "",
                    working_points: tuple[float, ...] = (0.3, 0.5), n_bootstrap: int = 200, seed: int = 0):
    """Figure of 1/ε_B (log scale) against ε_S for {model name: (labels, scores)}, with 1/ε_B at the
    ``working_points`` marked with their bootstrap errors (:func:`rejection_with_errors`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, (labels, scores) in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        keep = fpr > 0
        (line,) = ax.plot(tpr[keep], 1.0 / fpr[keep], label=f"{name} (AUC {roc_auc_score(labels, scores):.3f})")
        points = rejection_with_errors(labels, scores, working_points, n_bootstrap, seed) if working_points else {}
        finite = [(eff, value, error) for eff, (value, error) in points.items() if np.isfinite(value + error)]
        if finite:
            eff, value, error = map(np.array, zip(*finite))
            ax.errorbar(eff, value, yerr=error, fmt="o", ms=3, capsize=3, color=line.get_color())
    ax.plot(np.linspace(0.01, 1, 100), 1 / np.linspace(0.01, 1, 100), "k:", label="random")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency ε_S")
    ax.set_ylabel("background rejection 1/ε_B")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig
