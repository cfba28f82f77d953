"""Evaluation of track candidates over several events: aggregated track metrics and plots
(efficiency vs pT and eta, event display)."""
