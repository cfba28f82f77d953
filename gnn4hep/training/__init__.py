"""Training: Lightning modules (apart from the pure nn.Module models) and the shared Trainer factory."""

from gnn4hep.training.trainer import TrainerConfig, make_trainer

__all__ = ["TrainerConfig", "make_trainer"]
