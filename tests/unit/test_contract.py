"""The contract between the gateway and the actions (knowledge/contract.py): the reply meta and the
names both sides spell."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.assistant.answers import parse_rest_answer
from bot.conversation.texts import MENU_BUTTONS
from knowledge.contract import (
    META_FIELDS,
    REQUEST_HUMAN_INTENT,
    REQUEST_HUMAN_PAYLOAD,
    build_meta,
    read_meta,
)

ROOT = Path(__file__).resolve().parents[2]


def test_build_meta_gives_every_field_in_order_with_defaults() -> None:
    meta = build_meta({"intent": "greet", "confidence": 0.9, "service_ids": ["a"]})
    assert list(meta) == list(META_FIELDS)
    assert meta == {
        "intent": "greet",
        "confidence": 0.9,
        "topic": None,
        "territory": None,
        "comune": None,
        "service_ids": ["a"],
        "handoff": False,
        "fallback": False,
        "referral": None,
        "clarify": [],
    }


def test_build_meta_copies_lists() -> None:
    ids = ["a"]
    meta = build_meta({"service_ids": ids})
    ids.append("b")
    assert meta["service_ids"] == ["a"]
    assert build_meta({})["clarify"] is not build_meta({})["clarify"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"town": "Corbetta"}, "town"),
        ({"handoff": "yes"}, "handoff"),
        ({"confidence": True}, "confidence"),
        ({"service_ids": "a"}, "service_ids"),
        ({"clarify": ["school_closure", 3]}, "clarify"),
        ({"fallback": None}, "fallback"),
    ],
)
def test_build_meta_refuses_what_the_contract_does_not_have(fields: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        build_meta(fields)


def test_read_meta_keeps_what_was_sent_and_nulls_wrong_types() -> None:
    raw = {"intent": "x", "handoff": "yes", "service_ids": [1], "confidence": 1, "extra": {"a": 1}}
    assert read_meta(raw) == {
        "intent": "x",
        "handoff": None,
        "service_ids": None,
        "confidence": 1,
        "extra": {"a": 1},
    }
    assert read_meta({"intent": "one"}) == {"intent": "one"}  # nothing added


def test_the_gateway_reads_the_meta_through_the_contract() -> None:
    answer = parse_rest_answer(
        [{"recipient_id": "c", "text": "Ciao", "custom": {"meta": {"intent": "greet", "fallback": "no"}}}]
    )
    assert answer.meta == {"intent": "greet", "fallback": None}


def test_request_human_is_an_intent_of_the_domain_with_a_rule() -> None:
    domain = yaml.safe_load((ROOT / "nlu" / "domain.yml").read_text("utf-8"))
    assert REQUEST_HUMAN_INTENT in domain["intents"]
    rules = yaml.safe_load((ROOT / "nlu" / "data" / "rules.yml").read_text("utf-8"))["rules"]
    assert any(rule["steps"][0].get("intent") == REQUEST_HUMAN_INTENT for rule in rules)
    assert REQUEST_HUMAN_PAYLOAD == "/" + REQUEST_HUMAN_INTENT


def test_the_gateway_menu_asks_for_a_person_with_the_contract_payload() -> None:
    assert MENU_BUTTONS[-1].payload == REQUEST_HUMAN_PAYLOAD
