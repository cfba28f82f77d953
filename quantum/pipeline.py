"""The three verbs of QUBO track finding on files: build, solve, score (used by the CLI and stages).

- :func:`build_qubo`: event → reduced event (written next to the QUBO) → doublets → QUBO file.
- :func:`solve_qubo`: QUBO file → sampler → lowest-energy sample → TrackML submission CSV.
- :func:`score_submission`: QUBO file + submission → metrics on the reduced event it records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnn4hep.errors import InputFileError
from gnn4hep.quantum.dataset import reduce_event, reduced_event_prefix
from gnn4hep.quantum.decode import decode_sample
from gnn4hep.quantum.doublets import DoubletConfig, doublets_from_graph, make_doublets
from gnn4hep.quantum.metrics import score_solution
from gnn4hep.quantum.embedding import qpu_figures
from gnn4hep.quantum.model import DEFAULT_MIN_HITS, QuboConfig, QuboModel, build_bqm
from gnn4hep.quantum.samplers import make_sampler, solve
from gnn4hep.quantum.serialization import load_qubo, save_qubo
from gnn4hep.tracking.event import Event
from gnn4hep.tracking.io import read_csv_columns, read_event, write_event
from gnn4hep.utils.atomic import atomic_write_text


def read_doublet_source(path: str | Path) -> pd.DataFrame:
    """Doublets from a file: an edge-table CSV (``hit_id_in, hit_id_out[, score]``), a graph
    file of :func:`gnn4hep.graphs.io.save_graph` (``edge_index``, ``hit_id``, ``edge_scores``), or
    an edge-score parquet of the trackml_infer stage (``source_hit_id, target_hit_id, edge_score``).
    Returns the edge table as read (:func:`build_qubo` checks and orients it)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "doublet/graph file not found")
    if path.suffix in (".pt", ".pth"):
        from gnn4hep.graphs.io import load_graph

        try:
            graph = load_graph(path)
        except (OSError, RuntimeError, ValueError, EOFError) as exc:  # a damaged file; InputFileError passes
            if isinstance(exc, InputFileError):
                raise
            raise InputFileError(path, f"not a readable graph file ({type(exc).__name__})") from None
        node_hit = graph.hit_id.numpy()
        edges = graph.edge_index.numpy()
        scores = graph.edge_scores.numpy() if getattr(graph, "edge_scores", None) is not None else np.ones(edges.shape[1])
        return pd.DataFrame({"hit_id_in": node_hit[edges[0]], "hit_id_out": node_hit[edges[1]], "score": scores})
    if path.suffix == ".parquet":
        try:
            table = pd.read_parquet(path)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InputFileError(path, f"not a readable parquet file ({' '.join(str(exc).split())[:160]})") from None
        missing = {"source_hit_id", "target_hit_id", "edge_score"} - set(table.columns)
        if missing:
            raise InputFileError(path, f"edge-score file lacks column(s) {', '.join(sorted(missing))}")
        return table.rename(columns={"source_hit_id": "hit_id_in", "target_hit_id": "hit_id_out", "edge_score": "score"})
    return read_csv_columns(path, {"hit_id_in": "int64", "hit_id_out": "int64"}, "edge-score file",
                            optional={"score": "float64"})


def _event_doublets(table: pd.DataFrame, hits: pd.DataFrame, min_score: float) -> pd.DataFrame:
    """:func:`doublets_from_graph` of the edges between hits of ``hits`` (edges touching hits
    removed by the density reduction are dropped)."""
    if {"hit_id_in", "hit_id_out"} <= set(table.columns):
        known = hits["hit_id"].to_numpy()
        table = table[table["hit_id_in"].isin(known) & table["hit_id_out"].isin(known)]
    return doublets_from_graph(table, hits, min_score=min_score)


