"""The conversations of the first issue, turn by turn, on the real knowledge base."""

from __future__ import annotations

from knowledge import load
from tests.actions.conftest import ent

KB = load()


def test_summer_camps_in_corbetta_for_a_7_year_old_in_july(conv):
    r = conv.say(
        "ciao, ci sono centri estivi a Corbetta per luglio? mia figlia ha 7 anni",
        "ask_summer_camp",
        [ent("town", "Corbetta"), ent("period", "luglio"), ent("age", "7")],
    )
    assert r.meta["topic"] == "school_closure"
    assert r.meta["territory"] == "magentino" and r.meta["comune"] == "Corbetta"
    assert r.meta["service_ids"], r.text
    for sid in r.meta["service_ids"]:
        s = KB.service(sid)
        assert s.kind == "summer_camp" and "magentino" in s.territories
        assert s.ages.min <= 7 <= s.ages.max
        assert s.period.start.month <= 7 <= s.period.end.month
        assert not s.towns or "Corbetta" in s.towns
        assert s.title in r.text and s.cost in r.text
        assert KB.partners[s.provider].name in r.text
    assert "Iscrizioni:" in r.text and "Quando:" in r.text
    assert any(b["payload"].startswith("/show_service") for b in r.buttons)
    assert r.meta["handoff"] is False and r.meta["fallback"] is False

    # "e quanto costa?" is understood in context
    shown = r.meta["service_ids"]
    r2 = conv.say("e quanto costa?", "ask_cost")
    assert r2.meta["service_ids"] == shown
    assert r2.meta["topic"] == "school_closure" and r2.meta["comune"] == "Corbetta"
    for sid in shown:
        assert KB.service(sid).cost in r2.text


def test_details_button_shows_more(conv):
    r = conv.say(
        "centri estivi a Magenta per un bimbo di 8 anni",
        "ask_summer_camp",
        [ent("town", "Magenta"), ent("age", "8")],
    )
    payload = next(b["payload"] for b in r.buttons if b["payload"].startswith("/show_service"))
    sid = payload.split('"service_id":"')[1].split('"')[0]
    d = conv.say(payload, "show_service", [ent("service_id", sid)])
    s = KB.service(sid)
    assert d.meta["service_ids"] == [sid]
    assert s.title in d.text and "Contatti:" in d.text
    assert (s.contacts.email or s.contacts.phone or s.contacts.web) in d.text


def test_saturday_nursery_asks_the_town_once_then_answers(conv):
    r = conv.say("il nido è aperto il sabato?", "ask_nursery")
    assert "comune" in r.text.lower()
    assert r.meta["topic"] == "evening_nursery" and r.meta["service_ids"] == []
    r2 = conv.say("Abbiategrasso", "inform", [ent("town", "Abbiategrasso")])
    assert r2.meta["comune"] == "Abbiategrasso" and r2.meta["territory"] == "abbiatense"
    assert r2.meta["topic"] == "evening_nursery"
    assert r2.meta["service_ids"], r2.text
    for sid in r2.meta["service_ids"]:
        s = KB.service(sid)
        assert s.kind == "saturday_nursery" and "abbiatense" in s.territories
    # the town is remembered: a new question does not ask it again
    r3 = conv.say("e c'è anche un nido serale?", "ask_nursery")
    assert r3.meta["comune"] == "Abbiategrasso" and r3.meta["service_ids"]
    assert all(KB.service(s).kind == "evening_nursery" for s in r3.meta["service_ids"])


def test_misspelt_town_without_entity_is_resolved(conv):
    r = conv.say("centri estivi ad abbiategrsso", "ask_summer_camp")
    assert r.meta["comune"] == "Abbiategrasso" and r.meta["territory"] == "abbiatense"


def test_carnival_closure_dates_ambrosian_rite(conv):
    r = conv.say(
        "quando chiudono le scuole per Carnevale?", "ask_school_calendar", [ent("period", "Carnevale")]
    )
    carnival = [c for c in KB.closures if c.kind == "carnival"]
    ambrosian = next(c for c in carnival if c.rite == "ambrosian")
    assert r.meta["topic"] == "school_closure"
    assert f"{ambrosian.start.day} febbraio" in r.text and "ambrosiano" in r.text
    assert "venerdì 12 febbraio" in r.text


