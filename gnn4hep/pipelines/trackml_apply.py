"""Apply a trained TrackML GNN pipeline to one event at a time: the engine of ``gnn4hep track``.

A :class:`TrackingPipeline` is a list of stage objects sharing one :class:`TrackingState` per event:

===================  ============================================================================
``graph``            hit table and candidate edges with the run's fitted builder (geometric cuts, module map,
                     ring map or metric learning: :func:`~gnn4hep.pipelines.trackml_graphs.build_edges`)
``edge_filter``      the run's edge filter cuts the edges (:func:`~gnn4hep.graphs.edge_filter.filter_edges`),
                     when ``filter.enabled``
``hit_graph``        node and edge features of the kept edges (:func:`~gnn4hep.graphs.hit_graph.make_hit_graph`;
                     with ``graph``, the experiment's :func:`~gnn4hep.pipelines.trackml_graphs.event_graph`)
``edge_classifier``  GNN edge scores (:func:`~gnn4hep.pipelines.trackml_tasks.edge_scores`)
``track_building``   CC or CC-and-walk candidates (:func:`~gnn4hep.pipelines.trackml_tasks.track_candidates`)
``refit``            Kalman refit with outlier removal and orphan attachment
                     (:func:`gnn4hep.tracking.fitting.refit`), when the run refitted
===================  ============================================================================

Each stage calls the function the experiment's own stages call (``trackml_build_graphs``,
``trackml_filter``, ``trackml_infer``, ``trackml_build_tracks``, ``trackml_refit``), so an event tracked here gets the labels the
experiment's test stage wrote for it (tests/pipelines/test_trackml_apply.py checks it).

To add a stage, write a :class:`Stage` subclass (``wanted``, ``files``, ``uses_cells``, ``__init__``
loading its files, ``run`` updating the state) and insert it in :data:`STAGE_TYPES`; its files then also
travel in exported bundles (:mod:`gnn4hep.pipelines.trackml_bundle`). An edge filter goes between
``graph`` and ``hit_graph`` (:class:`EdgeFilterStage`), so that features are computed for the kept edges only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gnn4hep.errors import ConfigError, Gnn4hepError, InputFileError
from gnn4hep.pipelines.trackml_bundle import NO_CELLS, ModelFolder
from gnn4hep.pipelines.trackml_config import GraphConfig, RefitConfig, TrackBuildingConfig


class InferenceConfig:
    """The sections of a run's resolved config that inference reads, validated on first use."""

    def __init__(self, raw: dict):
        self.raw = raw
        self._sections: dict[str, Any] = {}

    def section(self, name: str, kind: type) -> Any:
        """Section ``name`` validated as the pydantic ``kind`` (ConfigError naming the key when invalid)."""
        if name not in self._sections:
            try:
                self._sections[name] = kind.model_validate(self.raw.get(name) or {})
            except ValueError as exc:
                raise ConfigError(f"model config section '{name}': {str(exc).splitlines()[0]}") from None
        return self._sections[name]

    @property
    def stages(self) -> list[str]:
        return list(self.raw.get("stages") or [])

    @property
    def graph(self) -> GraphConfig:
        return self.section("graph", GraphConfig)

    @property
    def tracks(self) -> TrackBuildingConfig:
        return self.section("tracks", TrackBuildingConfig)

    @property
    def refit(self) -> RefitConfig:
        return self.section("refit", RefitConfig)

    @property
    def uses_cells(self) -> bool:
        """Whether a stage of the model reads cluster (cells) features."""
        return any(kind.uses_cells(self) for kind in STAGE_TYPES if kind.wanted(self, refit=True))


