"""Readable outputs (issue 14, item 4): --version, --list-stages of a config, simulate's event prefixes,
runs list on an empty or missing root, info on a part's file name, fit's median chi2/ndf, the log fake-rate
axis of the edge ROC, and efficiency plots with fake/duplicate rates and a before/after-refit comparison.

Each check compares with an independent route: the installed package metadata, the config file's own
stage list, the files on disk, the parameter CSV that fit wrote, a brute-force ROC, hand-counted bins.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.robustness.cli_harness import run_cli

REPO = Path(__file__).resolve().parents[2]


def test_version_is_the_installed_version():
    result = run_cli(["--version"])
    assert result.code == 0 and result.out.strip() == f"gnn4hep {version('gnn4hep')}"


@pytest.mark.parametrize("config", ["trackml_gnn.yaml", "jets_qg.yaml", "score_demo.yaml"])
def test_list_stages_lists_the_config_stages_in_order(config):
    path = REPO / "experiments" / config
    result = run_cli(["run", path, "--list-stages"])
    assert result.code == 0, result.err
    listed = re.findall(r"^\s*\d+\. (\S+)", result.out, flags=re.M)
    assert listed == yaml.safe_load(path.read_text())["stages"]


def test_list_stages_follows_overrides_and_lists_all_without_config():
    from gnn4hep.runner.registry import STAGES, load_stage_modules

    result = run_cli(["run", REPO / "experiments" / "trackml_gnn.yaml", "-o", "stages=[trackml_simulate]", "--list-stages"])
    assert re.findall(r"^\s*\d+\. (\S+)", result.out, flags=re.M) == ["trackml_simulate"]
    load_stage_modules()
    every = run_cli(["run", "--list-stages"])
    assert [line.split()[0] for line in every.out.splitlines() if line.strip()] == sorted(STAGES)


def test_simulate_prints_the_prefixes_it_wrote(tmp_path):
    out = tmp_path / "events [x]"
    result = run_cli(["simulate", "--out", out, "--events", "2", "--no-progress", "--seed", "2"])
    assert result.code == 0, result.err
    printed = [Path(line) for line in result.out.splitlines()[1:] if line.strip()]
    on_disk = sorted({p.name.split("-")[0] for p in out.glob("event*-*.csv.gz")})
    assert sorted(p.name for p in printed) == on_disk and len(printed) == 2
    assert all(Path(f"{p}-hits.csv.gz").is_file() for p in printed)


def test_runs_list_on_empty_or_missing_root_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    for root, why in ((tmp_path / "empty", "holds no run folders"), (tmp_path / "absent", "does not exist yet")):
        result = run_cli(["runs", "list", "--root", root])
        assert result.code == 0 and f"no runs in {root}" in result.out and why in result.out, result
        listed = json.loads(run_cli(["runs", "list", "--root", root, "--json"]).out)
        assert listed["runs"] == [] and listed["exists"] == root.is_dir()
    assert not (tmp_path / "absent").exists()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from gnn4hep.tracking.io import read_event

    folder = tmp_path_factory.mktemp("readable")
    assert run_cli(["simulate", "--out", folder, "--no-progress", "--seed", "4"]).code == 0
    prefix = folder / "event000000001"
    truth = read_event(prefix, parts=("truth",)).truth
    truth[["hit_id", "particle_id"]].rename(columns={"particle_id": "track_id"}).to_csv(folder / "truth.csv", index=False)
    return prefix


@pytest.mark.parametrize("part", ["hits", "truth", "particles", "cells"])
def test_info_accepts_a_part_file_name(simulated, part):
    by_prefix = json.loads(run_cli(["info", simulated, "--json"]).out)
    by_file = run_cli(["info", f"{simulated}-{part}.csv.gz", "--json"])
    assert by_file.code == 0, by_file.err
    assert json.loads(by_file.out) == by_prefix and by_prefix["n_hits"] > 0


def test_fit_reports_median_next_to_mean(simulated, tmp_path):
    out = tmp_path / "params.csv"
    result = run_cli(["fit", simulated, simulated.parent / "truth.csv", "--out", out, "--json"])
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    written = pd.read_csv(out)
    fitted = written[written["fitted"] & (written["ndf"] > 0)]
    ratio = np.sort((fitted["chi2"] / fitted["ndf"]).to_numpy())
    middle = len(ratio) // 2
    median = ratio[middle] if len(ratio) % 2 else 0.5 * (ratio[middle - 1] + ratio[middle])
    assert summary["median_chi2_ndf"] == pytest.approx(median, rel=1e-12)
    assert summary["mean_chi2_ndf"] == pytest.approx(ratio.sum() / len(ratio), rel=1e-12)
    table = run_cli(["fit", simulated, simulated.parent / "truth.csv", "--out", out])
    assert re.search(r"median_chi2_ndf\s*│\s*[0-9.]+", table.out) and "mean_chi2_ndf" in table.out


def _brute_force_roc(scores, y):
    """(fake rate, efficiency) of every threshold 'score >= t', t over the distinct scores."""
    points = []
    for threshold in np.unique(scores):
        selected = scores >= threshold
        points.append((selected[~y].mean(), selected[y].mean()))
    return np.array(sorted(points))


def test_edge_roc_has_a_log_fake_rate_axis():
    from gnn4hep.training.edge_metrics import plot_edge_roc

    rng = np.random.default_rng(1)
    y = rng.random(400) < 0.3
    scores = np.round(np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1), 3)
    ax = plot_edge_roc(scores, y, cut=0.5).axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert ax.get_xlim()[0] == pytest.approx(1 / (~y).sum())
    curve = ax.get_lines()[0]
    drawn = np.column_stack([curve.get_xdata(), curve.get_ydata()])
    reference = _brute_force_roc(scores, y)
    reference = reference[reference[:, 0] > 0]
    # every drawn point is a brute-force ROC point, and the curve spans the same fake-rate range
    assert all(np.isclose(reference, point).all(axis=1).any() for point in drawn)
    assert drawn[:, 0].min() == pytest.approx(reference[:, 0].min()) and drawn[:, 0].max() == pytest.approx(1.0)


def test_efficiency_plot_compares_samples_with_their_rates():
    from gnn4hep.tracking.evaluation.plots import plot_efficiency

    rng = np.random.default_rng(2)
    n = 2000
    pt = 10 ** rng.uniform(-0.9, 1.2, n)
    eta = rng.uniform(-3.5, 3.5, n)
    before = pd.DataFrame({"pt": pt, "eta": eta, "matched": rng.random(n) < 0.8})
    after = before.assign(matched=before["matched"] | (rng.random(n) < 0.5))
    rates = {"after refit": {"efficiency": 0.91, "fake_rate": 0.0123, "duplicate_rate": 0.0456},
             "before refit": {"efficiency": 0.8, "fake_rate": 0.0789, "duplicate_rate": 0.0012}}
    fig = plot_efficiency({"after refit": after, "before refit": before}, 1.0, rates=rates)
    ax_pt, ax_eta = fig.axes
    labels = [t.get_text() for t in ax_pt.get_legend().get_texts()]
    assert labels == ["after refit: eff 0.910, fake 0.012, dup 0.046 (pT > 1 GeV)",
                      "before refit: eff 0.800, fake 0.079, dup 0.001 (pT > 1 GeV)"]
    assert [t.get_text() for t in ax_eta.get_legend().get_texts()] == ["after refit", "before refit"]
    # the eta points of each sample are the hand-counted efficiencies of pT > 1 GeV particles per bin
    edges = np.linspace(-4, 4, 17)
    for container, table in zip(ax_eta.containers, (after, before)):
        high = table[table["pt"] > 1.0]
        expected = [high.loc[(high["eta"] >= lo) & (high["eta"] < hi), "matched"].mean() for lo, hi in zip(edges[:-1], edges[1:])]
        drawn = container.lines[0].get_ydata()
        assert np.allclose(drawn, expected, equal_nan=True)
