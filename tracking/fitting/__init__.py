"""Kalman-filter track fitting: refit any track candidates, reject outliers, report perigee parameters.

Modules: :mod:`propagation` (analytic helix-to-plane propagation and its Jacobian, uniform field),
:mod:`stepper` (Runge-Kutta propagation with Jacobian transport in any field: the solenoid),
:mod:`perigee` (perigee parameters at the beam line), :mod:`material` (multiple scattering and energy
loss), :mod:`hit_errors` (measurement errors measured on real clusters), :mod:`seeding`
(three-point helix seed), :mod:`kalman` (batched filter + RTS smoother), :mod:`track_fit` (array-level
fitter) and :mod:`refit` (the public DataFrame API).
"""

from gnn4hep.tracking.fitting.refit import COV_COLUMNS, PARAM_COLUMNS, FitConfig, refit
from gnn4hep.tracking.fitting.track_fit import TrackFit, fit_surfaces

__all__ = ["COV_COLUMNS", "PARAM_COLUMNS", "FitConfig", "TrackFit", "fit_surfaces", "refit"]
