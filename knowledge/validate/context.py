"""One run of the checker: the problems found, the model pieces built, and what later files may refer to."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from knowledge.records import (
    Closure,
    Partner,
    Problem,
    SchoolYear,
    Service,
    Severity,
    Territory,
    Topic,
    Town,
)
from knowledge.validate.fields import Record, Source, describe
from knowledge.yamlio import LineDict, LineList


@dataclass
class Analysis:
    """Everything :func:`knowledge.validate.analyse` found: the problems, and the model pieces built."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    digest: str = ""
    territories: dict[str, Territory] = field(default_factory=dict)
    towns: dict[str, Town] = field(default_factory=dict)
    topics: dict[str, Topic] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    school_year: SchoolYear | None = None
    closures: list[Closure] = field(default_factory=list)
    welfare: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


class Context:
    """The state the per-file checks share, in the order the files are checked."""

    def __init__(self, root: Path, today: date) -> None:
        self.root = root
        self.today = today
        self.result = Analysis(root=root)
        self.error_count = 0
        # what later files may refer to; None when the defining file could not be read
        self.territory_ids: set[str] | None = None
        self.town_names: dict[str, str] | None = None  # canonical name -> territory
        self.town_keys: dict[str, str] = {}  # normalised name or alias -> canonical name
        self.topic_kinds: dict[str, set[str]] | None = None
        self.partner_cover: dict[str, tuple[set[str], set[str]]] | None = None  # id -> (topics, territories)
        self.service_ids: dict[str, str] = {}  # id -> "file:line" of its first definition

    def report(self, src: Source, line: int, where: str, message: str, severity: Severity = "error") -> None:
        if severity == "error":
            self.error_count += 1
        self.result.problems.append(Problem(src.display, line, where, message, severity))

    def top_list(self, src: Source, key: str) -> Iterator[tuple[LineDict, int, int]]:
        """(item, line, index) for each mapping in the top-level list ``key``."""
        if src.data is None or key not in src.data:
            return
        items = src.data[key]
        if not isinstance(items, LineList):
            self.report(src, src.data.line_of(key), key, f"expected a list, got {describe(items)}")
            return
        for index, item in enumerate(items):
            line = items.line_of(index)
            if not isinstance(item, LineDict):
                self.report(src, line, f"{key}[{index}]", f"expected a mapping, got {describe(item)}")
                continue
            yield item, line, index

    def record(self, src: Source, where: str, data: LineDict, allowed: Collection[str] | None) -> Record:
        return Record(self, src, where, data, allowed)

    # -- references to what earlier files define ---------------------------------------------

    def territory_refs(self, rec: Record, key: str, required: bool = True) -> tuple[str, ...] | None:
        items = rec.text_items(key, required=required, non_empty=required)
        for value, line in items:
            if self.territory_ids is not None and value not in self.territory_ids:
                rec.err(key, f"unknown territory '{value}'", line)
        return tuple(v for v, _ in items) if key in rec.data else None

    def topic_refs(self, rec: Record, key: str) -> tuple[str, ...] | None:
        items = rec.text_items(key, required=True, non_empty=True)
        for value, line in items:
            if self.topic_kinds is not None and value not in self.topic_kinds:
                rec.err(key, f"unknown topic '{value}'", line)
        return tuple(v for v, _ in items) if key in rec.data else None

    def partner_ref(self, rec: Record, key: str) -> str | None:
        pid = rec.text(key)
        if pid is not None and self.partner_cover is not None and pid not in self.partner_cover:
            rec.err(key, f"unknown partner '{pid}'")
        return pid


def name_of(item: LineDict, key: str, index: int) -> str:
    """How an item of a list is named in problems: its ``key`` when it is a text, else its index."""
    value = item.get(key)
    return str(value) if isinstance(value, str) and value.strip() else str(index)
