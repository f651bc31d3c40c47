"""Run the custom actions as Rasa would: from realistic trackers, with a real CollectingDispatcher,
on the real knowledge base; the rules file decides which action answers which intent."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action

import actions.answer  # noqa: F401  (registers the action classes)
import actions.dialogue  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def _rules() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "nlu" / "data" / "rules.yml").read_text("utf-8"))
    out = {}
    for rule in data["rules"]:
        steps = rule["steps"]
        out[steps[0]["intent"]] = steps[1]["action"]
    return out


def _actions() -> dict[str, Action]:
    found: dict[str, Action] = {}

    def walk(cls: type) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("actions."):
                inst = sub()
                found[inst.name()] = inst
            walk(sub)

    walk(Action)
    return found


def _responses() -> dict[str, str]:
    domain = yaml.safe_load((ROOT / "nlu" / "domain.yml").read_text("utf-8"))
    return {name: variants[0]["text"] for name, variants in domain["responses"].items()}


RULES = _rules()
RESPONSES = _responses()
ACTIONS = _actions()


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, Any]]
    meta: dict[str, Any]


@dataclass
class Conversation:
    """A conversation with the actions: each `say` is one user turn, classified as given."""

    slots: dict[str, Any] = field(default_factory=lambda: {"failures": 0.0})
    events: list[dict[str, Any]] = field(default_factory=list)

    def say(
        self,
        text: str,
        intent: str,
        entities: list[dict[str, Any]] | None = None,
        confidence: float = 0.97,
        ranking: list[tuple[str, float]] | None = None,
    ) -> Reply:
        """`ranking`: Rasa's intent_ranking as (intent, confidence), best first; default the intent alone."""
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "intent_ranking": [
                {"name": n, "confidence": c} for n, c in (ranking or [(intent, confidence)])
            ],
        }
        tracker = Tracker(
            sender_id="test",
            slots=dict(self.slots),
            latest_message=latest,
            events=list(self.events),
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )
        dispatcher = CollectingDispatcher()
        action = ACTIONS[RULES[intent]]
        events = action.run(dispatcher, tracker, {})
        for ev in events:
            if ev.get("event") == "slot":
                self.slots[ev["name"]] = ev["value"]
        self.events.append({"event": "user", "text": text, "parse_data": latest})
        assert len(dispatcher.messages) == 1, dispatcher.messages
        msg = dispatcher.messages[0]
        assert msg["custom"] and "meta" in msg["custom"], msg
        text = msg["text"] or RESPONSES[msg["response"]]
        return Reply(text=text, buttons=msg.get("buttons") or [], meta=msg["custom"]["meta"])


@pytest.fixture
def conv() -> Conversation:
    return Conversation()


def ent(entity: str, value: Any) -> dict[str, Any]:
    return {"entity": entity, "value": value}
