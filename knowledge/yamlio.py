"""Reading the knowledge base's YAML files with the line of every mapping, key and list item.

PyYAML's safe loader drops positions; :class:`LineLoader` keeps them on :class:`LineDict` and
:class:`LineList` (plain ``dict`` / ``list`` subclasses) so the validator can say which line is wrong.
It also turns a date that does not exist (``2027-02-30``) into an :class:`InvalidDate` string instead
of failing the whole file, and records keys given twice in one mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml


class LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping with ``line`` (1-based) and ``key_lines[key]``."""

    line: int = 0
    key_lines: dict[Any, int]
    duplicate_keys: list[tuple[Any, int]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}
        self.duplicate_keys = []

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg]
    """A YAML sequence with ``line`` (1-based) and ``item_lines[i]``."""

    line: int = 0
    item_lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class InvalidDate(str):
    """A value written like a date that is not one (``2027-02-30``)."""

    __slots__ = ()


# libyaml's parser when PyYAML was built with it (several times faster), else the pure-Python one
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that keeps line numbers (see the module docstring)."""


def _construct_map(loader: LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            ) from None
        line = key_node.start_mark.line + 1
        if key in data:
            data.duplicate_keys.append((key, line))
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line


def _construct_seq(loader: LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=True))
        data.item_lines.append(child.start_mark.line + 1)


def _construct_timestamp(loader: LineLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, TypeError, AttributeError):
        return InvalidDate(loader.construct_scalar(node))


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse(text: str | bytes) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with a mark) when it is malformed."""
    return yaml.load(text, Loader=LineLoader)  # noqa: S506 - LineLoader is a SafeLoader


def plain(value: Any) -> Any:
    """The same data as ordinary dicts and lists (for ``kb.welfare``)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, InvalidDate):
        return str(value)
    return value
