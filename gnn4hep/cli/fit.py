"""The ``gnn4hep fit`` command: Kalman refit of track candidates, perigee parameters to CSV."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from gnn4hep.cli import params
from gnn4hep.errors import InputFileError

MATERIALS = ("auto", "trackml", "simulator", "sensors")
FIELDS = ("auto", "trackml", "solenoid", "uniform", "segmented")
HIT_ERRORS = ("auto", "trackml", "pitch", "simulated")
AUTO = ("auto: as the events were simulated (their folder's simulation.json), else real TrackML data: ")


def _choice(choices: tuple[str, ...]):
    """A typer parser accepting one of ``choices`` (BadParameter naming them otherwise)."""
    def parse(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return parse


def fit(
    event: Annotated[Path, typer.Argument(parser=params.event_prefix,
                                          help="event prefix, e.g. data/event000000001, or one of its files (hits; cells optional)")],
    candidates: Annotated[Path, typer.Argument(parser=params.input_file, help="CSV with hit_id,track_id (any track builder or QUBO decoder)")],
    out: Annotated[Path, typer.Option("--out", parser=params.output_file, help="output CSV of track parameters (one row per track)")],
    cleaned: Annotated[Optional[Path], typer.Option("--cleaned", parser=params.output_file, help="also write the cleaned candidates (hit_id,track_id)")] = None,
    chi2_cut: Annotated[float, typer.Option("--chi2-cut", parser=params.positive_float, help="outlier cut on a hit's smoothed chi2 (2 dof)")] = 15.0,
    max_outliers: Annotated[int, typer.Option("--max-outliers", parser=params.integer(0, 1000), help="outlier-removal rounds (0: none)")] = 5,
    iterations: Annotated[int, typer.Option("--iterations", parser=params.integer(1, 100), help="Kalman passes per fit")] = 1,
    mass: Annotated[float, typer.Option("--mass", parser=params.number(0.0, 1000.0), help="scattering mass hypothesis, GeV")] = 0.1056584,
    error_scale: Annotated[float, typer.Option("--error-scale", parser=params.positive_float, help="factor on the hit errors (> 0)")] = 1.0,
    material: Annotated[str, typer.Option("--material", parser=_choice(MATERIALS), help=AUTO + "trackml; trackml (scattering and energy loss measured on the real truth), simulator (the simulator's measured layer material) or sensors (bare silicon)")] = "auto",
    field: Annotated[str, typer.Option("--field", parser=_choice(FIELDS), help=AUTO + "trackml; trackml (the solenoid fitted to the real data, axis free; Runge-Kutta propagation), solenoid (the simulator's fit, axis on the z axis), uniform (B_z = 2 T helices) or segmented (a sheet with 10 fitted segment currents, for comparisons)")] = "auto",
    hit_errors: Annotated[str, typer.Option("--hit-errors", parser=_choice(HIT_ERRORS), help="auto: as the events were simulated (their folder's simulation.json: simulated, or pitch for smeared hits), else real TrackML data: trackml; trackml (errors measured on real TrackML clusters), simulated (measured on the simulator's clusters) or pitch (pitch/sqrt(12))")] = "auto",
    split: Annotated[bool, typer.Option("--split/--no-split", help="split candidates no helix fits")] = True,
    attach: Annotated[bool, typer.Option("--attach/--no-attach", help="give orphan hits to the fitted track whose chi2 accepts them")] = True,
    detector: Annotated[Optional[Path], typer.Option("--detector", parser=params.input_file, help="detectors.csv[.gz] (default: packaged TrackML)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")] = False,
) -> None:
    """Refit track candidates with a Kalman filter + smoother; reject outliers; write perigee parameters."""
    from gnn4hep.cli.common import report
    from gnn4hep.tracking.fitting import FitConfig, refit
    from gnn4hep.tracking.fitting.refit import simulated_physics
    from gnn4hep.tracking.simulation.batch import read_settings
    from gnn4hep.tracking.io import available_parts, check_hits_on_detector, part_path, read_detector, read_event, read_submission
    from gnn4hep.utils.atomic import atomic_write_text

    if cleaned is not None and Path(cleaned).absolute() == Path(out).absolute():
        raise typer.BadParameter(f"{cleaned} is also the --out file", param_hint="--cleaned")
    ev = read_event(event, parts=("hits",) + tuple(p for p in available_parts(event, ("cells",))))
    table = read_submission(candidates)
    if table.empty:
        raise InputFileError(candidates, "no track candidates (the file has a header only)")
    geometry = read_detector(detector) if detector is not None else read_detector()
    check_hits_on_detector(ev.hits, geometry, str(part_path(Path(event), "hits")))
    physics = simulated_physics(read_settings(Path(event).parent))
    chosen = {"field": field, "material_model": material, "hit_errors": hit_errors}
    physics.update({key: value for key, value in chosen.items() if value != "auto"})
    config = FitConfig(chi2_cut=chi2_cut, max_outliers=max_outliers, iterations=iterations, mass_gev=mass,
                       error_scale=error_scale, split_bad=split, attach_orphans=attach, **physics)
    start = time.perf_counter()
    cleaned_table, params_table = refit(ev, table, geometry, config, name=str(candidates))
    seconds = time.perf_counter() - start
    atomic_write_text(out, params_table.to_csv(index=False))
    if cleaned is not None:
        atomic_write_text(cleaned, cleaned_table.to_csv(index=False))
    report(f"Kalman refit of {candidates.name}", {**fit_summary(params_table), **physics, "seconds": seconds,
                                                   "out": str(out)}, json_out)


def fit_summary(table) -> dict:
    """Counts and chi2/ndf of a refit's parameter table (one row per track): the mean and the median
    chi2/ndf of the fitted tracks (the mean alone is pulled up by a few bad fits)."""
    fitted = table["fitted"].to_numpy()
    ratio = (table["chi2"] / table["ndf"].where(table["ndf"] > 0))[fitted].dropna()
    total_hits = table["n_hits"] + table["n_outliers"]
    return {
        "n_tracks": int(len(table)),
        "n_fitted": int(fitted.sum()),
        "n_short": int((total_hits < 3).sum()),
        "n_failed": int(((total_hits >= 3) & ~fitted).sum()),
        "n_outliers": int(table["n_outliers"].sum()),
        "n_attached": int(table["n_attached"].sum()),
        "mean_chi2_ndf": float(ratio.mean()) if len(ratio) else float("nan"),
        "median_chi2_ndf": float(ratio.median()) if len(ratio) else float("nan"),
        "median_pt_gev": float(np.nanmedian(table["pt"])) if fitted.any() else float("nan"),
    }


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command to ``app``."""
    app.command("fit")(fit)
