"""Top vs QCD at scale: generate (resumably, in parallel) and train every model on growing training sets.

    python benchmarks/jets_top_scale.py --data DIR [--config experiments/jets_top_scale.yaml] [--n-jets N]
                                        [--workers W] [--sizes 2000,10000,50000,100000,all] [--models ...]

1. Generation: ``data.n_jets`` jets per class (``--n-jets`` for a smaller run) of the config's process with
   its seed and ``max_constituents``, through :func:`gnn4hep.jets.generation.generate_jets` into DIR
   (chunks in DIR/chunks: an interrupted run restarted with the same arguments generates only the missing
   chunks; a smaller run is the first chunks of a larger one). Keep DIR out of the repository.
2. One stratified split with the config's seed: ``test_fraction`` test jets, ``val_fraction`` validation
   jets (early stopping), the rest training jets; for every size of ``--sizes`` that fits (``all``: every
   training jet) the models train on a nested class-balanced subset with the shared recipe of the config
   (``recipe:``, gnn4hep/jets/recipe.py) and are scored on the same test jets.

Prints and writes benchmarks/results/jets_top_scale_<jets>.json and .md: AUC and 1/ε_B at ε_S = 0.3 (with
its bootstrap error) per model and training size, generation rate and CPU seconds. Both files are rewritten
after every training size, so an interrupted run keeps the sizes it finished; ``--merge`` keeps the sizes and
models of earlier calls on the same jets (a slow curve can be run a few sizes or models at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def _number(value) -> str:
    """One decimal; JSON stores an infinite error (no background jet passes the cut) as null."""
    return "inf" if value is None or not np.isfinite(value) else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of the generated jets (outside the repository)")
    parser.add_argument("--config", default=str(REPO / "experiments" / "jets_top_scale.yaml"))
    parser.add_argument("--n-jets", type=int, default=None, help="jets per class (default: the config's data.n_jets)")
    parser.add_argument("--workers", type=int, default=None, help="Pythia processes (default: the config's)")
    parser.add_argument("--sizes", default="2000,10000,50000,100000,all")
    parser.add_argument("--models", default=None, help="default: the config's models")
    parser.add_argument("--merge", action="store_true",
                        help="keep the sizes and models already in the results of the same number of jets")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from gnn4hep.jets.generation import GenerationConfig, generate_jets, read_generated
    from gnn4hep.jets.model_config import JetModelConfig
    from gnn4hep.jets.recipe import RecipeConfig
    from gnn4hep.jets.stages import JetDataConfig, stratified_split
    from gnn4hep.jets.training import evaluate_models
    from gnn4hep.training.trainer import TrainerConfig
    from gnn4hep.utils.atomic import atomic_write_json, atomic_write_text
    from gnn4hep.utils.cpus import resolve_count
    from jets_qg_learning_curve import nested_subset

    experiment = yaml.safe_load(Path(args.config).read_text())
    data = JetDataConfig(**experiment["data"])
    recipe, config = RecipeConfig(**experiment.get("recipe", {})), JetModelConfig(**experiment.get("jet_models", {}))
    seed = int(experiment.get("seed", 0))
    n_jets = args.n_jets or data.n_jets
    workers = args.workers or resolve_count(data.workers)
    models = args.models.split(",") if args.models else list(experiment["models"])
    trainer = TrainerConfig(progress_bar=False, num_threads=1)

    cpu_start = time.process_time()
    gen = GenerationConfig.for_process(data.process, max_constituents=data.max_constituents, smear=data.smear)
    generation = generate_jets(gen, n_jets, args.data, workers=workers, seed=seed, progress=False)
    print(f"generation: {generation['n_jets']} jets, {generation['chunks_generated']} of {generation['chunks']} chunks "
          f"generated now in {generation['seconds']:.0f} s ({generation['jets_per_s']:.1f} jets/s, {workers} workers)",
          flush=True)
    jets = read_generated(Path(args.data) / "jets.h5")
    test_index, val_index, train_index = stratified_split(jets.labels, (data.test_fraction, data.val_fraction), seed)
    train_all, val, test = jets.subset(train_index), jets.subset(val_index), jets.subset(test_index)
    total = 2 * n_jets
    out = REPO / "benchmarks" / "results" / f"jets_top_scale_{total}"
    rows: dict[str, dict[str, dict]] = {}
    sizes: dict[str, int] = {}
    earlier_commands: list[str] = []
    if args.merge and out.with_suffix(".json").exists():
        earlier = json.loads(out.with_suffix(".json").read_text())
        rows = earlier["results"]
        sizes = {str(n): int(n) for n in earlier["sizes"].values()}  # older files keyed "all" too
        earlier_commands = earlier.get("commands", [earlier["command"]] if "command" in earlier else [])
    for m in models:
        rows.setdefault(m, {})
    command = (f"python benchmarks/jets_top_scale.py --data DIR --config {Path(args.config).name} --n-jets {n_jets} "
               f"--workers {workers} --sizes {args.sizes} --models {','.join(models)}" + (" --merge" if args.merge else ""))
    generated = (f"generation {generation['jets_per_s']:.1f} jets/s on {workers} workers ({generation['chunks_generated']} "
                 f"of {generation['chunks']} chunks generated by this call)" if generation["chunks_generated"] else
                 f"all {generation['chunks']} chunks were already in DIR (an earlier or interrupted run): none generated")
    generation_record = {k: v for k, v in generation.items() if k != "files"}

    def write() -> str:
        """The results so far (after every training size: an interrupted run keeps the sizes it finished)."""
        order = sorted(sizes.items(), key=lambda item: item[1])
        lines = [f"### Top vs QCD, {total} generated jets ({n_jets} per class, seed {seed}): {len(val)} validation, "
                 f"{len(test)} test jets", "",
                 "| model | " + " | ".join(f"{n} train: AUC, 1/ε_B @ ε_S=0.3" for _, n in order) + " |",
                 "| --- |" + " --- |" * len(order)]
        for m in rows:
            cells = [rows[m].get(str(n)) for _, n in order]
            lines.append(f"| {m} | " + " | ".join(
                f"{c['auc']:.4f}, {_number(c['rej30'])} ± {_number(c['rej30_err'])}" if c else "–" for c in cells) + " |")
        commands = earlier_commands + [command]
        lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in commands) + f". This call: {generated}; "
                  f"{time.process_time() - cpu_start:.0f} CPU s in this process (generation workers not counted when workers > 1)."]
        atomic_write_json(out.with_suffix(".json"), {"commands": commands, "generation": generation_record, "sizes": sizes,
                                                     "n_val": len(val), "n_test": len(test), "recipe": recipe.model_dump(),
                                                     "cpu_seconds": time.process_time() - cpu_start, "results": rows})
        table = "\n".join(lines)
        atomic_write_text(out.with_suffix(".md"), table + "\n")
        return table

    for size_name in args.sizes.split(","):
        size = len(train_all) if size_name == "all" else int(size_name)
        if size > len(train_all):
            print(f"size {size_name}: skipped ({len(train_all)} training jets)", flush=True)
            continue
        sizes[str(size)] = size
        train = train_all.subset(nested_subset(train_all.labels, size, seed + 100))
        run_dir = Path(args.data) / "training" / f"size{size}"
        results = evaluate_models(models, train, val, test, trainer, config, data.radius, run_dir, seed,
                                  time_inference=False, recipe=recipe)
        for m in models:
            r = results[m]
            rows[m][str(size)] = {k: r.metrics[k] for k in ("auc", "accuracy", "rej30", "rej30_err", "rej50",
                                                             "rej50_err")} | {"train_seconds": r.train_seconds,
                                                                              "n_params": r.n_params}
            print(f"size {size}: {m:16s} AUC {r.metrics['auc']:.4f}  1/eB@0.3 {r.metrics['rej30']:.1f} ± "
                  f"{r.metrics['rej30_err']:.1f}  train {r.train_seconds:.0f} s", flush=True)
        table = write()
    print(write())


if __name__ == "__main__":
    main()
