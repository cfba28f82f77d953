"""gnn4hep: machine learning on collider events as graphs and point clouds.

Sub-packages:
- ``gnn4hep.tracking``: TrackML events, I/O, simulation, scoring, track building and fitting.
- ``gnn4hep.quantum``: track finding as a QUBO, solved with D-Wave Ocean samplers.
- ``gnn4hep.jets``: jet tagging on particle-flow constituents.
"""

__version__ = "0.1.0"
