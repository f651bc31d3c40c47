"""The shared field readers: a :class:`Record` reads the typed fields of one YAML mapping and reports
every problem at its file, line and field. The per-file checks (``territories``, ``partners``, ...) are
written with them."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Protocol

from knowledge.records import Contacts, Hours, Severity
from knowledge.yamlio import InvalidDate, LineDict, LineList

DASHED_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # partners, services, closures
SNAKE_ID = re.compile(r"^[a-z][a-z0-9_]*$")  # territories, topics, kinds
HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEB_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
CONTACT_KEYS = ("email", "phone", "web")


@dataclass
class Source:
    """One YAML file of the tree."""

    rel: str  # relative to the data folder, with forward slashes
    display: str  # how problems name it
    data: Any = None  # the parsed document when it is a well-formed mapping


class Reporter(Protocol):
    """Where problems go (the run's :class:`knowledge.validate.context.Context`)."""

    def report(
        self, src: Source, line: int, where: str, message: str, severity: Severity = "error"
    ) -> None: ...


def describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, datetime):
        return f"the date and time {value.isoformat(sep=' ')}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def parse_time(hour: str, minute: str) -> time | None:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        return None
    return time(h, m)


def parse_range(text: str) -> tuple[time, time] | str:
    """``"08:30-16:30"`` -> (08:30, 16:30), or the reason it is not a valid range."""
    match = HOURS_RE.match(text)
    if not match:
        return f"'{text}' is not a time range (use \"HH:MM-HH:MM\")"
    start = parse_time(match[1], match[2])
    end = parse_time(match[3], match[4])
    for part, value in ((f"{match[1]}:{match[2]}", start), (f"{match[3]}:{match[4]}", end)):
        if value is None:
            return f"'{text}': {part} is not a valid time"
    assert start is not None and end is not None
    if start >= end:
        return f"'{text}': start {start:%H:%M} is not before end {end:%H:%M}"
    return (start, end)