@dataclass
class TrackingState:
    """What the stages of one event share. Units: hit positions in mm."""

    event: Any  # gnn4hep.tracking.event.Event
    name: str
    prefix: Path | None = None
    table: pd.DataFrame | None = None  # gnn4hep.graphs.features.hit_table
    edges: np.ndarray | None = None  # (2, E) int64 row positions in ``table``, inner -> outer
    graph: Any = None  # torch_geometric Data (gnn4hep.graphs.schema) of ``table`` and ``edges``
    scores: np.ndarray | None = None  # (E,) float32 edge scores
    candidates: pd.DataFrame | None = None  # hit_id, track_id of the track builder
    labels: pd.DataFrame | None = None  # hit_id, track_id: the final tracks
    params: pd.DataFrame | None = None  # refit track parameters (PARAM_COLUMNS)
    info: dict[str, Any] = field(default_factory=dict)  # per-stage figures (edge counts...)

    def keep_edges(self, mask: np.ndarray) -> None:
        """Keep the edges where ``mask`` (E,) bool is true (an edge filter's cut). Before the ``hit_graph``
        stage only ``edges`` is cut (the cheap place for a filter: features are then computed for the kept
        edges alone); after it the graph too, giving the graph
        :func:`~gnn4hep.graphs.hit_graph.make_hit_graph` builds from the kept edges."""
        import torch

        keep = np.asarray(mask, dtype=bool)
        if keep.shape != (self.edges.shape[1],):
            raise ValueError(f"edge mask of shape {keep.shape} for {self.edges.shape[1]} edges")
        self.edges = self.edges[:, keep]
        if self.graph is None:
            return
        keep = torch.from_numpy(keep)
        self.graph.edge_index = self.graph.edge_index[:, keep]
        self.graph.y = self.graph.y[keep]
        if getattr(self.graph, "edge_attr", None) is not None:
            self.graph.edge_attr = self.graph.edge_attr[keep]
        if self.scores is not None:
            self.scores = self.scores[keep.numpy()]


class Stage:
    """One step of the pipeline. Subclasses set ``name`` and implement ``__init__`` (load the files) and ``run``."""

    name: ClassVar[str] = "stage"

    @classmethod
    def wanted(cls, config: InferenceConfig, refit: bool) -> bool:
        """Whether the model, as configured, has this stage (``refit``: the caller allows the refit)."""
        return True

    @classmethod
    def files(cls, config: InferenceConfig) -> list[str]:
        """Model-folder files the stage reads (relative paths): what an exported bundle must hold."""
        return []

    @classmethod
    def uses_cells(cls, config: InferenceConfig) -> bool:
        """Whether the stage reads cluster (cells) features."""
        return False

    def __init__(self, model: ModelFolder, config: InferenceConfig, device: str):
        self.model, self.config, self.device = model, config, device

    def run(self, state: TrackingState) -> None:
        raise NotImplementedError


class GraphStage(Stage):
    """Hit table and candidate edges of the event with the run's fitted graph builder."""

    name = "graph"

    @classmethod
    def files(cls, config):
        from gnn4hep.pipelines.trackml_graphs import BUILDER_FILES

        method = config.graph.method
        return [f"graph_builder/{BUILDER_FILES[method]}"] if method in BUILDER_FILES else []

    @classmethod
    def uses_cells(cls, config):
        return bool(config.graph.cell_features)

    def __init__(self, model, config, device):
        super().__init__(model, config, device)
        from gnn4hep.pipelines.trackml_graphs import load_graph_builder

        files = [model.file(relative) for relative in self.files(config)]  # one clear error when missing
        self.builder = load_graph_builder(config.graph, files[0].parent if files else model.root)

    def run(self, state):
        from gnn4hep.graphs.features import hit_table
        from gnn4hep.pipelines.trackml_graphs import build_edges

        # the first two steps of trackml_graphs.event_graph (the experiment's graphs); HitGraphStage does the third
        state.table = hit_table(state.event)
        state.edges = build_edges(state.table, self.builder, self.config.graph)
        state.info["n_edges_graph"] = int(state.edges.shape[1])


