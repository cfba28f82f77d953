"""One narrow factory for QUBO solvers: ``make_sampler(name, **options) -> dimod.Sampler``.

Every back-end is a ``dimod.Sampler``; ``dimod.ExactSolver`` is the reference implementation (exact,
for at most ~20 variables). Names:

============  ==================================================================================
name          sampler
============  ==================================================================================
sa            ``dwave.samplers.SimulatedAnnealingSampler`` (the default)
tabu          ``dwave.samplers.TabuSampler``
steepest      ``dwave.samplers.SteepestDescentSolver`` (greedy descent from random states)
exact         ``dimod.ExactSolver`` (brute force; tiny problems only)
hybrid        dwave-hybrid decomposition loop: EnergyImpactDecomposer → simulated annealing of
              the sub-QUBO (or QPU with ``qpu=True``) → SplatComposer, until no improvement
              (for QUBOs too large for one solve), wrapped in ``hybrid.HybridSampler``
qpu           ``EmbeddingComposite(DWaveSampler())``: real hardware, needs a Leap token
leap-hybrid   ``LeapHybridSampler()``: Leap's hybrid solver service, needs a Leap token
mock-qpu      ``EmbeddingComposite(MockDWaveSampler())``: the QPU path with a local mock QPU, so
              minor-embedding (minorminer) is really exercised
============  ==================================================================================

The token of the hardware back-ends comes only from the environment (``DWAVE_API_TOKEN``) or the
user's Ocean config file (``dwave config create``); it is never printed, logged or written. Without
one, :func:`make_sampler` raises :class:`MissingTokenError` before any network connection.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import dimod

from gnn4hep.errors import Gnn4hepError

SAMPLER_NAMES: tuple[str, ...] = ("sa", "tabu", "steepest", "exact", "hybrid", "qpu", "leap-hybrid", "mock-qpu")
#: Back-ends that need a D-Wave Leap account.
HARDWARE_SAMPLERS: tuple[str, ...] = ("qpu", "leap-hybrid")


class MissingTokenError(Gnn4hepError):
    """A hardware back-end was asked for, but no D-Wave API token is configured."""


def has_dwave_token() -> bool:
    """True when a token is set in the environment or in the Ocean config file (no network call)."""
    import os

    if os.environ.get("DWAVE_API_TOKEN"):
        return True
    from dwave.cloud.config import load_config
    from dwave.cloud.exceptions import ConfigFileError

    try:
        return bool(load_config().get("token"))
    except ConfigFileError as exc:  # unreadable or malformed config file; the message names no token
        raise MissingTokenError(f"could not read the D-Wave Ocean config file ({type(exc).__name__})") from None


def _require_token(name: str) -> None:
    if not has_dwave_token():
        raise MissingTokenError(
            f"sampler '{name}' needs a D-Wave Leap API token: API token not defined. Set the "
            "DWAVE_API_TOKEN environment variable or run `dwave config create`."
        )


def hybrid_workflow(
    n_variables: int, subproblem_size: int = 100, num_sweeps: int = 1000, rolls: int = 1, max_iter: int = 1000, qpu: bool = False
):
    """The dwave-hybrid decomposition workflow (a ``hybrid.Runnable``) for a QUBO of ``n_variables``.

    Each iteration races the current state against a branch that selects ``subproblem_size``
    variables by breadth-first traversal of the QUBO graph from the variable of highest energy
    impact (rolling over the variables not yet visited), so that a subproblem holds connected
    chains of triplets (with "energy" traversal, every flip gains the same −0.01 from the empty
    selection, and subproblems are scattered triplets that cannot form chains), samples that
    sub-QUBO (simulated annealing, or the QPU with auto-embedding) and splats the result back.
    The loop stops when ``rolls`` full passes over the variables
    (⌈n_variables / subproblem_size⌉ iterations each) bring no improvement, or after ``max_iter``.
    """
    import hybrid

    if qpu:
        _require_token("hybrid (qpu=True)")
        sub_sampler = hybrid.QPUSubproblemAutoEmbeddingSampler()
    else:
        sub_sampler = hybrid.SimulatedAnnealingSubproblemSampler(num_sweeps=num_sweeps)
    decomposer = hybrid.EnergyImpactDecomposer(size=subproblem_size, rolling_history=1.0, traversal="bfs")
    branch = decomposer | hybrid.Lambda(_subproblem_start) | sub_sampler | hybrid.SplatComposer()
    iteration = hybrid.RacingBranches(hybrid.Identity(), branch) | hybrid.ArgMin()
    convergence = rolls * -(-max(n_variables, 1) // subproblem_size)
    return hybrid.LoopUntilNoImprovement(iteration, convergence=convergence, max_iter=max_iter)


def _subproblem_start(_runnable: Any, state: Any, **_runopts: Any) -> Any:
    """Seed the sub-QUBO sampler with the current sample restricted to the subproblem.

    Without this, dwave-hybrid passes the previous iteration's subsamples, whose variables
    differ from the new subproblem's (dimod then raises "mismatch between variables").
    """
    sample = state.samples.first.sample
    start = {v: sample[v] for v in state.subproblem.variables}
    return state.updated(subsamples=dimod.SampleSet.from_samples_bqm(start, state.subproblem))


class DecompositionSampler(dimod.Sampler):
    """dimod sampler running :func:`hybrid_workflow` (sized to each problem) from the empty selection.

    The empty selection (all zeros) has no conflicts and energy 0, a better start for the qallse
    QUBO than a random state. Returns one sample.
    """

    parameters: dict = {"initial_sample": []}
    properties: dict = {}

    def __init__(self, **workflow_options: Any):
        self.workflow_options = workflow_options

    def sample(self, bqm: dimod.BinaryQuadraticModel, initial_sample: dict | None = None, **kwargs: Any) -> dimod.SampleSet:
        import hybrid

        size = min(self.workflow_options.get("subproblem_size", 100), max(bqm.num_variables, 1))
        workflow = hybrid_workflow(bqm.num_variables, **{**self.workflow_options, "subproblem_size": size})
        start = initial_sample if initial_sample is not None else {v: 0 for v in bqm.variables}
        return hybrid.HybridSampler(workflow).sample(bqm, initial_sample=start)


def make_sampler(name: str = "sa", **options: Any) -> dimod.Sampler:
    """The dimod sampler called ``name`` (see the module table); ``options`` go to its constructor.

    For ``hybrid``, options are those of :func:`hybrid_workflow`. For ``mock-qpu``, those of
    ``MockDWaveSampler`` (e.g. ``topology_type="pegasus"``). For ``qpu``, those of ``DWaveSampler``
    (e.g. ``solver=...``), never a token.

    Raises:
        Gnn4hepError: unknown name. MissingTokenError: hardware without a token.
    """
    if name == "sa":
        from dwave.samplers import SimulatedAnnealingSampler

        return SimulatedAnnealingSampler(**options)
    if name == "tabu":
        from dwave.samplers import TabuSampler

        return TabuSampler(**options)
    if name == "steepest":
        from dwave.samplers import SteepestDescentSolver

        return SteepestDescentSolver(**options)
    if name == "exact":
        return dimod.ExactSolver(**options)
    if name == "hybrid":
        return DecompositionSampler(**options)
    if name == "mock-qpu":
        from dwave.system import EmbeddingComposite
        from dwave.system.testing import MockDWaveSampler

        return EmbeddingComposite(MockDWaveSampler(**options))
    if name == "qpu":
        _require_token(name)
        from dwave.system import DWaveSampler, EmbeddingComposite

        return EmbeddingComposite(_connect(name, DWaveSampler, options))
    if name == "leap-hybrid":
        _require_token(name)
        from dwave.system import LeapHybridSampler

        return _connect(name, LeapHybridSampler, options)
    raise Gnn4hepError(f"unknown sampler '{name}'; choose one of {', '.join(SAMPLER_NAMES)}")


def _scrub(text: str) -> str:
    """``text`` with the configured token (if any) replaced by ``***``."""
    import os

    token = os.environ.get("DWAVE_API_TOKEN")
    return text.replace(token, "***") if token else text


_TOKEN_IN_TEXT = re.compile(r"""(token['"]?\s*[:=]\s*['"]?)[^'",\s)]+""")


def _mask_token(record: logging.LogRecord) -> bool:
    """Logging filter: the record's text with any ``token: ...`` / ``token=...`` value replaced by ``***``."""
    text = record.getMessage()
    masked = _TOKEN_IN_TEXT.sub(r"\1***", _scrub(text))
    if masked != text:
        record.msg, record.args = masked, ()
    return True


