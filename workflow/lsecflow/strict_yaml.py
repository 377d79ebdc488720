"""YAML with duplicate keys refused: PyYAML keeps the last of two equal keys and drops the first silently."""
from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice, at any depth."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"{loader.name}: key {key!r} appears twice (lines {seen[key] + 1} and "
                              f"{key_node.start_mark.line + 1}); YAML would silently keep only the second")
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(path: str | Path):
    """Parse a YAML file as ``yaml.safe_load`` does, but refuse duplicate keys (naming file, key and lines).

    Raises
    ------
    ConfigError
        A duplicate key, or text that is not YAML.
    """
    path = Path(path)
    try:
        with open(path) as fh:
            loader = _StrictLoader(fh)
            loader.name = str(path)
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
