"""TrackML-format event simulation on the real TrackML detector geometry.

Sources (gun, replay of real particles.csv, Pythia 8 with pileup) feed a propagator through the module
planes (multiple scattering, optional energy loss): exact helices in a uniform field, compiled
Runge-Kutta-Nystroem steps in the TrackML finite solenoid (``SimulationConfig.field``; the default for
Pythia and replay), followed by
digitisation into pixel clusters, efficiency and noise. The result is an :class:`~gnn4hep.tracking.event.Event`
in the exact challenge format.

Entry points: :func:`simulate_event` (one event in memory) and :func:`simulate_events` (files).

Agreement with the real TrackML data (``benchmarks/simulation_realism.py``) rests on rules read off
the real sample event's truth, all on by default under ``SimulationConfig.trackml_navigation``:
barrel layers are hit outward only; a looper stops where it turns back, in the barrel and in the
end-caps; no barrel hit beyond |eta| = 3 from the vertex; a particle made inside a layer does not
hit it; loop protection stops a particle after 0.6 of a turn of path (``loop_fraction``,
``benchmarks/path_limit.py``). The realistic sources (``pythia``, ``replay:``) default to the real
detector's measured behaviour (``batch.default_config``): the finite solenoid field (Runge-Kutta-Nystroem
propagation, ``field_navigation``), per-layer material with energy loss, noise at the real event 1001's
rate spread uniformly over the modules, as the real noise is (``digitisation.TRACKML_NOISE_PER_MODULE``), propagation from pT = 0.15 GeV, and for Pythia
hadronic interactions in the material with secondaries (``interactions``). The ``quick`` and ``gun``
sources keep the light defaults of :class:`SimulationConfig` (uniform 2 T, exact helices). Fitted on the
reduced sample event, opt-in and biased high: random ends without recorded products (``unrecorded_ends``).
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
