"""The age and the period a person asked about, for the "demand not met" of the needs dashboard, and
whether the knowledge base has a service for them.

The reply meta says what an answer was about (topic, territory, services shown) but not the child's age or
the period asked: those are read here from the person's own messages ("centri estivi ad agosto, ha 8
anni"), in memory, and only the age band and the period leave this module. As the assistant's slots do, an
age stays for the rest of the conversation, a period until the topic changes without a new period being
named, and both are forgotten after :data:`SESSION` of silence (``session_expiration_time`` in
``nlu/domain.yml``). Texts already purged by the retention job tell nothing.

A question counts as met when the knowledge base of today has a service of its topic in its territory for
that age and period; so an answer that showed other services (July's camps to somebody asking for
August) is still demand not met, for August.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from bot.store.insights import AnswerMeta, Question
from knowledge import KnowledgeBase, normalise
from knowledge.italian import MONTHS

SESSION = timedelta(minutes=720)
NUMBERS = {"un": 1, "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7}
NUMBERS |= {"otto": 8, "nove": 9, "dieci": 10, "undici": 11, "dodici": 12, "tredici": 13, "quattordici": 14}
_AGE = re.compile(r"\b(\d{1,2}|" + "|".join(NUMBERS) + r") (anni|anno|mesi|mese)\b")
_AGE_ENTITY = re.compile(r'"age"\s*:\s*"?(\d{1,2}(?:\.\d+)?)')
# the periods a person names, by their key: months "01".."12" and the school closures' kinds
HOLIDAYS = {"natale": "christmas", "natalizie": "christmas", "capodanno": "christmas", "pasqua": "easter"}
HOLIDAYS |= {"pasquali": "easter", "carnevale": "carnival", "ponte": "bridge", "ponti": "bridge"}
SUMMER = ("estate", "estivo", "estivi", "estiva", "estive")
PERIOD_NAMES = {f"{n:02d}": name for n, name in enumerate(MONTHS, 1)}
PERIOD_NAMES |= {"christmas": "Natale", "easter": "Pasqua", "carnival": "Carnevale", "bridge": "ponti"}
PERIOD_NAMES |= {"summer": "estate"}
AGE_BANDS = ((0, 5, "fino a 5 anni"), (6, 10, "6-10 anni"), (11, 14, "11-14 anni"), (15, 17, "15-17 anni"))
NO_AGE, NO_PERIOD = "età non detta", "periodo non detto"


def read_age(text: str) -> int | None:
    """The child's age in years named by a message or a button's payload (``/inform{"age":8}``)."""
    entity = _AGE_ENTITY.search(text)
    if entity:
        years = int(float(entity.group(1)))
    else:
        m = _AGE.search(normalise(text))
        if m is None:
            return None
        raw, unit = m.groups()
        n = int(raw) if raw.isdigit() else NUMBERS[raw]
        years = n // 12 if unit.startswith("mes") else n
    return years if 0 <= years <= 17 else None


def read_period(text: str) -> str | None:
    """The key of the period a message names: a month ("08"), a closure kind ("christmas"), "summer"."""
    padded = f" {normalise(text)} "
    for n, name in enumerate(MONTHS, 1):
        if f" {name} " in padded:
            return f"{n:02d}"
    for word, kind in HOLIDAYS.items():
        if f" {word} " in padded:
            return kind
    return "summer" if any(f" {w} " in padded for w in SUMMER) else None


def _said(q: Question) -> str:
    text = q.text or ""
    if q.payload:  # a button: its title is the text, its entities are in the payload
        try:
            entities = json.loads(q.payload[q.payload.index("{") :]) if "{" in q.payload else {}
        except ValueError:
            entities = {}
        if isinstance(entities, dict):
            text += " " + json.dumps(entities, ensure_ascii=False)
    return text


@dataclass
class _Heard:
    """What one person's conversation has said so far."""

    age: int | None = None
    period: str | None = None
    topic: str | None = None
    last: datetime | None = None
    read: int = 0  # how many of her questions


def with_asked(answers: Sequence[AnswerMeta], questions: Iterable[Question]) -> list[AnswerMeta]:
    """The answers, each with the age and period its person had asked about by then (in message order)."""
    by_user: dict[int, list[Question]] = defaultdict(list)
    for q in sorted(questions, key=lambda q: q.id):
        by_user[q.user_id].append(q)
    heard: dict[int, _Heard] = defaultdict(_Heard)
    out = []
    for a in sorted(answers, key=lambda a: a.id):
        h, qs = heard[a.user_id], by_user.get(a.user_id, [])
        named_period = False
        while h.read < len(qs) and qs[h.read].id < a.id:
            q = qs[h.read]
            h.read += 1
            if h.last is not None and q.at - h.last > SESSION:
                h.age = h.period = h.topic = None
            h.last = q.at
            said = _said(q)
            age = read_age(said)
            h.age = age if age is not None else h.age
            period = read_period(said)
            if period is not None:
                h.period, named_period = period, True
        topic = a.meta.get("topic")
        if h.topic is not None and topic not in (None, h.topic) and not named_period:
            h.period = None  # another topic, and no period named with it: the old one does not carry
        h.topic = topic or h.topic
        out.append(replace(a, age=h.age, period=h.period))
    return out


def age_band(age: int | None) -> str:
    if age is None:
        return NO_AGE
    return next(label for lo, hi, label in AGE_BANDS if lo <= age <= hi)


def period_name(period: str | None) -> str:
    return PERIOD_NAMES.get(period, period) if period else NO_PERIOD


def _between(kb: KnowledgeBase, period: str, on: date) -> tuple[date, date] | None:
    """The days a closure kind or the summer means, seen from ``on`` (as the assistant reads them)."""
    if period == "summer":
        return kb.school_year.end + timedelta(days=1), date(kb.school_year.end.year, 9, 11)
    closures = sorted((c for c in kb.closures if c.kind == period and c.end >= on), key=lambda c: c.start)
    if not closures:
        return None
    first = closures[0]
    last = max((c for c in closures if c.start <= first.start + timedelta(days=20)), key=lambda c: c.end)
    return first.start, last.end


def covered(kb: KnowledgeBase, answer: AnswerMeta) -> bool:
    """Whether the knowledge base has a service of the answer's topic in its territory for the age and
    the period asked (those not asked do not narrow it)."""
    topic, territory = answer.meta.get("topic"), answer.meta.get("territory")
    month = int(answer.period) if answer.period and answer.period.isdigit() else None
    between = None
    if answer.period and month is None:
        between = _between(kb, answer.period, answer.at.date())
        if between is None:
            return False  # no such closure ahead: nothing can be offered for it
    found = kb.find_services(topic=topic, territory=territory, age=answer.age, month=month, between=between)
    return bool(found)
