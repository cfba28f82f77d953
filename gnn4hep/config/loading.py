"""Load YAML configs safely and apply ``key.sub=value`` overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from gnn4hep.errors import ConfigError


class _UniqueKeySafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (same safety as ``yaml.safe_load``) that refuses a key given twice in one
    mapping: PyYAML would silently keep the last value."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor' (keys given next to it override the merged ones)
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            seen = first_line.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:  # unhashable key: construct_mapping reports it
            continue
        if seen != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' is given twice (first on line {seen})", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=deep)


_UniqueKeySafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with a ``yaml.SafeLoader`` that also refuses duplicate keys; clear errors
    for missing/invalid files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeySafeLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if data is None:
        raise ConfigError(f"{path}: the config file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level of a config must be a mapping of keys, not {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into (["a", "b", "c"], value); the value is parsed as YAML
    (so ``3`` is an int, ``[pfn,efn]`` a list, ``true`` a bool, ``foo`` a string)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value (e.g. trainer.max_epochs=3)")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{text}' has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``config`` with each ``key=value`` override set (nested keys with dots)."""
    result = copy.deepcopy(config)
    for text in overrides:
        keys, value = parse_override(text)
        node = result
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            elif not isinstance(child, dict):
                path = ".".join(keys[: depth + 1])
                raise ConfigError(f"override '{text}': '{path}' is a value, not a section")
            node = child
        node[keys[-1]] = value
    return result


#: Where ``gnn4hep run CONFIG --data PATH`` puts PATH: the first of these sections the config has.
DATA_KEYS: tuple[tuple[str, str], ...] = (("data", "path"), ("qubo_data", "event"), ("demo", "event"))


def data_override(config_path: str | Path, data: str | Path) -> str:
    """The ``key=value`` override that points a config at ``data`` (a folder of TrackML events, a
    jet file or folder, or an event prefix), chosen by the config's sections (:data:`DATA_KEYS`)."""
    sections = load_yaml(config_path)
    for section, field in DATA_KEYS:
        if section in sections:
            return f"{section}.{field}={data}"
    known = ", ".join(section for section, _ in DATA_KEYS)
    raise ConfigError(f"{config_path}: --data needs one of the sections {known}; this config has none")
