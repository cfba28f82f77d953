"""Ranger: RAdam (Liu et al., arXiv:1908.03265) inside Lookahead (Zhang et al., arXiv:1907.08610).

The optimizer of the Particle Transformer paper (arXiv:2202.03772); ``recipe.optimizer: ranger``
(:mod:`gnn4hep.jets.recipe`). Every ``k`` steps the slow weights φ move a fraction α towards the fast
weights θ, φ ← φ + α (θ − φ), and the fast weights restart from them, θ ← φ (Lookahead, Algorithm 1);
φ starts at the weights before the first step.
"""

from __future__ import annotations

from typing import Iterable

import torch


class Ranger(torch.optim.RAdam):
    """RAdam with Lookahead (``k`` fast steps per slow update, slow-weight rate ``alpha``).

    The slow weights live in the optimizer state (key ``lookahead_slow``), next to RAdam's moments.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, weight_decay: float = 0.0, k: int = 6,
                 alpha: float = 0.5):
        if k < 1 or not 0 < alpha <= 1:
            raise ValueError(f"Lookahead needs k >= 1 and 0 < alpha <= 1, got k={k}, alpha={alpha}")
        super().__init__(params, lr=lr, weight_decay=weight_decay)
        self.lookahead_k, self.lookahead_alpha = k, alpha
        self.lookahead_steps_done = 0

    def step(self, closure=None):
        params = [p for group in self.param_groups for p in group["params"]]
        start = {p: p.detach().clone() for p in params if "lookahead_slow" not in self.state[p]}
        loss = super().step(closure)
        for p, weights in start.items():  # after RAdam's step, which initialises an empty state itself
            if "step" in self.state[p]:  # parameters without a gradient are left alone, as RAdam does
                self.state[p]["lookahead_slow"] = weights
        self.lookahead_steps_done += 1
        if self.lookahead_steps_done % self.lookahead_k == 0:
            with torch.no_grad():
                for p in params:
                    if "lookahead_slow" not in self.state[p]:
                        continue
                    slow = self.state[p]["lookahead_slow"]
                    slow.add_(p - slow, alpha=self.lookahead_alpha)
                    p.copy_(slow)
        return loss
