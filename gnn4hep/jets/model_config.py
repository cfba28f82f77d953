"""The ``jet_models:`` config section, apart from the training code so that loading the experiment
stages does not import torch."""

from __future__ import annotations

from gnn4hep.config.schema import Section


class JetModelConfig(Section):
    """The ``jet_models:`` section: sizes of the models (defaults: the papers')."""

    pfn_phi_sizes: tuple[int, ...] = (100, 100, 256)
    pfn_f_sizes: tuple[int, ...] = (100, 100, 100)
    mpnn_hidden: int = 64
    mpnn_iterations: int = 3
    mpnn_edge_hidden: int = 16
    image_size: int = 40
    image_extent: float = 0.0
    """half-width of jet images in Δη, Δφ; 0 means the jet radius."""
    use_pid: bool = True
    bdt_max_iter: int = 200
    weight_decay: float = 0.0
    epochs: dict[str, int] = {}
    """per-model training epochs overriding ``trainer.max_epochs``, e.g. {particlenet: 3}."""
