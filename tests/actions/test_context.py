"""Reading ages, periods and places out of Italian messages."""

from __future__ import annotations

from datetime import date

import pytest

from actions.context import parse_age, parse_period, parse_place
from knowledge import italian as fmt
from knowledge import load, normalise

KB = load()
TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("mia figlia ha 7 anni", 7.0),
        ("un bimbo di 3 anni", 3.0),
        ("ha sette anni", 7.0),
        ("ha 18 mesi", 1.0),
        ("mio figlio di un anno", 1.0),
        ("siamo 12 dipendenti", None),
        ("ho 45 anni", None),
        ("centri estivi a luglio", None),
    ],
)
def test_age(text, age):
    assert parse_age(normalise(text), []) == age


def test_age_from_entity_wins():
    assert parse_age("", [{"entity": "age", "value": "9"}]) == 9.0


def test_month_means_the_next_one():
    p = parse_period(KB, normalise("centri estivi per luglio"), [], TODAY)
    assert (p.start, p.end) == (date(2027, 7, 1), date(2027, 7, 31))
    p = parse_period(KB, normalise("a dicembre"), [], TODAY)
    assert (p.start, p.end) == (date(2026, 12, 1), date(2026, 12, 31))


def test_holidays_come_from_the_school_calendar():
    p = parse_period(KB, normalise("cosa fanno a Natale?"), [], TODAY)
    christmas = [c for c in KB.closures if c.kind == "christmas"]
    assert p.closure_kind == "christmas"
    assert p.start == min(c.start for c in christmas)
    p = parse_period(KB, normalise("quando è carnevale"), [], TODAY)
    assert p.closure_kind == "carnival" and p.start.month == 2


@pytest.mark.parametrize(
    ("text", "comune", "territory"),
    [
        ("centri estivi a Corbetta", "Corbetta", "magentino"),
        ("abito ad abbiategrsso", "Abbiategrasso", "abbiatense"),
        ("sono di castano", "Castano Primo", "castanese"),
        ("nell'abbiatense", None, "abbiatense"),
        ("quanto costa?", None, None),
    ],
)
def test_place(text, comune, territory):
    c, t, _ = parse_place(KB, normalise(text), [])
    assert (c, t) == (comune, territory)


def test_alto_milanese_is_two_territories():
    _, _, territories = parse_place(KB, normalise("in Alto Milanese"), [])
    assert set(territories) == {"castanese", "legnanese"}


def test_italian_formats():
    assert fmt.day(date(2026, 9, 14)) == "lunedì 14 settembre"
    assert fmt.day(date(2027, 4, 1), weekday=False) == "1° aprile"
    assert fmt.euro(35) == "35 €" and fmt.euro(2000) == "2.000 €" and fmt.euro(12.5) == "12,50 €"
    assert fmt.days(["mon", "tue", "wed", "thu", "fri"]) == "dal lunedì al venerdì"
    assert fmt.days(["mon", "wed"]) == "lunedì e mercoledì"
    assert (
        fmt.to_place("Abbiategrasso") == "ad Abbiategrasso" and fmt.in_area("Abbiatense") == "nell'Abbiatense"
    )
    assert (
        fmt.day_range(date(2026, 12, 23), date(2027, 1, 6))
        == "da mercoledì 23 dicembre 2026 a mercoledì 6 gennaio 2027"
    )
