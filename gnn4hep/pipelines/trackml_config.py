"""Config sections of the TrackML GNN pipeline (``experiments/trackml_gnn.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from gnn4hep.config.schema import Section


class TrackmlDataConfig(Section):
    """The ``data:`` section: where events come from."""

    train_dir: Optional[Path] = Field(None, description="folder of TrackML-format training events (None: simulate)")
    test_dir: Optional[Path] = Field(None, description="folder of TrackML-format test events (None: simulate)")
    eval_events: list[Path] = Field(default_factory=list, description="extra event prefixes evaluated with the trained pipeline")
    source: Literal["quick", "gun", "pythia", "toy"] = Field(
        "pythia", description="simulator source when simulating (quick: 300-particle gun; toy: analytic barrel toy)"
    )
    pileup: float = Field(200.0, ge=0, description="mean pile-up of simulated events")
    n_train: int = Field(100, ge=1, description="training events to simulate / use")
    n_test: int = Field(10, ge=1, description="test events to simulate / use")
    n_particles: int = Field(200, ge=1, description="toy source: particles per event")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="training graphs held out for validation")
    workers: int = Field(1, ge=1, description="processes for simulation")
    from_run: Optional[Path] = Field(
        None, description="earlier run folder whose fitted graph builder, graphs and model are used when this run lacks them"
    )


class GraphConfig(Section):
    """The ``graph:`` section: hit-graph construction."""

    method: Literal["geometric", "heptrkx", "module_map", "metric_learning"] = "geometric"
    pt_min: float = Field(0.0, ge=0, description="GeV: only true pairs of particles above it fit the cuts / map")
    quantile: float = Field(0.999, gt=0, le=1, description="geometric: quantile of |variable| over true pairs")
    margin: float = Field(1.1, ge=1, description="geometric: factor on the fitted cuts; module map: relative widening")
    min_count: int = Field(2, ge=1, description="geometric: true pairs needed to keep a layer pair")
    tolerance: float = Field(0.01, ge=0, description="module map: absolute widening of dphi/deta ranges")
    cell_features: bool = Field(False, description="add cluster shape (n_cells, charge) to the node features")
    max_fit_events: int = Field(100, ge=1, description="training events used to fit cuts / module map / embedding")
    fit_extra_dir: Optional[Path] = Field(
        None, description="folder of extra TrackML events with truth (e.g. a particle gun) used only to fit cuts / module map"
    )
    # metric learning
    embedding_dim: int = Field(8, ge=2)
    embedding_hidden: int = Field(128, ge=8)
    embedding_epochs: int = Field(20, ge=1)
    radius: float = Field(0.25, gt=0, description="metric learning: radius of the graph in embedding space")
    max_neighbours: int = Field(64, ge=1, description="metric learning: cap of neighbours per hit")
    margin_hinge: float = Field(1.0, gt=0, description="metric learning: hinge margin m (squared distance; fakes pushed beyond sqrt(m))")


class TrackBuildingConfig(Section):
    """The ``tracks:`` section: edge scores -> track candidates."""

    builder: Literal["components", "walkthrough"] = "walkthrough"
    score_cut: float = Field(0.5, ge=0, le=1)
    walk_cut: Optional[float] = Field(None, ge=0, le=1, description="walkthrough: edges the walk may follow (default score_cut)")
    min_hits: int = Field(1, ge=1, description="shorter candidates become single-hit tracks")


class TrackingEvaluationConfig(Section):
    """The ``evaluation:`` section."""

    pt_min: float = Field(1.0, ge=0, description="GeV: threshold of the headline track metrics")
    min_hits: int = Field(3, ge=1, description="hits for a particle/track to count")
    display_event: int = Field(0, ge=0, description="index of the test event drawn in the event display")
