"""Registry of runner stages: name -> function, plus the config sections the stage reads."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from gnn4hep.errors import ConfigError

#: Modules that define stages; the runner imports them before resolving stage names.
STAGE_MODULES: tuple[str, ...] = (
    "gnn4hep.runner.demo_stages",
    "gnn4hep.jets.stages",
    "gnn4hep.training.edge_stages",
    "gnn4hep.quantum.stages",
    "gnn4hep.pipelines.trackml_gnn",
    "gnn4hep.pipelines.trackml_refit",
    "gnn4hep.pipelines.trackml_hdbscan",
    "gnn4hep.pipelines.trackml_filter",
)


@dataclass(frozen=True)
class Stage:
    """A registered stage.

    Attributes:
        name: the name used in a config's ``stages`` list.
        func: ``func(ctx: RunContext) -> None``.
        sections: config keys the stage reads: name -> pydantic Section class, or
            (annotation, default) for plain values such as ``models: list[str]``.
        description: one line for ``gnn4hep run --list-stages``.
    """

    name: str
    func: Callable
    sections: dict[str, Any] = field(default_factory=dict)
    description: str = ""


STAGES: dict[str, Stage] = {}


def stage(name: str, sections: dict[str, Any] | None = None, description: str = "") -> Callable:
    """Decorator registering ``func(ctx)`` as stage ``name``."""

    def register(func: Callable) -> Callable:
        if name in STAGES and STAGES[name].func is not func:
            raise ValueError(f"stage '{name}' is registered twice")
        doc = (func.__doc__ or "").strip().splitlines()
        STAGES[name] = Stage(name, func, dict(sections or {}), description or (doc[0] if doc else ""))
        return func

    return register


def load_stage_modules() -> None:
    """Import every module of STAGE_MODULES (registering their stages)."""
    for module in STAGE_MODULES:
        importlib.import_module(module)


def get_stage(name: str) -> Stage:
    """The stage called ``name``; ConfigError listing the known stages otherwise."""
    load_stage_modules()
    if name not in STAGES:
        raise ConfigError(f"unknown stage '{name}' in 'stages'; known stages: {', '.join(sorted(STAGES))}")
    return STAGES[name]


def section_fields(stage_names: list[str]) -> dict[str, tuple[Any, Any]]:
    """Merge the sections of the named stages into pydantic field definitions.

    Two stages may share a section only when they declare the same type.
    """
    fields: dict[str, tuple[Any, Any]] = {}
    owners: dict[str, str] = {}
    for name in stage_names:
        for key, spec in get_stage(name).sections.items():
            if isinstance(spec, type) and issubclass(spec, BaseModel):
                definition = (spec, spec())
            else:
                definition = spec
            if key in fields and fields[key][0] != definition[0]:
                raise ConfigError(
                    f"stages '{owners[key]}' and '{name}' declare config section '{key}' with different types"
                )
            fields[key] = definition
            owners.setdefault(key, name)
    return fields
