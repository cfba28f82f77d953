"""Experiment configs: YAML files read with ``yaml.safe_load``, overridden with ``-o key=value``,
validated by a typed pydantic schema assembled from the stages a config runs."""

from gnn4hep.config.loading import apply_overrides, load_yaml, parse_override

__all__ = ["apply_overrides", "load_yaml", "parse_override"]