class Record:
    """A mapping being checked: reads typed fields and reports problems at their line."""

    def __init__(
        self, reporter: Reporter, src: Source, where: str, data: LineDict, allowed: Collection[str] | None
    ) -> None:
        self.reporter = reporter
        self.src = src
        self.where = where
        self.data = data
        for key, line in data.duplicate_keys:
            self.err(str(key), f"key '{key}' appears twice", line)
        if allowed is not None:
            for key in data:
                if key not in allowed:
                    self.warn(str(key), f"unknown key '{key}'")

    # -- reporting ----------------------------------------------------------------------------

    def line(self, key: str | None = None) -> int:
        return self.data.line if key is None else self.data.line_of(key)

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def err(self, key: str, message: str, line: int | None = None) -> None:
        self.reporter.report(self.src, line or self.line(key), self.field(key), message)

    def warn(self, key: str, message: str, line: int | None = None) -> None:
        self.reporter.report(self.src, line or self.line(key), self.field(key), message, "warning")

    def _get(self, key: str, required: bool) -> Any:
        """The value, or None (reporting it when required) when missing or null."""
        if key not in self.data:
            if required:
                self.err(key, "required field is missing")
            return None
        value = self.data[key]
        if value is None and required:
            self.err(key, "required field is empty")
        return value

    def _wrong(self, key: str, what: str, value: Any, line: int | None = None) -> None:
        hint = ""
        if what == "text" and isinstance(value, (int, float, date)) and not isinstance(value, bool):
            hint = " (put it in quotes)"
        self.err(key, f"expected {what}, got {describe(value)}{hint}", line)

    # -- scalars ------------------------------------------------------------------------------

    def text(self, key: str, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or isinstance(value, InvalidDate):
            self._wrong(key, "text", value)
            return None
        if not value.strip():
            if required:
                self.err(key, "must not be empty")
            return None
        return value.strip()

    def ident(self, key: str, pattern: re.Pattern[str]) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        if not pattern.match(value):
            style = (
                "lower case, digits and dashes"
                if pattern is DASHED_ID
                else "lower case, digits and underscores"
            )
            self.err(key, f"'{value}' is not a valid id (use {style})")
            return None
        return value

    def boolean(self, key: str, required: bool = False, default: bool | None = False) -> bool | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
            return default
        return value

    def integer(self, key: str, required: bool = True) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "a whole number", value)
            return None
        return value

    def number(
        self, key: str, required: bool = False, low: float | None = None, high: float | None = None
    ) -> float | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._wrong(key, "a number", value)
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
            self.err(key, f"{value} is out of range (must be {bounds})")
            return None
        return value

    def enum(self, key: str, choices: tuple[str, ...], required: bool = True) -> str | None:
        value = self.text(key, required)
        if value is None:
            return None
        if value not in choices:
            self.err(key, f"'{value}' is not one of: {', '.join(choices)}")
            return None
        return value

    def _as_date(self, key: str, value: Any, line: int | None = None) -> date | None:
        if isinstance(value, datetime):
            self._wrong(key, "a date (YYYY-MM-DD)", value, line)
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                if re.match(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$", value):
                    self.err(key, f"'{value.strip()}' is not a valid date", line)
                    return None
        self._wrong(key, "a date (YYYY-MM-DD)", value, line)
        return None

    def date_field(self, key: str, required: bool = True) -> date | None:
        value = self._get(key, required)
        if value is None:
            return None
        return self._as_date(key, value)

    # -- collections --------------------------------------------------------------------------

    def _list(self, key: str, required: bool, non_empty: bool) -> LineList | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, LineList):
            self._wrong(key, "a list", value)
            return None
        if non_empty and not value:
            self.err(key, "must list at least one item")
        return value

    def text_items(self, key: str, required: bool = False, non_empty: bool = False) -> list[tuple[str, int]]:
        """(text, line) for each item of a list of texts; other items are reported."""
        items = self._list(key, required, non_empty)
        if items is None:
            return []
        found = []
        for index, value in enumerate(items):
            line = items.line_of(index)
            if not isinstance(value, str) or isinstance(value, InvalidDate) or not value.strip():
                self._wrong(key, "text", value, line)
                continue
            found.append((value.strip(), line))
        return found

    def texts(self, key: str, required: bool = False, non_empty: bool = False) -> tuple[str, ...] | None:
        if key not in self.data and not required:
            return None
        return tuple(v for v, _ in self.text_items(key, required, non_empty))

    def date_items(self, key: str, required: bool = False) -> list[tuple[date, int]]:
        items = self._list(key, required, non_empty=False)
        if items is None:
            return []
        found = []
        for index, value in enumerate(items):
            line = items.line_of(index)
            day = self._as_date(key, value, line)
            if day is not None:
                found.append((day, line))
        return found

    def dates(self, key: str, required: bool = False) -> tuple[date, ...] | None:
        if key not in self.data and not required:
            return None
        return tuple(sorted(d for d, _ in self.date_items(key, required)))

    def maps(
        self, key: str, required: bool = False, non_empty: bool = False
    ) -> Iterator[tuple[LineDict, int, int]]:
        """(mapping, line, index) for each item of a list of mappings; other items are reported."""
        items = self._list(key, required, non_empty)
        if items is None:
            return
        for index, value in enumerate(items):
            line = items.line_of(index)
            if not isinstance(value, LineDict):
                self._wrong(f"{key}[{index}]", "a mapping", value, line)
                continue
            yield value, line, index

    def mapping(
        self, key: str, required: bool, allowed: Collection[str] | None, unknown: str = "key"
    ) -> Record | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, LineDict):
            self._wrong(key, "a mapping", value)
            return None
        if unknown != "key" and allowed is not None:
            sub = Record(self.reporter, self.src, self.field(key), value, None)
            for k in value:
                if k not in allowed:
                    sub.err(str(k), f"'{k}' is not a {unknown} (use {', '.join(allowed)})")
            return sub
        return Record(self.reporter, self.src, self.field(key), value, allowed)

    def hours(self, key: str, required: bool, non_empty: bool) -> Hours | None:
        """A list of "HH:MM-HH:MM" ranges, sorted; None when missing or any range is wrong."""
        items = self._list(key, required, non_empty)
        if items is None:
            return None
        ranges: list[tuple[time, time]] = []
        ok = True
        for index, value in enumerate(items):
            line = items.line_of(index)
            if not isinstance(value, str):
                self._wrong(key, 'a time range "HH:MM-HH:MM"', value, line)
                ok = False
                continue
            parsed = parse_range(value)
            if isinstance(parsed, str):
                self.err(key, parsed, line)
                ok = False
                continue
            for other in ranges:
                if parsed[0] < other[1] and other[0] < parsed[1]:
                    self.err(key, f"'{value.strip()}' overlaps {other[0]:%H:%M}-{other[1]:%H:%M}", line)
                    ok = False
            ranges.append(parsed)
        return tuple(sorted(ranges)) if ok else None


def read_contacts(rec: Record, key: str, required: bool = True) -> Contacts | None:
    """A ``contacts`` block (partners and services): email, phone and web, at least one of them."""
    crec = rec.mapping(key, required=required, allowed=CONTACT_KEYS)
    if crec is None:
        return None
    email = crec.text("email", required=False)
    phone = crec.text("phone", required=False)
    web = crec.text("web", required=False)
    if email is not None and not EMAIL_RE.match(email):
        crec.err("email", f"'{email}' is not an email address")
    if web is not None and not WEB_RE.match(web):
        crec.err("web", f"'{web}' is not a web address (write it with https://)")
    if not any(crec.data.get(k) is not None for k in CONTACT_KEYS):
        rec.err(key, "no contact: give at least one of email, phone, web")
    return Contacts(email=email, phone=phone, web=web)
