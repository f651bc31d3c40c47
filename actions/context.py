"""What the person is asking about, from the latest message and what the conversation remembers.

The latest message wins over the slots; the slots fill what the message leaves out ("e quanto
costa?" after a list of summer camps). Towns are resolved fuzzily against the knowledge base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from knowledge import KnowledgeBase, normalise

# intent -> (topic, kinds). Pseudo-kinds name answers that are not lists of services.
INTENT_TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ask_summer_camp": ("school_closure", ("summer_camp",)),
    "ask_holiday_camp": ("school_closure", ("holiday_camp",)),
    "ask_after_school": ("school_closure", ("after_school",)),
    "ask_pre_post_school": ("school_closure", ("pre_post_school",)),
    "ask_school_calendar": ("school_closure", ("calendar",)),
    "ask_nursery": ("evening_nursery", ("evening_nursery", "saturday_nursery")),
    "ask_caregiver": ("caregiver_support", ("caregiver_respite", "caregiver_desk")),
    "ask_time_saving": ("time_policies", ("time_saving",)),
    "ask_welfare_employee": ("company_welfare", ("welfare_rules",)),
    "ask_welfare_join": ("company_welfare", ("welfare_join",)),
    "ask_project_info": ("project_info", ("project_info",)),
}

# Menu buttons name a topic; each topic opens with the question of one intent.
TOPIC_INTENTS = {
    "evening_nursery": "ask_nursery",
    "caregiver_support": "ask_caregiver",
    "time_policies": "ask_time_saving",
    "company_welfare": "ask_welfare_employee",
    "project_info": "ask_project_info",
}

ATTRIBUTE_INTENTS = {
    "ask_cost": "cost",
    "ask_dates": "dates",
    "ask_hours": "hours",
    "ask_enrolment": "enrolment",
    "ask_ages": "ages",
    "ask_contacts": "contacts",
    "ask_where": "where",
}

# Kinds that are answered with a list of services of a territory.
SERVICE_KINDS = {
    "summer_camp",
    "holiday_camp",
    "after_school",
    "pre_post_school",
    "evening_nursery",
    "saturday_nursery",
    "caregiver_respite",
    "caregiver_desk",
    "time_saving",
    "time_plan",
}
# Kinds where the child's age changes which services fit.
AGE_KINDS = {"summer_camp", "holiday_camp", "after_school", "pre_post_school"}

MONTHS = {
    "gennaio": 1,
    "febbraio": 2,
    "marzo": 3,
    "aprile": 4,
    "maggio": 5,
    "giugno": 6,
    "luglio": 7,
    "agosto": 8,
    "settembre": 9,
    "ottobre": 10,
    "novembre": 11,
    "dicembre": 12,
}
# period words -> closure kind in the school calendar
HOLIDAY_WORDS = {
    "natale": "christmas",
    "natalizie": "christmas",
    "natalizio": "christmas",
    "capodanno": "christmas",
    "pasqua": "easter",
    "pasquali": "easter",
    "pasquale": "easter",
    "carnevale": "carnival",
    "ponte": "bridge",
    "ponti": "bridge",
}
SUMMER_WORDS = ("estate", "estivo", "estivi", "estiva", "estive")

NUMBER_WORDS = {
    "un": 1,
    "uno": 1,
    "una": 1,
    "due": 2,
    "tre": 3,
    "quattro": 4,
    "cinque": 5,
    "sei": 6,
    "sette": 7,
    "otto": 8,
    "nove": 9,
    "dieci": 10,
    "undici": 11,
    "dodici": 12,
    "tredici": 13,
    "quattordici": 14,
}
AGE_RE = re.compile(r"\b(\d{1,2}|" + "|".join(NUMBER_WORDS) + r")\s*(anni|anno|mesi|mese)\b")

# Words for the five kinds of nursery opening, refining the ask_nursery intent.
EVENING_WORDS = ("sera", "serale", "serali", "sere", "cena", "tardi", "notte")
SATURDAY_WORDS = ("sabato", "sabati", "weekend", "fine settimana")


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date
    closure_kind: str | None = None  # christmas, easter, carnival, bridge, summer

    def encode(self) -> str:
        return f"{self.label}|{self.start.isoformat()}|{self.end.isoformat()}|{self.closure_kind or ''}"

    @classmethod
    def decode(cls, value: str | None) -> Period | None:
        if not value:
            return None
        try:
            label, start, end, kind = value.split("|")
            return cls(label, date.fromisoformat(start), date.fromisoformat(end), kind or None)
        except ValueError:
            return None


@dataclass
class Request:
    intent: str | None
    confidence: float | None
    text: str
    topic: str | None = None
    kinds: tuple[str, ...] = ()
    attribute: str | None = None
    comune: str | None = None
    territory: str | None = None
    territories: tuple[str, ...] = ()
    age: float | None = None
    period: Period | None = None
    service_id: str | None = None
    topic_from_message: bool = False
    place_from_message: bool = False
    age_from_message: bool = False
    previous_service_ids: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    pending: str | None = None
    asked: list[str] = field(default_factory=list)
    shown: int = 0


def has_word(text: str, words: tuple[str, ...] | list[str]) -> bool:
    padded = f" {text} "
    return any(f" {w} " in padded for w in words)


def detect_kinds(kb: KnowledgeBase, text: str) -> tuple[str | None, tuple[str, ...]]:
    """Topic and kinds named by keywords in the text (normalised), or (None, ())."""
    found: list[tuple[str, str]] = []
    for topic in kb.topics.values():
        for kind in topic.kinds.values():
            if has_word(text, [normalise(k) for k in kind.keywords]):
                found.append((topic.id, kind.id))
    if not found:
        return None, ()
    topic = found[0][0]
    return topic, tuple(k for t, k in found if t == topic)


def parse_age(text: str, entities: list[dict[str, Any]]) -> float | None:
    for ent in entities:
        if ent.get("entity") == "age":
            try:
                value = float(str(ent.get("value")).strip())
            except ValueError:
                continue
            if 0 <= value <= 17:
                return value
    m = AGE_RE.search(text)
    if not m:
        return None
    raw, unit = m.groups()
    n = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
    years = n // 12 if unit.startswith("mes") else n
    return float(years) if 0 <= years <= 17 else None


def next_month_range(month: int, today: date) -> tuple[date, date]:
    year = today.year if month >= today.month else today.year + 1
    start = date(year, month, 1)
    end = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    return start, end


def parse_period(kb: KnowledgeBase, text: str, entities: list[dict[str, Any]], today: date) -> Period | None:
    words = " ".join(
        [text] + [normalise(str(e.get("value", ""))) for e in entities if e.get("entity") == "period"]
    )
    for name, month in MONTHS.items():
        if has_word(words, [name]):
            start, end = next_month_range(month, today)
            return Period(f"a {name}", start, end)
    for word, kind in HOLIDAY_WORDS.items():
        if has_word(words, [word]):
            closures = [c for c in kb.closures if c.kind == kind and c.end >= today]
            if closures:
                first = min(closures, key=lambda c: c.start)
                last = max(
                    (c for c in closures if c.start <= first.start + timedelta(days=20)), key=lambda c: c.end
                )
                return Period(
                    f"per {word.capitalize() if kind != 'bridge' else 'i ponti'}", first.start, last.end, kind
                )
    if has_word(words, list(SUMMER_WORDS)):
        year = kb.school_year.end.year
        return Period("in estate", kb.school_year.end + timedelta(days=1), date(year, 9, 11), "summer")
    return None


def parse_place(kb: KnowledgeBase, text: str, entities: list[dict[str, Any]]):
    """(comune, territory, territories) named in the message, or Nones.

    The knowledge base's own finder reads the whole message first (it knows typos, short forms and
    which town names are also ordinary words); the model's entities are the fallback."""
    place = kb.find_place(text) if text else None
    if place is not None:
        if place.town is not None:
            return place.town.name, place.town.territory, (place.town.territory,)
        territories = tuple(place.territories) or ((place.territory,) if place.territory else ())
        return None, place.territory, territories
    for ent in entities:
        if ent.get("entity") == "town":
            town = kb.resolve_town(str(ent.get("value", "")))
            if town is not None:
                return town.name, town.territory, (town.territory,)
        if ent.get("entity") == "territory":
            place = kb.find_place(str(ent.get("value", "")))
            if place is not None and (place.territory or place.territories):
                territories = tuple(place.territories) or (place.territory,)
                return None, place.territory, territories
    return None, None, ()