def test_hr_clerk_nursery_reimbursement_and_joining(conv):
    text = (
        "Sono l'ufficio personale di un'azienda di 12 dipendenti a Legnano: possiamo rimborsare la retta "
        "del nido senza tasse? E come aderiamo all'accordo territoriale?"
    )
    r = conv.say(text, "ask_welfare_employee", [ent("town", "Legnano")])
    assert r.meta["topic"] == "company_welfare" and r.meta["territory"] == "legnanese"
    assert "f-bis" in r.text  # the rule
    assert "1.000 €" in r.text and "2.000 €" in r.text  # the thresholds
    assert "A chi rivolgerti" in r.text and "example.org" in r.text  # whom to contact
    assert "aderi" in r.text.lower()


def test_out_of_scope_is_honest_then_offers_a_person(conv):
    r = conv.say("che tempo fa domani?", "out_of_scope")
    assert "non è una cosa su cui posso aiutarti" in r.text
    assert "centri estivi" in r.text  # says what it can do
    assert r.meta["fallback"] is True and r.meta["handoff"] is False and r.meta["topic"] is None
    r2 = conv.say("chi ha vinto lo scudetto nel 1990?", "out_of_scope")  # not a referral
    assert r2.meta["fallback"] is True and r2.meta["handoff"] is True
    assert "persona" in r2.text
    assert any(b["payload"] == "/request_human" for b in r2.buttons)


def test_two_misunderstandings_in_a_row_offer_a_person(conv):
    r = conv.say("asdf qwerty", "nlu_fallback", confidence=0.3)
    assert r.meta["fallback"] is True and r.meta["handoff"] is False
    r2 = conv.say("boh blabla", "nlu_fallback", confidence=0.2)
    assert r2.meta["handoff"] is True
    # accepting the offer by typing "sì"
    r3 = conv.say("sì", "affirm")
    assert r3.meta["handoff"] is True and r3.meta["fallback"] is False


def test_an_understood_message_resets_the_misunderstandings(conv):
    conv.say("asdf", "nlu_fallback", confidence=0.3)
    conv.say("centri estivi a Magenta", "ask_summer_camp", [ent("town", "Magenta")])
    r = conv.say("boh", "nlu_fallback", confidence=0.3)
    assert r.meta["handoff"] is False


def test_request_human_names_the_partner_of_topic_and_territory(conv):
    conv.say("centri estivi a Magenta", "ask_summer_camp", [ent("town", "Magenta")])
    r = conv.say("posso parlare con una persona?", "request_human")
    partner = KB.partner_for("school_closure", "magentino")
    assert r.meta["handoff"] is True and partner.name in r.text


def test_town_alone_without_context_asks_what_is_needed(conv):
    r = conv.say("Magenta", "inform", [ent("town", "Magenta")])
    assert r.meta["comune"] == "Magenta" and r.meta["topic"] is None
    assert len(r.buttons) >= 4
    r2 = conv.say("/choose_topic", "choose_topic", [ent("topic", "ask_summer_camp")])
    assert r2.meta["topic"] == "school_closure" and r2.meta["comune"] == "Magenta"


def test_greet_and_privacy_carry_meta(conv):
    r = conv.say("ciao", "greet")
    assert r.meta["topic"] is None and r.meta["fallback"] is False
    p = conv.say("che dati tenete?", "privacy")
    assert "/cancella" in p.text


def test_every_meta_has_all_fields(conv):
    r = conv.say("ciao", "greet")
    assert set(r.meta) == {
        "intent",
        "confidence",
        "topic",
        "territory",
        "comune",
        "service_ids",
        "handoff",
        "fallback",
        "clarify",
        "referral",
    }


def test_menu_buttons_with_topic_ids(conv):
    r = conv.say('/choose_topic{"topic": "school_closure"}', "choose_topic", [ent("topic", "school_closure")])
    assert r.meta["topic"] == "school_closure" and len(r.buttons) == 5
    r = conv.say(
        '/choose_topic{"topic": "ask_holiday_camp"}', "choose_topic", [ent("topic", "ask_holiday_camp")]
    )
    assert r.meta["topic"] == "school_closure" and "comune" in r.text
    r = conv.say("Magenta", "inform", [ent("town", "Magenta")])
    assert r.meta["service_ids"] or "età" in r.text.lower() or "anni" in r.text
    r = conv.say(
        '/choose_topic{"topic": "company_welfare"}', "choose_topic", [ent("topic", "company_welfare")]
    )
    assert r.meta["topic"] == "company_welfare" and "1.000 €" in r.text