class EdgeFilterStage(Stage):
    """The run's edge filter (``filter.enabled``) cuts the candidate edges before features are computed, as the
    experiment's ``trackml_filter`` stage does. The cluster-shape filter (``filter/edge_filter.pt``) scores
    simulated events that have cells; the no-cells filter (``filter/edge_filter_no_cells.pt``, trained with it)
    scores events without cells, and real events (no ``simulation.json``) unless ``filter.eval_cells``, since
    today's simulated clusters differ from real ones (:mod:`gnn4hep.pipelines.trackml_filter`)."""

    name = "edge_filter"

    @classmethod
    def wanted(cls, config, refit):
        return bool((config.raw.get("filter") or {}).get("enabled", False))

    @classmethod
    def _filter_config(cls, config):
        from gnn4hep.pipelines.trackml_config import FilterConfig

        return config.section("filter", FilterConfig)

    @classmethod
    def files(cls, config):
        from gnn4hep.pipelines.trackml_filter import FILTER_FILE, NO_CELLS_FILE

        cfg = cls._filter_config(config)
        files = ["/".join(FILTER_FILE)]
        if cfg.cell_features and cfg.no_cells_variant:
            files.append("/".join(NO_CELLS_FILE))
        return files

    @classmethod
    def uses_cells(cls, config):
        cfg = cls._filter_config(config)
        return bool(cfg.cell_features and not cfg.no_cells_variant)  # its own no-cells filter serves the rest

    def __init__(self, model, config, device):
        super().__init__(model, config, device)
        from gnn4hep.graphs.edge_filter import load_edge_filter

        self.cfg = self._filter_config(config)
        paths = [model.file(relative) for relative in self.files(config)]
        self.filters = [load_edge_filter(path, device) for path in paths]

    def choose(self, event, prefix: Path | None) -> tuple[Any, float]:
        """(filter, score cut) for the event: the main filter unless it needs cells the event lacks or the
        event is real data and ``filter.eval_cells`` is off; the configured threshold applies to the main one."""
        from gnn4hep.pipelines.trackml_filter import filter_cut, use_no_cells_filter
        from gnn4hep.tracking.simulation.batch import read_settings

        main = self.filters[0]
        if main.cell_features:
            real = prefix is None or read_settings(str(Path(prefix).parent)) is None
            if use_no_cells_filter(event.cells is not None, prefer_no_cells=real and not self.cfg.eval_cells):
                if len(self.filters) < 2:
                    raise InputFileError(f"{prefix}-cells.csv", "this model's edge filter needs the event's cells")
                return self.filters[1], filter_cut(self.filters[1], self.cfg.threshold, no_cells_variant=True)
        return main, filter_cut(main, self.cfg.threshold, no_cells_variant=False)

    def run(self, state):
        from gnn4hep.graphs.edge_filter import filter_edges

        model, threshold = self.choose(state.event, state.prefix)
        state.keep_edges(filter_edges(model, state.table, state.edges, threshold, cells=state.event.cells))
        state.info["n_edges_filtered"] = int(state.edges.shape[1])
        state.info["edge_filter"] = "cells" if model.cell_features else "no_cells"


class HitGraphStage(Stage):
    """The hit graph (node and edge features) of the table and the edges kept so far: the last step of
    :func:`~gnn4hep.pipelines.trackml_graphs.event_graph`."""

    name = "hit_graph"

    def run(self, state):
        from gnn4hep.graphs.hit_graph import make_hit_graph

        state.graph = make_hit_graph(state.table, state.edges, event_id=state.event.event_id,
                                     cell_features=self.config.graph.cell_features)


class EdgeClassifierStage(Stage):
    """GNN edge scores of the hit graph."""

    name = "edge_classifier"
    FILE: ClassVar[str] = "edge_classifier.pt"

    @classmethod
    def files(cls, config):
        return [cls.FILE]

    def __init__(self, model, config, device):
        super().__init__(model, config, device)
        import gnn4hep.training.edge_classifier  # noqa: F401  (lightning: imported at load, not timed per event)
        from gnn4hep.training.edge_training import load_edge_model

        self.classifier = load_edge_model(model.file(self.FILE)).to(device)

    def run(self, state):
        from gnn4hep.pipelines.trackml_tasks import edge_scores

        state.scores = edge_scores(self.classifier, state.graph).numpy()
        state.info["n_edges_gnn"] = int(len(state.scores))


