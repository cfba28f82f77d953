"""5-fold cross-validated comparison of the jet taggers on the real quark/gluon jets (same folds, seed 0).

    python benchmarks/jets_qg_cv.py [SOURCE] [--models pfn,particlenet_lite] [--run-folds 0,1] [--merge]
                                    [--extra recipe.lr_schedule=cosine ...]

SOURCE is a folder of Particle-Transformer arrays (*_pf_vectors.npy, ...) or the archive
../shared/data/jets/quark_gluon_2k.tar.gz (the default), which is extracted to a temporary folder.
Runs experiments/jets_qg.yaml with ``stages=[jets_cv]``: every network is trained with the shared
recipe of that file (``recipe:``, gnn4hep/jets/recipe.py; settings chosen on validation jets only,
benchmarks/jets_qg_recipe.py), and the fold assignment is the experiment's (seed 0).

Writes benchmarks/results/jets_qg_cv.json (per model: mean ± std over the folds run, and every fold's
figures), benchmarks/results/jets_qg_cv_scores.npz (per test fold f: ``index_fold{f}``,
``labels_fold{f}`` and ``{model}_fold{f}`` test scores) and benchmarks/results/jets_qg_cv.md, a table of
the new figures next to those of the older recipes (jets_qg_cv_old_recipe.json: z-scored features, cosine
schedule, 8 epochs; jets_qg_cv_reference_recipe.json: the first run of the shared recipe) and the
reference recipe's figures of issue 15. ``--merge`` keeps the models and folds already in the results
(a slow model can be run a few folds at a time with ``--run-folds``).
"""

from __future__ import annotations

import argparse
import json
import os
import tarfile
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_SOURCE = REPO / ".." / "shared" / "data" / "jets" / "quark_gluon_2k.tar.gz"
#: issue 15: weaver-core's recipe on the same folds (AUC mean ± std), and the figures every network must reach
REFERENCE = {"particlenet_lite": (0.859, 0.028), "pfn": (0.846, 0.021), "bdt": (0.826, 0.014)}
TARGET = {"particlenet_lite": 0.86, "pfn": 0.85, "particlenet": 0.86}
KEYS = ("auc", "accuracy", "rej30", "rej50", "n_params", "train_seconds")


