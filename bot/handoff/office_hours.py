"""When a partner's operators are around: office hours and holidays from the knowledge base, in Rome time.

Pure functions of a partner and an aware ``datetime`` (the caller's clock, so tests freeze time by passing
one). A day missing from ``office_hours`` is closed; a date in the partner's ``holidays`` is closed all day,
and so are Italy's national public holidays (fixed by law, Easter Monday included), which the partners'
lists do not repeat. Daylight saving time is handled by ``zoneinfo``: "9:00" is 9:00 in Rome on that date.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

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


# Italian national public holidays (month, day); Easter Monday is computed.
NATIONAL_HOLIDAYS = ((1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26))


def easter(year: int) -> date:
    """Easter Sunday (Gregorian calendar, the anonymous algorithm of Meeus, Jones and Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    return date(year, month, (h + ell - 7 * m + 114) % 31 + 1)


def national_holiday(day: date) -> bool:
    return (day.month, day.day) in NATIONAL_HOLIDAYS or day == easter(day.year) + timedelta(days=1)


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
