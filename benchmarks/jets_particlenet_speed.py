"""ParticleNet CPU training speed: where a training step's time goes, dense vs packed EdgeConv.

    python benchmarks/jets_particlenet_speed.py [--steps 4] [--batch 128] [--model particlenet]

One fixed batch of the real quark/gluon jets (../shared/data/jets/quark_gluon_2k.tar.gz, trimmed to its
largest multiplicity as the training loader does), one training step = forward + cross entropy +
backward + Adam. Both routes start from the same weights; the steps alternate between them so that a
busy machine slows both alike. Reports the CPU time (``time.process_time``) and wall time per step with
1 and 2 torch threads, the speed-up, and a profile of the operators by kind (k-NN, gathers, matrix products,
BatchNorm, ReLU, other element-wise); the float32 errors of both routes against the dense route in
float64 on that batch. Prints a table and writes benchmarks/results/jets_particlenet_speed.json.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QG_ARCHIVE = REPO / ".." / "shared" / "data" / "jets" / "quark_gluon_2k.tar.gz"
KINDS = {  # profiler operator name -> kind
    "k-NN": ("aten::cdist", "aten::_euclidean_dist", "aten::topk", "aten::sqrt_"),
    "gathers / scatters": ("aten::gather", "aten::index", "aten::index_select", "aten::scatter_add_",
                           "aten::index_add_", "aten::index_copy", "aten::index_put_", "aten::_index_put_impl_",
                           "aten::nonzero", "aten::masked_select"),
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm"),
    "BatchNorm": ("aten::native_batch_norm", "aten::native_batch_norm_backward", "aten::_batch_norm_with_update",
                  "aten::batch_norm_backward", "aten::rsqrt"),
    "ReLU": ("aten::clamp_min", "aten::relu", "aten::threshold_backward"),
}


def batch_of_jets(n: int):
    import torch

    from gnn4hep.jets.inputs import InputSettings, collate_trimmed, make_inputs
    from gnn4hep.jets.io import read_particle_transformer

    if not QG_ARCHIVE.is_file():
        raise SystemExit(f"real quark/gluon jets not found at {QG_ARCHIVE}")
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(QG_ARCHIVE) as tar:
            tar.extractall(scratch, filter="data")
        jets = read_particle_transformer(Path(scratch) / "qg_data" / "qg").subset(slice(0, n))
    tensors = make_inputs(jets, {"points", "features"}, InputSettings())
    return collate_trimmed({k: v for k, v in tensors.items()}), torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per route and thread count")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--model", choices=("particlenet", "particlenet_lite"), default="particlenet")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    batch, torch = batch_of_jets(args.batch)
    from torch.profiler import ProfilerActivity, profile

    from gnn4hep.models.particlenet import ParticleNet
    from gnn4hep.utils.atomic import atomic_write_json

    torch.manual_seed(0)
    build = ParticleNet.lite if args.model == "particlenet_lite" else ParticleNet
    models = {"dense": build(input_dim=batch["features"].shape[-1], packed=False).train()}
    models["packed"] = copy.deepcopy(models["dense"])
    for block in models["packed"].blocks:
        block.packed = True
    optimisers = {name: torch.optim.Adam(m.parameters(), 1e-3) for name, m in models.items()}
    inputs = (batch["points"], batch["features"], batch["mask"])

    def step(name):
        optimisers[name].zero_grad()
        loss = torch.nn.functional.cross_entropy(models[name](*inputs), batch["labels"])
        loss.backward()
        optimisers[name].step()

    # the two routes on the same weights, in float32, against the dense route in float64 (dropout off)
    check = {name: copy.deepcopy(m) for name, m in models.items()}
    check["dense_float64"] = copy.deepcopy(models["dense"]).double()
    grads, outs = {}, {}
    for name, m in check.items():
        m.head[2].p = 0.0
        cast = (lambda t: t.double()) if name == "dense_float64" else (lambda t: t)
        out = m(cast(inputs[0]), cast(inputs[1]), inputs[2])
        torch.nn.functional.cross_entropy(out, batch["labels"]).backward()
        outs[name], grads[name] = out.detach().double(), [p.grad.double() for p in m.parameters()]
    errors = {}
    for name in models:
        errors[name] = {
            "max_abs_logit_error": float((outs[name] - outs["dense_float64"]).abs().max()),
            "max_gradient_error_over_gradient_norm": max(float((a - b).norm() / b.norm().clamp(min=1e-30))
                                                         for a, b in zip(grads[name], grads["dense_float64"]))}

    timings = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name in models:
            step(name)  # warm-up
        cpu = {name: [] for name in models}
        wall = {name: [] for name in models}
        for _ in range(args.steps):
            for name in models:
                c0, w0 = time.process_time(), time.perf_counter()
                step(name)
                cpu[name].append(time.process_time() - c0)
                wall[name].append(time.perf_counter() - w0)
        for name in models:
            timings[f"{name}_{threads}"] = {"threads": threads, "route": name, "cpu_s_per_step": min(cpu[name]),
                                            "wall_s_per_step": min(wall[name]),
                                            "jets_per_cpu_s": args.batch / min(cpu[name])}
    torch.set_num_threads(1)
    profiles = {}
    for name in models:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step(name)
        total = 0.0
        kinds = {kind: 0.0 for kind in (*KINDS, "other element-wise / autograd")}
        for event in prof.key_averages():
            seconds = event.self_cpu_time_total / 1e6
            total += seconds
            kind = next((k for k, ops in KINDS.items() if event.key in ops), "other element-wise / autograd")
            kinds[kind] += seconds
        profiles[name] = {"total_s": total, **{k: v for k, v in kinds.items()}}

    mask = batch["mask"]
    print(f"{args.model}, batch {args.batch} real q/g jets padded to {mask.shape[1]} (mean multiplicity "
          f"{float(mask.sum(1).float().mean()):.1f})")
    for name, e in errors.items():
        print(f"  {name} (float32) vs dense float64: max |Δ logit| {e['max_abs_logit_error']:.2e}, "
              f"max over tensors of |Δ grad| / |grad| {e['max_gradient_error_over_gradient_norm']:.2e}")
    print("| threads | route | CPU s / step | wall s / step | jets / CPU s | CPU speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for threads in (1, 2):
        base = timings[f"dense_{threads}"]["cpu_s_per_step"]
        for name in models:
            t = timings[f"{name}_{threads}"]
            t["cpu_speedup"] = base / t["cpu_s_per_step"]
            print(f"| {threads} | {name} | {t['cpu_s_per_step']:.3f} | {t['wall_s_per_step']:.3f} | "
                  f"{t['jets_per_cpu_s']:.1f} | {t['cpu_speedup']:.2f} |")
    print("\nProfile of one step, 1 thread (self CPU s by operator kind):")
    kinds = list(profiles["dense"])
    print("| route | " + " | ".join(kinds) + " |")
    print("| --- |" + " --- |" * len(kinds))
    for name, p in profiles.items():
        print(f"| {name} | " + " | ".join(f"{p[k]:.3f}" for k in kinds) + " |")
    atomic_write_json(REPO / "benchmarks" / "results" / "jets_particlenet_speed.json", {
        "command": f"python benchmarks/jets_particlenet_speed.py --steps {args.steps} --batch {args.batch} "
                   f"--model {args.model}",
        "machine": platform.processor() or platform.machine(), "padded_length": int(mask.shape[1]),
        "mean_multiplicity": float(mask.sum(1).float().mean()), "float32_errors_vs_dense_float64": errors,
        "timings": timings, "profile_1_thread": profiles})


if __name__ == "__main__":
    main()
