"""Applying a trained TrackML GNN pipeline to new events: TrackingPipeline, ``gnn4hep export-model`` bundles
and ``gnn4hep track``.

One tiny quickstart run (2 training events, one epoch) is trained once per module; the labels the
pipeline gives must be those the experiment's own stages wrote, and the metrics ``track`` writes are
checked against ``gnn4hep score`` and a brute-force loop over tracks written from the definitions.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gnn4hep.cli.errors import run_app
from gnn4hep.cli.main import app
from gnn4hep.errors import InputFileError
from gnn4hep.graphs.hit_graph import make_hit_graph
from gnn4hep.pipelines import trackml_bundle
from gnn4hep.pipelines.trackml_apply import STAGE_TYPES, InferenceConfig, Stage, TrackingPipeline, required_files
from gnn4hep.runner.run import run_experiment
from gnn4hep.tracking.io import read_event
from gnn4hep.tracking.scoring_reference import score_event_loop

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "experiments" / "quickstart.yaml"
TINY = ["data.n_train=2", "data.n_test=1", "data.val_fraction=0.0", "trainer.max_epochs=1", "model.hidden=8",
        "model.n_iterations=1"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return run_experiment(QUICKSTART, TINY, out=tmp_path_factory.mktemp("apply") / "run")


def _test_prefix(run: Path) -> Path:
    return run / "data" / "test" / next((run / "data" / "test").glob("*-hits.csv.gz")).name.removesuffix("-hits.csv.gz")


def cli(*args) -> int:
    """The CLI in this process (exit code; output to capsys)."""
    return run_app(app, [str(a) for a in args])


def _copy_event(prefix: Path, folder: Path, parts: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for part in parts:
        shutil.copy(f"{prefix}-{part}.csv.gz", folder / f"{prefix.name}-{part}.csv.gz")
    if (prefix.parent / "simulation.json").exists():
        shutil.copy(prefix.parent / "simulation.json", folder / "simulation.json")
    return folder / prefix.name


def brute_force_metrics(truth: pd.DataFrame, particles: pd.DataFrame, submission: pd.DataFrame, pt_min: float,
                        min_hits: int = 3) -> dict[str, float]:
    """Double-majority efficiency, fake and duplicate rates by a loop over tracks, from the definitions of
    gnn4hep.tracking.metrics' docstring (no shared code)."""
    particle_of = dict(zip(truth["hit_id"].tolist(), truth["particle_id"].tolist()))
    nhits = Counter(p for p in truth["particle_id"].tolist() if p != 0)
    pt = dict(zip(particles["particle_id"].tolist(), np.hypot(particles["px"], particles["py"]).tolist()))

    def selected(particle) -> bool:
        return particle != 0 and pt.get(particle, 0.0) > pt_min and nhits[particle] >= min_hits

    matched, single, n_tracks, n_fake = set(), [], 0, 0
    for _, hits in submission.groupby("track_id")["hit_id"]:
        owners = Counter(particle_of[h] for h in hits.tolist())
        major = min(owners, key=lambda p: (-owners[p], p))
        good = major != 0 and 2 * owners[major] > len(hits) and 2 * owners[major] > nhits[major]
        if good and selected(major):
            matched.add(major)
        if len(hits) >= min_hits:
            if selected(major) or pt_min == 0:
                n_tracks += 1
                n_fake += not good
            if selected(major) and 2 * owners[major] > len(hits):
                single.append(major)
    n_particles = sum(1 for p in nhits if selected(p))
    return {"efficiency": len(matched) / n_particles, "fake_rate": n_fake / n_tracks,
            "duplicate_rate": (len(single) - len(set(single))) / len(single) if single else math.nan}


