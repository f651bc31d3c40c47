"""The knowledge base as one immutable object: its records and the look-ups over them.

Built by :func:`knowledge.loader.load` from the YAML files described in ``knowledge/README.md``,
after :mod:`knowledge.validate` has found no error. Nothing here reads files. The records themselves
are in :mod:`knowledge.records`; finding places in text is :mod:`knowledge.places`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from knowledge.places import PlaceIndex
from knowledge.records import (
    Closure,
    Partner,
    Place,
    Problem,
    SchoolYear,
    Service,
    Territory,
    Topic,
    Town,
)
from knowledge.referrals import Referral, find_referral


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
    _place_index: PlaceIndex | None = field(init=False, repr=False, default=None)
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

    def find_referral(self, text: str, exclusive_only: bool = False, loose: bool = False) -> Referral | None:
        """The referral whose keyword phrase (longest first) the normalised ``text`` contains, or None;
        ``loose`` also accepts the phrase's words in another form or order (knowledge.referrals)."""
        return find_referral(self.referrals, text, exclusive_only, loose)

    def closures_for(self, rite: str | None = None, kind: str | None = None) -> list[Closure]:
        """Closures for a town's rite (``all`` closures always apply) and/or of one kind, by start date."""
        found = [
            c
            for c in self.closures
            if (rite is None or c.rite in ("all", rite)) and (kind is None or c.kind == kind)
        ]
        return sorted(found, key=lambda c: (c.start, c.id))

    # -- places (see knowledge.places) ------------------------------------------------------------

    def texts(self) -> Iterator[str]:
        """Every text of the knowledge base that is not a place name: its ordinary vocabulary."""
        for topic in self.topics.values():
            yield topic.name
            yield from topic.keywords
            for kind in topic.kinds.values():
                yield kind.name
                yield from kind.keywords
        for service in self.services:
            yield from (
                service.title,
                service.cost,
                service.description,
                service.enrolment.how,
                service.period.label,
            )
            if service.schedule.notes:
                yield service.schedule.notes
        for partner in self.partners.values():
            yield from (partner.name, partner.role, partner.away_message or "")
        for closure in self.closures:
            yield from (closure.name, closure.notes or "")
        yield from _strings(self.welfare)

    def _places(self) -> PlaceIndex:
        index = self._place_index
        if index is None:
            with self._lock:
                index = self._place_index
                if index is None:
                    index = PlaceIndex(self.towns.values(), self.territories.values(), self.texts())
                    object.__setattr__(self, "_place_index", index)
        return index

    def resolve_town(self, text: str) -> Town | None:
        """The town named by ``text`` (one name, typos tolerated), or None."""
        return self._places().resolve_town(text)

    def find_place(self, text: str) -> Place | None:
        """The town, ambito or area a whole message mentions, or None."""
        return self._places().find_place(text)

    def nearest_town(self, lat: float, lon: float, max_km: float = 10) -> Town | None:
        """The town whose centre is nearest to (lat, lon), if within ``max_km``."""
        return self._places().nearest_town(lat, lon, max_km)


def resolve_town(kb: KnowledgeBase, text: str) -> Town | None:
    """The town named by ``text`` (one name; typos tolerated), or None."""
    return kb.resolve_town(text)


def find_place(kb: KnowledgeBase, text: str) -> Place | None:
    """The town, ambito or area a whole message mentions (a town wins over an area), or None."""
    return kb.find_place(text)


def nearest_town(kb: KnowledgeBase, lat: float, lon: float, max_km: float = 10) -> Town | None:
    """The town whose centre is nearest to (lat, lon), if within ``max_km``."""
    return kb.nearest_town(lat, lon, max_km)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