class TrackBuildingStage(Stage):
    """Track candidates from the edge scores (``tracks.builder``: components, walkthrough or kink_walk)."""

    name = "track_building"

    def run(self, state):
        from gnn4hep.pipelines.trackml_tasks import track_candidates

        state.candidates = track_candidates(state.graph, state.scores, self.config.tracks)
        state.labels = state.candidates


class RefitStage(Stage):
    """Kalman refit of the candidates: outliers out, orphans attached, perigee parameters. Events whose
    folder has a ``simulation.json`` are fitted in their simulated physics (as the experiment's test events),
    others as real TrackML data (as its ``data.eval_events``)."""

    name = "refit"

    @classmethod
    def wanted(cls, config, refit):
        return refit and "trackml_refit" in config.stages and config.refit.enabled

    def __init__(self, model, config, device):
        super().__init__(model, config, device)
        import gnn4hep.tracking.fitting  # noqa: F401  (imported at load, not timed per event)
        from gnn4hep.tracking.io import read_detector

        self.detector = read_detector()
        self._fit_configs: dict[str, Any] = {}

    def fit_config(self, prefix: Path | None):
        from gnn4hep.tracking.simulation.batch import read_settings

        folder = str(Path(prefix).parent) if prefix is not None else ""
        if folder not in self._fit_configs:
            simulation = read_settings(folder) if prefix is not None else None
            cfg = self.config.refit
            self._fit_configs[folder] = cfg.fit_config(eval_events=True) if simulation is None else cfg.fit_config(simulation=simulation)
        return self._fit_configs[folder]

    def run(self, state):
        from gnn4hep.pipelines.trackml_refit import check_modules
        from gnn4hep.tracking.fitting import refit

        try:
            check_modules(state.event, self.detector, state.name)
        except ConfigError as exc:
            raise Gnn4hepError(f"{exc} (gnn4hep track: use --no-refit)") from None
        state.labels, state.params = refit(state.event, state.candidates, self.detector, self.fit_config(state.prefix),
                                           name=f"{state.name} candidates")


#: The stage types, in pipeline order; each decides from the config whether the model has it.
STAGE_TYPES: list[type[Stage]] = [GraphStage, EdgeFilterStage, HitGraphStage, EdgeClassifierStage, TrackBuildingStage, RefitStage]


def required_files(config: InferenceConfig) -> list[str]:
    """Model-folder files inference needs (every stage's, refit allowed), without the config itself."""
    files: list[str] = []
    for kind in STAGE_TYPES:
        if kind.wanted(config, refit=True):
            files += [f for f in kind.files(config) if f not in files]
    return files


@dataclass
class TrackResult:
    """Tracks of one event and what they cost.

    ``labels``: hit_id, track_id, every hit once (the submission); ``candidates``: the track builder's, before
    the refit; ``seconds``: stage -> {"cpu": process CPU s, "wall": s}; ``variant``: the model variant used
    (``main`` or ``no_cells``).
    """

    name: str
    labels: pd.DataFrame
    candidates: pd.DataFrame
    seconds: dict[str, dict[str, float]]
    info: dict[str, Any]
    variant: str
    params: pd.DataFrame | None = None