def test_pipeline_gives_the_experiments_labels(tiny_run):
    prefix = _test_prefix(tiny_run)
    pipeline = TrackingPipeline.from_model(tiny_run)
    assert pipeline.stage_names == ["graph", "hit_graph", "edge_classifier", "track_building", "refit"]
    event, result = pipeline.track_prefix(prefix)
    expected = pd.read_csv(tiny_run / "refitted" / "test" / f"{prefix.name}.csv")
    pd.testing.assert_frame_equal(result.labels.reset_index(drop=True), expected)
    raw = pd.read_csv(tiny_run / "submissions" / "test" / f"{prefix.name}.csv")
    pd.testing.assert_frame_equal(result.candidates.reset_index(drop=True), raw)
    assert not raw.equals(expected)  # the refit changed something: the two checks are not one
    no_refit = TrackingPipeline.from_model(tiny_run, refit=False)
    assert no_refit.stage_names == ["graph", "hit_graph", "edge_classifier", "track_building"]
    pd.testing.assert_frame_equal(no_refit.track(event, prefix.name, prefix).labels.reset_index(drop=True), raw)
    assert set(result.seconds) == {"read", "graph", "hit_graph", "edge_classifier", "track_building", "refit"}
    assert all(v["cpu"] >= 0 and v["wall"] >= 0 for v in result.seconds.values())


def test_keep_edges_is_the_graph_of_the_kept_edges(tiny_run):
    from gnn4hep.pipelines.trackml_apply import TrackingState

    pipeline = TrackingPipeline.from_model(tiny_run, refit=False)
    event = read_event(_test_prefix(tiny_run))
    state = TrackingState(event=event, name="e")
    pipeline.stages[0].run(state)
    edges = state.edges
    mask = np.random.default_rng(0).random(edges.shape[1]) < 0.5
    direct = make_hit_graph(state.table, edges[:, mask], event_id=event.event_id)
    pipeline.stages[1].run(state)  # the whole graph, then cut
    state.keep_edges(mask)
    before = TrackingState(event=event, name="e")
    pipeline.stages[0].run(before)
    before.keep_edges(mask)  # cut, then the graph of the kept edges
    pipeline.stages[1].run(before)
    for key in ("edge_index", "y", "edge_attr", "x"):
        assert np.array_equal(getattr(state.graph, key).numpy(), getattr(direct, key).numpy()), key
        assert np.array_equal(getattr(before.graph, key).numpy(), getattr(direct, key).numpy()), key
    assert 0 < before.edges.shape[1] < edges.shape[1]


def test_a_new_stage_type_runs_and_brings_its_files(tiny_run, monkeypatch):
    """The extension point an edge filter uses: a stage inserted in STAGE_TYPES runs between graph and GNN,
    and its declared files become required (and so exported)."""

    class DropHalf(Stage):
        name = "edge_filter"

        @classmethod
        def files(cls, config):
            return ["filter.pt"]

        def run(self, state):
            state.keep_edges(np.arange(state.edges.shape[1]) % 2 == 0)

    monkeypatch.setattr("gnn4hep.pipelines.trackml_apply.STAGE_TYPES", [STAGE_TYPES[0], DropHalf, *STAGE_TYPES[1:]])
    config = InferenceConfig(trackml_bundle.read_config(tiny_run / "config.yaml"))
    assert "filter.pt" in required_files(config)
    pipeline = TrackingPipeline.from_model(tiny_run, refit=False)
    assert pipeline.stage_names == ["graph", "edge_filter", "hit_graph", "edge_classifier", "track_building"]
    result = pipeline.track(read_event(_test_prefix(tiny_run)))
    assert result.info["n_edges_gnn"] == (result.info["n_edges_graph"] + 1) // 2


