"""Entry point of the ``gnn4hep`` command: core commands plus those registered by sub-modules.

Each module of COMMAND_MODULES defines ``register(app)`` adding its commands to the app.
Errors caused by user input (gnn4hep.errors.Gnn4hepError) print one clear line and exit with 2.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from gnn4hep.cli import params
from gnn4hep.cli.common import console, naming, report
from gnn4hep.errors import Gnn4hepError

app = typer.Typer(
    name="gnn4hep",
    help="Machine learning on collider events as graphs and point clouds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Modules adding commands with ``register(app)``.
COMMAND_MODULES: tuple[str, ...] = (
    "gnn4hep.cli.runs",
    "gnn4hep.cli.history",
    "gnn4hep.cli.jets",
    "gnn4hep.cli.qubo",
    "gnn4hep.cli.simulate",
    "gnn4hep.cli.fit",
    "gnn4hep.cli.track",
)

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]
EventPrefix = Annotated[Path, typer.Argument(
    parser=params.event_prefix, metavar="EVENT",
    help="event prefix, e.g. data/event000000001, or one of its files (data/event000000001-hits.csv.gz)")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("gnn4hep")
        except PackageNotFoundError:  # running from a source tree that is not installed
            number = "unknown (not installed)"
        console.print(f"gnn4hep {number}", markup=False, highlight=False)
        raise typer.Exit(0)


@app.callback()
def _options(
    show_version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                               help="print the version and exit")] = False,
) -> None:
    """Machine learning on collider events as graphs and point clouds."""


@app.command()
def info(
    event: EventPrefix,
    json_out: JsonFlag = False,
) -> None:
    """Summary of an event: hits, particles, noise, hits per detector volume."""
    import numpy as np

    from gnn4hep.tracking.io import available_parts, read_event

    parts = list(available_parts(event))
    if "hits" not in parts:
        raise Gnn4hepError(f"{event}: no hits file ({event}-hits.csv[.gz]) found")
    ev = read_event(event, parts=parts)
    summary: dict = {"event_id": ev.event_id, "parts": parts, "n_hits": len(ev.hits)}
    if ev.particles is not None:
        pt = np.hypot(ev.particles["px"], ev.particles["py"])
        summary["n_particles"] = len(ev.particles)
        summary["n_particles_pt_gt_1GeV"] = int((pt > 1).sum())
    if ev.truth is not None:
        summary["n_noise_hits"] = int((ev.truth["particle_id"] == 0).sum())
    if ev.cells is not None:
        summary["n_cells"] = len(ev.cells)
    per_volume = ev.hits.groupby("volume_id").agg(
        n_hits=("hit_id", "size"), n_layers=("layer_id", "nunique")
    )
    summary["hits_per_volume"] = {int(v): int(n) for v, n in per_volume["n_hits"].items()}
    report(f"event {ev.event_id}", summary, json_out, hide=("hits_per_volume",))
    if json_out:
        return
    from rich.table import Table

    table = Table(title="hits per volume")
    for column in ("volume_id", "layers", "hits"):
        table.add_column(column, justify="right")
    for volume, row in per_volume.iterrows():
        table.add_row(str(volume), str(row["n_layers"]), str(row["n_hits"]))
    console.print(table)


@app.command()
def score(
    event: Annotated[Path, typer.Argument(parser=params.event_prefix, metavar="EVENT",
                                          help="event prefix (or one of its files) with truth and particles files")],
    submission: Annotated[Path, typer.Argument(parser=params.input_file, help="CSV with hit_id,track_id for every hit")],
    weights: Annotated[
        str, typer.Option(help="'file': the truth weight column; 'phase1': all particles; 'phase2': primaries only")
    ] = "file",
    pt_min: Annotated[float, typer.Option(parser=params.non_negative_float, help="pT threshold (GeV) of the track metrics")] = 1.0,
    min_hits: Annotated[int, typer.Option(parser=params.non_negative_int, help="minimum hits of particles and tracks in the metrics")] = 3,
    json_out: JsonFlag = False,
) -> None:
    """TrackML score of a submission, plus efficiency, fake and duplicate rates."""
    from gnn4hep.tracking.io import read_event, read_submission
    from gnn4hep.tracking.metrics import track_metrics
    from gnn4hep.tracking.scoring import score_event, weight_hits

    if weights not in ("file", "phase1", "phase2"):
        raise typer.BadParameter(f"'{weights}' is not one of file, phase1, phase2", param_hint="--weights")
    ev = read_event(event, parts=("truth", "particles"))
    sub = read_submission(submission)
    truth = ev.truth
    if weights != "file":
        truth = truth.assign(weight=weight_hits(truth, ev.particles, primaries_only=weights == "phase2"))
    with naming(submission):
        result = {"trackml_score": score_event(truth, sub)}
        for threshold in (pt_min, 0.0):
            values = track_metrics(truth, ev.particles, sub, pt_min=threshold, min_hits=min_hits)
            suffix = "" if threshold == pt_min else "_all"
            result.update({f"{k}{suffix}": v for k, v in values.items()})
    report(f"event {ev.event_id}: pT > {pt_min} GeV, >= {min_hits} hits (_all: any pT)", result, json_out)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point: run the app; bad input of any kind (an option, a file, a config) ends
    as one line ``error: ...`` on stderr and exit code 2 (:func:`gnn4hep.cli.errors.report_error`)."""
    from gnn4hep.cli.errors import run_app

    sys.exit(run_app(app, argv))


if __name__ == "__main__":
    main()
