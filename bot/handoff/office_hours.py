"""When a partner's operators are around: office hours and holidays from the knowledge base, in Rome time.

Pure functions of a partner and an aware ``datetime`` (the caller's clock, so tests freeze time by passing
one). A day missing from ``office_hours`` is closed; a date in the partner's ``holidays`` is closed all day,
and so are Italy's national public holidays, which the partners' lists do not repeat. Those come from the
``holidays`` package (``holidays.country_holidays("IT")``, maintained with the law: it knows, for example,
that 4 October is a national holiday again from 2026, Law 151 of 8 October 2025). Daylight saving time
is handled by ``zoneinfo``: "9:00" is 9:00 in Rome on that date.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

ROME = ZoneInfo("Europe/Rome")
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOK_AHEAD_DAYS = 60  # a partner with no opening in the next 60 days is treated as never open


class HasHours(Protocol):
    @property
    def office_hours(self) -> Mapping[str, Sequence[tuple[time, time]]]: ...

    @property
    def holidays(self) -> Sequence[date]: ...


@dataclass(frozen=True)
class Availability:
    open_now: bool
    next_open: datetime | None  # Rome time; None when open now or no opening is known
    closes_at: datetime | None  # Rome time, when open now


@functools.cache
def _italian_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("IT")


def national_holiday(day: date) -> bool:
    """Whether ``day`` is a national public holiday in Italy."""
    return day in _italian_holidays()


def spans_on(partner: HasHours, day: date) -> list[tuple[datetime, datetime]]:
    """The partner's opening intervals on ``day`` (Rome time), empty on holidays and closed days."""
    if day in partner.holidays or national_holiday(day):
        return []
    spans = partner.office_hours.get(WEEKDAY_KEYS[day.weekday()]) or ()
    return [
        (datetime.combine(day, start, tzinfo=ROME), datetime.combine(day, end, tzinfo=ROME))
        for start, end in spans
        if end > start
    ]


def _spans_from(partner: HasHours, start: datetime, days: int) -> Iterator[tuple[datetime, datetime]]:
    first = start.astimezone(ROME).date()
    for offset in range(days + 1):
        yield from spans_on(partner, first + timedelta(days=offset))


def availability(partner: HasHours, now: datetime) -> Availability:
    """Whether the operators are around at ``now`` and, if not, when they will be."""
    for start, end in _spans_from(partner, now, LOOK_AHEAD_DAYS):
        if start <= now < end:
            return Availability(True, None, end)
        if start > now:
            return Availability(False, start, None)
    return Availability(False, None, None)


def open_seconds_between(partner: HasHours, start: datetime, end: datetime) -> float:
    """How many seconds of office hours there are between ``start`` and ``end``."""
    if end <= start:
        return 0.0
    total = 0.0
    days = (end.astimezone(ROME).date() - start.astimezone(ROME).date()).days
    for a, b in _spans_from(partner, start, days):
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total
