"""TrackML-format event simulation on the real TrackML detector geometry.

Sources (gun, replay of real particles.csv, Pythia 8 with pileup) feed a vectorised helix
propagator through the module planes (multiple scattering, optional energy loss), followed by
digitisation into pixel clusters, efficiency and noise. The result is an :class:`~gnn4hep.tracking.event.Event`
in the exact challenge format.

Entry points: :func:`simulate_event` (one event in memory) and :func:`simulate_events` (files).
"""

from gnn4hep.tracking.simulation.batch import make_source, simulate_events
from gnn4hep.tracking.simulation.simulator import SimulationConfig, simulate_event
from gnn4hep.tracking.simulation.sources import GunSource, ParticleSource, ReplaySource

__all__ = [
    "GunSource",
    "ParticleSource",
    "ReplaySource",
    "SimulationConfig",
    "make_source",
    "simulate_event",
    "simulate_events",
]
