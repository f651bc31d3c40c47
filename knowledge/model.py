"""The knowledge base as immutable Python objects.

Built by :func:`knowledge.loader.load` from the YAML files described in ``knowledge/README.md``,
after :mod:`knowledge.validate` has found no error. Nothing here reads files.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from knowledge.referrals import Referral, find_referral

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


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """The whole knowledge base. Immutable; a new version is a new object."""

    territories: dict[str, Territory]
    towns: dict[str, Town]
    partners: dict[str, Partner]
    topics: dict[str, Topic]
    services: tuple[Service, ...]
    school_year: SchoolYear
    closures: tuple[Closure, ...]
    welfare: dict[str, Any]
    digest: str = ""
    warnings: tuple[Problem, ...] = ()
    path: Path | None = None
    referrals: tuple[Referral, ...] = ()  # knowledge/referrals.py
    _services_by_id: dict[str, Service] = field(init=False, repr=False)
    _place_index: Any = field(init=False, repr=False, default=None)
    _lock: threading.Lock = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_services_by_id", {s.id: s for s in self.services})
        object.__setattr__(self, "_lock", threading.Lock())

    # -- look-ups ---------------------------------------------------------------------------------

    def service(self, service_id: str) -> Service | None:
        return self._services_by_id.get(service_id)

    @property
    def default_partner(self) -> Partner:
        for partner in self.partners.values():
            if partner.default:
                return partner
        raise LookupError("the knowledge base has no default partner")

    def find_services(
        self,
        topic: str | None = None,
        kinds: Iterable[str] | str | None = None,
        territory: str | None = None,
        town: Town | str | None = None,
        age: float | None = None,
        on: date | None = None,
        month: int | None = None,
        between: tuple[date, date] | None = None,
    ) -> list[Service]:
        """Services matching every filter given, sorted by period start then title.

        ``town``: services of that town plus the whole-territory services (``towns == ()``) of its
        territory; an unknown town matches nothing. ``age``: inside ``ages`` (services without ages
        match). ``on``: the service runs that day (inside the period, not a closed day, a scheduled
        weekday). ``month`` (1-12) and ``between`` (first, last): the period overlaps them.
        """
        kind_set = {kinds} if isinstance(kinds, str) else set(kinds) if kinds is not None else None
        town_obj: Town | None = None
        if town is not None:
            town_obj = town if isinstance(town, Town) else self.towns.get(town) or self.resolve_town(town)
            if town_obj is None:
                return []
        if month is not None and not 1 <= month <= 12:
            raise ValueError(f"month must be 1-12, not {month}")
        found = []
        for service in self.services:
            if topic is not None and service.topic != topic:
                continue
            if kind_set is not None and service.kind not in kind_set:
                continue
            if territory is not None and territory not in service.territories:
                continue
            if town_obj is not None:
                if service.towns:
                    if town_obj.name not in service.towns:
                        continue
                elif town_obj.territory not in service.territories:
                    continue
            if age is not None and service.ages is not None and age not in service.ages:
                continue
            if on is not None and not service.is_open_on(on):
                continue
            if month is not None and not service.period.has_month(month):
                continue
            if between is not None and not service.period.overlaps(*between):
                continue
            found.append(service)
        found.sort(key=lambda s: (s.period.start, s.title))
        return found

    def partner_for(self, topic: str | None, territory: str | None) -> Partner | None:
        """The partner covering ``topic`` in ``territory`` (None = any), preferring a non-default one."""
        covering = [
            p
            for p in self.partners.values()
            if (topic is None or topic in p.topics) and (territory is None or territory in p.territories)
        ]
        covering.sort(key=lambda p: p.default)  # stable: file order among equals
        return covering[0] if covering else None

    def find_referral(self, text: str, exclusive_only: bool = False) -> Referral | None:
        """The referral whose keyword phrase (longest first) the normalised ``text`` contains, or None."""
        return find_referral(self.referrals, text, exclusive_only)

    def closures_for(self, rite: str | None = None, kind: str | None = None) -> list[Closure]:
        """Closures for a town's rite (``all`` closures always apply) and/or of one kind, by start date."""
        found = [
            c
            for c in self.closures
            if (rite is None or c.rite in ("all", rite)) and (kind is None or c.kind == kind)
        ]
        return sorted(found, key=lambda c: (c.start, c.id))

    # -- places (see knowledge.places) ------------------------------------------------------------

    def _places(self) -> Any:
        index = self._place_index
        if index is None:
            from knowledge.places import PlaceIndex

            with self._lock:
                index = self._place_index
                if index is None:
                    index = PlaceIndex(self)
                    object.__setattr__(self, "_place_index", index)
        return index

    def resolve_town(self, text: str) -> Town | None:
        """The town named by ``text`` (one name, typos tolerated), or None."""
        return self._places().resolve_town(text)  # type: ignore[no-any-return]

    def find_place(self, text: str) -> Place | None:
        """The town, ambito or area a whole message mentions, or None."""
        return self._places().find_place(text)  # type: ignore[no-any-return]

    def nearest_town(self, lat: float, lon: float, max_km: float = 10) -> Town | None:
        """The town whose centre is nearest to (lat, lon), if within ``max_km``."""
        return self._places().nearest_town(lat, lon, max_km)  # type: ignore[no-any-return]
