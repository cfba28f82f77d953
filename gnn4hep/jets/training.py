"""Train and evaluate jet taggers by name on train / validation / test jet sets.

Models: ``particlenet``, ``particlenet_lite``, ``part`` (Particle Transformer), ``pfn``, ``efn``, ``mpnn``,
``cnn`` (trained with
Lightning through :func:`gnn4hep.training.trainer.make_trainer`) and ``bdt`` (scikit-learn).
Every model is scored on the same test set; timings are recorded for the benchmark table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gnn4hep.jets.constituents import Jets
from gnn4hep.jets.inputs import InputSettings, loader, make_inputs, mirror_offsets
from gnn4hep.jets.metrics import tagging_metrics
from gnn4hep.jets.model_config import JetModelConfig
from gnn4hep.jets.recipe import RecipeConfig, trainer_for

NEURAL_MODELS = ("particlenet", "particlenet_lite", "part", "pfn", "efn", "mpnn", "cnn")
MODEL_NAMES = NEURAL_MODELS + ("bdt",)


def build_model(name: str, input_dim: int, config: JetModelConfig, radius: float = 1.0) -> torch.nn.Module:
    """A fresh model called ``name``."""
    from gnn4hep.models.efn import EnergyFlowNetwork
    from gnn4hep.models.jet_cnn import JetImageCNN
    from gnn4hep.models.mpnn_jet import JetMPNN
    from gnn4hep.models.particle_transformer import ParticleTransformer
    from gnn4hep.models.particlenet import ParticleNet
    from gnn4hep.models.pfn import ParticleFlowNetwork

    if name == "particlenet":
        return ParticleNet(input_dim=input_dim, fusion=config.particlenet_fusion)
    if name == "particlenet_lite":
        return ParticleNet.lite(input_dim=input_dim, fusion=config.particlenet_fusion)
    if name == "part":
        return ParticleTransformer(input_dim=input_dim, embed_dims=config.part_embed_dims,
                                   pair_embed_dims=config.part_pair_embed_dims, num_heads=config.part_num_heads,
                                   num_layers=config.part_num_layers, num_cls_layers=config.part_num_cls_layers)
    if name == "pfn":
        return ParticleFlowNetwork(input_dim=input_dim, phi_sizes=config.pfn_phi_sizes, f_sizes=config.pfn_f_sizes)
    if name == "efn":
        return EnergyFlowNetwork(phi_sizes=config.pfn_phi_sizes, f_sizes=config.pfn_f_sizes, angle_scale=radius)
    if name == "mpnn":
        return JetMPNN(input_dim=input_dim, hidden=config.mpnn_hidden, iterations=config.mpnn_iterations,
                        edge_hidden=config.mpnn_edge_hidden)
    if name == "cnn":
        return JetImageCNN(image_size=config.image_size)
    raise ValueError(f"unknown model '{name}'; known: {', '.join(MODEL_NAMES)}")


@dataclass
class ModelResult:
    """What one model produced on the test set."""

    name: str
    scores: np.ndarray
    metrics: dict[str, float]
    n_params: int
    train_seconds: float
    train_jets_per_s: float
    inference_jets_per_s: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {**self.metrics, "n_params": self.n_params, "train_seconds": self.train_seconds,
                "train_jets_per_s": self.train_jets_per_s,
                **{f"inference_jets_per_s_{k}": v for k, v in self.inference_jets_per_s.items()}}


def predict_scores(model: torch.nn.Module, tensors: dict, batch_size: int = 512, device: str = "cpu") -> np.ndarray:
    """Signal probabilities of every jet, in order."""
    model = model.to(device).eval()
    scores = []
    with torch.no_grad():
        for batch in loader(tensors, batch_size, shuffle=False):
            inputs = {n: batch[n].to(device) for n in model.input_names}
            scores.append(torch.softmax(model(**inputs), -1)[:, 1].cpu())
    return torch.cat(scores).numpy()


def inference_rate(model: torch.nn.Module, tensors: dict, device: str, batch_size: int = 512,
                   max_jets: int = 2000) -> float:
    """Jets per second of a forward pass (eval mode, no grad) on up to ``max_jets`` jets."""
    subset = {k: v[:max_jets] for k, v in tensors.items()}
    predict_scores(model, {k: v[:batch_size] for k, v in subset.items()}, batch_size, device)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    predict_scores(model, subset, batch_size, device)
    if device == "cuda":
        torch.cuda.synchronize()
    return len(subset["labels"]) / (time.perf_counter() - start)


def train_neural(name: str, train: dict, val: dict, input_dim: int, trainer_config, config: JetModelConfig,
                 run_dir: Path, seed: int = 0, radius: float = 1.0,
                 recipe: RecipeConfig | None = None,
                 mirror_offsets: tuple[float, float] = (0.0, 0.0)) -> tuple[torch.nn.Module, float, int]:
    """Train model ``name`` with the shared ``recipe`` (:mod:`gnn4hep.jets.recipe`; ``trainer_config`` gives
    only the machine settings: threads, accelerator, progress bar; ``mirror_offsets``: those of the features'
    scaling, :func:`gnn4hep.jets.inputs.mirror_offsets`); returns (model with the weights of the
    epoch of lowest validation loss, training seconds, epochs run)."""
    import lightning as L

    from gnn4hep.jets.lightning import JetTaggerModule
    from gnn4hep.training.trainer import make_trainer

    recipe = recipe or RecipeConfig()
    L.seed_everything(seed, workers=True, verbose=False)
    trainer_config = trainer_for(trainer_config, recipe, name)
    model = build_model(name, input_dim, config, radius)
    module = JetTaggerModule(model, recipe, trainer_config.max_epochs, mirror_offsets)
    trainer, checkpoint = make_trainer(trainer_config, run_dir, name)
    start = time.perf_counter()
    trainer.fit(module, loader(train, trainer_config.batch_size, shuffle=True, seed=seed),
                loader(val, max(trainer_config.batch_size, 256), shuffle=False))
    seconds = time.perf_counter() - start
    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, weights_only=True, map_location="cpu")["state_dict"]
        module.load_state_dict(state)
    return module.model.cpu().eval(), seconds, max(int(trainer.current_epoch), 1)


def evaluate_models(names: list[str], train_jets: Jets, val_jets: Jets, test_jets: Jets, trainer_config,
                    config: JetModelConfig, radius: float, run_dir: Path, seed: int = 0, logger=None,
                    time_inference: bool = True, recipe: RecipeConfig | None = None) -> dict[str, ModelResult]:
    """Train every model in ``names`` with the shared ``recipe`` and score it on ``test_jets``."""
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        from gnn4hep.errors import ConfigError

        raise ConfigError(f"unknown model(s) {unknown} in 'models'; known: {', '.join(MODEL_NAMES)}")
    settings = InputSettings(config.use_pid, config.image_size, config.image_extent or radius,
                             scaling=config.feature_scaling)
    needed: set[str] = set()
    for name in names:
        if name != "bdt":
            needed |= set(build_model(name, 1, config).input_names)
    train = make_inputs(train_jets, needed, settings)  # fits the feature statistics
    val, test = make_inputs(val_jets, needed, settings), make_inputs(test_jets, needed, settings)
    input_dim = train["features"].shape[-1] if "features" in train else 1
    results: dict[str, ModelResult] = {}
    for name in names:
        if name == "bdt":
            from gnn4hep.jets.bdt import SubstructureBDT

            start = time.perf_counter()
            bdt = SubstructureBDT(radius, max_iter=config.bdt_max_iter, seed=seed).fit(train_jets)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            scores = bdt.predict_scores(test_jets)
            rate = {"cpu": len(test_jets) / (time.perf_counter() - start)}
            n_params = int(sum(p.get_n_leaf_nodes() for stage in bdt.classifier._predictors for p in stage))
            epochs = 1
        else:
            model, seconds, epochs = train_neural(name, train, val, input_dim, trainer_config, config, run_dir, seed,
                                                  radius, recipe, mirror_offsets(settings))
            scores = predict_scores(model, test)
            n_params = sum(p.numel() for p in model.parameters())
            rate = {}
            if time_inference:
                rate["cpu"] = inference_rate(model, test, "cpu")
                if torch.cuda.is_available():
                    rate["gpu"] = inference_rate(model, test, "cuda")
                    model.cpu()
        result = ModelResult(name, scores, tagging_metrics(test_jets.labels, scores), n_params, seconds,
                             len(train_jets) * epochs / max(seconds, 1e-9), rate)
        results[name] = result
        if logger is not None:
            m = result.metrics
            logger.info(f"  {name:16s} AUC {m['auc']:.4f}  acc {m['accuracy']:.4f}  1/eB@0.3 {m['rej30']:.1f} ± "
                        f"{m['rej30_err']:.1f}  1/eB@0.5 {m['rej50']:.1f} ± {m['rej50_err']:.1f}  params {n_params}  "
                        f"train {seconds:.1f}s")
    return results


def results_table(results: dict[str, ModelResult], title: str) -> str:
    """Markdown table comparing the models on the same test set, best AUC first."""
    lines = [f"### {title}", "", "| model | AUC | accuracy | 1/ε_B @ ε_S=0.3 | 1/ε_B @ ε_S=0.5 | parameters | "
             "train s | inference jets/s (CPU) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in sorted(results.items(), key=lambda item: -item[1].metrics["auc"]):
        m = r.metrics
        lines.append(f"| {name} | {m['auc']:.4f} | {m['accuracy']:.4f} | {m['rej30']:.1f} ± {m['rej30_err']:.1f} | "
                     f"{m['rej50']:.1f} ± {m['rej50_err']:.1f} | "
                     f"{r.n_params} | {r.train_seconds:.1f} | {r.inference_jets_per_s.get('cpu', float('nan')):.0f} |")
    return "\n".join(lines)
