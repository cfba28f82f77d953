"""The physics baseline: a gradient-boosted decision tree on jet-substructure observables.

Inputs (computed from the constituents by :mod:`gnn4hep.jets.substructure`): jet mass, τ1, τ2, τ3,
τ21, τ32, soft-drop mass and multiplicity. Classifier: scikit-learn's
``HistGradientBoostingClassifier``.
"""

from __future__ import annotations

import numpy as np

from gnn4hep.jets.constituents import Jets
from gnn4hep.jets.substructure import OBSERVABLES, substructure_observables


def observable_matrix(jets: Jets, radius: float, names: tuple[str, ...] = OBSERVABLES) -> np.ndarray:
    """(N, len(names)) float64 observables in the order of ``names``."""
    values = substructure_observables(jets, radius)
    unknown = [n for n in names if n not in values]
    if unknown:
        raise ValueError(f"unknown observables {unknown}; known: {list(values)}")
    return np.stack([values[n] for n in names], axis=1)


class SubstructureBDT:
    """HistGradientBoosting on substructure observables.

    Args:
        radius: jet radius R (N-subjettiness normalisation and soft-drop R₀).
        observables: names from :data:`~gnn4hep.jets.substructure.OBSERVABLES`.
        max_iter, learning_rate, max_leaf_nodes: passed to ``HistGradientBoostingClassifier``.
        seed: random state.
    """

    def __init__(self, radius: float, observables: tuple[str, ...] = OBSERVABLES, max_iter: int = 200,
                 learning_rate: float = 0.1, max_leaf_nodes: int = 31, seed: int = 0):
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.radius = radius
        self.observables = tuple(observables)
        self.classifier = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate,
                                                         max_leaf_nodes=max_leaf_nodes, random_state=seed)

    def fit(self, jets: Jets, observables: np.ndarray | None = None) -> "SubstructureBDT":
        x = observable_matrix(jets, self.radius, self.observables) if observables is None else observables
        self.classifier.fit(x, jets.labels)
        return self

    def predict_scores(self, jets: Jets, observables: np.ndarray | None = None) -> np.ndarray:
        """(N,) signal probability (class 1)."""
        x = observable_matrix(jets, self.radius, self.observables) if observables is None else observables
        return self.classifier.predict_proba(x)[:, 1]
