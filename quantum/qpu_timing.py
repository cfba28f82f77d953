"""QPU access time of a D-Wave submission: D-Wave's published timing model, and the real figures.

D-Wave's model ("Estimating the QPU Access Time", D-Wave system documentation, timing model 1.0.x;
the same formula as ``dwave.cloud.solver.StructuredSolver.estimate_qpu_access_time``), all in µs:

    qpu_access_time  = programming_time + sampling_time
    programming_time = typical_programming_time + programming_thermalization
    sampling_time    = num_reads · (anneal_time + readout_time(q) + delay_time + readout_thermalization)

where q is the number of qubits the embedded problem uses and readout_time(q) is a piecewise-linear
interpolation in log10(q) → log10(readout µs) (``readout_time_model = "pwl_log_log"``).

The constants (:data:`ADVANTAGE_TIMING`) are one place in the package: the ``problem_timing_data``
solver property of Advantage_system4.1 (Pegasus P16) as it was in August 2022, as published in
dwave-cloud-client's ``dwave.cloud.testing.mocks.qpu_problem_timing_data("advantage")``. They give a
programming time of ≈ 15.1 ms (14.07 ms + 1 ms thermalisation), a readout of ≈ 120–230 µs per read
for 100–3,000 qubits and a delay of 20.54 µs per read. No Advantage2 (Zephyr) figures are
published that way, so Zephyr estimates use the same constants (said in every record).

A real ``qpu`` solve records the solver's returned ``timing`` instead (:func:`measured_timing`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: ``problem_timing_data`` of Advantage_system4.1, August 2022 (times in µs); source: the module docstring.
ADVANTAGE_TIMING: dict[str, Any] = {
    "source": "Advantage_system4.1 problem_timing_data, Aug 2022 (dwave-cloud-client qpu_problem_timing_data('advantage'))",
    "typical_programming_time": 14072.88,
    "default_programming_thermalization": 1000.0,
    "default_annealing_time": 20.0,
    "readout_time_model": "pwl_log_log",
    # first half: log10(qubits) breakpoints; second half: log10(readout time per read, µs)
    "readout_time_model_parameters": [
        0.0, 0.7699665876947938, 1.7242758696010096, 2.711975459489206, 3.1639057672764026, 3.750276915153992,
        1.539131714800995, 1.8726623164229292, 2.125631787097315, 2.332672340068556, 2.371606651233025, 2.3716219271760215,
    ],  # fmt: skip
    "qpu_delay_time_per_sample": 20.54,
    "default_readout_thermalization": 0.0,
}


def readout_time_us(num_qubits: int, timing: Mapping[str, Any] = ADVANTAGE_TIMING) -> float:
    """Readout time of one read (µs) for a problem using ``num_qubits`` qubits (pwl_log_log model)."""
    params = timing["readout_time_model_parameters"]
    half = len(params) // 2
    log_qubits, log_readout = params[:half], params[half:]
    if timing["readout_time_model"] != "pwl_log_log":
        raise ValueError(f"unsupported readout_time_model {timing['readout_time_model']!r}")
    return float(10 ** np.interp(math.log10(max(num_qubits, 1)), log_qubits, log_readout))


def estimate_qpu_access_time(
    num_qubits: int,
    num_reads: int,
    annealing_time_us: float | None = None,
    timing: Mapping[str, Any] = ADVANTAGE_TIMING,
) -> dict[str, Any]:
    """QPU access time (µs) of ``num_reads`` reads of a problem embedded on ``num_qubits`` qubits.

    Args:
        num_qubits: qubits used by the embedding (sum of the chain lengths).
        num_reads: reads (anneal–readout cycles) of the submission.
        annealing_time_us: anneal time per read; None: the solver's default (20 µs).

    Returns:
        dict ``qpu_access_time_us`` and its parts (``programming_time_us``, ``sampling_time_us``,
        per-read ``anneal``/``readout``/``delay`` times), ``num_reads``, ``anneal_schedule``
        ([[0, 0], [t_a, 1]]: the standard forward anneal), ``estimated: True`` and the constants' source.
    """
    anneal = float(annealing_time_us if annealing_time_us is not None else timing["default_annealing_time"])
    programming = timing["typical_programming_time"] + timing["default_programming_thermalization"]
    readout = readout_time_us(num_qubits, timing)
    delay = timing["qpu_delay_time_per_sample"]
    per_read = anneal + readout + delay + timing["default_readout_thermalization"]
    sampling = num_reads * per_read
    return {
        "estimated": True,
        "qpu_access_time_us": programming + sampling,
        "programming_time_us": programming,
        "sampling_time_us": sampling,
        "anneal_time_per_read_us": anneal,
        "readout_time_per_read_us": readout,
        "delay_time_per_read_us": delay,
        "num_reads": int(num_reads),
        "num_qubits": int(num_qubits),
        "anneal_schedule": [[0.0, 0.0], [anneal, 1.0]],
        "timing_source": timing["source"],
    }


def measured_timing(info_timing: Mapping[str, Any], num_reads: int, annealing_time_us: float | None = None) -> dict[str, Any]:
    """The timing record of a real QPU solve from the solver's returned ``sampleset.info["timing"]`` (µs)."""
    record = {"estimated": False, "num_reads": int(num_reads), "timing_source": "solver (sampleset.info['timing'])"}
    names = {
        "qpu_access_time": "qpu_access_time_us",
        "qpu_programming_time": "programming_time_us",
        "qpu_sampling_time": "sampling_time_us",
        "qpu_anneal_time_per_sample": "anneal_time_per_read_us",
        "qpu_readout_time_per_sample": "readout_time_per_read_us",
        "qpu_delay_time_per_sample": "delay_time_per_read_us",
    }
    for key, name in names.items():
        if key in info_timing:
            record[name] = float(info_timing[key])
    anneal = record.get("anneal_time_per_read_us", annealing_time_us)
    record["anneal_schedule"] = [[0.0, 0.0], [float(anneal), 1.0]] if anneal is not None else None
    return record


def add_timings(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum of several QPU calls (e.g. the sub-problems of a decomposition): times and reads add up."""
    if not records:
        return {}
    total = dict(records[0])  # per-read times, schedule and source of the first call
    for key in ("qpu_access_time_us", "programming_time_us", "sampling_time_us", "num_reads"):
        if all(key in r for r in records):
            total[key] = sum(r[key] for r in records)
    total["num_qpu_calls"] = len(records)
    total.pop("num_qubits", None)
    total["num_qubits_max"] = max(r.get("num_qubits", 0) for r in records)
    return total
