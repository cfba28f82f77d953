"""The ``trackml_refit`` stage: Kalman refit of every event's track candidates, between track
building and evaluation (the ``refit`` step of the data flow and its stage contract in docs/architecture.md).

For each test/eval event it reads ``submissions/{split}/eventN.csv`` (any track builder) and writes

- ``refitted/{split}/eventN.csv``: the cleaned candidates (``hit_id, track_id``; outliers become
  new single-hit tracks, candidates no helix fits may be split), a valid TrackML submission;
- ``track_params/{split}/eventN.parquet``: one row per track, perigee parameters and covariance
  (:data:`gnn4hep.tracking.fitting.PARAM_COLUMNS`; mm, rad, e/GeV, GeV).

``trackml_evaluate`` then scores both the raw and the refitted candidates. The fit itself is
:func:`gnn4hep.tracking.fitting.refit` (Kalman filter + RTS smoother, Frühwirth 1987).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gnn4hep.errors import ConfigError
from gnn4hep.pipelines.trackml_config import RefitConfig
from gnn4hep.pipelines.trackml_gnn import SECTIONS, SPLITS, _find, _log_time, _split_prefixes, executor
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage
from gnn4hep.utils.atomic import atomic_write_bytes, atomic_write_text

#: Run-folder sub-folders written by the stage.
REFITTED_DIR = "refitted"
PARAMS_DIR = "track_params"


def fit_summary(params: pd.DataFrame, n_input_tracks: int) -> dict[str, float]:
    """Fit figures of one or more events' ``track_params`` tables.

    Args:
        params: concatenated refit parameter tables (``PARAM_COLUMNS``).
        n_input_tracks: candidates given to the refit (split candidates add rows to ``params``).

    Returns:
        n_tracks, n_fit_candidates (>= 3 hits), fraction_fitted (of those), median_chi2_ndf
        (fitted tracks), n_outliers_removed (hits), n_split (candidates split in two).
    """
    fitted = params["fitted"].to_numpy(bool)
    n_candidates = int(fitted.sum() + ((params["n_hits"] + params["n_outliers"] >= 3) & ~fitted).sum())
    ratio = (params["chi2"] / params["ndf"].where(params["ndf"] > 0)).to_numpy()[fitted]
    return {
        "n_tracks": int(n_input_tracks),
        "n_fit_candidates": n_candidates,
        "fraction_fitted": float(fitted.sum() / n_candidates) if n_candidates else float("nan"),
        "median_chi2_ndf": float(np.median(ratio)) if len(ratio) else float("nan"),
        "n_outliers_removed": int(params["n_outliers"].sum()),
        "n_split": int(len(params) - n_input_tracks),
    }


def matched_track_parameters(event, cleaned: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """Fitted tracks that double-majority match a particle, with the particle's true pT and charge.

    Returns a table with track_id, pt (fitted, GeV), true_pt (GeV), charge (fitted sign of q/p),
    true_charge, chi2_ndf; empty without truth.
    """
    from gnn4hep.tracking.scoring import match_tracks

    columns = ["track_id", "pt", "true_pt", "charge", "true_charge", "chi2_ndf"]
    if event.truth is None or event.particles is None:
        return pd.DataFrame(columns=columns)
    matching = match_tracks(event.truth, cleaned, weights=np.zeros(len(event.truth))).to_frame()
    matching = matching[matching["good"] & (matching["major_particle_id"] != 0)]
    fitted = params[params["fitted"].astype(bool)]
    table = fitted.merge(matching[["track_id", "major_particle_id"]], on="track_id")
    particles = event.particles.assign(particle_id=event.particles["particle_id"].astype(np.uint64))
    table = table.merge(particles, left_on="major_particle_id", right_on="particle_id")
    return pd.DataFrame({
        "track_id": table["track_id"],
        "pt": table["pt"],
        "true_pt": np.hypot(table["px"], table["py"]),
        "charge": np.sign(table["qop"]),
        "true_charge": np.sign(table["q"]),
        "chi2_ndf": table["chi2"] / table["ndf"],
    })[columns]


def resolution_summary(matched: pd.DataFrame) -> dict[str, float]:
    """pT resolution of matched fitted tracks: median and 68% half-width of pt/true_pt - 1, and the
    fraction with the right charge sign."""
    if matched.empty:
        return {"n_matched_fitted": 0, "pt_bias": float("nan"), "pt_resolution": float("nan"), "charge_correct": float("nan")}
    residual = matched["pt"].to_numpy() / matched["true_pt"].to_numpy() - 1.0
    low, median, high = np.percentile(residual, [16, 50, 84])
    return {
        "n_matched_fitted": int(len(matched)),
        "pt_bias": float(median),
        "pt_resolution": float(0.5 * (high - low)),
        "charge_correct": float(np.mean(matched["charge"].to_numpy() == matched["true_charge"].to_numpy())),
    }


def plot_track_parameters(matched: pd.DataFrame, params: pd.DataFrame):
    """Three panels: fitted vs true pT, relative pT residual, chi2/ndf of all fitted tracks."""
    import matplotlib.pyplot as plt

    fig, (ax_pt, ax_res, ax_chi2) = plt.subplots(1, 3, figsize=(14, 4))
    if not matched.empty:
        ax_pt.loglog(matched["true_pt"], matched["pt"], ".", ms=2, alpha=0.5)
        lo, hi = matched["true_pt"].min(), matched["true_pt"].max()
        ax_pt.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        residual = matched["pt"].to_numpy() / matched["true_pt"].to_numpy() - 1.0
        low, high = np.percentile(residual, [16, 84])
        half = float(np.clip(4.0 * (high - low), 0.02, 0.5))  # about +-8 sigma, outliers in the end bins
        ax_res.hist(np.clip(residual, -half, half), bins=80, range=(-half, half))
        ax_res.set_xlabel(f"fitted pT / true pT - 1 (clipped to ±{half:.2g})")
    ax_pt.set(xlabel="true pT [GeV]", ylabel="fitted pT [GeV]", title="matched fitted tracks")
    ax_res.set(ylabel="tracks", title="pT residual")
    fitted = params[params["fitted"].astype(bool)]
    ratio = (fitted["chi2"] / fitted["ndf"].where(fitted["ndf"] > 0)).dropna().clip(upper=10)
    ax_chi2.hist(ratio, bins=50, range=(0, 10))
    ax_chi2.set(xlabel="chi2 / ndf (clipped at 10)", ylabel="tracks", title="fit quality")
    fig.tight_layout()
    return fig


def check_modules(event, detector, name: str) -> None:
    """ConfigError naming the event when one of its hits lies on a module the detector lacks (the
    refit needs every module's position, orientation and pitch from ``detectors.csv``)."""
    hits = event.hits
    try:
        detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    except KeyError as exc:
        raise ConfigError(
            f"trackml_refit: event {name}: {exc.args[0]} (packaged TrackML detectors.csv); the Kalman refit needs "
            "real module geometry (data.source=toy events have none): set refit.enabled=false or drop the stage"
        ) from None


@dataclass(frozen=True)
class RefitTask:
    """Refit the candidates ``candidates`` (``submissions/{split}/{name}.csv``, of this run or of
    data.from_run) of the event at ``prefix``; the outputs go to ``run_dir``."""

    prefix: Path
    run_dir: Path
    split: str
    fit_config: object  # gnn4hep.tracking.fitting.FitConfig
    candidates: Path


def refit_event(task: RefitTask) -> dict:
    """Per-event work of ``trackml_refit`` (run by :mod:`gnn4hep.executor`): writes
    ``refitted/{split}/{name}.csv`` and ``track_params/{split}/{name}.parquet`` atomically.

    Returns:
        seconds (the refit alone), n_input (candidates), matched (:func:`matched_track_parameters`).
    """
    from gnn4hep.pipelines.trackml_data import read_available
    from gnn4hep.pipelines.trackml_tasks import cached
    from gnn4hep.tracking.fitting import refit
    from gnn4hep.tracking.io import read_detector

    detector = cached("detector", None, read_detector)
    name, run_dir = Path(task.prefix).name, Path(task.run_dir)
    event = read_available(task.prefix)
    check_modules(event, detector, name)
    candidates = pd.read_csv(task.candidates)
    start = time.perf_counter()
    cleaned, params = refit(event, candidates, detector, task.fit_config, name=f"submissions/{task.split}/{name}.csv")
    seconds = time.perf_counter() - start
    atomic_write_text(run_dir / REFITTED_DIR / task.split / f"{name}.csv", cleaned.to_csv(index=False))
    atomic_write_bytes(run_dir / PARAMS_DIR / task.split / f"{name}.parquet", params.to_parquet(index=False))
    return {"seconds": seconds, "n_input": int(candidates["track_id"].nunique()),
            "matched": matched_track_parameters(event, cleaned, params)}


@stage("trackml_refit", sections={**SECTIONS, "refit": RefitConfig})
def trackml_refit(ctx: RunContext) -> None:
    """Kalman refit of the track candidates: cleaned candidates and track parameters per event."""
    cfg: RefitConfig = ctx.config.refit
    if not cfg.enabled:
        ctx.logger.info("  refit.enabled is false: the raw candidates are evaluated")
        return
    from gnn4hep.tracking.simulation.batch import read_settings

    prefixes = _split_prefixes(ctx)
    simulation = read_settings(prefixes["test"][0].parent) if prefixes["test"] else None
    configs = {"test": cfg.fit_config(simulation=simulation), "eval": cfg.fit_config(eval_events=True)}
    ctx.logger.info(f"  test events fitted in the {configs['test'].field} field, {configs['test'].material_model} "
                    f"material, {configs['test'].hit_errors} hit errors")
    tasks = [RefitTask(Path(p), ctx.run_dir, split, configs[split], _find(ctx, "submissions", split, f"{Path(p).name}.csv"))
             for split in SPLITS for p in prefixes[split]]
    results = executor(ctx).map(refit_event, tasks, description="refit")
    for split in SPLITS:
        done = [(task, result) for task, result in zip(tasks, results) if task.split == split]
        tables = [pd.read_parquet(ctx.path(PARAMS_DIR, split, f"{task.prefix.name}.parquet")) for task, _ in done]
        if split == "eval":
            for (task, result), params in zip(done, tables):
                summary = {**fit_summary(params, result["n_input"]), **resolution_summary(result["matched"])}
                ctx.log_metrics(summary, prefix=f"refit_eval_{task.prefix.name}")
        if split != "test" or not tables:
            continue
        _log_time(ctx, "refit", sum(result["seconds"] for _, result in done), len(tables))
        params = pd.concat(tables, ignore_index=True)
        matched_all = pd.concat([result["matched"] for _, result in done], ignore_index=True)
        summary = {**fit_summary(params, sum(result["n_input"] for _, result in done)), **resolution_summary(matched_all)}
        ctx.log_metrics(summary, prefix="refit")
        ctx.logger.info(
            f"  test: {summary['fraction_fitted']:.1%} of {summary['n_fit_candidates']} candidates fitted, median "
            f"chi2/ndf {summary['median_chi2_ndf']:.2f}, {summary['n_outliers_removed']} outlier hits removed, "
            f"{summary['n_split']} split; pT resolution {summary['pt_resolution']:.3f} ({summary['n_matched_fitted']} matched)"
        )
        ctx.save_figure(plot_track_parameters(matched_all, params), "test_track_parameters")
