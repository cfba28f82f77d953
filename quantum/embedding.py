"""The QPU path: minor-embed a QUBO, sample it on a structured (mock or real) QPU, unembed, report.

:class:`EmbeddedSampler` is a ``dimod.Sampler`` that does, with Ocean's parts:

1. **Embedding**: ``minorminer.find_embedding`` (Cai, Macready & Roy, arXiv:1406.2741) of the
   QUBO's graph on the QPU's graph, with a seed, found once and reused for every read (and cached
   in the process for the same graph, QPU and seed) through ``FixedEmbeddingComposite``. A QUBO with
   more variables than qubits, or for which no embedding is found within ``embedding_timeout``
   seconds, raises :class:`EmbeddingError` (one line; the CLI exits 2) unless
   ``on_unembeddable="decompose"``, which hands it to the decomposition sampler with QPU-sized
   sub-problems (:mod:`gnn4hep.quantum.decomposition`).
2. **Chain strength**: ``chain_strength_prefactor`` × Ocean's ``uniform_torque_compensation``
   (√(mean degree) × RMS coupling; Raymond et al., Front. ICT 2020). The default prefactor comes
   from the scan in ``benchmarks/qubo.py`` (see its output).
3. **Chain breaks**: resolved by majority vote (``dwave.embedding.chain_breaks.majority_vote``) or
   by energy minimisation (``MinimizeEnergy``).
4. **Post-processing** (optional, on by default): greedy steepest descent on the *unembedded*
   QUBO from every read (``dwave.samplers.SteepestDescentSolver`` with ``initial_states``).

Every sample set carries ``info["qpu"]``: the embedding (``qubits``, ``max_chain``,
``mean_chain``), ``chain_strength``, ``chain_break_fraction`` (mean over reads of the fraction
of broken chains), the topology, and the QPU access time (:mod:`gnn4hep.quantum.qpu_timing`):
estimated from D-Wave's published model for a mock, the solver's returned ``timing`` for a real QPU.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import dimod
import numpy as np

from gnn4hep.errors import Gnn4hepError
from gnn4hep.quantum.qpu_timing import estimate_qpu_access_time, measured_timing

#: Chain-strength prefactor of the default rule (chosen by the scan in benchmarks/qubo.py).
DEFAULT_CHAIN_STRENGTH_PREFACTOR = 0.25
CHAIN_BREAK_METHODS = ("majority_vote", "minimize_energy")
_EMBEDDINGS: dict[str, dict] = {}  # in-process cache: (source graph, target graph, seed) -> embedding


class EmbeddingError(Gnn4hepError):
    """A QUBO does not fit on the QPU's graph."""


def embedding_stats(embedding: dict) -> dict[str, float]:
    """Qubits used, longest and mean chain of an embedding (variable → chain of qubits)."""
    lengths = np.array([len(chain) for chain in embedding.values()], dtype=np.int64)
    return {
        "qubits": int(lengths.sum()),
        "max_chain": int(lengths.max()) if len(lengths) else 0,
        "mean_chain": float(lengths.mean()) if len(lengths) else 0.0,
    }


def _graph_key(bqm: dimod.BinaryQuadraticModel, target_edges: list, seed: int) -> str:
    """Digest of the source graph, the whole target graph and the seed (the embedding cache key)."""
    digest = hashlib.sha256()
    digest.update(repr(sorted(map(str, bqm.variables))).encode())
    digest.update(repr(sorted(tuple(sorted(map(str, edge))) for edge in bqm.quadratic)).encode())
    digest.update(np.asarray(target_edges, dtype=np.int64).tobytes())
    digest.update(str(seed).encode())
    return digest.hexdigest()


