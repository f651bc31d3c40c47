"""The age and period people asked about, read from their messages for the dashboard's demand not met,
and whether the knowledge base has a service for them (the real knowledge base of knowledge/data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.insights.asked import age_band, covered, period_name, read_age, read_period, with_asked
from bot.store.insights import AnswerMeta, Question
from knowledge import load

KB = load()
START = datetime(2027, 5, 4, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("centri estivi per mia figlia di 8 anni", 8),
        ("ha otto anni", 8),
        ("il piccolo ha 18 mesi", 1),
        ("6-10 anni", 10),
        ('/inform{"age":4}', 4),
        ("ho 40 anni e lavoro a Magenta", None),  # not a child's
        ("centri estivi ad agosto", None),
        ("sei disponibile?", None),
    ],
)
def test_the_age_a_message_names(text, age):
    assert read_age(text) == age


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("centri estivi ad agosto nel Magentino", "08"),
        ("e a Luglio?", "07"),
        ("vacanze di Natale", "christmas"),
        ("chi tiene i bimbi a pasqua", "easter"),
        ("un centro estivo", "summer"),
        ("un nido aperto la sera", None),
        ("agostino", None),
    ],
)
def test_the_period_a_message_names(text, period):
    assert read_period(text) == period


class Chat:
    """A scripted conversation: her questions and the assistant's answers, numbered in order."""

    def __init__(self, user_id: int = 1) -> None:
        self.user_id, self.at, self.n = user_id, START, 0
        self.questions: list[Question] = []
        self.answers: list[AnswerMeta] = []

    def says(self, text: str, topic: str | None = "school_closure", *, payload: str | None = None) -> Chat:
        self.n += 1
        self.questions.append(Question(self.n, self.user_id, self.at, text, payload))
        self.n += 1
        meta = {"intent": "ask_service", "topic": topic, "territory": "magentino", "service_ids": []}
        self.answers.append(AnswerMeta(self.user_id, self.at, meta, id=self.n))
        self.at += timedelta(minutes=1)
        return self

    def asked(self) -> list[tuple[int | None, str | None]]:
        return [(a.age, a.period) for a in with_asked(self.answers, self.questions)]


def test_an_age_stays_for_the_conversation_and_a_period_until_the_topic_changes():
    chat = Chat().says("un doposcuola nel Magentino?").says("ad agosto").says("ha 5 anni")
    chat.says("per mio figlio di 8 anni").says("e i nidi la sera?", topic="evening_nursery")
    assert chat.asked() == [(None, None), (None, "08"), (5, "08"), (8, "08"), (8, None)]
    assert Chat().says("centri estivi nel Magentino?").asked() == [(None, "summer")]


def test_a_buttons_payload_gives_the_age_and_a_long_silence_starts_afresh():
    chat = Chat().says("centri estivi a luglio").says("6-10 anni", payload='/inform{"age":8}')
    chat.at += timedelta(hours=13)
    chat.says("un doposcuola")
    assert chat.asked() == [(None, "07"), (8, "07"), (None, None)]


def test_two_people_do_not_mix_and_a_period_named_with_a_new_topic_counts():
    one, two = Chat(1).says("a Natale chi tiene i bimbi?"), Chat(2)
    two.n = 100
    two.says("un nido aperto la sera", topic="evening_nursery")
    one.says("e in estate il nido serale?", topic="evening_nursery")
    answers = with_asked(one.answers + two.answers, one.questions + two.questions)
    assert [(a.user_id, a.period) for a in answers] == [(1, "christmas"), (1, "summer"), (2, None)]


def answer(territory: str, age: int | None, period: str | None, topic: str = "school_closure", at=START):
    meta = {"intent": "ask_service", "topic": topic, "territory": territory}
    return AnswerMeta(1, at, meta, id=1, age=age, period=period)


def test_covered_by_the_knowledge_base_for_that_territory_age_and_period():
    # knowledge/data/services/school_closure.yml: in the Magentino a summer camp at the end of August for
    # 3-11 years (Arluno); in the Castanese none after July
    assert covered(KB, answer("magentino", 8, "08"))
    assert not covered(KB, answer("magentino", 13, "08"))
    assert not covered(KB, answer("castanese", None, "08"))
    assert covered(KB, answer("castanese", None, "07"))
    assert covered(KB, answer("castanese", None, None))
    # Christmas as the assistant reads it: the next one in the calendar (knowledge/data/calendar.yml)
    november = datetime(2026, 11, 10, tzinfo=UTC)
    assert covered(KB, answer("magentino", 8, "christmas", at=november))
    assert not covered(KB, answer("magentino", 2, "christmas", at=november))  # holiday camps from 3 years
    assert not covered(KB, answer("magentino", 8, "christmas"))  # in May: no Christmas in the calendar
    assert not covered(KB, answer("magentino", 1, "summer"))
    assert covered(KB, answer("magentino", 2, None, topic="evening_nursery"))


def test_the_names_of_age_bands_and_periods():
    assert [age_band(a) for a in (None, 0, 5, 6, 10, 14, 17)] == [
        "età non detta",
        "fino a 5 anni",
        "fino a 5 anni",
        "6-10 anni",
        "6-10 anni",
        "11-14 anni",
        "15-17 anni",
    ]
    assert [period_name(p) for p in (None, "08", "christmas", "summer")] == [
        "periodo non detto",
        "agosto",
        "Natale",
        "estate",
    ]
