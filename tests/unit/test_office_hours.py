"""Office hours of a partner in Rome time, on an injected clock: open now or when next, holidays, DST, and the
office time that passes between two instants (the unclaimed timer counts only that)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace

import pytest

from bot.handoff import texts as txt
from bot.handoff.office_hours import ROME, availability, open_seconds_between
from knowledge import load

KB = load()
MAGENTINO = KB.partners["azienda-consortile-magentino"]  # mon/thu 9-13 + 14-16:30, tue/wed/fri 9-13


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)


def partner(hours: dict[str, list[tuple[str, str]]], holidays: tuple[date, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(
        office_hours={
            day: tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans)
            for day, spans in hours.items()
        },
        holidays=holidays,
    )


@pytest.mark.parametrize(
    ("now", "open_now", "next_open"),
    [
        (rome(2026, 11, 26, 10, 0), True, None),  # Thursday morning
        (rome(2026, 11, 26, 13, 30), False, rome(2026, 11, 26, 14, 0)),  # lunch break
        (rome(2026, 11, 26, 16, 30), False, rome(2026, 11, 27, 9, 0)),  # closing time is closed
        (rome(2026, 11, 27, 18, 0), False, rome(2026, 11, 30, 9, 0)),  # Friday evening → Monday
        (rome(2026, 11, 28, 11, 0), False, rome(2026, 11, 30, 9, 0)),  # Saturday
        # 24 Dec is the partner's holiday, 25 and 26 national ones, 27 a Sunday
        (rome(2026, 12, 23, 20, 0), False, rome(2026, 12, 28, 9, 0)),
        (rome(2027, 3, 27, 10, 0), False, rome(2027, 3, 30, 9, 0)),  # Easter Monday 29 March 2027
        (rome(2026, 11, 26, 8, 59), False, rome(2026, 11, 26, 9, 0)),
    ],
)
def test_availability_from_the_knowledge_base(now, open_now, next_open):
    status = availability(MAGENTINO, now)

    assert status.open_now is open_now
    assert status.next_open == next_open


def test_the_instant_may_come_in_any_time_zone():
    utc = datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc)  # 9:30 in Rome (winter, UTC+1)
    assert availability(MAGENTINO, utc).open_now
    summer = datetime(2027, 6, 15, 7, 30, tzinfo=timezone.utc)  # 9:30 in Rome (summer, UTC+2)
    assert availability(MAGENTINO, summer).open_now
    assert not availability(MAGENTINO, datetime(2027, 6, 15, 6, 30, tzinfo=timezone.utc)).open_now


def test_daylight_saving_change_keeps_local_hours():
    p = partner({"mon": [("09:00", "12:00")]})
    # Sunday 29 March 2026 clocks go forward; Monday opens at 9:00 Rome time = 7:00 UTC
    status = availability(p, rome(2026, 3, 28, 12, 0))
    assert status.next_open == rome(2026, 3, 30, 9, 0)
    assert status.next_open.astimezone(timezone.utc).hour == 7


def test_easter_and_national_holidays():
    from dateutil.easter import easter

    from bot.handoff.office_hours import national_holiday

    assert [easter(y) for y in (2026, 2027, 2028)] == [date(2026, 4, 5), date(2027, 3, 28), date(2028, 4, 16)]
    assert national_holiday(date(2027, 3, 29)) and national_holiday(date(2026, 12, 8))
    assert not national_holiday(date(2027, 3, 30)) and not national_holiday(date(2026, 12, 7))


def test_saint_francis_is_a_national_holiday_again_from_2026():
    """4 October, Law 151 of 8 October 2025: a working day in 2025, a holiday from 2026 on."""
    from bot.handoff.office_hours import national_holiday

    assert not national_holiday(date(2025, 10, 4))
    assert national_holiday(date(2026, 10, 4)) and national_holiday(date(2027, 10, 4))
    weekdays = {day: [("09:00", "12:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    # Sunday 4 October 2026 at 10:00: closed all day; the next opening is Monday 5 at 9:00
    status = availability(partner(weekdays), rome(2026, 10, 4, 10, 0))
    assert (status.open_now, status.next_open) == (False, rome(2026, 10, 5, 9, 0))


def test_a_partner_never_open_has_no_next_opening():
    status = availability(partner({}), rome(2026, 11, 26, 10, 0))
    assert (status.open_now, status.next_open) == (False, None)


def test_open_seconds_count_only_office_hours():
    thursday_noon = rome(2026, 11, 26, 12, 0)
    # 12:00-13:00 open, 13:00-14:00 closed, 14:00-14:30 open
    assert open_seconds_between(MAGENTINO, thursday_noon, rome(2026, 11, 26, 14, 30)) == 90 * 60
    # Friday 12:50 → Monday 9:10: 10 minutes on Friday, 10 on Monday
    assert open_seconds_between(MAGENTINO, rome(2026, 11, 27, 12, 50), rome(2026, 11, 30, 9, 10)) == 20 * 60
    assert open_seconds_between(MAGENTINO, rome(2026, 11, 28, 0, 0), rome(2026, 11, 29, 23, 0)) == 0
    assert open_seconds_between(MAGENTINO, thursday_noon, thursday_noon - timedelta(hours=1)) == 0


def test_when_and_durations_in_plain_italian():
    now = rome(2026, 11, 27, 18, 0)
    assert txt.when(rome(2026, 11, 27, 19, 5), now) == "oggi alle 19:05"
    assert txt.when(rome(2026, 11, 28, 9, 0), now) == "domani alle 9:00"
    assert txt.when(rome(2026, 11, 30, 9, 0), now) == "lunedì 30 novembre alle 9:00"
    assert txt.when(rome(2026, 12, 1, 9, 0), now) == "martedì 1° dicembre alle 9:00"
    assert [txt.duration(s) for s in (1, 45, 600, 3600, 86_400, 3 * 86_400)] == [
        "1 secondo",
        "45 secondi",
        "10 minuti",
        "1 ora",
        "24 ore",
        "3 giorni",
    ]
    assert txt.place_in_queue(1) == "Sei la prima persona in coda."
    assert txt.place_in_queue(3) == "Ci sono 2 persone prima di te."
