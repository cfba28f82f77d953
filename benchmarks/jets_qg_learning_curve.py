"""Learning curve on the real quark/gluon jets: test AUC against the number of training jets.

    python benchmarks/jets_qg_learning_curve.py [SOURCE] [--models efn,bdt] [--sizes 180,360,720,all]
                                                [--run-folds 0,1,2,3,4]

Same jets, shuffle and 5 test folds as ``jets_cv`` (benchmarks/jets_qg_cv.py, seed 0), and the same
train / early-stopping validation split of the other folds; the training jets are cut to each size as
nested, class-balanced subsets (seeded), the validation and test jets stay the same. Networks train with
the shared recipe of experiments/jets_qg.yaml (gnn4hep/jets/recipe.py). A flat curve says a model is not
limited by the number of training jets at this size; a rising one that it is.

Also scored, without training: the constituent multiplicity alone (its orientation, more constituents =
gluon-like, taken from the training jets). The Energy Flow Network is IRC safe (Komiske, Metodiev,
Thaler, arXiv:1810.05165): its inputs are energy-weighted sums, so it cannot count constituents, which
quark/gluon taggers gain most from.

Writes benchmarks/results/jets_qg_learning_curve.json, .md and .png.
"""

from __future__ import annotations

import argparse
import os
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / ".." / "shared" / "data" / "jets" / "quark_gluon_2k.tar.gz"


def cv_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The stratified fold of every jet, as ``jets_cv`` assigns them."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        fold_of[members] = np.arange(len(members)) % folds
    return fold_of


def nested_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Positions of ``size`` jets with the class balance of ``labels``; a smaller size is a subset of a larger."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == v)) for v in np.unique(labels)])
    rank = np.empty(len(labels))
    for value in np.unique(labels):  # interleave the classes by their rank within the class
        members = order[labels[order] == value]
        rank[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.sort(np.argsort(rank, kind="stable")[:size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE))
    parser.add_argument("--models", default="efn,bdt")
    parser.add_argument("--sizes", default="180,360,720,all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--run-folds", default="0,1,2,3,4")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from sklearn.metrics import roc_auc_score

    from gnn4hep.jets.io import read_jets
    from gnn4hep.jets.model_config import JetModelConfig
    from gnn4hep.jets.recipe import RecipeConfig
    from gnn4hep.jets.stages import stratified_split
    from gnn4hep.jets.training import evaluate_models
    from gnn4hep.training.trainer import TrainerConfig
    from gnn4hep.utils.atomic import atomic_savefig, atomic_write_json, atomic_write_text

    experiment = yaml.safe_load((REPO / "experiments" / "jets_qg.yaml").read_text())
    recipe, config = RecipeConfig(**experiment["recipe"]), JetModelConfig(**experiment["jet_models"])
    data = experiment["data"]
    trainer = TrainerConfig(progress_bar=False, num_threads=1)
    models = args.models.split(",")
    run_folds = [int(f) for f in args.run_folds.split(",")]
    rows: dict[str, dict[str, list[float]]] = {m: {} for m in models + ["multiplicity"]}
    sizes_used: dict[str, int] = {}
    start = time.process_time()
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(args.source)
        if source.suffix == ".gz":
            with tarfile.open(source) as tar:
                tar.extractall(scratch, filter="data")
            source = sorted({p.parent for p in Path(scratch).rglob("*_pf_vectors.npy")})[0]
        jets = read_jets(source).truncate(data["max_constituents"])
        jets = jets.subset(np.random.default_rng(args.seed).permutation(len(jets)))  # as load_data does
        fold_of = cv_folds(jets.labels, args.folds, args.seed)
        for fold in run_folds:
            rest = np.flatnonzero(fold_of != fold)
            val_pos, train_pos = stratified_split(jets.labels[rest], (data["val_fraction"],), args.seed + fold)
            train_all, val = jets.subset(rest[train_pos]), jets.subset(rest[val_pos])
            test = jets.subset(np.flatnonzero(fold_of == fold))
            # multiplicity: oriented on the training jets, scored on the test fold
            sign = 1.0 if roc_auc_score(train_all.labels, train_all.multiplicity) >= 0.5 else -1.0
            rows["multiplicity"].setdefault("all", []).append(float(roc_auc_score(test.labels,
                                                                                  sign * test.multiplicity)))
            for size_name in args.sizes.split(","):
                size = len(train_all) if size_name == "all" else int(size_name)
                if size > len(train_all):
                    continue
                sizes_used[size_name] = size
                train = train_all.subset(nested_subset(train_all.labels, size, args.seed + 100 + fold))
                results = evaluate_models(models, train, val, test, trainer, config, data["radius"],
                                          Path(scratch) / f"fold{fold}_{size_name}", args.seed + fold,
                                          time_inference=False, recipe=recipe)
                for m in models:
                    rows[m].setdefault(size_name, []).append(results[m].metrics["auc"])
                print(f"fold {fold} size {size}: " + ", ".join(f"{m} {results[m].metrics['auc']:.4f}" for m in models),
                      flush=True)
    cpu = time.process_time() - start
    summary = {m: {s: {"auc": float(np.mean(v)), "auc_std": float(np.std(v, ddof=1)) if len(v) > 1 else None,
                       "auc_per_fold": v, "n_train": sizes_used.get(s)} for s, v in r.items()} for m, r in rows.items()}
    lines = [f"### Learning curve, real quark/gluon jets ({len(jets)} jets, test folds {run_folds} of {args.folds})", "",
             "Test AUC (mean ± std over the test folds) against the training jets; validation and test jets fixed; "
             "shared recipe of experiments/jets_qg.yaml.", "",
             "| model | " + " | ".join(f"{sizes_used[s]} train jets" for s in sizes_used) + " |",
             "| --- |" + " --- |" * len(sizes_used)]
    for m in models:
        cells = []
        for s in sizes_used:
            e = summary[m].get(s)
            cells.append("–" if e is None else f"{e['auc']:.4f}" + (f" ± {e['auc_std']:.4f}" if e["auc_std"] else ""))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    mult = summary["multiplicity"]["all"]
    lines += ["", f"Constituent multiplicity alone (no training): AUC {mult['auc']:.4f} ± {mult['auc_std'] or 0:.4f}."]
    table = "\n".join(lines)
    results_dir = REPO / "benchmarks" / "results"
    command = (f"python benchmarks/jets_qg_learning_curve.py --models {args.models} --sizes {args.sizes} "
               f"--folds {args.folds} --run-folds {args.run_folds} --seed {args.seed}")
    atomic_write_json(results_dir / "jets_qg_learning_curve.json", {
        "command": command, "cpu_seconds": cpu, "sizes": sizes_used, "recipe": recipe.model_dump(),
        "results": summary})
    atomic_write_text(results_dir / "jets_qg_learning_curve.md", f"Command: `{command}` ({cpu:.0f} CPU s)\n\n"
                      + table + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for m in models:
        xs = [sizes_used[s] for s in sizes_used if s in summary[m]]
        ys = [summary[m][s]["auc"] for s in sizes_used if s in summary[m]]
        err = [summary[m][s]["auc_std"] or 0 for s in sizes_used if s in summary[m]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=m)
    ax.axhline(mult["auc"], color="gray", linestyle="--", label="multiplicity alone")
    ax.set_xscale("log")
    ax.set_xlabel("training jets")
    ax.set_ylabel("test AUC")
    ax.set_title("quark/gluon learning curve")
    ax.legend()
    atomic_savefig(fig, results_dir / "jets_qg_learning_curve.png", dpi=110, bbox_inches="tight")
    print(table)


if __name__ == "__main__":
    main()
