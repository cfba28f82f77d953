"""Typed experiment-config schema, assembled from the sections that the chosen stages declare.

A config file looks like::

    name: trackml_gnn          # run name (folder runs/<name>-<time>/)
    seed: 0
    stages: [simulate, train, infer, build, evaluate]
    data: {...}                # sections declared by the stages
    trainer: {...}

Every section model forbids unknown keys, so a typo gets an error naming the key and the
allowed keys.
"""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from gnn4hep.errors import ConfigError


INT64_MAX = 2**63 - 1


class Section(BaseModel):
    """Base class of config sections: unknown keys are errors, values are validated strictly; no
    float is nan or infinite, and no integer lies beyond int64 (numpy and torch would overflow)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    @pydantic.field_validator("*", mode="after")
    @classmethod
    def _fits_int64(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise ValueError(f"{value} does not fit a 64-bit integer")
        return value


class ExperimentBase(Section):
    """Keys every experiment config has."""

    name: str = Field(description="run name; the run folder is runs/<name>-<time>/")
    seed: int = Field(0, ge=0, description="global random seed (python, numpy, torch)")
    stages: list[str] = Field(min_length=1, description="stage names, run in order")
    description: str = Field("", description="free text, copied into the run summary")


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names allowed at location ``loc`` of ``model`` (best effort, for error messages)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def format_validation_error(error: pydantic.ValidationError, model: type[BaseModel], source: str) -> str:
    """One line per problem, naming the dotted key and what is allowed."""
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            lines.append(f"unknown key '{key}'" + (f"; allowed here: {', '.join(allowed)}" if allowed else ""))
        elif item["type"] == "missing":
            lines.append(f"missing required key '{key}'")
        else:
            given = item.get("input")
            lines.append(f"key '{key}': {item['msg']} (got {given!r})")
    return f"{source}: invalid config:\n  - " + "\n  - ".join(lines)


def build_experiment_model(sections: dict[str, tuple[Any, Any]]) -> type[BaseModel]:
    """A pydantic model with the base keys plus ``sections`` (name -> (annotation, default))."""
    return pydantic.create_model("ExperimentConfig", __base__=ExperimentBase, **sections)


def validate_config(
    raw: dict[str, Any], sections: dict[str, tuple[Any, Any]], source: str
) -> BaseModel:
    """Validate ``raw`` against the base keys plus ``sections``; ConfigError on any problem."""
    model = build_experiment_model(sections)
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, source)) from None
