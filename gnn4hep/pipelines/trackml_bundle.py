"""Model folders of the TrackML GNN pipeline: a finished ``trackml_gnn``-type run folder, or an exported
bundle (``gnn4hep export-model``) holding only what inference needs.

A bundle (the layout of ``gnn4hep/pretrained/trackml_gnn/``, see ``gnn4hep/pretrained/README.md``)::

    bundle.json              format, file list (path, bytes, SHA-256), config, seed, commit, versions,
                             source run, test metrics, variants
    MODEL_CARD.md            config, data (simulator version and seeds), commit, training time, test metrics
    config.yaml              the run's resolved config (the sections inference reads: graph, tracks, refit, model)
    graph_builder/...        the fitted graph builder (layer_pair_cuts.csv, module_map.csv or embedding.pt)
    edge_classifier.pt       the GNN weights (torch.save of tensors and plain values: weights_only-safe)
    variants/no_cells/...    when the model uses cluster (cells) features: the same files of a model trained
                             without them, used for events that have no cells file

Which files a model needs is declared by the pipeline's stage types
(:data:`gnn4hep.pipelines.trackml_apply.STAGE_TYPES`, ``files(config)``), so a new stage (e.g. an edge
filter) brings its files into the bundle by declaring them. Every file of ``bundle.json`` is checked (size
and SHA-256) when the bundle is opened: a missing or edited file is an :class:`~gnn4hep.errors.InputFileError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from gnn4hep.errors import ConfigError, Gnn4hepError, InputFileError

BUNDLE_FILE = "bundle.json"
CARD_FILE = "MODEL_CARD.md"
CONFIG_FILE = "config.yaml"
BUNDLE_FORMAT = "gnn4hep-trackml-model"
BUNDLE_VERSION = 1
#: Sub-folder of the variant without cluster features (events without a cells file).
NO_CELLS = "no_cells"
VARIANTS_DIR = "variants"
#: Largest bundle ``export-model`` writes (bytes; the issue's 20 MB for the shipped model).
MAX_BUNDLE_BYTES = 20_000_000
#: Config sections a model folder must have (the trackml_gnn family: quickstart, trackml_demo, trackml_gnn...).
NEEDED_SECTIONS = ("graph", "model", "tracks")
#: Headline keys of a run's metrics.json copied into bundle.json and the model card.
HEADLINE_KEYS = ("trackml_score", "track_efficiency", "fake_rate", "duplicate_rate", "trackml_score_before_refit",
                 "track_efficiency_before_refit", "fake_rate_before_refit", "duplicate_rate_before_refit")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"not a readable {what} ({type(exc).__name__}: {exc})") from None
    if not isinstance(value, dict):
        raise InputFileError(path, f"not a {what} (expected a JSON object)")
    return value


def read_config(path: Path) -> dict:
    """The resolved config (``yaml.safe_load``) of a model folder, checked to have the sections inference needs."""
    if not path.is_file():
        raise InputFileError(path, "no config file: not a trackml_gnn run folder or model bundle")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputFileError(path, f"not a readable config ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise InputFileError(path, "not a config (expected a YAML mapping)")
    missing = [name for name in NEEDED_SECTIONS if not isinstance(raw.get(name), dict)]
    if missing:
        raise InputFileError(path, f"no '{missing[0]}' section: not the config of a trackml_gnn-type run")
    return raw


@dataclass
class ModelFolder:
    """An opened model folder: ``kind`` is ``run`` or ``bundle``; ``config`` the raw resolved config."""

    root: Path
    kind: str
    config: dict
    meta: dict = field(default_factory=dict)  # bundle.json (bundles), run.json (runs)

    @classmethod
    def open(cls, path: str | Path, verify: bool = True) -> "ModelFolder":
        """Open a run folder or a bundle; a bundle's files are checked against ``bundle.json`` (``verify``)."""
        root = Path(path)
        if not root.exists():
            raise InputFileError(root, "no such model folder (give a trackml_gnn run folder or an exported bundle)")
        if not root.is_dir():
            raise InputFileError(root, "not a folder (a model is a trackml_gnn run folder or an exported bundle)")
        if (root / BUNDLE_FILE).is_file():
            meta = _read_json(root / BUNDLE_FILE, "bundle.json")
            if meta.get("format") != BUNDLE_FORMAT:
                raise InputFileError(root / BUNDLE_FILE, f"key 'format': expected {BUNDLE_FORMAT!r}, got {meta.get('format')!r}")
            if verify:
                verify_bundle(root, meta)
            return cls(root, "bundle", read_config(root / CONFIG_FILE), meta)
        if (root / "run.json").is_file():
            return cls(root, "run", read_config(root / CONFIG_FILE), _read_json(root / "run.json", "run.json"))
        raise InputFileError(root, f"neither {BUNDLE_FILE} nor run.json here: not a model bundle or a finished run folder")

    def file(self, relative: str) -> Path:
        """Path of a model file; in a run folder, a file it lacks is taken from its ``data.from_run``
        (as the experiment's stages do). InputFileError naming it when it is missing."""
        here = self.root / relative
        if here.exists():
            return here
        earlier = (self.config.get("data") or {}).get("from_run")
        if self.kind == "run" and earlier and (Path(earlier) / relative).exists():
            return Path(earlier) / relative
        raise InputFileError(here, f"missing from the model folder {self.root} (needed for inference)")

    def variant(self, name: str) -> "ModelFolder | None":
        """The bundle's variant ``name`` (e.g. :data:`NO_CELLS`), or None when it has none. Its files were
        verified with the bundle's."""
        entry = (self.meta.get("variants") or {}).get(name) if self.kind == "bundle" else None
        if entry is None:
            return None
        root = self.root / entry["path"]
        return ModelFolder(root, "bundle", read_config(root / CONFIG_FILE), {**entry, "variants": {}})