class TrackingPipeline:
    """A trained tracking pipeline (``stages``) applied event by event; see the module docstring."""

    def __init__(self, stages: list[Stage], model: ModelFolder, config: InferenceConfig, device: str = "cpu",
                 refit: bool = True, variant: str = "main"):
        self.stages, self.model, self.config = stages, model, config
        self.device, self.refit, self.variant = device, refit, variant
        self._no_cells: TrackingPipeline | None = None

    @classmethod
    def from_model(cls, model_dir: str | Path | ModelFolder, device: str = "cpu", refit: bool = True,
                   variant: str = "main") -> "TrackingPipeline":
        """Load a run folder or a bundle. ``refit=False`` skips the Kalman refit even when the run had one."""
        model = model_dir if isinstance(model_dir, ModelFolder) else ModelFolder.open(model_dir)
        check_device(device)
        config = InferenceConfig(model.config)
        stages = [kind(model, config, device) for kind in STAGE_TYPES if kind.wanted(config, refit)]
        return cls(stages, model, config, device, refit, variant)

    @property
    def uses_cells(self) -> bool:
        return self.config.uses_cells

    @property
    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def for_event(self, has_cells: bool, name: str) -> "TrackingPipeline":
        """This pipeline, or its variant without cluster features for an event without cells when the model
        uses them (Gnn4hepError naming the event ``name`` when the model has no such variant)."""
        if has_cells or not self.uses_cells:
            return self
        if self._no_cells is None:
            variant = self.model.variant(NO_CELLS)
            if variant is None:
                raise Gnn4hepError(
                    f"{name}: the event has no cells file and the model {self.model.root} uses cluster (cells) features "
                    f"without a variant lacking them (export it with: gnn4hep export-model RUN_DIR OUT --no-cells RUN_DIR)")
            self._no_cells = TrackingPipeline.from_model(variant, self.device, self.refit, variant=NO_CELLS)
        return self._no_cells

    def track(self, event, name: str | None = None, prefix: str | Path | None = None) -> TrackResult:
        """Tracks of one event (a :class:`~gnn4hep.tracking.event.Event` with hits; cells, particles and truth
        optional). ``prefix``: where it was read from (its folder's simulation.json sets the refit physics)."""
        name = name or f"event{int(event.event_id):09d}"
        pipeline = self.for_event(event.cells is not None, name)
        state = TrackingState(event=event, name=name, prefix=Path(prefix) if prefix is not None else None)
        seconds = {}
        for stage in pipeline.stages:
            cpu, wall = time.process_time(), time.perf_counter()
            stage.run(state)
            seconds[stage.name] = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}
        state.info["n_hits"] = int(len(event.hits))
        state.info["n_tracks"] = int(state.labels["track_id"].nunique())
        return TrackResult(name, state.labels, state.candidates, seconds, state.info, pipeline.variant, state.params)

    def track_prefix(self, prefix: str | Path) -> tuple[Any, TrackResult]:
        """Read the event at ``prefix`` (the parts on disk) and track it; its reading is timed as stage ``read``."""
        from gnn4hep.pipelines.trackml_data import read_available

        cpu, wall = time.process_time(), time.perf_counter()
        event = read_available(prefix)
        read = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}
        result = self.track(event, Path(prefix).name, prefix)
        result.seconds = {"read": read, **result.seconds}
        return event, result


def check_device(device: str) -> None:
    """Gnn4hepError for a device torch cannot use here (``cuda`` without a GPU)."""
    import torch

    if device == "cpu":
        return
    if not str(device).startswith("cuda"):
        raise Gnn4hepError(f"--device {device}: expected cpu or cuda")
    if not torch.cuda.is_available():
        raise Gnn4hepError(f"--device {device}: no CUDA device is available on this machine (use --device cpu)")


def event_prefixes(source: str | Path) -> list[Path]:
    """The event prefixes of ``source``: a folder of TrackML events (every event with a hits file) or one
    event prefix (or one of its files). InputFileError naming it when there is none."""
    import re

    from gnn4hep.tracking.io import available_parts, list_events

    path = Path(source)
    if path.is_dir():
        prefixes = [path / name for name in list_events(path) if available_parts(path / name, ("hits",))]
        if not prefixes:
            raise InputFileError(path, "no eventNNNNNNNNN-hits.csv[.gz] files in this folder")
        return prefixes
    match = re.match(r"^(?P<prefix>.*event\d+)(-(hits|cells|particles|truth)\.csv(\.gz)?)?$", path.name)
    if match is None:
        raise InputFileError(path, "not an event prefix (…/eventNNNNNNNNN), one of its files, or a folder of events")
    prefix = path.with_name(match.group("prefix"))
    if not available_parts(prefix, ("hits",)):
        raise InputFileError(prefix, f"no hits file ({prefix.name}-hits.csv[.gz]) for this event")
    return [prefix]
