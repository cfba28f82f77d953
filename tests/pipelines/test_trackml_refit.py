"""The trackml_refit stage: per-event refit files, raw and refitted candidates scored, fit figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnn4hep.errors import ConfigError
from gnn4hep.pipelines.trackml_refit import check_modules, fit_summary, resolution_summary
from gnn4hep.runner.run import run_experiment
from gnn4hep.tracking.fitting import PARAM_COLUMNS
from gnn4hep.tracking.io import read_detector, read_event
from gnn4hep.tracking.scoring import score_event

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "experiments" / "quickstart.yaml"
TINY = ["data.n_train=2", "data.n_test=1", "data.val_fraction=0.0", "trainer.max_epochs=1", "model.hidden=8",
        "model.n_iterations=1"]  # fmt: skip
AFTER_TRAINING = "stages=[trackml_build_graphs,trackml_infer,trackml_build_tracks,trackml_refit,trackml_evaluate]"


@pytest.fixture(scope="module")
def refit_run(tmp_path_factory) -> Path:
    return run_experiment(QUICKSTART, TINY, out=tmp_path_factory.mktemp("refit") / "run")


def test_refit_writes_per_event_files_and_both_scores(refit_run):
    prefix = next((refit_run / "data" / "test").glob("*-hits.csv.gz")).name.removesuffix("-hits.csv.gz")
    event = read_event(refit_run / "data" / "test" / prefix, parts=("hits", "particles", "truth"))
    raw = pd.read_csv(refit_run / "submissions" / "test" / f"{prefix}.csv")
    cleaned = pd.read_csv(refit_run / "refitted" / "test" / f"{prefix}.csv")
    params = pd.read_parquet(refit_run / "track_params" / "test" / f"{prefix}.parquet")
    assert list(cleaned.columns) == ["hit_id", "track_id"] and cleaned["hit_id"].is_unique
    assert set(cleaned["hit_id"]) == set(event.hits["hit_id"])
    assert list(params.columns) == list(PARAM_COLUMNS) and params["fitted"].any()
    metrics = json.loads((refit_run / "metrics.json").read_text())
    # the headline is the refitted candidates' score, the raw candidates' is kept beside it
    assert metrics["trackml_score"] == pytest.approx(score_event(event.truth, cleaned))
    assert metrics["trackml_score_before_refit"] == pytest.approx(score_event(event.truth, raw))
    assert metrics["test_before_refit"]["trackml_score"] == metrics["trackml_score_before_refit"]
    refit = metrics["refit"]
    fitted = params["fitted"].to_numpy(bool)
    assert refit["n_outliers_removed"] == int(params["n_outliers"].sum())
    assert refit["median_chi2_ndf"] == pytest.approx(np.median((params["chi2"] / params["ndf"])[fitted]))
    assert 0.5 < refit["fraction_fitted"] <= 1.0 and refit["n_matched_fitted"] > 0
    assert refit["pt_resolution"] < 0.1  # quick-source muons: a few per mille once fitted
    summary = (refit_run / "summary.md").read_text()
    assert "| metric | value | before refit |" in summary and "TrackML score (after Kalman refit)" in summary


def test_refit_disabled_scores_the_raw_candidates(refit_run, tmp_path):
    overrides = [*TINY, f"data.from_run={refit_run}", f"data.test_dir={refit_run / 'data' / 'test'}", AFTER_TRAINING,
                 "refit.enabled=false"]  # fmt: skip
    run = run_experiment(QUICKSTART, overrides, out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    first = json.loads((refit_run / "metrics.json").read_text())
    assert not (run / "refitted").exists() and "trackml_score_before_refit" not in metrics
    assert metrics["trackml_score"] == first["trackml_score_before_refit"]  # same model, same raw candidates


def test_evaluation_alone_scores_the_earlier_runs_refit(refit_run, tmp_path):
    run = run_experiment(QUICKSTART, [*TINY, f"data.from_run={refit_run}", f"data.test_dir={refit_run / 'data' / 'test'}",
                                      "stages=[trackml_evaluate]"], out=tmp_path / "run")
    metrics, first = (json.loads((r / "metrics.json").read_text()) for r in (run, refit_run))
    assert metrics["trackml_score"] == first["trackml_score"]
    assert metrics["trackml_score_before_refit"] == first["trackml_score_before_refit"]


def test_toy_events_without_module_geometry_are_a_clear_error():
    from gnn4hep.tracking.toy import make_toy_event

    event = make_toy_event(n_particles=5, seed=0, event_id=7)
    event.hits["module_id"] = 999_999
    with pytest.raises(ConfigError, match=r"event event000000007: .*not in the detector.*refit.enabled=false"):
        check_modules(event, read_detector(), "event000000007")


def test_fit_summary_counts():
    params = pd.DataFrame({
        "fitted": [True, True, False, False],
        "n_hits": [5, 4, 3, 2],
        "n_outliers": [1, 0, 0, 0],
        "chi2": [6.0, 2.0, np.nan, np.nan],
        "ndf": [5, 3, 0, 0],
    })  # fmt: skip
    summary = fit_summary(params, n_input_tracks=3)
    assert summary["n_fit_candidates"] == 3  # the 2-hit track cannot be fitted
    assert summary["fraction_fitted"] == pytest.approx(2 / 3)
    assert summary["median_chi2_ndf"] == pytest.approx((6 / 5 + 2 / 3) / 2)
    assert summary["n_outliers_removed"] == 1 and summary["n_split"] == 1


def test_resolution_summary():
    matched = pd.DataFrame({"pt": [1.01, 2.0, 2.97], "true_pt": [1.0, 2.0, 3.0], "charge": [1, -1, 1], "true_charge": [1, -1, -1]})
    summary = resolution_summary(matched)
    assert summary["pt_bias"] == pytest.approx(0.0)
    assert summary["pt_resolution"] == pytest.approx(0.5 * (np.percentile([0.01, 0.0, -0.01], 84) - np.percentile([0.01, 0.0, -0.01], 16)))
    assert summary["charge_correct"] == pytest.approx(2 / 3) and summary["n_matched_fitted"] == 3
    assert np.isnan(resolution_summary(matched.iloc[:0])["pt_resolution"])


def test_fit_settings_follow_the_simulation_record_and_real_events_get_the_measured_physics():
    from gnn4hep.pipelines.trackml_config import RefitConfig

    cfg = RefitConfig()
    # test events fitted with the physics they were simulated with (their folder's simulation.json)
    quick = {"field": {"field": "uniform", "b_tesla": 2.0}, "config": {"trackml_material": False}}
    pythia = {"field": {"field": "solenoid"}, "config": {"trackml_material": True}}
    fit = cfg.fit_config(simulation=quick)
    assert (fit.field, fit.material_model, fit.hit_errors) == ("uniform", "sensors", "simulated")
    fit = cfg.fit_config(simulation=pythia)
    assert (fit.field, fit.material_model, fit.hit_errors) == ("solenoid", "simulator", "simulated")
    smeared = {**quick, "config": {"trackml_material": False, "digitisation": "smear"}}
    assert cfg.fit_config(simulation=smeared).hit_errors == "pitch"  # Gaussian smearing by pitch / sqrt(12)
    calibrated = {**quick, "config": {"trackml_material": False, "digitisation": "trackml"}}
    assert cfg.fit_config(simulation=calibrated).hit_errors == "trackml"  # clusters with the real response
    # test events without a simulation record are real data: the physics measured on the real truth
    fit = cfg.fit_config()
    assert (fit.field, fit.material_model, fit.hit_errors) == ("trackml", "trackml", "trackml")
    real = cfg.fit_config(eval_events=True, simulation=quick)
    assert (real.material_model, real.hit_errors, real.field) == ("trackml", "trackml", "trackml")
    explicit = RefitConfig(material_model="trackml", field="uniform").fit_config(simulation=pythia)
    assert (explicit.material_model, explicit.field) == ("trackml", "uniform")
