"""Kalman-filter track fitting: refit any track candidates, reject outliers, report perigee parameters.

Modules: :mod:`propagation` (analytic helix-to-plane propagation and its Jacobian), :mod:`perigee`
(perigee parameters at the beam line), :mod:`material` (multiple-scattering noise), :mod:`seeding`
(three-point helix seed), :mod:`kalman` (batched filter + RTS smoother), :mod:`track_fit` (array-level
fitter) and :mod:`refit` (the public DataFrame API).
"""

from gnn4hep.tracking.fitting.refit import COV_COLUMNS, PARAM_COLUMNS, FitConfig, refit
from gnn4hep.tracking.fitting.track_fit import TrackFit, fit_surfaces

__all__ = ["COV_COLUMNS", "PARAM_COLUMNS", "FitConfig", "TrackFit", "fit_surfaces", "refit"]
