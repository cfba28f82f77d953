"""gnn4hep.tracking: TrackML events, I/O, detector geometry, simulation, scoring, building, fitting."""

from gnn4hep.tracking.event import Event

__all__ = ["Event"]
