"""``gnn4hep qubo build|solve|score``: QUBO track finding (qallse model) with D-Wave Ocean samplers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from gnn4hep.cli import params
from gnn4hep.cli.common import naming, report

qubo_app = typer.Typer(
    help="Track finding as a QUBO (Bapst et al. 2019, qallse): build, solve with Ocean samplers, score.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]


@qubo_app.command("build")
def build(
    event: Annotated[Path, typer.Argument(parser=params.event_prefix, help="TrackML event prefix (or one of its files) with hits, truth and particles")],
    out: Annotated[Path, typer.Option("-o", "--out", parser=params.output_file, help="QUBO file to write (.json)")],
    density: Annotated[float, typer.Option(parser=params.number(0.0, 1.0, low_open=True), help="fraction of particles kept, in (0, 1]")] = 0.1,
    seed: Annotated[int, typer.Option(parser=params.seed, help="seed of the particle sampling")] = 0,
    doublets: Annotated[
        Optional[Path],
        typer.Option(parser=params.input_file, help="doublets of any hit graph: CSV hit_id_in,hit_id_out[,score], graph .pt or trackml_infer edge-score .parquet; default: geometric seeding"),
    ] = None,
    min_score: Annotated[float, typer.Option(parser=params.fraction, help="drop input doublets with a score below this")] = 0.0,
    all_volumes: Annotated[bool, typer.Option(help="keep every volume (default: barrel 8, 13, 17 only)")] = False,
    bqm: Annotated[Optional[Path], typer.Option(parser=params.output_file, help="also write dimod's native BQM file here")] = None,
    preset: Annotated[str, typer.Option(help="QUBO settings: tuned (default: measured best) or qallse (Bapst et al.'s 1 GeV config; solve it with --min-hits 3)")] = "tuned",
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="KEY=VALUE overriding a QuboConfig field, e.g. --set tplet_max_drz=0.05 (repeatable)"),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Reduce EVENT (barrel, density, no double hits), write it next to the QUBO, build and save the QUBO."""
    from gnn4hep.quantum.pipeline import build_qubo, read_doublet_source

    if not 0 < density <= 1:
        raise typer.BadParameter(f"{density} is not in (0, 1]", param_hint="--density")
    if out.suffix.lower() != ".json":
        raise typer.BadParameter(f"{out} must end with .json (use --bqm for dimod's format)", param_hint="--out")
    config = _qubo_config(preset, set_ or [])
    _, info = build_qubo(
        event, out, density=density, seed=seed, config=config, min_score=min_score,
        doublets=None if doublets is None else read_doublet_source(doublets),  # read before anything is written
        volumes=None if all_volumes else (8, 13, 17), bqm_file=bqm,
    )  # fmt: skip
    summary = {
        "n_variables": info["n_variables"],
        "n_couplings": info["n_couplings"],
        "build_seconds": info["build_seconds"],
        **{k: v for k, v in info.items() if k not in ("n_variables", "n_couplings", "build_seconds")},
        "qubo": str(out),
    }
    report(f"QUBO {out}", summary, json_out)