def find_embedding(
    bqm: dimod.BinaryQuadraticModel, target: dimod.Structured, seed: int = 0, timeout: float = 60.0, topology: str = ""
) -> dict:
    """A minorminer embedding of ``bqm``'s graph on ``target``'s graph (cached in the process).

    Raises:
        EmbeddingError: more variables than qubits, or nothing found within ``timeout`` seconds.
    """
    import minorminer

    qubits = len(target.nodelist)
    where = f"{topology} ({qubits} qubits)" if topology else f"the QPU graph ({qubits} qubits)"
    hint = "; decompose it with --sampler hybrid --sampler-option subsampler=mock-qpu (or on_unembeddable=decompose)"
    if bqm.num_variables > qubits or bqm.num_interactions > len(target.edgelist):
        raise EmbeddingError(
            f"QUBO of {bqm.num_variables} variables and {bqm.num_interactions} couplings cannot be embedded on {where}{hint}"
        )
    key = _graph_key(bqm, target.edgelist, seed)
    if key not in _EMBEDDINGS:
        source_edges = list(bqm.quadratic) + [(v, v) for v in bqm.variables if bqm.degree(v) == 0]
        found = minorminer.find_embedding(source_edges, target.edgelist, random_seed=seed, timeout=timeout)
        found = {v: chain for v, chain in found.items() if v in bqm.variables} if found else {}
        if len(found) < bqm.num_variables:
            raise EmbeddingError(
                f"no embedding of the QUBO ({bqm.num_variables} variables, {bqm.num_interactions} couplings) "
                f"on {where} found within {timeout:g} s{hint}"
            )
        _EMBEDDINGS[key] = {v: list(chain) for v, chain in found.items()}
    return _EMBEDDINGS[key]


def chain_strength(bqm: dimod.BinaryQuadraticModel, prefactor: float = DEFAULT_CHAIN_STRENGTH_PREFACTOR) -> float:
    """``prefactor`` × Ocean's uniform torque compensation of ``bqm`` (in the BQM's own units)."""
    from dwave.embedding.chain_strength import uniform_torque_compensation

    return float(uniform_torque_compensation(bqm, prefactor=prefactor))


