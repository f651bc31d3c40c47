"""Every answer of the actions carries the whole reply meta of knowledge/contract.py."""

from __future__ import annotations

from knowledge.contract import META_FIELDS
from tests.actions.conftest import ent


def test_an_answer_with_services_carries_every_meta_field(conv):
    r = conv.say(
        "ci sono centri estivi a Corbetta per luglio? mia figlia ha 7 anni",
        "ask_summer_camp",
        [ent("town", "Corbetta"), ent("period", "luglio"), ent("age", "7")],
    )
    assert list(r.meta) == list(META_FIELDS)
    assert r.meta["service_ids"] and r.meta["referral"] is None and r.meta["clarify"] == []


def test_a_fallback_carries_every_meta_field(conv):
    r = conv.say("asdfgh", "nlu_fallback", confidence=0.2)
    assert list(r.meta) == list(META_FIELDS)
    assert r.meta["fallback"] is True and r.meta["service_ids"] == []