def build_qubo(
    event: Event | str | Path,
    out: str | Path,
    density: float = 0.1,
    seed: int = 0,
    config: QuboConfig | None = None,
    doublet_config: DoubletConfig | None = None,
    doublets: pd.DataFrame | str | Path | None = None,
    min_score: float = 0.0,
    volumes: tuple[int, ...] | None = (8, 13, 17),
    bqm_file: str | Path | None = None,
) -> tuple[QuboModel, dict[str, Any]]:
    """Reduce an event, write it next to ``out``, build its QUBO and save it to ``out``.

    Args:
        event: an Event or a TrackML event prefix (hits, truth, particles).
        doublets: None: geometric doublets (qallse's seeding); a DataFrame or a file (see
            :func:`read_doublet_source`): doublets of any hit graph, e.g. GNN-scored edges.
        min_score: loose cut on the doublet scores.
        bqm_file: also write dimod's native BQM file there.

    Returns:
        (model, info) with the reduced event prefix and the build statistics.
    """
    source_prefix = None if isinstance(event, Event) else event
    if not isinstance(event, Event):
        event = read_event(event, parts=("hits", "particles", "truth"))
    simulation = event_simulation(event, source_prefix)  # read before anything is written
    reduced = reduce_event(event, density=density, seed=seed, volumes=volumes)
    prefix = reduced_event_prefix(out, reduced.name)
    write_event(reduced, prefix)
    if doublets is None:
        table, source = make_doublets(reduced.hits, doublet_config), "geometric"
    else:
        raw = doublets if isinstance(doublets, pd.DataFrame) else read_doublet_source(doublets)
        table = _event_doublets(raw, reduced.hits, min_score)
        source = "table" if isinstance(doublets, pd.DataFrame) else str(doublets)
    model = build_bqm(reduced.hits, table, config)
    meta = {k: v for k, v in reduced.meta.items() if k != "prefix"}
    meta.update(doublet_source=source, min_score=min_score, simulation=simulation)
    save_qubo(model, out, event=prefix, meta=meta)
    if bqm_file is not None:
        save_qubo(model, bqm_file)
    info = {**model.stats, "event": str(prefix), **{k: meta[k] for k in ("density", "seed", "n_focus_particles")}}
    return model, info


def event_simulation(event: Event, prefix: str | Path | None = None) -> dict | None:
    """The ``simulation.json`` record of the folder the event was read from (``prefix``, else the event's
    ``meta["prefix"]``), or its ``meta["simulation"]``; None for real data (no record).

    The QUBO file keeps it (``meta["simulation"]``): the reduced event is written next to the QUBO, away
    from that record, and ``--refit-material auto`` fits simulated events with their simulation's material.
    """
    from gnn4hep.tracking.simulation.batch import read_settings

    prefix = prefix if prefix is not None else event.meta.get("prefix")
    if prefix is None:
        return event.meta.get("simulation")
    return read_settings(Path(prefix).parent)


REFIT_MATERIALS = ("auto", "trackml", "simulator", "sensors")


def refit_config(info: dict, refit_material: str = "auto"):
    """The :class:`~gnn4hep.tracking.fitting.FitConfig` of a QUBO's refit (pion mass): field, material and
    hit errors as its event was made (:func:`~gnn4hep.tracking.fitting.refit.simulated_physics` of the
    recorded simulation: the real detector's for real TrackML events and for QUBO files without a record);
    ``refit_material`` other than "auto" overrides the material model."""
    from gnn4hep.tracking.fitting import FitConfig
    from gnn4hep.tracking.fitting.refit import simulated_physics

    if refit_material not in REFIT_MATERIALS:
        raise ValueError(f"refit material {refit_material!r} is not one of {', '.join(REFIT_MATERIALS)}")
    physics = simulated_physics(info.get("meta", {}).get("simulation"))
    if refit_material != "auto":
        physics["material_model"] = refit_material
    return FitConfig(mass_gev=0.13957, **physics)


