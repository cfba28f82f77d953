"""One-step smoke test of every config in experiments/, on tiny data, and what its run folder holds.

Each config runs end to end through :func:`gnn4hep.runner.run.run_experiment` with ``-o`` overrides
that shrink it (a few events or jets, one epoch, tiny networks); the run folder must then hold the
resolved config, the seed, the package versions and the git commit (run.json), finite headline
metrics (metrics.json), a summary.md with the headline table, a log and the expected plots.
A new config without an entry in CASES fails :func:`test_every_config_has_a_smoke_test`.
The jet configs generate a few Pythia jets, so their ``jets_generate`` stage does real work here.
The run folders are shared (:func:`reference_run`) with tests/test_resume_everywhere.py, which kills
each of these runs after every stage and resumes it to the same metrics.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from gnn4hep.runner.run import run_experiment

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
TRACKML_GNN_TINY = ["data.n_train=2", "data.n_test=1", "data.val_fraction=0.0", "trainer.max_epochs=1",
                    "model.hidden=8", "model.n_iterations=1"]  # fmt: skip
JETS_TINY = ["recipe.max_epochs=1", "recipe.batch_size=16", "jet_models.pfn_phi_sizes=[16,16]",
             "jet_models.pfn_f_sizes=[16]", "jet_models.image_size=8", "jet_models.bdt_max_iter=10"]  # fmt: skip
JETS_GENERATE_TINY = ["data.n_jets=6", "data.workers=1"]  # 6 Pythia jets per class: 4 train, 1 val, 1 test each
TRACK_KEYS = ("trackml_score", "track_efficiency", "fake_rate", "duplicate_rate")
GNN_PLOTS = ("edge_classifier_loss", "test_edge_roc", "test_efficiency", "test_event_display")


def _toy_heptrkx_graphs(tmp_path: Path) -> list[str]:
    from tests.graphs.toy_graphs import write_toy_folder

    write_toy_folder(tmp_path / "train", range(4), sectors=2, n_tracks=6)
    write_toy_folder(tmp_path / "test", range(100, 101), sectors=2, n_tracks=6)
    return [f"data.train_dir={tmp_path / 'train'}", f"data.test_dir={tmp_path / 'test'}"]


@dataclass(frozen=True)
class Case:
    """How to shrink one config, and what its run folder must hold."""

    overrides: tuple[str, ...]
    metrics: tuple[str, ...]  # dotted keys of metrics.json that must be finite numbers
    plots: tuple[str, ...]
    data: Callable[[Path], list[str]] | None = None  # writes tiny input data, returns overrides
    files: tuple[str, ...] = field(default=())


CASES: dict[str, Case] = {
    "quickstart": Case(
        (*TRACKML_GNN_TINY,),
        (*TRACK_KEYS, "trackml_score_before_refit", "test.edges.edge_auc", "refit.fraction_fitted",
         "refit.median_chi2_ndf", "refit.pt_resolution", "time_per_event.refit"),
        (*GNN_PLOTS, "test_track_parameters"),
        files=("edge_classifier.pt", "checkpoints/edge_classifier/last.ckpt", "logs/edge_classifier/metrics.csv",
               "refitted/test/event000000001.csv", "track_params/test/event000000001.parquet"),
    ),
    "trackml_demo": Case((*TRACKML_GNN_TINY,), (*TRACK_KEYS, "test.edges.edge_auc"), GNN_PLOTS),
    "trackml_gnn": Case(  # the quick source stands in for pile-up 200 Pythia events
        (*TRACKML_GNN_TINY, "data.source=quick", "data.workers=1", "graph.quantile=1.0", "graph.min_count=1"),
        (*TRACK_KEYS, "trackml_score_before_refit", "refit.median_chi2_ndf"),
        (*GNN_PLOTS, "test_track_parameters"),
    ),
    "trackml_gnn_small": Case(("data.n_train=2", "data.n_test=1", "data.val_fraction=0.0"), TRACK_KEYS, GNN_PLOTS),
    "trackml_hdbscan": Case(
        ("data.source=toy", "data.n_particles=40", "data.n_train=2", "data.n_test=1", "condensation.epochs=1",
         "condensation.hidden=8", "condensation.n_layers=1"),
        (*TRACK_KEYS, "condensation_training.final_loss"),
        ("condensation_loss", "test_efficiency", "test_event_display"),
        files=("condensation_net.pt",),
    ),
    "trackml_qubo": Case(
        ("qubo_data.toy_particles=60", "qubo_data.densities=[0.5]", "qubo_solve.num_reads=1"),
        ("purity", "efficiency", "trackml_score"),
        ("qubo_metrics",),
    ),
    "score_demo": Case(("demo.n_particles=60",), ("trackml_score", "split_in_half.trackml_score"), ("scores",)),
    "heptrkx_in": Case(
        ("model.hidden=8", "model.n_iterations=1", "trainer.max_epochs=1", "trainer.batch_size=4"),
        ("edge_auc", "edge_efficiency", "edge_purity"),
        ("loss_curves", "edge_roc", "edge_score_distributions"),
        data=_toy_heptrkx_graphs,
    ),
    "jets_qg": Case(("models=[efn,bdt]", *JETS_GENERATE_TINY, *JETS_TINY), ("efn.auc", "bdt.auc", "bdt.rej50"), ("roc",),
                    files=("data/jets.h5", "data/jets_pf_vectors.npy", "test_scores.npz")),
    "jets_top": Case(("models=[pfn,bdt]", *JETS_GENERATE_TINY, *JETS_TINY), ("pfn.auc", "bdt.auc"), ("roc",),
                     files=("data/jets.h5", "test_scores.npz")),
    "jets_top_scale": Case(("models=[efn,bdt]", *JETS_GENERATE_TINY, *JETS_TINY), ("efn.auc", "bdt.rej30"), ("roc",),
                           files=("data/jets.h5", "data/chunks/generation.json", "test_scores.npz")),
}


def test_every_config_has_a_smoke_test():
    assert {path.stem for path in EXPERIMENTS.glob("*.yaml")} == set(CASES)


def _value(metrics: dict, dotted: str):
    node = metrics
    for key in dotted.split("."):
        assert isinstance(node, dict) and key in node, f"metrics.json has no '{dotted}'"
        node = node[key]
    return node


def assert_trusted_run_folder(run: Path, config_path: Path, case: Case) -> None:
    """What every finished run folder must hold (provenance, metrics, summary, plots)."""
    assert run.is_dir() and not (run.parent / f".{run.name}.partial").exists()
    config = yaml.safe_load((run / "config.yaml").read_text())
    original = yaml.safe_load(config_path.read_text())
    assert config["name"] == original["name"] and config["stages"] == original["stages"]
    info = json.loads((run / "run.json").read_text())
    assert info["seed"] == config["seed"] == original.get("seed", 0)
    assert re.fullmatch(r"[0-9a-f]{40}", info["git"]["commit"] or ""), info["git"]
    assert {"gnn4hep", "torch", "numpy"} <= {k for k, v in info["packages"].items() if v}
    assert info["finished"] >= info["started"] and set(info["stage_seconds"]) == set(config["stages"])
    metrics = json.loads((run / "metrics.json").read_text())
    for key in case.metrics:
        value = _value(metrics, key)
        assert isinstance(value, (int, float)) and math.isfinite(value), (key, value)
    summary = (run / "summary.md").read_text()
    assert f"# Run {original['name']}" in summary and "## Headline" in summary and "## Time per stage" in summary
    last_attempt = (run / "log.txt").read_text().rsplit("continue it with --resume", 1)[-1]  # after any kill
    assert "run failed" not in last_attempt
    for plot in case.plots:
        png = run / "plots" / f"{plot}.png"
        assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG", png
        assert f"plots/{plot}.png" in summary
    for name in case.files:
        assert (run / name).is_file(), name


_REFERENCE_RUNS: dict[str, tuple[Path, list[str]]] = {}


def reference_run(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The uninterrupted tiny run of ``experiments/<name>.yaml`` (made once per test session) and the
    overrides it ran with."""
    if name not in _REFERENCE_RUNS:
        folder = tmp_path_factory.mktemp(f"reference_{name}")
        case = CASES[name]
        overrides = [*case.overrides, *(case.data(folder) if case.data else [])]
        _REFERENCE_RUNS[name] = (run_experiment(EXPERIMENTS / f"{name}.yaml", overrides, out=folder / "run"), overrides)
    return _REFERENCE_RUNS[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_experiment_runs_end_to_end_on_tiny_data(name, tmp_path_factory):
    run, _ = reference_run(name, tmp_path_factory)
    assert_trusted_run_folder(run, EXPERIMENTS / f"{name}.yaml", CASES[name])


def test_heptrkx_in_on_the_real_archive(shared_data, tmp_path):
    """The config as shipped reads ../shared/data/heptrkx/train.tar.gz (a clear ConfigError without it:
    tests/training/test_edge_stages.py); here on a few dozen of its graphs."""
    case = CASES["heptrkx_in"]
    config = EXPERIMENTS / "heptrkx_in.yaml"
    run = run_experiment(config, [*case.overrides, "data.max_graphs=48", "data.max_test_graphs=16"], out=tmp_path / "run")
    assert_trusted_run_folder(run, config, case)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_test_graphs"] == 16 and metrics["n_train_graphs"] + metrics["n_val_graphs"] <= 48