def test_export_then_track_writes_submissions_scores_and_plots(tiny_run, tmp_path, capsys):
    bundle, out = tmp_path / "bundle", tmp_path / "out"
    assert cli("export-model", tiny_run, bundle) == 0
    meta = json.loads((bundle / "bundle.json").read_text())
    assert {entry["path"] for entry in meta["files"]} == {"config.yaml", "edge_classifier.pt", "MODEL_CARD.md",
                                                         "graph_builder/layer_pair_cuts.csv"}
    assert meta["git"]["commit"] and meta["seed"] == 0 and "trackml_score" in meta["test_metrics"]
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "simulation seed" in card and meta["git"]["commit"] in card and "trackml_score" in card
    assert meta["simulation"]["train"]["seed"] == json.loads((tiny_run / "data" / "train" / "simulation.json").read_text())["seed"]
    prefix = _test_prefix(tiny_run)
    assert cli("track", prefix.parent, "--model", bundle, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "edge_classifier" in printed and "trackml_score" in printed  # the time table and the metrics
    submission = pd.read_csv(out / f"{prefix.name}-submission.csv")
    event = read_event(prefix, parts=("hits", "particles", "truth"))
    assert list(submission.columns) == ["hit_id", "track_id"] and submission["hit_id"].is_unique
    assert set(submission["hit_id"]) == set(event.hits["hit_id"])
    pd.testing.assert_frame_equal(submission, pd.read_csv(tiny_run / "refitted" / "test" / f"{prefix.name}.csv"))
    metrics = json.loads((out / f"{prefix.name}-metrics.json").read_text())
    capsys.readouterr()
    assert cli("score", prefix, out / f"{prefix.name}-submission.csv", "--json") == 0
    scored = json.loads(capsys.readouterr().out)
    assert metrics["trackml_score"] == scored["trackml_score"]
    assert metrics["pt_high"]["efficiency"] == scored["efficiency"] and metrics["all"]["fake_rate"] == scored["fake_rate_all"]
    assert metrics["trackml_score"] == pytest.approx(score_event_loop(event.truth, submission), abs=1e-12)
    for key, pt_min in (("pt_high", 1.0), ("all", 0.0)):
        expected = brute_force_metrics(event.truth, event.particles, submission, pt_min)
        for name, value in expected.items():
            assert metrics[key][name] == pytest.approx(value, abs=1e-12), (key, name)
    assert metrics["before_refit"]["trackml_score"] == pytest.approx(score_event_loop(
        event.truth, pd.read_csv(tiny_run / "submissions" / "test" / f"{prefix.name}.csv")), abs=1e-12)
    for name in ("efficiency", "fake_rate", "event_display"):
        assert (out / f"{prefix.name}-{name}.png").stat().st_size > 0
    summary = json.loads((out / "track_summary.json").read_text())
    assert summary["events"][prefix.name]["variant"] == "main" and "refit" in summary["events"][prefix.name]["seconds"]


def test_hits_only_events_get_a_full_submission(tiny_run, tmp_path, capsys):
    prefix = _copy_event(_test_prefix(tiny_run), tmp_path / "hits_only", ("hits",))
    assert cli("track", prefix, "--model", tiny_run, "--out", tmp_path / "out", "--no-progress") == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"{prefix.name}-submission.csv", "track_summary.json"]
    submission = pd.read_csv(tmp_path / "out" / f"{prefix.name}-submission.csv")
    hits = read_event(prefix, parts=("hits",)).hits
    assert submission["hit_id"].is_unique and set(submission["hit_id"]) == set(hits["hit_id"])


