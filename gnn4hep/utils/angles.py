"""Azimuth arithmetic shared by the hit graphs and the jet features."""

from __future__ import annotations

import numpy as np


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Azimuth (difference) wrapped into [-pi, pi), radians."""
    return (np.asarray(dphi) + np.pi) % (2 * np.pi) - np.pi
