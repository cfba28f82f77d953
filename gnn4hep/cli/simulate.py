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


def _check_material(value: str) -> str:
    if value not in ("silicon", "trackml"):
        raise typer.BadParameter(f"{value!r} is not one of silicon, trackml")
    return value


def simulate(
    out: Annotated[Path, typer.Option("--out", parser=params.output_dir, help="output folder for eventNNNNNNNNN-*.csv.gz")],
    events: Annotated[int, typer.Option("--events", parser=params.integer(1, 1_000_000), help="number of events")] = 1,
    pileup: Annotated[float, typer.Option("--pileup", parser=params.number(0.0, 1000.0), help="mean pileup mu (pythia source)")] = 200.0,
    source: Annotated[str, typer.Option("--source", parser=_check_source,
                                        help="pythia | gun | quick | replay:PATH")] = "quick",
    seed: Annotated[int, typer.Option("--seed", parser=params.seed, help="random seed; event i uses (seed, i)")] = 0,
    workers: Annotated[int, typer.Option("--workers", parser=params.workers, help="parallel processes")] = 1,
    noise_hits: Annotated[int, typer.Option("--noise-hits", parser=params.integer(0, 10_000_000), help="noise hits per event")] = 0,
    efficiency: Annotated[float, typer.Option("--efficiency", parser=params.fraction, help="hit efficiency")] = 0.99,
    min_pt: Annotated[float, typer.Option("--min-pt", parser=params.number(0.0, 10_000.0), help="pT cut in GeV")] = 0.15,
    material: Annotated[str, typer.Option("--material", parser=_check_material,
                                          help="silicon: bare sensors; trackml: measured layer material "
                                          "(sensors + supports) with energy loss")] = "silicon",
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show a progress bar")] = True,
) -> None:
    """Simulate events in the TrackML challenge format on the TrackML detector; prints the event
    prefixes written, one per line."""
    from gnn4hep.cli.common import console
    from gnn4hep.tracking.simulation import SimulationConfig, simulate_events

    trackml = material == "trackml"
    config = SimulationConfig(noise_hits=noise_hits, hit_efficiency=efficiency, min_pt_gev=min_pt,
                              trackml_material=trackml, energy_loss=trackml)
    prefixes = simulate_events(
        out, events, source=source, pileup=pileup, seed=seed, workers=workers, progress=progress, config=config
    )
    console.print(f"wrote {len(prefixes)} event(s) to {out}:", markup=False, highlight=False, soft_wrap=True)
    for prefix in prefixes:
        console.print(str(prefix), markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate")(simulate)
