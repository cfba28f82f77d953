"""A local stand-in for a D-Wave QPU that looks like the hardware: Advantage (Pegasus P16) or
Advantage2 (Zephyr Z12), fully yielded, whose stand-in sampler *anneals* the embedded problem.

``dwave.system.testing.MockDWaveSampler`` gives the QPU's interface and graph; by default it runs a
steepest descent on the embedded problem, which leaves the long chains of an embedded tracking QUBO
in poor local minima (energies ~45 % above SA's on the real sample event). Here the substitute is
simulated annealing of the embedded BQM (``dwave.samplers.SimulatedAnnealingSampler``, seeded per
call), so that mock results preview what an annealer returns; ``anneal="steepest"`` keeps the
old greedy behaviour.

Topologies (``topology_shape`` as ``dwave.graphs`` takes it):

=========  =========  =======  ===================================
name       shape      qubits   system
=========  =========  =======  ===================================
pegasus    [16]       5,640    Advantage (default)
zephyr     [12, 4]    4,800    Advantage2
chimera    [16,16,4]  2,048    D-Wave 2000Q (small tests: smaller)
=========  =========  =======  ===================================
"""

from __future__ import annotations

from typing import Any

from dwave.system.testing import MockDWaveSampler

from gnn4hep.errors import Gnn4hepError

TOPOLOGY_SHAPES: dict[str, list[int]] = {"pegasus": [16], "zephyr": [12, 4], "chimera": [16, 16, 4]}
ANNEALERS = ("sa", "steepest")


class AnnealingMockSampler(MockDWaveSampler):
    """``MockDWaveSampler`` that also takes ``seed`` (passed to its substitute sampler), so that mock
    solves are reproducible; everything else is the parent's (graph, properties, parameters)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.parameters = {**self.parameters, "seed": []}
        self.mocked_parameters = {*self.mocked_parameters, "seed"}


def make_mock_qpu(
    topology: str = "pegasus", shape: list[int] | None = None, anneal: str = "sa", num_sweeps: int = 1000
) -> AnnealingMockSampler:
    """A fully yielded mock QPU of ``topology`` (default Advantage's Pegasus P16) whose stand-in
    sampler is ``anneal``: simulated annealing with ``num_sweeps`` sweeps, or steepest descent."""
    if topology not in TOPOLOGY_SHAPES:
        raise Gnn4hepError(f"mock-qpu topology '{topology}' is not one of {', '.join(TOPOLOGY_SHAPES)}")
    if anneal not in ANNEALERS:
        raise Gnn4hepError(f"mock-qpu anneal '{anneal}' is not one of {', '.join(ANNEALERS)}")
    if anneal == "sa":
        from dwave.samplers import SimulatedAnnealingSampler

        substitute, kwargs = SimulatedAnnealingSampler(), {"num_sweeps": int(num_sweeps)}
    else:
        from dwave.samplers import SteepestDescentSolver

        substitute, kwargs = SteepestDescentSolver(), {}
    return AnnealingMockSampler(
        topology_type=topology,
        topology_shape=list(shape) if shape is not None else TOPOLOGY_SHAPES[topology],
        substitute_sampler=substitute,
        substitute_kwargs=kwargs,
        parameter_warnings=False,
    )


def topology_name(sampler: Any) -> str:
    """``"pegasus [16]"``-style name of a structured sampler's topology (empty when it has none)."""
    topology = getattr(sampler, "properties", {}).get("topology", {})
    return f"{topology.get('type', '')} {topology.get('shape', '')}".strip()
