"""The records of the knowledge base: towns, partners, services, closures... as immutable objects.

Built by :mod:`knowledge.validate` from the YAML files described in ``knowledge/README.md`` and
assembled into a :class:`knowledge.model.KnowledgeBase`. Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from typing import Literal

Severity = Literal["error", "warning"]
Hours = tuple[tuple[time, time], ...]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index == date.weekday()


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the knowledge base files, with where it is."""

    file: str
    line: int
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class KnowledgeBaseInvalid(Exception):
    """The knowledge base files have errors; ``problems`` lists them all (warnings included)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.errors: tuple[Problem, ...] = tuple(p for p in self.problems if p.severity == "error")
        shown = "\n".join(f"  {p}" for p in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"knowledge base has {len(self.errors)} error(s):\n{shown}{more}")


@dataclass(frozen=True)
class Town:
    name: str  # canonical spelling, with accents where the name has them
    territory: str  # territory id
    aliases: tuple[str, ...] = ()
    rite: str = "ambrosian"  # ambrosian | roman
    lat: float | None = None
    lon: float | None = None
    verify: bool = False


@dataclass(frozen=True)
class Territory:
    id: str
    name: str
    area: str | None
    aliases: tuple[str, ...]
    towns: tuple[str, ...]  # canonical town names


@dataclass(frozen=True)
class Place:
    """Where a message says the person is or is asking about.

    A town: ``town`` set, ``territory`` its ambito, ``territories`` = (territory,).
    An ambito ("nell'abbiatense"): ``town`` None, ``territory`` set.
    An area spanning several ambiti ("Alto Milanese"): ``town`` and ``territory`` None, ``territories`` set.
    """

    town: Town | None
    territory: str | None
    territories: tuple[str, ...]


@dataclass(frozen=True)
class Contacts:
    email: str | None = None
    phone: str | None = None
    web: str | None = None


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    kind: str
    role: str
    territories: tuple[str, ...]
    topics: tuple[str, ...]
    default: bool
    contacts: Contacts
    office_hours: dict[str, Hours] = field(hash=False)  # "mon".."sun"; a missing day is closed
    holidays: tuple[date, ...] = ()
    away_message: str | None = None
    sample: bool = True
    last_reviewed: date | None = None


@dataclass(frozen=True)
class Kind:
    id: str
    name: str
    topic: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    keywords: tuple[str, ...]
    kinds: dict[str, Kind] = field(hash=False)


@dataclass(frozen=True)
class Ages:
    min: int
    max: int

    def __contains__(self, age: object) -> bool:
        return isinstance(age, (int, float)) and self.min <= age <= self.max


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date
    closed_on: tuple[date, ...] = ()

    def overlaps(self, first: date, last: date) -> bool:
        return self.start <= last and self.end >= first

    def has_month(self, month: int) -> bool:
        """True when any day of the period falls in ``month`` (1-12), whatever the year."""
        year, mon = self.start.year, self.start.month
        while (year, mon) <= (self.end.year, self.end.month):
            if mon == month:
                return True
            year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
        return False


@dataclass(frozen=True)
class Schedule:
    days: tuple[str, ...]  # "mon".."sun"
    hours: Hours
    notes: str | None = None


@dataclass(frozen=True)
class Cost:
    amount: float
    per: str  # week | month | hour | day | period | year | once


@dataclass(frozen=True)
class Enrolment:
    how: str
    opens: date | None = None
    deadline: date | None = None


@dataclass(frozen=True)
class Service:
    id: str
    title: str
    topic: str
    kind: str
    provider: str  # partner id
    territories: tuple[str, ...]
    towns: tuple[str, ...]  # canonical town names; () = the whole of its territories
    ages: Ages | None
    period: Period
    schedule: Schedule
    cost: str
    cost_eur: Cost | None
    enrolment: Enrolment
    contacts: Contacts
    description: str = ""
    open_to_non_residents: bool | None = None
    sample: bool = True
    verify: bool = False
    last_reviewed: date | None = None

    def is_open_on(self, day: date) -> bool:
        """Inside the period, not a closed day, on one of the schedule's weekdays."""
        return (
            self.period.start <= day <= self.period.end
            and day not in self.period.closed_on
            and WEEKDAYS[day.weekday()] in self.schedule.days
        )


@dataclass(frozen=True)
class SchoolYear:
    id: str
    region: str
    source: str
    start: date
    start_infanzia: date
    end: date
    end_infanzia: date
    verify: bool = False


@dataclass(frozen=True)
class Closure:
    id: str
    name: str
    kind: str  # holiday | christmas | easter | carnival | bridge | summer
    start: date
    end: date
    rite: str = "all"  # all | ambrosian | roman
    notes: str | None = None
    verify: bool = False