def test_bad_bundles_and_inputs_exit_2_and_write_nothing(tiny_run, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    assert cli("export-model", tiny_run, bundle) == 0
    prefix = _test_prefix(tiny_run)
    capsys.readouterr()

    def refused(model, *, event=prefix, match: str):
        out = tmp_path / "out"
        assert cli("track", event, "--model", model, "--out", out, "--no-progress") == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and match in err, err
        assert not out.exists()

    corrupt = tmp_path / "corrupt"
    shutil.copytree(bundle, corrupt)
    data = bytearray((corrupt / "edge_classifier.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (corrupt / "edge_classifier.pt").write_bytes(bytes(data))
    refused(corrupt, match="edge_classifier.pt: SHA-256 or size does not match")
    missing = tmp_path / "missing"
    shutil.copytree(bundle, missing)
    (missing / "graph_builder" / "layer_pair_cuts.csv").unlink()
    refused(missing, match="layer_pair_cuts.csv: missing from the model bundle")
    refused(tmp_path / "nowhere", match="no such model folder")
    (tmp_path / "empty").mkdir()
    refused(tmp_path / "empty", match="neither bundle.json nor run.json")
    refused(bundle, event=tmp_path / "event000000009", match="no hits file")
    if not torch.cuda.is_available():
        assert cli("track", prefix, "--model", bundle, "--out", tmp_path / "out", "--device", "cuda") == 2
        assert "no CUDA device" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert cli("export-model", tiny_run, bundle) == 2  # not over an existing bundle
    assert "not empty" in capsys.readouterr().err


def test_bundle_size_limit_is_enforced(tiny_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(trackml_bundle, "MAX_BUNDLE_BYTES", 30_000)  # the tiny bundle holds ~34 kB
    assert cli("export-model", tiny_run, tmp_path / "bundle") == 2
    assert "over the 0.03 MB limit" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no bundle, no staging folder


def test_default_model(tiny_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(trackml_bundle, "default_model_dir", lambda: tmp_path / "pretrained" / "trackml_gnn")
    assert cli("track", _test_prefix(tiny_run), "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "no default model is installed" in err and "export-model" in err and not (tmp_path / "out").exists()
    assert cli("export-model", tiny_run, tmp_path / "pretrained" / "trackml_gnn") == 0
    assert cli("track", _test_prefix(tiny_run), "--out", tmp_path / "out", "--no-progress", "--no-plots") == 0
    assert json.loads((tmp_path / "out" / "track_summary.json").read_text())["model_kind"] == "bundle"


def test_events_without_cells_use_the_no_cells_variant(tiny_run, tmp_path, capsys):
    data = tiny_run / "data"
    cells_run = run_experiment(QUICKSTART, TINY + [
        "graph.cell_features=true", f"data.train_dir={data / 'train'}", f"data.test_dir={data / 'test'}",
        "stages=[trackml_build_graphs,trackml_train,trackml_infer,trackml_build_tracks,trackml_refit]"],
        out=tmp_path / "cells_run")  # fmt: skip
    assert cli("export-model", cells_run, tmp_path / "refused") == 2
    assert "--no-cells" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    bundle = tmp_path / "bundle"
    assert cli("export-model", cells_run, bundle, "--no-cells", tiny_run) == 0
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["uses_cells"] and "variants/no_cells/edge_classifier.pt" in {f["path"] for f in meta["files"]}

    prefix = _test_prefix(tiny_run)
    pipeline = TrackingPipeline.from_model(bundle)
    _, with_cells = pipeline.track_prefix(prefix)
    assert with_cells.variant == "main"
    pd.testing.assert_frame_equal(with_cells.labels.reset_index(drop=True),
                                  pd.read_csv(cells_run / "refitted" / "test" / f"{prefix.name}.csv"))
    bare = _copy_event(prefix, tmp_path / "no_cells", ("hits", "particles", "truth"))
    _, without = pipeline.track_prefix(bare)
    assert without.variant == "no_cells"
    # Before the refit, the variant reproduces the no-cells run's own submission. The refit's hit errors use
    # cluster sizes when the event has cells, so after it the reference is the no-cells run on the same bare event.
    _, unrefitted = TrackingPipeline.from_model(bundle, refit=False).track_prefix(bare)
    pd.testing.assert_frame_equal(unrefitted.labels.reset_index(drop=True),
                                  pd.read_csv(tiny_run / "submissions" / "test" / f"{prefix.name}.csv"))
    _, run_on_bare = TrackingPipeline.from_model(tiny_run).track_prefix(bare)
    pd.testing.assert_frame_equal(without.labels.reset_index(drop=True), run_on_bare.labels.reset_index(drop=True))
    capsys.readouterr()
    assert cli("track", bare, "--model", cells_run, "--out", tmp_path / "out") == 2  # a run folder has no variant
    assert "has no cells file" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_real_sample_event_is_tracked_as_real_data(tiny_run, sample_event_prefix):
    pipeline = TrackingPipeline.from_model(tiny_run)
    event, result = pipeline.track_prefix(sample_event_prefix)
    refit_stage = pipeline.stages[-1]
    assert refit_stage.fit_config(sample_event_prefix).material_model == "trackml"  # no simulation.json: real physics
    assert result.labels["hit_id"].is_unique and set(result.labels["hit_id"]) == set(event.hits["hit_id"])


def test_a_damaged_later_event_leaves_nothing_behind(tiny_run, tmp_path, capsys):
    """Events are read one at a time; when the second is damaged, the first one's files are removed too."""
    prefix = _test_prefix(tiny_run)
    folder = tmp_path / "events"
    _copy_event(prefix, folder, ("hits", "particles", "truth"))
    second = folder / "event000000002"
    shutil.copy(f"{prefix}-hits.csv.gz", f"{second}-hits.csv.gz")
    Path(f"{second}-truth.csv.gz").write_bytes(b"\x1f\x8b garbage")
    out = tmp_path / "deep" / "out"
    assert cli("track", folder, "--model", tiny_run, "--out", out, "--no-progress") == 2
    assert "event000000002-truth.csv.gz" in capsys.readouterr().err
    assert not (tmp_path / "deep").exists()


SMALL = REPO / "experiments" / "trackml_gnn_small.yaml"


def test_staged_run_with_edge_filter_gives_the_experiments_labels(tmp_path):
    """The staged pipeline (ring map, edge filter, GNN): the filter stage cuts the edges exactly as the
    experiment's trackml_filter stage did, and the labels are the experiment's."""
    from gnn4hep.graphs.io import load_graph

    run = run_experiment(SMALL, [], out=tmp_path / "run")
    prefix = _test_prefix(run)
    pipeline = TrackingPipeline.from_model(run)
    assert pipeline.stage_names == ["graph", "edge_filter", "hit_graph", "edge_classifier", "track_building"]
    _, result = pipeline.track_prefix(prefix)
    filtered = load_graph(run / "filtered_graphs" / "test" / f"{prefix.name}.pt")
    assert result.info["n_edges_filtered"] == filtered.edge_index.shape[1] < result.info["n_edges_graph"]
    expected = pd.read_csv(run / "submissions" / "test" / f"{prefix.name}.csv")
    pd.testing.assert_frame_equal(result.labels.reset_index(drop=True), expected)
    assert cli("export-model", run, tmp_path / "bundle") == 0
    assert (tmp_path / "bundle" / "filter" / "edge_filter.pt").is_file()
    _, from_bundle = TrackingPipeline.from_model(tmp_path / "bundle").track_prefix(prefix)
    pd.testing.assert_frame_equal(from_bundle.labels.reset_index(drop=True), expected)


def test_edge_filter_choice_follows_the_experiments_rule(tmp_path, monkeypatch):
    """Cluster-shape filter for simulated events with cells; the no-cells filter for events without cells and
    for real events (no simulation.json) unless filter.eval_cells; the configured threshold only for the main one."""
    from types import SimpleNamespace

    from gnn4hep.pipelines.trackml_apply import EdgeFilterStage
    from gnn4hep.pipelines.trackml_config import FilterConfig

    sim, real = tmp_path / "sim" / "event000000001", tmp_path / "real" / "event000000001"
    records = {str(sim.parent): {"field": "recorded"}, str(real.parent): None}
    monkeypatch.setattr("gnn4hep.tracking.simulation.batch.read_settings", lambda folder: records[str(folder)])
    stage = EdgeFilterStage.__new__(EdgeFilterStage)  # the decision alone, without filter files
    main, bare = SimpleNamespace(cell_features=True, threshold=0.3), SimpleNamespace(cell_features=False, threshold=0.2)
    with_cells, without = SimpleNamespace(cells=object()), SimpleNamespace(cells=None)
    for eval_cells in (False, True):
        stage.filters = [main, bare]
        stage.cfg = FilterConfig(enabled=True, cell_features=True, threshold=0.7, eval_cells=eval_cells)
        assert stage.choose(with_cells, sim) == (main, 0.7)
        assert stage.choose(without, sim) == (bare, 0.2)
        assert stage.choose(with_cells, real) == ((main, 0.7) if eval_cells else (bare, 0.2))
    stage.filters = [main]  # no no-cells filter: an event without cells is refused, naming the cells file
    with pytest.raises(InputFileError, match="cells"):
        stage.choose(without, sim)
