"""Which part of the training recipe matters, measured on validation data only (never a test fold).

    python benchmarks/jets_qg_recipe.py [SOURCE] [--models pfn] [--inner-folds 4] [--variants old,reference,...]

The real quark/gluon jets are shuffled and split into 5 stratified folds exactly as ``jets_cv`` does
(seed 0); only the jets outside test fold 0 are used. They are split again into ``--inner-folds``
stratified folds; each inner fold in turn is the held-out set that is scored, and the rest is split
into training and early-stopping validation jets (the variant's validation fraction) as the experiments do. Every
variant trains through the shared code (:func:`gnn4hep.jets.training.evaluate_models`) from the same
seed. Prints mean ± std of the held-out AUC over the inner folds and writes
benchmarks/results/jets_qg_recipe.json (or ``--output``; the schedules and Ranger of
gnn4hep/jets/recipe.py: jets_qg_recipe_schedules.json, ``--variants cosine,flat_decay,plateau,ranger_flat_decay``).
"""

from __future__ import annotations

import argparse
import os
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / ".." / "shared" / "data" / "jets" / "quark_gluon_2k.tar.gz"
REFERENCE_RECIPE = {"max_epochs": 30, "early_stopping_patience": 5}
CHOSEN = {"max_epochs": 30, "early_stopping_patience": 10}
# name -> (jet_models overrides, recipe overrides (gnn4hep/jets/recipe.py), validation fraction)
VARIANTS = {
    # the run behind the figures: z-scored features, cosine schedule over 8 epochs, patience 3
    "old_benchmark": ({"feature_scaling": "fitted"}, {"lr_schedule": "cosine", "max_epochs": 8,
                                                      "early_stopping_patience": 3}, 0.1),
    # experiments/jets_qg.yaml as it was: cosine over 20 epochs, no early stopping (best epoch restored)
    "old_defaults": ({"feature_scaling": "fitted"}, {"lr_schedule": "cosine", "max_epochs": 20,
                                                     "early_stopping_patience": None}, 0.1),
    "fixed_scaling_only": ({"feature_scaling": "fixed"}, {"lr_schedule": "cosine", "max_epochs": 8,
                                                          "early_stopping_patience": 3}, 0.1),
    "schedule_only": ({"feature_scaling": "fitted"}, REFERENCE_RECIPE, 0.1),
    # the reference recipe: fixed scaling, Adam at a constant 1e-3, <= 30 epochs, patience 5, best restored
    "reference": ({"feature_scaling": "fixed"}, REFERENCE_RECIPE, 0.1),
    "reference_patience10": ({"feature_scaling": "fixed"}, CHOSEN, 0.1),
    "reference_val20": ({"feature_scaling": "fixed"}, REFERENCE_RECIPE, 0.2),
    # the schedules and the optimizer of gnn4hep/jets/recipe.py, otherwise the chosen recipe
    "cosine": ({"feature_scaling": "fixed"}, {**CHOSEN, "lr_schedule": "cosine"}, 0.1),
    "flat_decay": ({"feature_scaling": "fixed"}, {**CHOSEN, "lr_schedule": "flat_decay"}, 0.1),
    "plateau": ({"feature_scaling": "fixed"}, {**CHOSEN, "lr_schedule": "plateau"}, 0.1),
    "ranger_flat_decay": ({"feature_scaling": "fixed"}, {**CHOSEN, "optimizer": "ranger",
                                                         "lr_schedule": "flat_decay"}, 0.1),
    # 15 of the 20 PFN trainings of the four schedule variants above, and 4 of the 5 PFN CV folds, ran into
    # the 30-epoch cap: a longer cap, same patience
    "max_epochs60": ({"feature_scaling": "fixed"}, {**CHOSEN, "max_epochs": 60}, 0.1),
    # the recipe chosen above (the jets default) with the training jets mirrored in Δη and Δφ
    "mirror": ({"feature_scaling": "fixed"}, {**CHOSEN, "max_epochs": 60, "augment": "mirror"}, 0.1),
    "mirror_patience20": ({"feature_scaling": "fixed"}, {**CHOSEN, "max_epochs": 60, "augment": "mirror",
                                                         "early_stopping_patience": 20}, 0.1),
    # the chosen recipe with weaver-core's ParticleNet fusion block (gnn4hep/models/particlenet.py)
    "fusion": ({"feature_scaling": "fixed", "particlenet_fusion": True}, {**CHOSEN, "max_epochs": 60}, 0.1),
}