def solve_qubo(
    qubo: str | Path,
    out: str | Path,
    sampler: str = "sa",
    seed: int | None = 0,
    num_reads: int | None = 10,
    sampler_options: dict | None = None,
    min_hits: int = DEFAULT_MIN_HITS,
    refit: bool = False,
    refit_material: str = "auto",
    reference_sa: bool = True,
    **sample_options: Any,
) -> dict[str, Any]:
    """Solve a QUBO file and write the TrackML submission of its lowest-energy sample.

    ``sample_options`` (e.g. ``num_sweeps``) go to ``sampler.sample`` when it accepts them.
    ``refit``: Kalman-refit the decoded tracks (:func:`gnn4hep.tracking.fitting.refit`: outlier
    hits leave their track, orphan hits join the track whose fit accepts them) before writing the
    submission; ``refit_material``: the fit's material model, "auto" (the default: "trackml" for real
    TrackML events, the simulator's material for simulated ones, from the record the QUBO file keeps; see
    :func:`refit_config`), "trackml", "simulator" or "sensors". ``reference_sa``: for every sampler but ``sa``, also
    solve with SA (same reads and seed) and report ``sa_energy`` and ``energy_gap_to_sa``
    = (E − E_SA) / |E_SA|.

    Returns:
        dict with ``energy``, ``solve_seconds``, ``n_selected`` and ``n_tracks``; for the QPU path
        (``mock-qpu``, ``qpu``, ``hybrid`` with QPU sub-problems) also the embedding, chain strength,
        broken-chain fraction and QPU access time (:func:`gnn4hep.quantum.embedding.qpu_figures`).
    """
    model, info = load_qubo(qubo)
    event = _reduced_event(qubo, info, parts=("hits",))
    hits = event.hits
    sampleset, seconds = solve(model.bqm, make_sampler(sampler, **(sampler_options or {})), num_reads=num_reads, seed=seed, **sample_options)
    best = sampleset.first
    submission, _ = decode_sample(model.triplets, best.sample, hits, min_hits=min_hits)
    if refit:
        from gnn4hep.tracking.fitting import refit as kalman_refit

        submission, _ = kalman_refit(event, submission, config=refit_config(info, refit_material), name="QUBO tracks")
        submission = submission[["hit_id", "track_id"]].reset_index(drop=True)
    submission.insert(0, "event_id", event.event_id)
    atomic_write_text(out, submission.to_csv(index=False, lineterminator="\n"))
    counts = submission["track_id"].value_counts()
    result = {
        "sampler": sampler,
        "energy": float(best.energy),
        "solve_seconds": seconds,
        "n_variables": model.n_variables,
        "n_selected": int(sum(1 for v in best.sample.values() if v == 1)),
        "n_tracks": int((counts >= min_hits).sum()),
    }
    if "qpu" in sampleset.info:
        result.update(qpu_figures(sampleset.info["qpu"]))
    if reference_sa and sampler != "sa":
        reference, _ = solve(model.bqm, make_sampler("sa"), num_reads=num_reads, seed=seed)
        result.update(energy_gaps(result["energy"], float(reference.first.energy)))
    return result


def energy_gaps(energy: float, sa_energy: float) -> dict[str, float]:
    """``sa_energy`` and the relative gap (E − E_SA) / |E_SA| (0 when both are 0)."""
    gap = (energy - sa_energy) / abs(sa_energy) if sa_energy else float(energy != sa_energy)
    return {"sa_energy": sa_energy, "energy_gap_to_sa": gap}


def score_submission(qubo: str | Path, submission: pd.DataFrame | str | Path) -> dict[str, float]:
    """Metrics (:func:`gnn4hep.quantum.metrics.score_solution`) of a submission on the QUBO's event."""
    from gnn4hep.tracking.io import read_submission

    _, info = load_qubo(qubo)
    event = _reduced_event(qubo, info, parts=("hits", "truth", "particles"))
    if not isinstance(submission, pd.DataFrame):
        submission = read_submission(submission)
    return score_solution(event, submission)


def _reduced_event(qubo: str | Path, info: dict, parts: tuple[str, ...]) -> Event:
    if not info.get("event"):
        raise InputFileError(qubo, "the QUBO file records no event (a dimod .bqm file? use the JSON file)")
    return read_event(info["event"], parts=parts)