def read_request(kb: KnowledgeBase, tracker: Any, today: date | None = None) -> Request:
    """Combine the latest message with the remembered slots."""
    today = today or date.today()
    latest = tracker.latest_message or {}
    intent_info = latest.get("intent") or {}
    intent = intent_info.get("name")
    confidence = intent_info.get("confidence")
    raw_text = latest.get("text") or ""
    # Button payloads ("/show_service{...}") carry no words to read.
    text = "" if raw_text.startswith("/") else normalise(raw_text)
    entities = latest.get("entities") or []

    req = Request(intent=intent, confidence=confidence, text=text)
    req.previous_service_ids = list(tracker.get_slot("service_ids") or [])
    req.results = list(tracker.get_slot("results") or [])
    req.pending = tracker.get_slot("pending")
    req.asked = list(tracker.get_slot("asked") or [])
    req.shown = int(tracker.get_slot("shown") or 0)
    for ent in entities:
        if ent.get("entity") == "service_id":
            req.service_id = str(ent.get("value"))

    # topic and kinds: from the intent, refined or replaced by keywords in the text
    kw_topic, kw_kinds = detect_kinds(kb, text)
    if intent in INTENT_TOPICS:
        req.topic, req.kinds = INTENT_TOPICS[intent]
        if intent == "ask_nursery":
            evening, saturday = has_word(text, EVENING_WORDS), has_word(text, SATURDAY_WORDS)
            if evening != saturday:
                req.kinds = ("evening_nursery",) if evening else ("saturday_nursery",)
        req.topic_from_message = True
    elif kw_topic is not None and intent not in ("greet", "thanks", "goodbye"):
        req.topic, req.kinds = kw_topic, kw_kinds
        req.topic_from_message = True
    elif intent == "choose_topic":
        for ent in entities:
            value = str(ent.get("value")) if ent.get("entity") == "topic" else ""
            value = TOPIC_INTENTS.get(value, value)
            if value in INTENT_TOPICS:
                req.topic, req.kinds = INTENT_TOPICS[value]
                req.topic_from_message = True
            elif value == "school_closure":  # a sub-menu: which service while schools are closed
                req.topic, req.kinds = "school_closure", ()
                req.topic_from_message = True
    if not req.topic_from_message:
        req.topic = tracker.get_slot("topic")
        kinds = tracker.get_slot("kind")
        req.kinds = tuple(kinds.split(",")) if kinds else ()

    req.attribute = ATTRIBUTE_INTENTS.get(intent or "")

    comune, territory, territories = parse_place(kb, text, entities)
    if territory or territories:
        req.comune, req.territory, req.territories = comune, territory, territories
        req.place_from_message = True
    else:
        req.comune = tracker.get_slot("comune")
        req.territory = tracker.get_slot("territory")
        req.territories = (req.territory,) if req.territory else ()

    age = parse_age(text, entities)
    if age is not None:
        req.age, req.age_from_message = age, True
    else:
        req.age = tracker.get_slot("age")

    period = parse_period(kb, text, entities, today)
    if period is not None:
        req.period = period
    elif not req.topic_from_message or req.topic == tracker.get_slot("topic"):
        req.period = Period.decode(tracker.get_slot("period"))
    return req
