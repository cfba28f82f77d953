"""Config sections of the TrackML GNN pipeline (``experiments/trackml_gnn.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import Field, model_validator

from gnn4hep.config.schema import Section


class TrackmlDataConfig(Section):
    """The ``data:`` section: where events come from."""

    path: Optional[Path] = Field(
        None, description="one folder of TrackML events (e.g. train_100_events): the first n_train train, the next n_test test "
        "(instead of train_dir / test_dir; `gnn4hep run CONFIG --data PATH`)")
    train_dir: Optional[Path] = Field(None, description="folder of TrackML-format training events (None: simulate)")
    test_dir: Optional[Path] = Field(None, description="folder of TrackML-format test events (None: simulate)")
    eval_events: list[Path] = Field(default_factory=list, description="extra event prefixes evaluated with the trained pipeline")
    source: Literal["quick", "gun", "pythia", "toy"] = Field(
        "pythia", description="simulator source when simulating (quick: 300-particle gun; toy: analytic barrel toy)"
    )
    pileup: float = Field(200.0, ge=0, description="mean pile-up of simulated events")
    train_beam_sigma_z_mm: Optional[list[Annotated[float, Field(ge=0, le=1000)]]] = Field(
        None, min_length=1, description="pythia: beam-spot sigma_z [mm] of the simulated training events, cycled "
        "through event by event (None: the simulator's 5.5 mm, that of the challenge's training sample; [5.5, 55.0] "
        "also trains on the real sample event's 55 mm luminous region); test events keep the default; other sources "
        "ignore it")
    n_train: int = Field(100, ge=1, description="training events to simulate / use")
    n_test: int = Field(10, ge=1, description="test events to simulate / use")
    n_particles: int = Field(200, ge=1, description="toy source: particles per event")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="training graphs held out for validation")
    workers: int = Field(1, ge=1, description="simulation processes with executor.kind processes (the larger of this and executor.workers)")
    from_run: Optional[Path] = Field(
        None, description="earlier run folder whose fitted graph builder, graphs and model are used when this run lacks them"
    )

    @model_validator(mode="after")
    def _one_source(self):
        if self.path is not None and (self.train_dir is not None or self.test_dir is not None):
            raise ValueError("data.path replaces data.train_dir / data.test_dir: give one or the other")
        return self


class GraphConfig(Section):
    """The ``graph:`` section: hit-graph construction."""

    method: Literal["geometric", "heptrkx", "module_map", "metric_learning", "ring_map"] = "geometric"
    pt_min: float = Field(0.0, ge=0, description="GeV: only true pairs of particles above it fit the cuts / map")
    quantile: float = Field(0.999, gt=0, le=1, description="geometric: quantile of |variable| over true pairs; "
                            "ring_map: ranges span the [1 - quantile, quantile] quantiles")
    margin: float = Field(1.1, ge=1, description="geometric: factor on the fitted cuts; module map: relative widening")
    min_count: int = Field(2, ge=1, description="geometric / ring_map: true pairs needed to keep a layer / ring pair")
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
    # ring map and graph sections
    ring_split: int = Field(1, ge=1, description="ring_map: slices per detector ring (z in the barrel, r in the endcaps)")
    prune_loss: float = Field(0.0, ge=0, lt=1, description="ring_map: share of true pairs the costliest ring pairs may "
                              "take with them when dropped (measured on 2 fit events; 0: no pruning)")
    train_sections: int = Field(0, ge=0, description="GNN training on phi sectors of each graph (0: whole graphs)")
    section_eta: int = Field(1, ge=1, description="eta slices of each phi sector when train_sections > 0")
    section_overlap: float = Field(0.1, ge=0, description="widening of each section in phi [rad] (and in eta)")


class TrackBuildingConfig(Section):
    """The ``tracks:`` section: edge scores -> track candidates."""

    builder: Literal["components", "walkthrough", "kink_walk"] = "walkthrough"
    score_cut: float = Field(0.5, ge=0, le=1)
    walk_cut: Optional[float] = Field(None, ge=0, le=1, description="walkthrough, kink_walk: edges the walk may follow (default score_cut)")
    min_hits: int = Field(1, ge=1, description="shorter candidates become single-hit tracks")
    # kink_walk (gnn4hep.tracking.building.kink_walk)
    max_kink: float = Field(0.03, gt=0, le=3.1416, description="kink_walk: largest kink angle between path and next edge, rad")
    kink_weight: float = Field(3.0, ge=0, description="kink_walk: score units one max_kink of kink costs")
    min_step_mm: float = Field(20.0, gt=0, description="kink_walk: shortest hit distance that defines a direction, mm")
    merge_cut: Optional[float] = Field(0.001, ge=0, le=1, description="kink_walk: edge score above which continuing fragments are joined (None: no merge)")
    keep_hits: int = Field(7, ge=1, description="kink_walk: first-pass tracks of at least this many hits are kept before the second pass")
    second_max_kink: Optional[float] = Field(0.1, gt=0, le=3.1416, description="kink_walk: max_kink of the second pass over the other hits, rad (None: one pass)")


class TrackingEvaluationConfig(Section):
    """The ``evaluation:`` section."""

    pt_min: float = Field(1.0, ge=0, description="GeV: threshold of the headline track metrics")
    min_hits: int = Field(3, ge=1, description="hits for a particle/track to count")
    display_event: int = Field(0, ge=0, description="index of the test event drawn in the event display")


class RefitConfig(Section):
    """The ``refit:`` section: Kalman refit of the track candidates (:func:`gnn4hep.tracking.fitting.refit`).

    The fields map one to one onto :class:`~gnn4hep.tracking.fitting.FitConfig`; ``enabled: false``
    skips the refit (the evaluation then scores the track builder's candidates only).
    """

    enabled: bool = Field(True, description="refit the candidates (false: evaluate the raw candidates only)")
    chi2_cut: float = Field(15.0, gt=0, description="smoothed-residual chi2 (2 dof) above which a hit is an outlier")
    max_outliers: int = Field(5, ge=0, description="outlier-removal rounds (one hit per track per round; 0: none)")
    min_hits: int = Field(3, ge=3, description="a track never drops below this many hits")
    max_hits: int = Field(60, ge=3, description="longer candidates are merged particles: passed through unfitted")
    iterations: int = Field(1, ge=1, description="Kalman passes per fit")
    material: bool = Field(True, description="multiple scattering in the process noise")
    error_scale: float = Field(1.0, gt=0, description="factor on the hit errors")
    cluster_errors: bool = Field(False, description="hit errors from the cluster extent in cells")
    restore_chi2_ndf: Optional[float] = Field(3.0, gt=0, description="a cleaned track still above this chi2/ndf gets its outliers back")
    outlier_ids: Literal["singletons", "split"] = Field(
        "singletons", description="rejected hits become single-hit tracks, or one new track per candidate"
    )
    split_bad: bool = Field(True, description="split candidates of >= 6 hits that no helix fits")
    reject_chi2_ndf: Optional[float] = Field(None, gt=0, description="track-quality cut: a fitted track of at most "
                                             "reject_max_hits hits above this chi2/ndf is dissolved into singletons (None: off)")
    reject_max_hits: int = Field(7, ge=3, description="longest track the quality cut applies to")
    attach_orphans: bool = Field(True, description="orphan hits join the fitted track whose chi2 increment accepts them")
    attach_window_mm: float = Field(10.0, gt=0, description="orphan search window around each helix's layer crossing, mm")
    attach_neighbours: int = Field(2, ge=1, description="helices tried per orphan hit (the nearest)")
    attach_min_hits: int = Field(4, ge=3, description="hits of a track that can take orphans; shorter candidates' hits are orphans")
    attach_rounds: int = Field(1, ge=1, description="orphan-attachment passes, each from the tracks the previous one extended")
    merge_fragments: bool = Field(False, description="join fitted tracks of >= attach_min_hits hits that continue each "
                                  "other (joint-fit chi2 increment below merge_chi2_cut) before the orphan attachment")
    merge_chi2_cut: float = Field(20.5, gt=0, description="largest chi2 increment (5 dof) of a joined pair of tracks")
    mass_gev: float = Field(0.13957, gt=0, description="scattering mass hypothesis, GeV (the pion: most tracks)")
    field: Literal["auto", "trackml", "solenoid", "uniform"] = Field(
        "auto", description="field of the fit of the test events: auto (the field they were simulated in, from "
        "their folder's simulation.json; trackml without one), trackml (the solenoid fitted to the real data, axis "
        "free), solenoid (the simulator's fit, axis on the z axis) or uniform 2 T")
    material_model: Literal["auto", "trackml", "simulator", "sensors"] = Field(
        "auto", description="material of the test events: auto (simulator when they were simulated with the "
        "measured layer material, sensors when with bare sensors, trackml without a simulation record), simulator "
        "(its measured layer material), sensors, or trackml (scattering and energy loss measured on the real truth)")
    hit_errors: Literal["auto", "trackml", "pitch", "simulated"] = Field(
        "auto", description="hit errors of the test events: auto (simulated for events with simulated clusters, "
        "pitch for smeared ones, trackml without a simulation record), pitch (pitch/sqrt(12), the simulator's "
        "smearing), simulated (measured on the simulator's clusters) or trackml")
    eval_material_model: Literal["trackml", "simulator", "sensors"] = Field(
        "trackml", description="material of data.eval_events (real TrackML events such as the sample event)")
    eval_hit_errors: Literal["trackml", "pitch"] = Field(
        "trackml", description="hit errors of data.eval_events (measured on real TrackML clusters)")

    def fit_config(self, eval_events: bool = False, simulation: dict | None = None):
        """The :class:`~gnn4hep.tracking.fitting.FitConfig` of these settings: for the eval events (real
        TrackML events) with ``eval_material_model`` and ``eval_hit_errors`` in the real data's field (``trackml``); for the test
        events with the ``auto`` choices resolved from ``simulation``, the test folder's ``simulation.json``
        (:func:`gnn4hep.tracking.simulation.batch.read_settings`; None: real data)."""
        from gnn4hep.tracking.fitting import FitConfig
        from gnn4hep.tracking.fitting.refit import simulated_physics

        settings = self.model_dump(exclude={"enabled", "eval_material_model", "eval_hit_errors"})
        if eval_events:
            settings.update(field="trackml", material_model=self.eval_material_model, hit_errors=self.eval_hit_errors)
            return FitConfig(**settings)
        matching = simulated_physics(simulation)
        for key in ("field", "material_model", "hit_errors"):
            if settings[key] == "auto":
                settings[key] = matching[key]
        return FitConfig(**settings)


class FilterConfig(Section):
    """The ``filter:`` section: the edge filter between the graph builder and the GNN
    (:mod:`gnn4hep.pipelines.trackml_filter`)."""

    enabled: bool = Field(False, description="filter the built graphs before the GNN (stages trackml_train_filter, trackml_filter)")
    threshold: Optional[float] = Field(None, ge=0, le=1, description="score cut (None: the cut that keeps target_efficiency)")
    target_efficiency: float = Field(0.99, gt=0, le=1, description="share of true validation edges the cut keeps")
    target_pt_min: float = Field(0.0, ge=0, description="GeV: target_efficiency counts true edges of particles above it")
    hidden: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [64, 64], min_length=1, description="hidden layer widths of the MLP")
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(8192, ge=1)
    learning_rate: float = Field(0.002, gt=0)
    fake_fraction: float = Field(0.1, gt=0, le=1, description="share of fake edges of each training event used (weighted back)")
    cell_features: bool = Field(False, description="cluster-shape pair features (needs cells.csv for every training event)")
    no_cells_variant: bool = Field(True, description="with cell_features, also train the filter without them "
                                   "(edge_filter_no_cells.pt), used for events that have no cells file")
    max_train_events: int = Field(20, ge=1, description="training events whose edges train the filter")
    eval_cells: bool = Field(False, description="data.eval_events (real TrackML events) use the cluster-shape filter too; "
                             "false: the no-cells one (for filters trained on clusters that differ from real ones; with today's "
                             "calibrated digitisation the cluster-shape filter keeps 99.1 % of the real sample event's true "
                             "edges, so experiments/trackml_gnn.yaml sets true)")
    no_cells_pt_min: float = Field(0.0, ge=0, description="GeV: the no-cells variant (the only filter without cell_features) "
                                   "trains on the true edges of particles above it only (slower ones weigh 0) and its cut keeps target_efficiency of them; 0: all "
                                   "true edges, as the main filter. 1.0 cuts a real full event's ring-map graph ~9x at 99 % of its "
                                   "pT > 1 GeV true edges instead of ~1.7x (benchmarks/results/filter_stages.json)")
    no_cells_target_efficiency: Optional[float] = Field(None, gt=0, le=1, description="target_efficiency of the no-cells "
                                                        "variant (None: filter.target_efficiency)")
    no_cells_target_pt_min: Optional[float] = Field(None, ge=0, description="GeV: target_pt_min of the no-cells variant "
                                                    "(None: the larger of filter.target_pt_min and no_cells_pt_min)")
