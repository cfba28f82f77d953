"""Runner stages of the jet-tagging experiments (experiments/jets_top.yaml, experiments/jets_qg.yaml).

* ``jets_generate``: Pythia 8 + FastJet jets into ``<run>/data`` (skipped when ``data.path`` is set);
* ``jets_tag``: train every model of ``models`` on one train/validation split and score all of them on
  the same test set (``data.test_path`` when given); metrics.json = {model: {auc, accuracy, rej30,
  rej50, n_params, ...}}, plots/roc.png, a results table in summary.md and results.md;
* ``jets_cv``: k-fold cross-validation (``cv.folds``) of every model; metrics.json = {model: {auc
  (mean), auc_std, accuracy, rej30, rej50 (means), ...}}, cv.json and cv.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import numpy as np
from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import ConfigError
from gnn4hep.jets.model_config import JetModelConfig
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage
from gnn4hep.training.trainer import TrainerConfig


class JetDataConfig(Section):
    """The ``data:`` section of the jet experiments."""

    path: Optional[Path] = None
    """jets in any supported layout (folder of *_pf_vectors.npy, .h5, .npz, .root); None: generate."""
    test_path: Optional[Path] = None
    """a second set of the same layout used as the test set (then ``path`` gives train + validation)."""
    process: Literal["top", "w", "qg"] = "top"
    """what ``jets_generate`` simulates (signal vs QCD background)."""
    n_jets: Optional[int] = Field(None, ge=4, description="generate this many jets per class / use at most this many")
    max_constituents: int = Field(128, ge=1)
    radius: float = Field(0.8, gt=0, description="jet radius R (N-subjettiness, soft drop, images)")
    val_fraction: float = Field(0.1, gt=0, lt=1)
    test_fraction: float = Field(0.2, gt=0, lt=1)
    signal_class: Optional[int] = None
    """with multi-class labels (JetClass): the class that is signal."""
    workers: int = Field(1, ge=1, description="generation processes")
    smear: bool = False
    """apply the simple detector smearing during generation."""


class CVConfig(Section):
    """The ``cv:`` section: k-fold cross-validation."""

    folds: int = Field(5, ge=2)


SECTIONS = {"data": JetDataConfig, "trainer": TrainerConfig, "jet_models": JetModelConfig,
            "models": (list[str], ["pfn", "efn", "particlenet", "bdt"])}


def load_data(ctx: RunContext):
    """Jets of ``data.path`` (or the generated set), shuffled with the run seed, capped to ``n_jets``."""
    from gnn4hep.jets.io import read_jets

    cfg: JetDataConfig = ctx.config.data
    path = cfg.path or ctx.artifacts.get("jets_generated_path")
    if path is None:
        raise ConfigError("data.path is not set and no jets were generated: add 'jets_generate' to 'stages' "
                          "or set data.path to a folder of *_pf_vectors.npy arrays")
    jets = read_jets(path, cfg.signal_class).truncate(cfg.max_constituents)
    if len(np.unique(jets.labels)) != 2:
        raise ConfigError(f"{path}: binary labels needed (found classes {np.unique(jets.labels).tolist()}); "
                          "set data.signal_class")
    order = np.random.default_rng(ctx.seed).permutation(len(jets))
    if cfg.n_jets and cfg.path is not None:  # generated sets hold n_jets per class: use them all
        order = order[: cfg.n_jets]
    return jets.subset(order)


def stratified_split(labels: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Index sets with the given fractions (the rest last), each with the class balance of ``labels``."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        cuts = np.cumsum([int(round(f * len(members))) for f in fractions])
        for part, chunk in zip(parts, np.split(members, cuts)):
            part.append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


@stage("jets_generate", sections={"data": JetDataConfig}, description="Generate jets with Pythia 8 + FastJet")
def jets_generate(ctx: RunContext) -> None:
    """Generate ``data.n_jets`` jets per class of ``data.process`` into <run>/data (unless data.path)."""
    cfg: JetDataConfig = ctx.config.data
    if cfg.path is not None:
        ctx.logger.info(f"  data.path = {cfg.path}: nothing to generate")
        return
    from gnn4hep.jets.generation import GenerationConfig, generate_jets

    n = cfg.n_jets or 1000
    gen = GenerationConfig.for_process(cfg.process, max_constituents=cfg.max_constituents, smear=cfg.smear)
    out = ctx.path("data")
    summary = generate_jets(gen, n, out, workers=cfg.workers, seed=ctx.seed, progress=False)
    ctx.artifacts["jets_generated_path"] = out
    ctx.add_summary_table("### Generation\n\n" + "\n".join(f"- {k}: {v}" for k, v in summary.items()))
    ctx.logger.info(f"  generated {summary['n_jets']} jets in {summary['seconds']:.1f} s "
                    f"({summary['jets_per_s']:.1f} jets/s)")


def _roc_figure(ctx: RunContext, labels, results, title: str) -> None:
    from gnn4hep.jets.metrics import plot_roc_curves

    ctx.save_figure(plot_roc_curves({n: (labels, r.scores) for n, r in results.items()}, title), "roc")


@stage("jets_tag", sections=SECTIONS, description="Train and compare jet taggers on one test set")
def jets_tag(ctx: RunContext) -> None:
    """Train the models of ``models`` and compare them on the same test set."""
    from gnn4hep.jets.io import read_jets
    from gnn4hep.jets.training import evaluate_models, results_table
    from gnn4hep.utils.atomic import atomic_write_json, atomic_write_text

    cfg: JetDataConfig = ctx.config.data
    jets = load_data(ctx)
    if cfg.test_path is not None:
        test = read_jets(cfg.test_path, cfg.signal_class).truncate(cfg.max_constituents)
        val_index, train_index = stratified_split(jets.labels, (cfg.val_fraction,), ctx.seed)
        test_index = None
    else:
        test_index, val_index, train_index = stratified_split(jets.labels, (cfg.test_fraction, cfg.val_fraction),
                                                              ctx.seed)
        test = jets.subset(test_index)
    train, val = jets.subset(train_index), jets.subset(val_index)
    ctx.logger.info(f"  jets: {len(train)} train, {len(val)} validation, {len(test)} test "
                    f"(signal fraction {test.labels.mean():.3f})")
    results = evaluate_models(list(ctx.config.models), train, val, test, ctx.config.trainer, ctx.config.jet_models,
                              cfg.radius, ctx.run_dir, ctx.seed, ctx.logger)
    for name, result in results.items():
        ctx.log_metrics(result.summary(), prefix=name)
    data_info = {"path": str(cfg.path or ctx.artifacts.get("jets_generated_path")), "test_path": str(cfg.test_path) if cfg.test_path else None,
                 "n_train": len(train), "n_val": len(val), "n_test": len(test),
                 "test_signal_fraction": float(test.labels.mean())}
    atomic_write_json(ctx.path("data_split.json"), data_info)
    title = f"{len(train)} train / {len(val)} val / {len(test)} test jets"
    table = results_table(results, title)
    atomic_write_text(ctx.path("results.md"), table + "\n")
    ctx.add_summary_table(table)
    _roc_figure(ctx, test.labels, results, title)
    np.savez(ctx.path("test_scores.npz"), labels=test.labels, **{n: r.scores for n, r in results.items()})


@stage("jets_cv", sections={**SECTIONS, "cv": CVConfig}, description="k-fold cross-validated comparison")
def jets_cv(ctx: RunContext) -> None:
    """Cross-validate every model: fold f is the test set, the rest is split into train + validation."""
    from gnn4hep.jets.training import evaluate_models
    from gnn4hep.utils.atomic import atomic_write_json, atomic_write_text

    cfg: JetDataConfig = ctx.config.data
    jets = load_data(ctx)
    folds = ctx.config.cv.folds
    rng = np.random.default_rng(ctx.seed)
    fold_of = np.empty(len(jets), dtype=np.int64)
    for value in np.unique(jets.labels):  # stratified folds
        members = rng.permutation(np.flatnonzero(jets.labels == value))
        fold_of[members] = np.arange(len(members)) % folds
    per_fold: dict[str, list[dict]] = {}
    for fold in range(folds):
        ctx.logger.info(f"  fold {fold + 1}/{folds}")
        rest = np.flatnonzero(fold_of != fold)
        val_pos, train_pos = stratified_split(jets.labels[rest], (cfg.val_fraction,), ctx.seed + fold)
        results = evaluate_models(list(ctx.config.models), jets.subset(rest[train_pos]), jets.subset(rest[val_pos]),
                                  jets.subset(np.flatnonzero(fold_of == fold)), ctx.config.trainer,
                                  ctx.config.jet_models, cfg.radius, ctx.path("folds", f"fold{fold}"),
                                  ctx.seed + fold, ctx.logger, time_inference=False)
        for name, result in results.items():
            per_fold.setdefault(name, []).append(result.summary())
    summary = {}
    for name, rows in per_fold.items():
        entry = {"folds": folds, "n_jets": len(jets)}
        for key in ("auc", "accuracy", "rej30", "rej50", "n_params", "train_seconds"):
            values = np.array([row[key] for row in rows], dtype=np.float64)
            entry[key] = float(values.mean())
            entry[f"{key}_std"] = float(values.std(ddof=1))
        entry["auc_per_fold"] = [row["auc"] for row in rows]
        summary[name] = entry
        ctx.log_metrics(entry, prefix=name)
    atomic_write_json(ctx.path("cv.json"), summary)
    lines = [f"### {folds}-fold cross-validation on {len(jets)} jets ({cfg.path})", "",
             "| model | AUC | accuracy | 1/ε_B @ 0.3 | 1/ε_B @ 0.5 | parameters |", "| --- | --- | --- | --- | --- | --- |"]
    for name, e in sorted(summary.items(), key=lambda item: -item[1]["auc"]):
        lines.append(f"| {name} | {e['auc']:.4f} ± {e['auc_std']:.4f} | {e['accuracy']:.4f} ± {e['accuracy_std']:.4f} "
                     f"| {e['rej30']:.1f} ± {e['rej30_std']:.1f} | {e['rej50']:.1f} ± {e['rej50_std']:.1f} "
                     f"| {int(e['n_params'])} |")
    table = "\n".join(lines)
    atomic_write_text(ctx.path("cv.md"), table + "\n")
    ctx.add_summary_table(table)
