"""The ``gnn4hep simulate`` command: TrackML-format events on the real TrackML geometry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gnn4hep.cli import params


def _check_source(value: str) -> str:
    from gnn4hep.tracking.simulation.batch import SOURCE_KINDS

    if value in ("gun", "quick", "pythia"):
        return value
    if value.startswith("replay:"):
        path = Path(value[len("replay:"):])
        if not value[len("replay:"):]:
            raise typer.BadParameter("replay needs a path: replay:PATH")
        if not path.exists():
            raise typer.BadParameter(f"replay path {str(path)!r} does not exist")
        return value
    raise typer.BadParameter(f"{value!r} is not one of {', '.join(SOURCE_KINDS)}")


def _check_material(value: str | None) -> str | None:
    if value is not None and value not in ("silicon", "trackml"):
        raise typer.BadParameter(f"{value!r} is not one of silicon, trackml")
    return value


def _check_field(value: str | None) -> str | None:
    if value is not None and value not in ("uniform", "solenoid"):
        raise typer.BadParameter(f"{value!r} is not one of uniform, solenoid")
    return value


def _check_beam_sigma_z(value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        values = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a length in mm or a comma-separated list of them",
                                 param_hint="--beam-sigma-z") from None
    if not all(0.0 <= v <= 1000.0 for v in values):
        raise typer.BadParameter(f"{value!r}: every length must be in [0, 1000] mm", param_hint="--beam-sigma-z")
    return values


def simulate(
    out: Annotated[Path, typer.Option("--out", parser=params.output_dir, help="output folder for eventNNNNNNNNN-*.csv.gz")],
    events: Annotated[int, typer.Option("--events", parser=params.integer(1, 1_000_000), help="number of events")] = 1,
    pileup: Annotated[float, typer.Option("--pileup", parser=params.number(0.0, 1000.0), help="mean pileup mu (pythia source)")] = 200.0,
    source: Annotated[str, typer.Option("--source", parser=_check_source,
                                        help="pythia | gun | quick | replay:PATH")] = "quick",
    seed: Annotated[int, typer.Option("--seed", parser=params.seed, help="random seed; event i uses (seed, i)")] = 0,
    workers: Annotated[int, typer.Option("--workers", parser=params.workers, help="parallel processes")] = 1,
    noise_hits: Annotated[int | None, typer.Option("--noise-hits", parser=params.integer(0, 10_000_000), help="noise hits per event "
                                                   "[default: pythia, replay: the real rate; else 0]")] = None,
    efficiency: Annotated[float, typer.Option("--efficiency", parser=params.fraction, help="hit efficiency")] = 0.99,
    min_pt: Annotated[float | None, typer.Option("--min-pt", parser=params.number(0.0, 10_000.0), help="pT cut in GeV [default: 0.15]")] = None,
    material: Annotated[str | None, typer.Option("--material", parser=_check_material,
                                                 help="silicon: bare sensors; trackml: measured layer material "
                                                 "(sensors + supports) with energy loss [default: trackml for "
                                                 "pythia and replay, silicon otherwise]")] = None,
    field: Annotated[str | None, typer.Option("--field", parser=_check_field,
                                              help="uniform: 2 T, exact helices; solenoid: the TrackML finite solenoid "
                                              "[default: solenoid for pythia and replay, uniform for gun and quick]")] = None,
    beam_sigma_z: Annotated[str | None, typer.Option(
        "--beam-sigma-z", metavar="MM[,MM...]",
        help="pythia: beam-spot sigma_z in mm, or a list that event i cycles through (e.g. 5.5,50 mixes the "
        "challenge's 5.5 mm with a 50 mm luminous region like the sample event's) [default: 5.5]")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show a progress bar")] = True,
) -> None:
    """Simulate events in the TrackML challenge format on the TrackML detector; prints the event
    prefixes written, one per line."""
    from gnn4hep.cli.common import console
    from gnn4hep.tracking.simulation import simulate_events
    from gnn4hep.tracking.simulation.batch import default_config, make_source

    given = {"hit_efficiency": efficiency}
    if noise_hits is not None:
        given.update(noise_hits=noise_hits, noise_fraction=0.0)
    if min_pt is not None:
        given["min_pt_gev"] = min_pt
    if material is not None:
        given.update(trackml_material=material == "trackml", energy_loss=material == "trackml")
    if field is not None:
        given["field"] = field
    beam = _check_beam_sigma_z(beam_sigma_z)
    if beam is not None and source != "pythia":
        raise typer.BadParameter("--beam-sigma-z applies to --source pythia only", param_hint="--beam-sigma-z")
    config = default_config(source, **given)
    spec = source if beam is None else make_source(source, pileup, beam)
    prefixes = simulate_events(
        out, events, source=spec, pileup=pileup, seed=seed, workers=workers, progress=progress, config=config
    )
    console.print(f"wrote {len(prefixes)} event(s) to {out}:", markup=False, highlight=False, soft_wrap=True)
    for prefix in prefixes:
        console.print(str(prefix), markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate")(simulate)
