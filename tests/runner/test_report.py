"""The headline of a run: rows picked from metrics.json, summary.md and the final CLI table."""

from __future__ import annotations

import math

from rich.console import Console

from gnn4hep.cli.runs import final_table
from gnn4hep.runner.report import HeadlineRow, format_value, headline_markdown, headline_rows
from gnn4hep.runner.run import run_experiment

TRACKING = {
    "test": {"edges": {"edge_auc": 0.99, "edge_purity": 0.9}},
    "refit": {"fraction_fitted": 0.97, "median_chi2_ndf": 0.8, "n_outliers_removed": 12, "pt_resolution": 0.01},
    "trackml_score": 0.9,
    "track_efficiency": 0.95,
    "fake_rate": 0.05,
    "duplicate_rate": 0.02,
    "trackml_score_before_refit": 0.91,
    "track_efficiency_before_refit": 0.96,
    "fake_rate_before_refit": 0.04,
    "duplicate_rate_before_refit": 0.03,
}


def test_tracking_headline_pairs_values_with_their_before_refit_values():
    rows = headline_rows(TRACKING, {"evaluation": {"pt_min": 1.0}})
    by_label = {row.label: row for row in rows}
    assert rows[0] == HeadlineRow("TrackML score (after Kalman refit)", 0.9, 0.91)
    assert by_label["fake rate (pT > 1 GeV)"].before_refit == 0.04
    assert by_label["edge AUC (test)"].value == 0.99 and by_label["refit: outlier hits removed"].value == 12
    assert not any("before_refit" in row.label for row in rows)  # shown beside, not as rows of their own


def test_eval_events_get_rows_of_their_own():
    metrics = dict(TRACKING)
    metrics["eval_event000000001"] = {"trackml_score": 0.6, "pt_high": {"efficiency": 0.7, "fake_rate": 0.1, "duplicate_rate": 0.02},
                                      "edges": {"edge_auc": 0.98}}
    metrics["eval_event000000001_before_refit"] = {"trackml_score": 0.55, "pt_high": {"efficiency": 0.72, "fake_rate": 0.2}}
    metrics["eval_event000001000"] = {"trackml_score": 0.5, "pt_high": {"efficiency": 0.4}}
    rows = {row.label: row for row in headline_rows(metrics, {"evaluation": {"pt_min": 1.0}})}
    assert rows["eval event000000001: TrackML score"] == HeadlineRow("eval event000000001: TrackML score", 0.6, 0.55)
    assert rows["eval event000000001: fake rate (pT > 1 GeV)"].before_refit == 0.2
    assert rows["eval event000000001: duplicate rate (pT > 1 GeV)"].before_refit is None
    assert rows["eval event000000001: edge AUC"].value == 0.98
    assert rows["eval event000001000: track efficiency (pT > 1 GeV)"].value == 0.4
    assert not any("before_refit" in label for label in rows)
    text = headline_markdown(list(rows.values()), {})
    assert "| eval event000000001: TrackML score | 0.6 | 0.55 |" in text


def test_other_experiments_show_their_numbers():
    rows = headline_rows({"purity": 0.99, "density_0.1": {"n_variables": 10}, "pfn": {"auc": 0.8, "rej50": 12.0}})
    assert [row.label for row in rows] == ["purity", "pfn: AUC", "pfn: background rejection at 50% signal efficiency"]
    assert headline_rows({"trackml_score": 1.0})[0] == HeadlineRow("TrackML score", 1.0, None)


def test_format_and_markdown():
    assert format_value(0.123456) == "0.1235" and format_value(12) == "12" and format_value(math.nan) == "nan"
    text = headline_markdown(headline_rows(TRACKING), {"a": 1.0, "b": 2.5})
    assert "| TrackML score (after Kalman refit) | 0.9 | 0.91 |" in text and "Total stage time: 3.5 s" in text


def test_final_table_of_a_run(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: table\nstages: [score_demo]\ndemo: {n_particles: 40}\n")
    run = run_experiment(config, out=tmp_path / "run")
    console = Console(record=True, width=120)
    console.print(final_table(run))
    text = console.export_text()
    assert "TrackML score" in text and "time: score_demo" in text and "time: all stages" in text
    assert "## Headline" in (run / "summary.md").read_text()