class EmbeddedSampler(dimod.Sampler):
    """Sample a QUBO on a structured sampler (mock or real QPU) through a fixed minorminer embedding.

    Args:
        target: a ``dimod.Structured`` sampler (``MockDWaveSampler`` or ``DWaveSampler``).
        chain_strength_prefactor: factor of the uniform-torque-compensation rule.
        chain_break_method: ``majority_vote`` or ``minimize_energy``.
        postprocess: greedy descent on the unembedded QUBO from every read.
        embedding_timeout: seconds minorminer may search.
        annealing_time: µs per read (sent to a real QPU; used by the mock's time estimate).
        on_unembeddable: ``error`` (raise :class:`EmbeddingError`) or ``decompose``.
        topology: a name for messages and records (e.g. ``pegasus [16]``).
        real_qpu: record the solver's returned timing instead of the estimate.
        decompose_options: options of the decomposition sampler used by ``on_unembeddable="decompose"``.
    """

    parameters: dict = {"num_reads": [], "seed": [], "embedding": []}
    properties: dict = {}

    def __init__(
        self,
        target: dimod.Structured,
        chain_strength_prefactor: float = DEFAULT_CHAIN_STRENGTH_PREFACTOR,
        chain_break_method: str = "majority_vote",
        postprocess: bool = True,
        embedding_timeout: float = 60.0,
        annealing_time: float = 20.0,
        on_unembeddable: str = "error",
        topology: str = "",
        real_qpu: bool = False,
        decompose_options: dict | None = None,
    ):
        if chain_break_method not in CHAIN_BREAK_METHODS:
            raise Gnn4hepError(f"chain_break_method '{chain_break_method}' is not one of {', '.join(CHAIN_BREAK_METHODS)}")
        if on_unembeddable not in ("error", "decompose"):
            raise Gnn4hepError(f"on_unembeddable '{on_unembeddable}' is not error or decompose")
        self.target = target
        self.chain_strength_prefactor = float(chain_strength_prefactor)
        self.chain_break_method = chain_break_method
        self.postprocess = bool(postprocess)
        self.embedding_timeout = float(embedding_timeout)
        self.annealing_time = float(annealing_time)
        self.on_unembeddable = on_unembeddable
        self.topology = topology
        self.real_qpu = real_qpu
        self.decompose_options = decompose_options or {}

    def sample(
        self, bqm: dimod.BinaryQuadraticModel, num_reads: int = 10, seed: int | None = 0, embedding: dict | None = None, **kwargs: Any
    ) -> dimod.SampleSet:
        """Embed (or use ``embedding``), sample ``num_reads`` reads, unembed, post-process; see the class."""
        seed = 0 if seed is None else int(seed)
        start = time.perf_counter()
        try:
            if embedding is None:
                embedding = find_embedding(bqm, self.target, seed=seed, timeout=self.embedding_timeout, topology=self.topology)
        except EmbeddingError:
            if self.on_unembeddable == "error":
                raise
            from gnn4hep.quantum.decomposition import DecompositionSampler

            decomposer = DecompositionSampler(subsampler=self, **self.decompose_options)
            return decomposer.sample(bqm, seed=seed, num_reads=num_reads)
        embed_seconds = time.perf_counter() - start
        return self.sample_embedded(bqm, embedding, num_reads=num_reads, seed=seed, embed_seconds=embed_seconds)

    def sample_embedded(
        self, bqm: dimod.BinaryQuadraticModel, embedding: dict, num_reads: int = 10, seed: int = 0, embed_seconds: float = 0.0
    ) -> dimod.SampleSet:
        """Sample through a given embedding (see :meth:`sample`)."""
        from dwave.embedding.chain_breaks import MinimizeEnergy, majority_vote
        from dwave.system import FixedEmbeddingComposite

        strength = chain_strength(bqm, self.chain_strength_prefactor)
        method = majority_vote if self.chain_break_method == "majority_vote" else MinimizeEnergy(bqm, embedding)
        params: dict[str, Any] = {"num_reads": num_reads}
        if self.real_qpu:
            params["annealing_time"] = self.annealing_time
        else:
            params["seed"] = seed
        composite = FixedEmbeddingComposite(self.target, embedding=embedding)
        sampleset = composite.sample(bqm, chain_strength=strength, chain_break_method=method, chain_break_fraction=True, **params)
        sampleset.resolve()
        broken = float(np.mean(sampleset.record.chain_break_fraction)) if len(sampleset) else 0.0
        raw_info = dict(sampleset.info)
        if self.postprocess:
            from dwave.samplers import SteepestDescentSolver

            sampleset = SteepestDescentSolver().sample(bqm, initial_states=sampleset)
        stats = embedding_stats(embedding)
        if self.real_qpu and "timing" in raw_info:
            timing = measured_timing(raw_info["timing"], num_reads, self.annealing_time)
        else:
            timing = estimate_qpu_access_time(stats["qubits"], num_reads, self.annealing_time)
        record = {
            "topology": self.topology,
            "embedding": stats,
            "embedding_seconds": embed_seconds,
            "chain_strength": strength,
            "chain_strength_rule": f"{self.chain_strength_prefactor:g} x uniform_torque_compensation",
            "chain_break_method": self.chain_break_method,
            "chain_break_fraction": broken,
            "postprocess": "steepest descent" if self.postprocess else None,
            "timing": timing,
        }
        return dimod.SampleSet(sampleset.record, sampleset.variables, {"qpu": record}, sampleset.vartype)


def qpu_figures(record: dict) -> dict[str, Any]:
    """The flat figures of an ``info["qpu"]`` record, for reports and JSON (times in ms)."""
    timing = record["timing"]
    figures = {
        "qpu_topology": record["topology"],
        "embedding_qubits": record["embedding"]["qubits"],
        "embedding_max_chain": record["embedding"]["max_chain"],
        "embedding_mean_chain": round(record["embedding"]["mean_chain"], 4),
        "embedding_seconds": record["embedding_seconds"],
        "chain_strength": record["chain_strength"],
        "chain_strength_rule": record["chain_strength_rule"],
        "chain_break_method": record["chain_break_method"],
        "chain_break_fraction": record["chain_break_fraction"],
        "postprocess": record["postprocess"] or "none",
        "qpu_access_time_ms": timing.get("qpu_access_time_us", float("nan")) / 1000,
        "qpu_programming_time_ms": timing.get("programming_time_us", float("nan")) / 1000,
        "qpu_sampling_time_ms": timing.get("sampling_time_us", float("nan")) / 1000,
        "qpu_timing": ("estimated: " if timing.get("estimated") else "measured: ") + timing.get("timing_source", ""),
        "qpu_num_reads": timing.get("num_reads"),
        "anneal_schedule": json.dumps(timing.get("anneal_schedule")),
    }
    if "num_qpu_calls" in timing:
        figures["qpu_calls"] = timing["num_qpu_calls"]
    return figures