def _mask_library_logs() -> None:
    """dwave-cloud-client logs its whole config, token included, at DEBUG (``DWAVE_LOG_LEVEL=debug``):
    mask the token in every handler that could print it (the library's own and the root logger's)."""
    for logger in (logging.getLogger("dwave.cloud"), logging.getLogger("dwave"), logging.getLogger()):
        for handler in logger.handlers:
            if _mask_token not in handler.filters:
                handler.addFilter(_mask_token)


def _connect(name: str, factory: Any, options: dict) -> dimod.Sampler:
    """Create a cloud sampler; any failure becomes one line that never contains the token."""
    _mask_library_logs()
    try:
        return factory(**options)
    except Exception as exc:  # dwave-cloud-client raises many types (HTTP, auth, solver not found)
        raise Gnn4hepError(f"sampler '{name}': could not connect to D-Wave Leap ({type(exc).__name__}: {_scrub(str(exc))})") from None


def sample_kwargs(sampler: dimod.Sampler, num_reads: int | None = None, seed: int | None = None, **extra: Any) -> dict:
    """The keyword arguments of ``sampler.sample`` among num_reads, seed and ``extra`` that it accepts."""
    accepted = set(sampler.parameters)
    wanted = {"num_reads": num_reads, "seed": seed, **extra}
    return {k: v for k, v in wanted.items() if v is not None and k in accepted}


def solve(
    bqm: dimod.BinaryQuadraticModel, sampler: dimod.Sampler, num_reads: int | None = None, seed: int | None = None, **extra: Any
) -> tuple[dimod.SampleSet, float]:
    """Sample ``bqm`` and return (sample set, wall seconds). Unsupported options are left out."""
    kwargs = sample_kwargs(sampler, num_reads=num_reads, seed=seed, **extra)
    start = time.perf_counter()
    sampleset = sampler.sample(bqm, **kwargs)
    sampleset.resolve()
    return sampleset, time.perf_counter() - start

