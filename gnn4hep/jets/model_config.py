"""The ``jet_models:`` config section, apart from the training code so that loading the experiment
stages does not import torch."""

from __future__ import annotations

from typing import Literal

from gnn4hep.config.schema import Section


class JetModelConfig(Section):
    """The ``jet_models:`` section: sizes of the models (defaults: the papers') and their inputs; how they are
    trained is the ``recipe:`` section (:mod:`gnn4hep.jets.recipe`)."""

    pfn_phi_sizes: tuple[int, ...] = (100, 100, 256)
    pfn_f_sizes: tuple[int, ...] = (100, 100, 100)
    part_embed_dims: tuple[int, ...] = (128, 512, 128)
    part_pair_embed_dims: tuple[int, ...] = (64, 64, 64)
    part_num_heads: int = 8
    part_num_layers: int = 8
    part_num_cls_layers: int = 2
    """Particle Transformer sizes (arXiv:2202.03772): particle embedding, pair embedding, heads, particle
    and class attention blocks."""
    particlenet_fusion: bool = False
    """weaver-core's fusion block in ParticleNet / ParticleNet-Lite (:mod:`gnn4hep.models.particlenet`)."""
    mpnn_hidden: int = 64
    mpnn_iterations: int = 3
    mpnn_edge_hidden: int = 16
    image_size: int = 40
    image_extent: float = 0.0
    """half-width of jet images in Δη, Δφ; 0 means the jet radius."""
    use_pid: bool = True
    feature_scaling: Literal["fixed", "fitted"] = "fixed"
    """constituent features: weaver's fixed shift/scale clipped to ±5 ("fixed") or the training set's z-score."""
    bdt_max_iter: int = 200
