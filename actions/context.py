"""What the person is asking about, from the latest message and what the conversation remembers.

The latest message wins over the slots; the slots fill what the message leaves out ("e quanto
costa?" after a list of summer camps). Towns are resolved fuzzily against the knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from actions.parsing import (  # noqa: F401  (re-exported: the readers used to live here)
    EVENING_WORDS,
    SATURDAY_WORDS,
    KeywordHit,
    Period,
    detect_attribute,
    detect_kinds,
    first_topic,
    has_word,
    is_follow_up,
    keyword_hits,
    parse_age,
    parse_period,
    parse_place,
)
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

# Intents of a school_closure kind, to offer that kind when its keywords were read.
KIND_INTENTS = {kinds[0]: intent for intent, (_, kinds) in INTENT_TOPICS.items() if len(kinds) == 1}
SMALL_TALK = ("greet", "thanks", "goodbye")


@dataclass
class Request:
    intent: str | None
    confidence: float | None
    text: str
    raw_text: str = ""
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
    period_from_message: bool = False
    follow_up: bool = False  # a short "e a Pasqua?" continuing the question before
    keyword_hits: tuple[KeywordHit, ...] = ()  # kinds named by keywords of the message (topics.yml)
    previous_service_ids: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    pending: str | None = None
    asked: list[str] = field(default_factory=list)
    shown: int = 0

    @property
    def keyword_kinds(self) -> tuple[str, ...]:
        """Kinds named by keywords that do not only name a period."""
        return tuple(h.kind for h in self.keyword_hits if h.strong)

    @property
    def keyword_topics(self) -> set[str]:
        return {h.topic for h in self.keyword_hits if h.strong}


def refine_kinds(intent: str, text: str, kinds: tuple[str, ...], hits: list[KeywordHit]) -> tuple[str, ...]:
    """The intent's kinds, narrowed or corrected by what the words say.

    "il nido è aperto il sabato?" is a Saturday nursery; "cerco dopo scuola a Cuggiono" is after-school
    even when the model says school calendar, because a service is named and the calendar is not. The
    intent's kind stays when any of its keywords is there, even one naming only a period ("natale")."""
    if intent == "ask_nursery":
        evening, saturday = has_word(text, EVENING_WORDS), has_word(text, SATURDAY_WORDS)
        if evening != saturday:
            return ("evening_nursery",) if evening else ("saturday_nursery",)
        return kinds
    topic = INTENT_TOPICS[intent][0]
    named = tuple(h.kind for h in hits if h.topic == topic and h.strong)
    if topic == "school_closure" and named and not {h.kind for h in hits} & set(kinds):
        return named
    return kinds


def chosen_kinds(value: str, remembered: list[str]) -> tuple[str | None, tuple[str, ...]]:
    """A menu or clarification button: its topic and kinds, with the kinds the first message named."""
    value = TOPIC_INTENTS.get(value, value)
    if value in INTENT_TOPICS:
        topic, kinds = INTENT_TOPICS[value]
        named = tuple(k for k in remembered if k in kinds)
        return topic, named or kinds
    if value == "school_closure":  # a sub-menu: which service while schools are closed
        return "school_closure", ()
    return None, ()


def read_request(kb: KnowledgeBase, tracker: Any, today: date | None = None) -> Request:
    """Combine the latest message with the remembered slots.

    A follow-up keeps the kind of question and changes only what the person changed: "e a Pasqua?"
    after the Carnival closures gives the Easter closures, "e a Magenta?" the same question in Magenta.
    """
    today = today or date.today()
    latest = tracker.latest_message or {}
    intent_info = latest.get("intent") or {}
    intent = intent_info.get("name")
    confidence = intent_info.get("confidence")
    raw_text = latest.get("text") or ""
    # Button payloads ("/show_service{...}") carry no words to read.
    raw_text = "" if raw_text.startswith("/") else raw_text
    text = normalise(raw_text)
    entities = latest.get("entities") or []

    req = Request(intent=intent, confidence=confidence, text=text, raw_text=raw_text)
    req.previous_service_ids = list(tracker.get_slot("service_ids") or [])
    req.results = list(tracker.get_slot("results") or [])
    req.pending = tracker.get_slot("pending")
    req.asked = list(tracker.get_slot("asked") or [])
    req.shown = int(tracker.get_slot("shown") or 0)
    for ent in entities:
        if ent.get("entity") == "service_id":
            req.service_id = str(ent.get("value"))
    slot_topic = tracker.get_slot("topic")
    slot_kinds = tracker.get_slot("kind")
    after_clarify = req.pending == "clarify"

    # topic and kinds: from the intent, refined or replaced by keywords in the text. Keywords that only
    # name a period ("pasqua", "vacanze di natale") do not change a topic already under discussion.
    hits = keyword_hits(kb, text)
    strong = [h for h in hits if h.strong]
    req.keyword_hits = tuple(hits)
    req.follow_up = bool(slot_topic) and is_follow_up(text)
    strong_topic, strong_kinds = first_topic(strong)
    any_topic, any_kinds = first_topic(hits)
    if intent == "choose_topic":
        for ent in entities:
            if ent.get("entity") == "topic":
                remembered = list(tracker.get_slot("clarify_kinds") or []) if after_clarify else []
                topic, kinds = chosen_kinds(str(ent.get("value")), remembered)
                if topic is not None:
                    req.topic, req.kinds, req.topic_from_message = topic, kinds, True
    elif intent in INTENT_TOPICS and not (req.follow_up and not strong):
        req.topic, req.kinds = INTENT_TOPICS[intent]
        req.kinds = refine_kinds(intent, text, req.kinds, hits)
        req.topic_from_message = True
    elif intent in SMALL_TALK:
        pass
    elif strong_topic is not None:
        req.topic, req.kinds = strong_topic, strong_kinds
        req.topic_from_message = True
    elif any_topic is not None and not slot_topic:
        req.topic, req.kinds = any_topic, any_kinds
        req.topic_from_message = True
    if not req.topic_from_message:
        req.topic = slot_topic
        req.kinds = tuple(slot_kinds.split(",")) if slot_kinds else ()

    # what is asked: the intent, else the words; a follow-up or a reply to a question keeps it
    req.attribute = ATTRIBUTE_INTENTS.get(intent or "") or detect_attribute(text)
    if req.attribute is None and (req.follow_up or intent == "inform" or after_clarify):
        req.attribute = tracker.get_slot("attribute")

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
        req.period, req.period_from_message = period, True
        if not req.topic_from_message:
            req.kinds = season_kinds(req.kinds, period)
    elif (
        not req.topic_from_message
        or req.topic == slot_topic
        or req.pending in ("clarify", "topic")  # the choice answers the first message: keep its period
    ):
        req.period = Period.decode(tracker.get_slot("period"))
    return req


def season_kinds(kinds: tuple[str, ...], period: Period) -> tuple[str, ...]:
    """Summer camps asked again "e a Natale?" are the camps of the Christmas holidays, and back."""
    if kinds == ("summer_camp",) and period.closure_kind not in (None, "summer"):
        return ("holiday_camp",)
    if kinds == ("holiday_camp",) and (period.closure_kind == "summer" or period.start.month in (6, 7, 8)):
        return ("summer_camp",)
    return kinds