def summarise(per_fold: dict[str, dict], folds: int, n_jets: int) -> dict:
    """Mean and sample standard deviation over the folds run (std None for one fold)."""
    order = sorted(per_fold, key=int)
    entry = {"folds": folds, "n_jets": n_jets, "folds_run": [int(f) for f in order]}
    for key in KEYS:
        values = np.array([per_fold[f][key] for f in order], dtype=np.float64)
        entry[key] = float(values.mean())
        entry[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else None
    entry["auc_per_fold"] = [per_fold[f]["auc"] for f in order]
    entry["per_fold"] = {f: per_fold[f] for f in order}
    return entry


def _cell(entry: dict | None) -> str:
    if not entry:
        return "–"
    std = entry.get("auc_std")
    folds = len(entry.get("folds_run", entry.get("auc_per_fold", [])))
    text = f"{entry['auc']:.4f}" + (f" ± {std:.4f}" if std is not None else "")
    return text + ("" if folds in (0, entry.get("folds", folds)) else f" ({folds} folds)")


def comparison_table(new: dict, n_jets: int, folds: int) -> str:
    """Markdown: new recipe vs the older runs and the reference recipe of issue 15."""
    def load(name):
        path = RESULTS / name
        return json.loads(path.read_text())["models"] if path.is_file() else {}

    old, first = load("jets_qg_cv_old_recipe.json"), load("jets_qg_cv_reference_recipe.json")
    lines = [f"### {folds}-fold cross-validation, real quark/gluon jets ({n_jets} jets, same folds, seed 0)", "",
             "AUC mean ± std over the test folds. New: the shared recipe (experiments/jets_qg.yaml `recipe:`). "
             "Old: z-scored features, cosine schedule, 8 epochs (4 for ParticleNet). Shared recipe, first run: "
             "jets_qg_cv_reference_recipe.json. Reference: weaver-core's recipe, issue 15.", "",
             "| model | new recipe | old recipe | shared recipe, first run | reference recipe | target | "
             "1/ε_B @ 0.3 (new) | 1/ε_B @ 0.5 (new) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, e in sorted(new.items(), key=lambda item: -item[1]["auc"]):
        ref = REFERENCE.get(name)
        target = TARGET.get(name)
        std30 = f" ± {e['rej30_std']:.1f}" if e.get("rej30_std") is not None else ""
        std50 = f" ± {e['rej50_std']:.1f}" if e.get("rej50_std") is not None else ""
        lines.append(f"| {name} | {_cell(e)} | {_cell(old.get(name))} | {_cell(first.get(name))} | "
                     f"{f'{ref[0]:.3f} ± {ref[1]:.3f}' if ref else '–'} | {f'≥ {target:.2f}' if target else '–'} | "
                     f"{e['rej30']:.1f}{std30} | {e['rej50']:.1f}{std50} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--run-folds", default=None, help="comma-separated test folds to run (default: all)")
    parser.add_argument("--models", default="particlenet,particlenet_lite,pfn,efn,mpnn,cnn,bdt",
                        help="any of the jets models, e.g. part (Particle Transformer, slow on CPU)")
    parser.add_argument("--merge", action="store_true", help="keep the models and folds already in the results")
    parser.add_argument("--out", default=None, help="run folder (default: a temporary folder)")
    parser.add_argument("--extra", action="append", default=[], help="more -o overrides, e.g. recipe.max_epochs=20")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from gnn4hep.runner.run import run_experiment
    from gnn4hep.utils.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text

    with tempfile.TemporaryDirectory() as scratch:
        source = Path(args.source)
        if source.suffix == ".gz":
            with tarfile.open(source) as tar:
                tar.extractall(scratch, filter="data")
            folders = sorted({p.parent for p in Path(scratch).rglob("*_pf_vectors.npy")})
            if len(folders) != 1:
                raise SystemExit(f"{source}: expected one folder of *_pf_vectors.npy, found {folders}")
            source = folders[0]
        out = Path(args.out) if args.out else Path(scratch) / "run"
        overrides = ["stages=[jets_cv]", f"data.path={source}", f"cv.folds={args.folds}", f"models=[{args.models}]",
                     "trainer.num_threads=1", *args.extra]
        if args.run_folds:
            overrides.append(f"cv.run_folds=[{args.run_folds}]")
        run = run_experiment(REPO / "experiments" / "jets_qg.yaml", overrides, out=out)
        cv = json.loads((run / "cv.json").read_text())
        with np.load(run / "cv_scores.npz") as data:
            scores = dict(data)
    command = "python benchmarks/jets_qg_cv.py " + " ".join(
        [f"--models {args.models}", f"--folds {args.folds}"] + ([f"--run-folds {args.run_folds}"] if args.run_folds
                                                                 else [])
        + (["--merge"] if args.merge else []) + [f"--extra {e}" for e in args.extra])
    previous = {"runs": [], "models": {}}
    scores_path = RESULTS / "jets_qg_cv_scores.npz"
    if args.merge and (RESULTS / "jets_qg_cv.json").is_file():
        previous = json.loads((RESULTS / "jets_qg_cv.json").read_text())
        if scores_path.is_file():
            with np.load(scores_path) as data:
                scores = {**dict(data), **scores}
    n_jets = next(iter(cv.values()))["n_jets"]
    models = dict(previous["models"])
    for name, entry in cv.items():
        per_fold = dict(models.get(name, {}).get("per_fold", {})) if args.merge else {}
        per_fold.update(entry["per_fold"])
        models[name] = summarise(per_fold, args.folds, n_jets)
    result = {"runs": previous["runs"] + [{"command": command, "overrides": [o for o in overrides
                                                                              if not o.startswith("data.path")],
                                           "models": list(cv)}], "models": models}
    atomic_write_json(RESULTS / "jets_qg_cv.json", result)
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **scores)
    atomic_write_bytes(scores_path, buffer.getvalue())
    table = comparison_table(models, n_jets, args.folds)
    atomic_write_text(RESULTS / "jets_qg_cv.md", table + "\n")
    print(table)


if __name__ == "__main__":
    main()
