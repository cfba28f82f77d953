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
hybrid        :class:`~gnn4hep.quantum.decomposition.DecompositionSampler`: dwave-hybrid
              energy-impact sub-QUBOs solved by SA (``subsampler="sa"``) or on a clique-embedded
              mock/real QPU (``subsampler="mock-qpu"`` / ``"qpu"``), for QUBOs too large for one solve
qpu           :class:`~gnn4hep.quantum.embedding.EmbeddedSampler` on ``DWaveSampler()``: real
              hardware, needs a Leap token; records the solver's returned timing
leap-hybrid   ``LeapHybridSampler()``: Leap's hybrid solver service, needs a Leap token
mock-qpu      :class:`~gnn4hep.quantum.embedding.EmbeddedSampler` on a local mock of an
              Advantage QPU (Pegasus P16; ``topology="zephyr"``: Advantage2) that anneals the
              embedded problem (:mod:`gnn4hep.quantum.mock_qpu`); estimated QPU access time
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


def make_sampler(name: str = "sa", **options: Any) -> dimod.Sampler:
    """The dimod sampler called ``name`` (see the module table); ``options`` go to its constructor.

    For ``hybrid``, options are those of ``DecompositionSampler``. For ``mock-qpu``: ``topology``,
    ``shape``, ``anneal``, ``num_sweeps`` (:func:`~gnn4hep.quantum.mock_qpu.make_mock_qpu`) and the
    options of ``EmbeddedSampler`` (:data:`EMBEDDING_OPTIONS`). For ``qpu``, those of ``EmbeddedSampler`` and of ``DWaveSampler``
    (e.g. ``solver=...``), never a token.

    Raises:
        Gnn4hepError: unknown name or bad options. MissingTokenError: hardware without a token.
    """
    try:
        return _make_sampler(name, options)
    except (TypeError, ValueError) as exc:  # a constructor refusing an option (name or value) the user gave
        raise Gnn4hepError(f"sampler '{name}': bad option ({exc})") from None


def _make_sampler(name: str, options: dict) -> dimod.Sampler:
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
        from gnn4hep.quantum.decomposition import DecompositionSampler

        return DecompositionSampler(**options)
    if name == "mock-qpu":
        from gnn4hep.quantum.embedding import EmbeddedSampler
        from gnn4hep.quantum.mock_qpu import make_mock_qpu, topology_name

        mock_keys = {"topology": "topology", "topology_type": "topology", "shape": "shape", "topology_shape": "shape",
                     "anneal": "anneal", "num_sweeps": "num_sweeps"}  # fmt: skip
        mock = {mock_keys[k]: options.pop(k) for k in list(options) if k in mock_keys}
        target = make_mock_qpu(**mock)
        return EmbeddedSampler(target, topology=topology_name(target), **_embedding_options(name, options))
    if name == "qpu":
        _require_token(name)
        from dwave.system import DWaveSampler

        from gnn4hep.quantum.embedding import EmbeddedSampler
        from gnn4hep.quantum.mock_qpu import topology_name

        embedding_options = _embedding_options(name, {k: options.pop(k) for k in list(options) if k in EMBEDDING_OPTIONS})
        target = _connect(name, DWaveSampler, options)
        return EmbeddedSampler(target, topology=topology_name(target), real_qpu=True, **embedding_options)
    if name == "leap-hybrid":
        _require_token(name)
        from dwave.system import LeapHybridSampler

        return _connect(name, LeapHybridSampler, options)
    raise Gnn4hepError(f"unknown sampler '{name}'; choose one of {', '.join(SAMPLER_NAMES)}")


#: Options of :class:`gnn4hep.quantum.embedding.EmbeddedSampler` (the QPU path).
EMBEDDING_OPTIONS = ("chain_strength_prefactor", "chain_break_method", "postprocess", "embedding_timeout",
                     "annealing_time", "on_unembeddable", "decompose_options")  # fmt: skip


def _embedding_options(name: str, options: dict) -> dict:
    unknown = sorted(set(options) - set(EMBEDDING_OPTIONS))
    if unknown:
        raise Gnn4hepError(f"sampler '{name}' has no option {', '.join(unknown)} (options: {', '.join(EMBEDDING_OPTIONS)}, "
                           "and for mock-qpu topology, shape, anneal, num_sweeps)")  # fmt: skip
    return options


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