def development_jets(source: Path, scratch: str, folds: int = 5, seed: int = 0, max_constituents: int = 128):
    """The jets outside test fold 0 of ``jets_cv`` (same reading, shuffle and fold assignment)."""
    from gnn4hep.jets.io import read_jets

    if source.suffix == ".gz":
        with tarfile.open(source) as tar:
            tar.extractall(scratch, filter="data")
        source = sorted({p.parent for p in Path(scratch).rglob("*_pf_vectors.npy")})[0]
    jets = read_jets(source).truncate(max_constituents)
    jets = jets.subset(np.random.default_rng(seed).permutation(len(jets)))
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(jets), dtype=np.int64)
    for value in np.unique(jets.labels):
        members = rng.permutation(np.flatnonzero(jets.labels == value))
        fold_of[members] = np.arange(len(members)) % folds
    return jets.subset(np.flatnonzero(fold_of != 0))


def write_results(args, rows: dict) -> None:
    """benchmarks/results/jets_qg_recipe.json (or ``--output``) with the finished variants."""
    from gnn4hep.utils.atomic import atomic_write_json

    out = REPO / "benchmarks" / "results" / (args.output or "jets_qg_recipe.json")
    atomic_write_json(out, {
        "command": f"python benchmarks/jets_qg_recipe.py --models {args.models} --inner-folds {args.inner_folds} "
                   f"--variants {args.variants} --seed {args.seed}",
        "variants": {k: {"jet_models": VARIANTS[k][0], "recipe": VARIANTS[k][1], "val_fraction": VARIANTS[k][2]}
                     for k in rows},
        "results": rows})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE))
    parser.add_argument("--models", default="pfn")
    parser.add_argument("--inner-folds", type=int, default=4)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="file name under benchmarks/results (default jets_qg_recipe.json)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from gnn4hep.jets.model_config import JetModelConfig
    from gnn4hep.jets.recipe import RecipeConfig
    from gnn4hep.jets.stages import stratified_split
    from gnn4hep.jets.training import evaluate_models
    from gnn4hep.training.trainer import TrainerConfig

    models = args.models.split(",")
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        dev = development_jets(Path(args.source), scratch)
        rng = np.random.default_rng(100)
        inner = np.empty(len(dev), dtype=np.int64)
        for value in np.unique(dev.labels):
            members = rng.permutation(np.flatnonzero(dev.labels == value))
            inner[members] = np.arange(len(members)) % args.inner_folds
        for variant in args.variants.split(","):
            model_overrides, recipe_overrides, val_fraction = VARIANTS[variant]
            config = JetModelConfig(**model_overrides)
            recipe = RecipeConfig(**recipe_overrides)
            trainer = TrainerConfig(progress_bar=False, num_threads=1)
            aucs = {m: [] for m in models}
            start = time.process_time()
            for fold in range(args.inner_folds):
                rest = np.flatnonzero(inner != fold)
                val_pos, train_pos = stratified_split(dev.labels[rest], (val_fraction,), args.seed + fold)
                results = evaluate_models(models, dev.subset(rest[train_pos]), dev.subset(rest[val_pos]),
                                          dev.subset(np.flatnonzero(inner == fold)), trainer, config, 0.4,
                                          Path(scratch) / variant / f"fold{fold}", args.seed + fold,
                                          time_inference=False, recipe=recipe)
                for m in models:
                    aucs[m].append(results[m].metrics["auc"])
            rows[variant] = {m: {"auc": float(np.mean(a)), "auc_std": float(np.std(a, ddof=1)), "auc_per_fold": a}
                             for m, a in aucs.items()}
            rows[variant]["cpu_seconds"] = time.process_time() - start
            print(variant, {m: f"{v['auc']:.4f} ± {v['auc_std']:.4f}" for m, v in rows[variant].items()
                            if m != "cpu_seconds"}, flush=True)
            write_results(args, rows)  # after every variant: a stopped study keeps what it finished
    print(f"\n| variant | " + " | ".join(f"{m} held-out AUC" for m in models) + " |")
    print("| --- |" + " --- |" * len(models))
    for variant, row in rows.items():
        print(f"| {variant} | " + " | ".join(f"{row[m]['auc']:.4f} ± {row[m]['auc_std']:.4f}" for m in models) + " |")


if __name__ == "__main__":
    main()