@qubo_app.command("solve")
def solve(
    qubo: Annotated[Path, typer.Argument(parser=params.input_file, help="QUBO file written by 'gnn4hep qubo build'")],
    out: Annotated[Path, typer.Option("-o", "--out", parser=params.output_file, help="TrackML submission CSV to write")],
    sampler: Annotated[str, typer.Option(help="sa | tabu | steepest | exact | hybrid | qpu | leap-hybrid | mock-qpu (Advantage-like Pegasus P16 mock)")] = "sa",
    reads: Annotated[int, typer.Option(parser=params.integer(1, 1_000_000), help="number of reads (samplers that take it)")] = 10,
    seed: Annotated[Optional[int], typer.Option(parser=params.seed, help="random seed (samplers that take it)")] = 0,
    sweeps: Annotated[Optional[int], typer.Option(parser=params.integer(1, 100_000_000), help="SA sweeps per read (sa only)")] = None,
    min_hits: Annotated[int, typer.Option(parser=params.integer(1, 1000), help="shortest chain kept as a track (qallse: 3)")] = 5,
    refit: Annotated[bool, typer.Option("--refit", help="Kalman-refit the tracks (outliers leave, orphan hits join the track that fits them)")] = False,
    refit_material: Annotated[str, typer.Option("--refit-material", help="fit material model: auto (trackml for real TrackML events, the simulator's material for simulated ones, as recorded in the QUBO file), trackml, simulator or sensors")] = "auto",
    sampler_option: Annotated[
        Optional[list[str]],
        typer.Option(help="KEY=VALUE passed to the sampler's constructor (repeatable; VALUE parsed as JSON when it can be), "
                          "e.g. mock-qpu: topology=zephyr, chain_strength_prefactor=0.5, chain_break_method=minimize_energy, "
                          "on_unembeddable=decompose; hybrid: subsampler=mock-qpu"),
    ] = None,
    sa_reference: Annotated[bool, typer.Option("--sa-reference/--no-sa-reference", help="also solve with SA and report the energy gap to it")] = True,
    json_out: JsonFlag = False,
) -> None:
    """Solve a QUBO with a dimod sampler and write the submission of the lowest-energy sample.

    QPU-path solves (mock-qpu, qpu, hybrid with QPU sub-problems) also report the embedding (qubits,
    longest and mean chain), chain strength, fraction of broken chains and QPU access time
    (estimated from D-Wave's timing model on the mock; the solver's own figures on a real QPU).
    A QUBO that does not embed stops with one line (exit 2) unless it is decomposed."""
    from gnn4hep.quantum.pipeline import solve_qubo
    from gnn4hep.quantum.samplers import SAMPLER_NAMES

    if sampler not in SAMPLER_NAMES:
        raise typer.BadParameter(f"'{sampler}' is not one of {', '.join(SAMPLER_NAMES)}", param_hint="--sampler")
    if reads < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--reads")
    from gnn4hep.quantum.pipeline import REFIT_MATERIALS

    if refit_material not in REFIT_MATERIALS:
        raise typer.BadParameter(f"'{refit_material}' is not one of {', '.join(REFIT_MATERIALS)}", param_hint="--refit-material")
    options = _parse_pairs(sampler_option or [], "--sampler-option")
    result = solve_qubo(qubo, out, sampler=sampler, seed=seed, num_reads=reads, sampler_options=options, min_hits=min_hits, refit=refit,
                        refit_material=refit_material, reference_sa=sa_reference,
                        **({"num_sweeps": sweeps} if sweeps else {}))  # fmt: skip
    result["submission"] = str(out)
    report(f"{qubo} solved with {sampler}", result, json_out)


@qubo_app.command("score")
def score(
    qubo: Annotated[Path, typer.Argument(parser=params.input_file, help="QUBO file (records its reduced event)")],
    submission: Annotated[Path, typer.Argument(parser=params.input_file, help="submission CSV hit_id,track_id")],
    json_out: JsonFlag = False,
) -> None:
    """Purity and efficiency (qallse, doublets of focus particles), TrackML score, track metrics."""
    from gnn4hep.quantum.pipeline import score_submission

    with naming(submission):
        result = score_submission(qubo, submission)
    report(f"{submission} on the event of {qubo}", result, json_out)


def _parse_pairs(items: list[str], option: str) -> dict:
    """KEY=VALUE strings to a dict; VALUE parsed as JSON when it can be."""
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"'{item}' is not KEY=VALUE", param_hint=option)
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    return values


def _qubo_config(preset: str, items: list[str]):
    import pydantic

    from gnn4hep.quantum.model import QUBO_PRESETS, QuboConfig

    if preset not in QUBO_PRESETS:
        raise typer.BadParameter(f"'{preset}' is not one of {', '.join(QUBO_PRESETS)}", param_hint="--preset")
    values = _parse_pairs(items, "--set")
    try:
        return QuboConfig.preset(preset, **values)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(f"{problems} (fields: {', '.join(QuboConfig.model_fields)})", param_hint="--set") from None


def register(app: typer.Typer) -> None:
    """Add the ``qubo`` sub-command group."""
    app.add_typer(qubo_app, name="qubo")
