"""Jet-tagging throughput: generation jets/s, and training and inference jets/s of every model.

    python benchmarks/jets.py [--jets 512] [--generate 20] [--threads 1]

Training: one pass over ``--jets`` real quark/gluon jets (../shared/data/jets/quark_gluon_2k.tar.gz,
padded to 128 constituents, batches of 128, Adam, forward + backward); the BDT's includes computing
its substructure observables. Inference: eval mode, batches of 512, no gradient. Generation: Pythia 8 +
FastJet, one worker, ``--generate`` jets per class of the top and quark/gluon processes (Pythia
initialisation included). Prints a table and writes benchmarks/results/jets.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QG_ARCHIVE = REPO / ".." / "shared" / "data" / "jets" / "quark_gluon_2k.tar.gz"


def load_jets(n: int):
    from gnn4hep.jets.io import read_particle_transformer

    if QG_ARCHIVE.is_file():
        with tempfile.TemporaryDirectory() as scratch:
            with tarfile.open(QG_ARCHIVE) as tar:
                tar.extractall(scratch, filter="data")
            return read_particle_transformer(Path(scratch) / "qg_data" / "qg").subset(slice(0, n)), "real q/g (ParT arrays)"
    from gnn4hep.jets.generation import GenerationConfig, generate

    return generate(GenerationConfig.for_process("qg"), n // 2, seed=0, progress=False), "generated q/g"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=512)
    parser.add_argument("--generate", type=int, default=20, help="jets per class per process (0: skip)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default="particlenet,particlenet_lite,part,pfn,efn,mpnn,cnn,bdt")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from gnn4hep.jets.bdt import SubstructureBDT
    from gnn4hep.jets.inputs import InputSettings, loader, make_inputs
    from gnn4hep.jets.training import JetModelConfig, build_model, inference_rate
    from gnn4hep.utils.atomic import atomic_write_json

    rows = []
    if args.generate:
        from gnn4hep.jets.generation import GenerationConfig, generate

        for process in ("top", "qg"):
            config = GenerationConfig.for_process(process, chunk_jets=args.generate)
            start = time.perf_counter()
            jets = generate(config, args.generate, seed=123, progress=False)
            seconds = time.perf_counter() - start
            rows.append({"task": f"generate {process}", "model": "pythia8+fastjet", "jets": len(jets),
                         "seconds": seconds, "jets_per_s": len(jets) / seconds})

    jets, source = load_jets(args.jets)
    settings = InputSettings(image_extent=0.4)
    tensors = make_inputs(jets, {"features", "points", "vectors", "weights", "images"}, settings)
    config = JetModelConfig()
    for name in args.models.split(","):
        if name == "bdt":
            SubstructureBDT(0.4, max_iter=2).fit(jets.subset(slice(0, 32)))  # warm-up: imports, FastJet banner
            start = time.perf_counter()
            bdt = SubstructureBDT(0.4, max_iter=100).fit(jets)
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            bdt.predict_scores(jets)
            infer = len(jets) / (time.perf_counter() - start)
            rows.append({"task": "train", "model": name, "jets": len(jets), "seconds": train_s,
                         "jets_per_s": len(jets) / train_s})
            rows.append({"task": "inference cpu", "model": name, "jets": len(jets), "seconds": len(jets) / infer,
                         "jets_per_s": infer})
            continue
        torch.manual_seed(0)
        model = build_model(name, tensors["features"].shape[-1], config, radius=0.4)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        start = time.perf_counter()
        for batch in loader(tensors, 128, shuffle=True):
            logits = model(**{k: batch[k] for k in model.input_names})
            loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        train_s = time.perf_counter() - start
        rows.append({"task": "train", "model": name, "jets": len(jets), "seconds": train_s,
                     "jets_per_s": len(jets) / train_s, "n_params": sum(p.numel() for p in model.parameters())})
        for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
            rate = inference_rate(model, tensors, device)
            rows.append({"task": f"inference {device}", "model": name, "jets": min(len(jets), 2000),
                         "seconds": min(len(jets), 2000) / rate, "jets_per_s": rate})
        model.cpu()

    print(f"jets: {source}, {len(jets)} jets, torch threads {args.threads}, {platform.processor() or platform.machine()}")
    print(f"{'task':18s} {'model':18s} {'jets':>6s} {'seconds':>9s} {'jets/s':>10s}")
    for row in rows:
        print(f"{row['task']:18s} {row['model']:18s} {row['jets']:6d} {row['seconds']:9.2f} {row['jets_per_s']:10.1f}")
    atomic_write_json(REPO / "benchmarks" / "results" / "jets.json", {
        "command": "python benchmarks/jets.py " + " ".join(f"--{k} {v}" for k, v in vars(args).items()),
        "data": source, "threads": args.threads, "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(), "rows": rows})


if __name__ == "__main__":
    main()
