"""Asking for a person and asking about privacy, in the ways people write them (issue 9, part 6)."""

from __future__ import annotations

import pytest

from knowledge import load

KB = load()
ERASE = {"title": "Cancella i miei dati", "payload": "/cancella"}


@pytest.mark.parametrize("text", ["datemi un numero", "mi passi un numero?", "give me a phone number please"])
def test_a_number_gets_the_partner_contacts_and_a_person_offered(conv, text: str) -> None:
    r = conv.say(text, "request_human")
    partner = KB.default_partner
    assert partner.name in r.text and partner.contacts.phone in r.text
    # a person offered, not started: the gateway shows these contacts instead of opening a ticket
    assert r.meta["handoff"] is True and r.meta["fallback"] is True
    assert [b["payload"] for b in r.buttons] == ["/request_human"]
    assert r.meta["referral"] is None
    yes = conv.say("sì", "affirm")  # accepting the offer by typing
    assert yes.meta["handoff"] is True and yes.meta["fallback"] is False


@pytest.mark.parametrize(
    "text",
    [
        "mi richiamate?",
        "fatemi chiamare",
        "mi richiamate al numero da cui vi scrivo?",
        "preferisco spiegarlo a un'operatrice",
        "mettetemi in contatto con una persona",
    ],
)
def test_a_person_or_a_callback_starts_the_handoff_with_the_contacts(conv, text: str) -> None:
    r = conv.say(text, "request_human")
    partner = KB.default_partner
    assert r.meta["handoff"] is True and r.meta["fallback"] is False
    assert partner.name in r.text and partner.contacts.phone in r.text


def test_a_number_for_a_topic_and_town_names_that_partner(conv) -> None:
    conv.say("cerco un centro estivo a Magenta", "ask_summer_camp")
    r = conv.say("datemi un numero da chiamare", "request_human")
    partner = KB.partner_for("school_closure", "magentino")
    assert r.meta["handoff"] is True and partner.name in r.text and partner.contacts.phone in r.text


@pytest.mark.parametrize(
    "text", ["cancellate quello che ho scritto", "eliminate i miei dati per favore", "please delete my data"]
)
def test_a_request_to_erase_leads_to_the_erase_command(conv, text: str) -> None:
    r = conv.say(text, "privacy")
    assert r.buttons == [ERASE]
    assert "/cancella" in r.text and "conferma" in r.text
    assert r.meta["handoff"] is False and r.meta["fallback"] is False


def test_stop_messages_says_we_never_write_first_and_offers_erasing(conv) -> None:
    r = conv.say("non scrivetemi più", "privacy")
    assert "Non ti scrivo mai per primo" in r.text
    assert r.buttons == [ERASE]


def test_do_you_see_my_number(conv) -> None:
    r = conv.say("vedete il mio numero?", "privacy")
    assert "numero di telefono non lo vedo" in r.text
    assert r.buttons == []


def test_who_sees_and_what_is_kept_answer_only_that(conv, monkeypatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "90")
    who = conv.say("chi legge i miei messaggi?", "privacy")
    assert "Alleanza" in who.text and "90 giorni" not in who.text and who.buttons == []
    kept = conv.say("per quanto tempo conservate le chat?", "privacy")
    assert "90 giorni" in kept.text and kept.buttons == []


def test_a_vague_privacy_question_gets_the_whole_summary(conv) -> None:
    r = conv.say("e la privacy?", "privacy")
    assert "giorni" in r.text and "Alleanza" in r.text and "/cancella" in r.text
    assert r.buttons == [ERASE]


def test_privacy_keeps_the_town_in_meta(conv) -> None:
    r = conv.say("abito a Legnano, cancellate i miei dati", "privacy")
    assert r.meta["comune"] == "Legnano" and r.meta["territory"] == "legnanese"