def verify_bundle(root: Path, meta: dict) -> None:
    """Every file listed in ``bundle.json`` exists with its size and SHA-256 (InputFileError naming the first
    that does not)."""
    files = meta.get("files")
    if not isinstance(files, list) or not files:
        raise InputFileError(root / BUNDLE_FILE, "key 'files': no file list")
    for entry in files:
        path = root / str(entry.get("path", ""))
        if not path.is_file():
            raise InputFileError(path, "missing from the model bundle (listed in bundle.json)")
        if path.stat().st_size != entry.get("bytes") or sha256_file(path) != entry.get("sha256"):
            raise InputFileError(path, "SHA-256 or size does not match bundle.json: the bundle is corrupt or was edited")


def _training_summary(run: ModelFolder) -> dict[str, Any]:
    """What the model card and bundle.json record of the run that trained the model."""
    metrics_path = run.root / "metrics.json"
    metrics = _read_json(metrics_path, "metrics.json") if metrics_path.is_file() else {}
    info = run.meta
    data = run.config.get("data") or {}
    simulation = {}
    for split in ("train", "test"):
        from gnn4hep.tracking.simulation.batch import read_settings

        folder = Path(data.get(f"{split}_dir") or run.root / "data" / split)
        settings = read_settings(folder) if folder.is_dir() else None
        if settings is not None:
            simulation[split] = {"source": settings.get("source"), "seed": settings.get("seed"), "folder": str(folder),
                                 "field": (settings.get("field") or {}).get("field"), "config": settings.get("config")}
    return {
        "source_run": str(run.root.resolve()),
        "name": run.config.get("name"),
        "seed": run.config.get("seed"),
        "git": info.get("git", {}),
        "versions": info.get("packages", {}),
        "started": info.get("started"),
        "finished": info.get("finished"),
        "stage_seconds": info.get("stage_seconds", {}),
        "training_seconds": (metrics.get("training") or {}).get("seconds"),
        "test_metrics": {key: metrics[key] for key in HEADLINE_KEYS if key in metrics},
        "eval_metrics": {key: value.get("trackml_score") for key, value in metrics.items()
                         if key.startswith("eval_") and isinstance(value, dict) and "trackml_score" in value},
        "time_per_event": metrics.get("time_per_event", {}),
        "data": {key: data.get(key) for key in ("source", "pileup", "n_train", "n_test", "path", "train_dir", "test_dir")},
        "simulation": simulation,
    }


