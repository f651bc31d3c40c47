"""The scripted day of bench/console/day.py: who writes, when, what, and what the assistant answers (its
meta, as the real actions' meta says it: topic, territory, town, the services offered, a fallback, a
clarifying question, a referral, a request for a person). Services offered are the knowledge base's for
the topic in the person's territory (and town); none when it has none. Seeded: the same day every run."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from bench.console.site import HUMAN, human_meta
from bot.handoff.office_hours import ROME
from knowledge import KnowledgeBase

TERRITORIES = {"legnanese": 0.3, "magentino": 0.3, "abbiatense": 0.2, "castanese": 0.2}
TOPICS = {
    "school_closure": 0.38,
    "evening_nursery": 0.14,
    "caregiver_support": 0.16,
    "company_welfare": 0.1,
    "time_policies": 0.12,
    "project_info": 0.1,
}
# the hour a person starts writing (Rome): the morning, the lunch break and the evening after dinner
HOURS = dict(zip(range(7, 22), (3, 6, 8, 8, 7, 9, 10, 7, 6, 6, 7, 6, 5, 8, 9), strict=True))
AGES = ["2", "4", "6", "8", "9", "11", "13", "15"]
QUESTIONS: dict[str, list[tuple[str, str]]] = {  # topic: (text, the intent the assistant reads)
    "school_closure": [
        ("ci sono centri estivi a {town} ad agosto? mio figlio ha {age} anni", "ask_summer_camp"),
        ("centri estivi a {town} a luglio per una bimba di {age} anni?", "ask_summer_camp"),
        (
            "a Natale le scuole chiudono, c'è qualcosa a {town} per un bambino di {age} anni?",
            "ask_holiday_camp",
        ),
        ("durante il carnevale c'è un servizio per i bambini a {town}?", "ask_holiday_camp"),
        ("c'è il pre e post scuola a {town}?", "ask_pre_post_school"),
        ("doposcuola a {town} per un ragazzo di {age} anni?", "ask_after_school"),
        ("quando chiudono le scuole a {town} per Pasqua?", "ask_school_calendar"),
    ],
    "evening_nursery": [
        ("c'è un nido aperto la sera a {town}? ho un bimbo di 2 anni", "ask_nursery"),
        ("lavoro su turni, un asilo nido serale vicino a {town}?", "ask_nursery"),
    ],
    "caregiver_support": [
        ("mia madre non è più autosufficiente, c'è un aiuto a {town}?", "ask_caregiver"),
        ("ore di sollievo per chi assiste un familiare a {town}?", "ask_caregiver"),
    ],
    "company_welfare": [
        ("la mia azienda di {town} può rimborsarmi il centro estivo col welfare?", "ask_welfare_employee"),
        ("come aderisce un'azienda di {town} al welfare territoriale?", "ask_welfare_join"),
    ],
    "time_policies": [
        ("gli uffici del comune di {town} sono aperti il sabato?", "ask_time_saving"),
        ("c'è una banca del tempo a {town}?", "ask_time_saving"),
    ],
    "project_info": [("cos'è l'alleanza per la conciliazione?", "ask_project_info")],
}
MISUNDERSTOOD = ["ma quindi il giovedì?", "boh non so", "xke nn risp", "e per il mio caso?", "si ma quanto"]
VAGUE = "ho bisogno di una mano con i bambini"
REFERRALS = [("come si fa l'isee?", "isee"), ("il bonus nido come si chiede?", "bonus_nido")]
SCORES = {1: 5, 2: 8, 3: 17, 4: 35, 5: 35}


@dataclass(order=True)
class Event:
    at: datetime
    seq: int
    kind: str = field(compare=False)  # "say" (the person writes), "reply", "close" (her operator), "rate"
    person: str = field(compare=False)
    text: str | None = field(default=None, compare=False)
    meta: dict[str, Any] | None = field(default=None, compare=False)
    answer: str = field(default="", compare=False)
    score: int = field(default=0, compare=False)
    partner: str | None = field(default=None, compare=False)


def _pick(rnd: random.Random, weights: Mapping[Any, float]) -> Any:
    return rnd.choices(list(weights), list(weights.values()))[0]


def services(kb: KnowledgeBase, topic: str, territory: str, town: str) -> list[str]:
    return [
        s.id
        for s in kb.services
        if s.topic == topic and territory in s.territories and (not s.towns or town in s.towns)
    ][:3]


class Day:
    def __init__(self, kb: KnowledgeBase, day: date, people: int, seed: int) -> None:
        self.kb, self.day, self.rnd = kb, day, random.Random(seed)
        self.events: list[Event] = []
        self.towns = {
            ter: [t.name for t in kb.towns.values() if t.territory == ter] for ter in kb.territories
        }
        for n in range(people):
            self._person(f"persona-{n:04d}")
        self.events.sort()

    def _add(self, at: datetime, kind: str, person: str, **kw: Any) -> None:
        self.events.append(Event(at, len(self.events), kind, person, **kw))

    def _person(self, key: str) -> None:
        rnd, kb = self.rnd, self.kb
        territory, topic = _pick(rnd, TERRITORIES), _pick(rnd, TOPICS)
        town = rnd.choice(self.towns[territory])
        start = datetime.combine(self.day, time(_pick(rnd, HOURS), rnd.randrange(60)), ROME)
        at = start + timedelta(seconds=rnd.randrange(60))
        base = {"topic": topic, "territory": territory, "comune": town}

        def step() -> datetime:
            nonlocal at
            at += timedelta(seconds=rnd.randrange(20, 180))
            return at

        if rnd.random() < 0.08:  # too vague: the assistant asks which topic she means
            clarify = {"intent": "inform", "confidence": 0.55, "territory": territory, "comune": town}
            clarify["clarify"] = ["school_closure", "evening_nursery", "caregiver_support"]
            self._add(at, "say", key, text=VAGUE, meta=clarify, answer="Di che cosa hai bisogno?")
            step()
        for asked in range(1 + (rnd.random() < 0.3)):
            text, intent = rnd.choice(QUESTIONS[topic])
            text = text.format(town=town, age=rnd.choice(AGES))
            offered = services(kb, topic, territory, town)
            meta = {**base, "intent": intent, "confidence": round(rnd.uniform(0.8, 0.99), 2)}
            meta["service_ids"] = offered
            answer = "Ecco cosa ho trovato." if offered else "Non ho trovato servizi per questa richiesta."
            self._add(at if asked == 0 else step(), "say", key, text=text, meta=meta, answer=answer)
        if rnd.random() < 0.12:
            fallback = {"intent": "nlu_fallback", "fallback": True, "territory": territory, "comune": town}
            self._add(
                step(), "say", key, text=rnd.choice(MISUNDERSTOOD), meta=fallback, answer="Non ho capito."
            )
        if rnd.random() < 0.07:
            text, referral = rnd.choice(REFERRALS)
            meta = {
                "intent": "ask_referral",
                "confidence": 0.93,
                "referral": referral,
                "territory": territory,
            }
            self._add(step(), "say", key, text=text, meta=meta, answer="Per questo devi rivolgerti altrove.")
        if rnd.random() < 0.14:
            self._handoff(key, step(), base)

    def _handoff(self, key: str, at: datetime, base: dict[str, Any]) -> None:
        rnd = self.rnd
        meta = human_meta(base["topic"], base["territory"], base["comune"])
        partner = self.kb.partner_for(base["topic"], base["territory"]) or self.kb.default_partner
        self._add(at, "say", key, text=HUMAN, meta=meta, answer="Va bene.", partner=partner.id)
        office_closes = datetime.combine(self.day, time(17, 30), ROME)
        office_opens = datetime.combine(self.day, time(8, 30), ROME)
        if at >= office_closes or rnd.random() < 0.1:
            return  # nobody answers before tomorrow (or at all today): still waiting at the end of the day
        replied = max(at, office_opens) + timedelta(minutes=rnd.uniform(2, 50))
        self._add(replied, "reply", key, partner=partner.id)
        if rnd.random() < 0.15:
            return  # still being followed at the end of the day
        self._add(replied + timedelta(minutes=rnd.uniform(4, 35)), "close", key, partner=partner.id)
        if rnd.random() < 0.7:
            score = _pick(rnd, SCORES)
            self._add(replied + timedelta(minutes=36 + rnd.uniform(0, 30)), "rate", key, score=score)
