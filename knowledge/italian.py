"""Italian formatting of dates, times, ages and lists, shared by the actions and the gateway:
"lunedì 14 settembre", "35 €", "18:30"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, time

WEEKDAYS = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")
MONTHS = (
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
)
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SHORT = {"mon": "lun", "tue": "mar", "wed": "mer", "thu": "gio", "fri": "ven", "sat": "sab", "sun": "dom"}
DAY_LONG = dict(zip(DAY_KEYS, WEEKDAYS, strict=True))


def day(d: date, weekday: bool = True, year: bool = False) -> str:
    """'lunedì 14 settembre' (with year: 'lunedì 14 settembre 2026')."""
    text = f"{'1°' if d.day == 1 else d.day} {MONTHS[d.month - 1]}"
    if year:
        text += f" {d.year}"
    return f"{WEEKDAYS[d.weekday()]} {text}" if weekday else text


def day_range(start: date, end: date) -> str:
    """'da lunedì 14 giugno a venerdì 30 luglio', or 'lunedì 14 giugno' for one day; with the years
    when the range crosses a new year."""
    if start == end:
        return day(start)
    years = start.year != end.year
    return f"da {day(start, year=years)} a {day(end, year=years)}"


def to_place(name: str) -> str:
    """'a Corbetta', 'ad Abbiategrasso'."""
    return f"ad {name}" if name[:1].lower() == "a" else f"a {name}"


def in_area(name: str) -> str:
    """'nel Magentino', 'nell'Abbiatense'."""
    return f"nell'{name}" if name[:1].lower() in "aeiou" else f"nel {name}"


def clock(t: time) -> str:
    return f"{t.hour}:{t.minute:02d}"


def hours(spans: Iterable[tuple[time, time]]) -> str:
    """'8:30-12:30 e 14:00-17:00'."""
    return join_and([f"{clock(a)}-{clock(b)}" for a, b in spans])


def days(keys: Sequence[str]) -> str:
    """'dal lunedì al venerdì', 'sabato', 'lunedì, mercoledì e venerdì'."""
    keys = [k for k in DAY_KEYS if k in set(keys)]
    if not keys:
        return ""
    idx = [DAY_KEYS.index(k) for k in keys]
    if len(keys) >= 3 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"dal {DAY_LONG[keys[0]]} al {DAY_LONG[keys[-1]]}"
    return join_and([DAY_LONG[k] for k in keys])


def join_and(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " e " + items[-1]


def euro(amount: float) -> str:
    """'35 €', '2.000 €', '12,50 €'."""
    if float(amount).is_integer():
        return f"{int(amount):,} €".replace(",", ".")
    return f"{amount:,.2f} €".replace(",", "X").replace(".", ",").replace("X", ".")


def ages(lo: int | None, hi: int | None) -> str:
    if lo is None and hi is None:
        return ""
    if lo is not None and hi is not None:
        if lo == 0:
            return f"fino a {hi} anni"
        return f"da {lo} a {hi} anni"
    return f"da {lo} anni" if lo is not None else f"fino a {hi} anni"