def model_card(config: dict, summary: dict, variant: dict | None) -> str:
    """MODEL_CARD.md: config, data (simulator version and seeds), commit, training time, test metrics."""
    git = summary["git"] or {}
    versions = summary["versions"] or {}
    data = summary["data"]
    lines = [f"# TrackML GNN tracking model: {summary['name']}", "",
             "Exported by `gnn4hep export-model` from a finished run; applied with `gnn4hep track EVENT --model THIS_FOLDER`.",
             "", "## Provenance", "",
             f"- source run: `{summary['source_run']}` (started {summary['started']}, finished {summary['finished']})",
             f"- git commit: {git.get('commit')} (dirty: {git.get('dirty')})",
             f"- seed: {summary['seed']}",
             f"- versions: gnn4hep {versions.get('gnn4hep')}, torch {versions.get('torch')}, "
             f"torch-geometric {versions.get('torch-geometric')}, pythia8mc {versions.get('pythia8mc')}",
             "", "## Data", "",
             f"- source: {data.get('source')}" + (f", pile-up {data.get('pileup')}" if data.get("source") == "pythia" else "")
             + f", {data.get('n_train')} training events, "
             f"{data.get('n_test')} test events" + (f", from {data.get('path')}" if data.get("path") else ""),
             f"- simulator: gnn4hep {versions.get('gnn4hep')} (pythia8mc {versions.get('pythia8mc')})"]
    for split, record in summary["simulation"].items():
        lines.append(f"- {split} events: {record['source']}, simulation seed {record['seed']}, field {record['field']}")
    if not summary["simulation"]:
        lines.append("- events not simulated by the run (given folders) or their simulation.json is absent")
    else:
        settings = next(iter(summary["simulation"].values()))["config"] or {}
        lines += ["", "Simulator settings (simulation.json of the training events):", "", "```yaml",
                  yaml.safe_dump(settings, sort_keys=False).rstrip(), "```"]
    seconds = summary["stage_seconds"] or {}
    lines += ["", "## Training time", "",
              f"- edge-classifier training: {summary['training_seconds']:.1f} s" if summary["training_seconds"] is not None
              else "- edge-classifier training: unknown (the run reused an earlier run's model)",
              f"- all stages: {sum(seconds.values()):.1f} s" if seconds else "- all stages: unknown"]
    lines += [f"  - {name}: {value:.1f} s" for name, value in seconds.items()]
    lines += ["", "## Test metrics (the run's test events)", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |"
              for key, value in summary["test_metrics"].items()]
    lines += [f"| {key}: trackml_score | {value:.4f} |" for key, value in summary["eval_metrics"].items()]
    if summary["time_per_event"]:
        lines += ["", "Seconds per test event: " + ", ".join(f"{k} {v:.3g}" for k, v in summary["time_per_event"].items())]
    if variant is not None:
        lines += ["", "## Variant without cluster features", "",
                  f"`{VARIANTS_DIR}/{NO_CELLS}/` is used automatically for events without a cells file; "
                  f"trained by `{variant['source_run']}` (commit {(variant['git'] or {}).get('commit')}), test metrics: "
                  + ", ".join(f"{k} {v:.4f}" for k, v in variant["test_metrics"].items() if isinstance(v, float))]
    lines += ["", "## Config", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def _open_run(path: str | Path) -> ModelFolder:
    run = ModelFolder.open(path)
    if run.kind != "run":
        raise InputFileError(run.root, "an exported bundle; give the run folder it came from")
    return run


def _model_files(model: ModelFolder) -> dict[str, Path]:
    """relative path -> source file of everything inference with ``model`` needs (config included)."""
    from gnn4hep.pipelines.trackml_apply import InferenceConfig, required_files

    files = {CONFIG_FILE: model.root / CONFIG_FILE}
    for relative in required_files(InferenceConfig(model.config)):
        files[relative] = model.file(relative)
    return files


def export_model(run_dir: str | Path, out_dir: str | Path, no_cells_run: str | Path | None = None,
                 max_bytes: int = MAX_BUNDLE_BYTES) -> dict:
    """Write the bundle of the run ``run_dir`` into ``out_dir`` (which must not exist, or be empty).

    Args:
        no_cells_run: a run of the same pipeline trained without cluster features, required when
            ``run_dir``'s model uses them (its files go under ``variants/no_cells/``).
        max_bytes: the bundle (every file, bundle.json and the card) may not exceed this size.

    Returns:
        the bundle.json content. Nothing is written when any check fails: the bundle is assembled in
        a hidden folder next to ``out_dir`` and renamed into place.
    """
    from gnn4hep.pipelines.trackml_apply import InferenceConfig
    from gnn4hep.utils.provenance import package_versions

    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(f"{out_dir}: the bundle folder exists and is not empty; choose another OUT_DIR")
    from gnn4hep.pipelines.trackml_apply import TrackingPipeline

    run = _open_run(run_dir)
    variant = _open_run(no_cells_run) if no_cells_run is not None else None
    for model in (run, variant):  # every file inference needs loads: nothing corrupt is exported
        if model is not None:
            TrackingPipeline.from_model(model)
    parts: dict[str, Path] = dict(_model_files(run))
    variant_summary = None
    if InferenceConfig(run.config).uses_cells:
        if variant is None:
            raise ConfigError(f"{run.root}: the model uses cluster (cells) features; give --no-cells RUN_DIR, a run of the "
                              "same pipeline with graph.cell_features=false, for events without cells")
        if InferenceConfig(variant.config).uses_cells:
            raise ConfigError(f"--no-cells {variant.root}: not a run trained without cluster features")
        parts.update({f"{VARIANTS_DIR}/{NO_CELLS}/{rel}": src for rel, src in _model_files(variant).items()})
        variant_summary = _training_summary(variant)
    elif variant is not None:
        raise ConfigError(f"--no-cells: {run.root} does not use cluster features, so it needs no variant without them")
    summary = _training_summary(run)
    card = model_card(run.config, summary, variant_summary)
    size = sum(path.stat().st_size for path in parts.values()) + len(card.encode())
    if size > max_bytes:
        raise ConfigError(f"{run.root}: the bundle would hold {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        for relative, source in parts.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / relative)
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        files = [{"path": rel, "bytes": (staging / rel).stat().st_size, "sha256": sha256_file(staging / rel)}
                 for rel in sorted([*parts, CARD_FILE])]
        meta = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_VERSION,
            "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "exported_with": package_versions(("gnn4hep", "torch", "torch-geometric")),
            "files": files,
            "total_bytes": sum(entry["bytes"] for entry in files),
            "config": run.config,
            "uses_cells": InferenceConfig(run.config).uses_cells,
            "variants": {},
            **{key: summary[key] for key in ("seed", "git", "versions", "source_run", "training_seconds", "test_metrics",
                                             "eval_metrics", "data", "simulation")},
        }
        if variant_summary is not None:
            meta["variants"][NO_CELLS] = {"path": f"{VARIANTS_DIR}/{NO_CELLS}", **{
                key: variant_summary[key] for key in ("seed", "git", "source_run", "test_metrics")}}
        text = json.dumps(meta, indent=2, default=str) + "\n"
        if meta["total_bytes"] + len(text.encode()) > max_bytes:
            raise ConfigError(f"{run.root}: the bundle would hold {(meta['total_bytes'] + len(text)) / 1e6:.1f} MB, "
                              f"over the {max_bytes / 1e6:g} MB limit")
        (staging / BUNDLE_FILE).write_text(text, encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return meta


def default_model_dir() -> Path:
    """``gnn4hep/pretrained/trackml_gnn/`` of the installed package (may hold no model yet)."""
    return Path(__file__).resolve().parents[1] / "pretrained" / "trackml_gnn"


def resolve_model(name: str | Path) -> Path:
    """``default`` -> the packaged model folder (Gnn4hepError when none is installed); anything else as given."""
    if str(name) != "default":
        return Path(name)
    folder = default_model_dir()
    if not (folder / BUNDLE_FILE).is_file():
        raise Gnn4hepError(
            f"--model default: no default model is installed ({folder} holds no bundle.json); train one "
            "(gnn4hep run experiments/trackml_gnn.yaml) and export it (gnn4hep export-model RUN_DIR "
            f"{folder}), or pass --model RUN_DIR|BUNDLE_DIR")
    return folder
