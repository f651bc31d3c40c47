"""How every action ends its turn: text, optional buttons, and the machine-readable `meta` payload
that the gateway and the evaluation rely on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.kb import knowledge
from actions.parsing import parse_place
from knowledge import normalise
from knowledge.contract import build_meta


@dataclass
class Answer:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    topic: str | None = None
    service_ids: list[str] = field(default_factory=list)
    handoff: bool = False
    fallback: bool = False
    events: list[Any] = field(default_factory=list)
    response: str | None = None  # a response of the domain (small talk) instead of `text`
    clarify: list[str] = field(default_factory=list)  # candidate topics of a clarifying question
    referral: str | None = None  # id of a referral to another office (knowledge/data/referrals.yml)


def button(title: str, intent: str, **entities: Any) -> dict[str, str]:
    """A button whose payload Rasa reads as `/intent{"entity": "value"}`, skipping NLU."""
    payload = f"/{intent}"
    if entities:
        payload += json.dumps(entities, ensure_ascii=False, separators=(",", ":"))
    return {"title": title, "payload": payload}


def slot_value(events: list[Any], tracker: Tracker, name: str) -> Any:
    """The value a slot will have after `events` are applied."""
    value = tracker.get_slot(name)
    for event in events:
        if isinstance(event, dict) and event.get("event") == "slot" and event.get("name") == name:
            value = event.get("value")
    return value


def _sets(events: list[Any], name: str) -> bool:
    return any(isinstance(e, dict) and e.get("event") == "slot" and e.get("name") == name for e in events)


def place_events(tracker: Tracker, events: list[Any]) -> list[dict[str, Any]]:
    """A town or ambito named in the message is remembered and shown in meta, whatever the intent
    (project information, a request for a person, privacy, small talk), unless the action set it."""
    if _sets(events, "comune") or _sets(events, "territory"):
        return []
    latest = tracker.latest_message or {}
    text = latest.get("text") or ""
    if text.startswith("/"):
        return []
    comune, territory, _ = parse_place(knowledge(), normalise(text), latest.get("entities") or [])
    if territory is None:
        return []
    return [SlotSet("comune", comune), SlotSet("territory", territory)]


def send(dispatcher: CollectingDispatcher, tracker: Tracker, answer: Answer) -> list[dict[str, Any]]:
    """Utter the answer with its meta payload and return the slot events to apply."""
    latest = tracker.latest_message or {}
    intent = latest.get("intent") or {}
    events = list(answer.events)
    failures = 0.0 if not answer.fallback else float(slot_value(events, tracker, "failures") or 0)
    if not any(isinstance(e, dict) and e.get("name") == "failures" for e in events):
        events.append(SlotSet("failures", failures))
    events += place_events(tracker, events)
    if tracker.get_slot("pending") == "clarify" and not _sets(events, "pending"):
        events.append(SlotSet("pending", None))  # a clarification is answered once, whatever comes next
    meta = build_meta({
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "topic": answer.topic,
        "territory": slot_value(events, tracker, "territory"),
        "comune": slot_value(events, tracker, "comune"),
        "service_ids": list(answer.service_ids),
        "handoff": answer.handoff,
        "fallback": answer.fallback,
        "clarify": list(answer.clarify),
        "referral": answer.referral,
    })
    if answer.response:
        dispatcher.utter_message(
            response=answer.response, buttons=answer.buttons or None, json_message={"meta": meta}
        )
    else:
        dispatcher.utter_message(
            text=answer.text, buttons=answer.buttons or None, json_message={"meta": meta}
        )
    return events
