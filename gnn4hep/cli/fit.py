"""The ``gnn4hep fit`` command: Kalman refit of track candidates, perigee parameters to CSV."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from gnn4hep.errors import InputFileError


def fit(
    event: Annotated[Path, typer.Argument(help="event prefix, e.g. data/event000000001 (hits; cells optional)")],
    candidates: Annotated[Path, typer.Argument(help="CSV with hit_id,track_id (any track builder or QUBO decoder)")],
    out: Annotated[Path, typer.Option("--out", help="output CSV of track parameters (one row per track)")],
    cleaned: Annotated[Optional[Path], typer.Option("--cleaned", help="also write the cleaned candidates (hit_id,track_id)")] = None,
    chi2_cut: Annotated[float, typer.Option("--chi2-cut", min=0.0, help="outlier cut on a hit's smoothed chi2 (2 dof)")] = 15.0,
    max_outliers: Annotated[int, typer.Option("--max-outliers", min=0, help="outlier-removal rounds (0: none)")] = 5,
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Kalman passes per fit")] = 1,
    mass: Annotated[float, typer.Option("--mass", min=0.0, help="scattering mass hypothesis, GeV")] = 0.1056584,
    error_scale: Annotated[float, typer.Option("--error-scale", min=0.0, help="factor on pitch/sqrt(12) hit errors")] = 1.0,
    material: Annotated[str, typer.Option("--material", help="trackml (real data: scattering and energy loss measured on the real truth), simulator (the simulator's measured layer material) or sensors (bare silicon)")] = "trackml",
    field: Annotated[str, typer.Option("--field", help="solenoid (the TrackML field fitted to the real data; Runge-Kutta propagation) or uniform (B_z = 2 T helices)")] = "solenoid",
    hit_errors: Annotated[str, typer.Option("--hit-errors", help="trackml (errors measured on real TrackML clusters) or pitch (pitch/sqrt(12))")] = "trackml",
    split: Annotated[bool, typer.Option("--split/--no-split", help="split candidates no helix fits")] = True,
    attach: Annotated[bool, typer.Option("--attach/--no-attach", help="give orphan hits to the fitted track whose chi2 accepts them")] = True,
    detector: Annotated[Optional[Path], typer.Option("--detector", help="detectors.csv[.gz] (default: packaged TrackML)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")] = False,
) -> None:
    """Refit track candidates with a Kalman filter + smoother; reject outliers; write perigee parameters."""
    from gnn4hep.cli.common import report
    from gnn4hep.tracking.fitting import FitConfig, refit
    from gnn4hep.tracking.io import available_parts, read_detector, read_event, read_submission
    from gnn4hep.utils.atomic import atomic_write_text

    parts = available_parts(event, ("hits", "cells"))
    if "hits" not in parts:
        raise InputFileError(f"{event}-hits.csv[.gz]", "hits file not found")
    ev = read_event(event, parts=parts)
    table = read_submission(candidates)
    geometry = read_detector(detector) if detector is not None else read_detector()
    if material not in ("trackml", "simulator", "sensors"):
        raise typer.BadParameter(f"{material!r} is not 'trackml', 'simulator' or 'sensors'", param_hint="--material")
    if field not in ("solenoid", "uniform"):
        raise typer.BadParameter(f"{field!r} is not 'solenoid' or 'uniform'", param_hint="--field")
    if hit_errors not in ("trackml", "pitch"):
        raise typer.BadParameter(f"{hit_errors!r} is not 'trackml' or 'pitch'", param_hint="--hit-errors")
    config = FitConfig(chi2_cut=chi2_cut, max_outliers=max_outliers, iterations=iterations, mass_gev=mass,
                       error_scale=error_scale, split_bad=split, material_model=material, attach_orphans=attach,
                       field=field, hit_errors=hit_errors)
    start = time.perf_counter()
    cleaned_table, params = refit(ev, table, geometry, config, name=str(candidates))
    seconds = time.perf_counter() - start
    atomic_write_text(out, params.to_csv(index=False))
    if cleaned is not None:
        atomic_write_text(cleaned, cleaned_table.to_csv(index=False))
    fitted = params["fitted"].to_numpy()
    ratio = (params["chi2"] / params["ndf"].where(params["ndf"] > 0))[fitted]
    summary = {
        "n_tracks": int(len(params)),
        "n_fitted": int(fitted.sum()),
        "n_short": int((params["n_hits"] + params["n_outliers"] < 3).sum()),
        "n_failed": int(((params["n_hits"] + params["n_outliers"] >= 3) & ~fitted).sum()),
        "n_outliers": int(params["n_outliers"].sum()),
        "n_attached": int(params["n_attached"].sum()),
        "mean_chi2_ndf": float(ratio.mean()) if len(ratio) else float("nan"),
        "median_pt_gev": float(np.nanmedian(params["pt"])) if fitted.any() else float("nan"),
        "seconds": seconds,
        "out": str(out),
    }
    report(f"Kalman refit of {candidates.name}", summary, json_out)


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command to ``app``."""
    app.command("fit")(fit)
