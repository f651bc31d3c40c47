"""Referrals to other public offices, through the actions and the rules, on the real knowledge base."""

from __future__ import annotations

import pytest

from knowledge import load
from tests.actions.conftest import RULES

KB = load()
REFERRAL = {r.id: r for r in KB.referrals}


def assert_referral(reply, rid: str) -> None:
    ref = REFERRAL[rid]
    assert reply.meta["referral"] == rid
    assert reply.meta["fallback"] is True and reply.meta["topic"] is None
    assert reply.meta["handoff"] is False and reply.meta["service_ids"] == []
    assert reply.text.startswith(f"{ref.name}: devi rivolgerti {ref.office}.")
    assert ref.how in reply.text
    assert reply.text.endswith(f"Più informazioni: {ref.source}")
    assert "\n\n" not in reply.text  # Rasa would send each paragraph as a message of its own


def test_the_rule_sends_ask_referral_to_action_referral() -> None:
    assert RULES["ask_referral"] == "action_referral"


@pytest.mark.parametrize(
    ("text", "rid"),
    [
        ("buongiorno, come si fa domanda per il bonus asilo nido dell'inps?", "bonus_nido"),
        ("ciao a chi devo chiedere l'assegno unico x mio figlio appena nato", "assegno_unico"),
        ("quanti mesi di congedo parentale mi spettano?", "parental_leave"),
        ("sono incinta di 6 mesi, come faccio la domanda di maternità?", "maternity"),
        ("assisto mia madre, come chiedo i permessi 104 al lavoro?", "law104_leave"),
        ("dove posso fare l'isee gratis?", "isee"),
        ("mi è scaduta la carta d'identità, dove vado?", "identity_card"),
        ("come si iscrive alla mensa scolastica?", "school_canteen"),
        ("quando si fa l'iscrizione in prima elementare a Magenta?", "school_enrolment"),
        ("dove trovo gli orari autobus da Castano a Legnano?", "public_transport"),
        ("salve, cerco lavoro come educatrice in un nido", "jobs"),
        ("vorrei fare volontariato con i bambini", "volunteering"),
        ("come si chiede l'indennità di accompagnamento per mio padre?", "civil_invalidity"),
    ],
)
def test_ask_referral_names_the_office_and_how(conv, text: str, rid: str) -> None:
    assert_referral(conv.say(text, "ask_referral"), rid)


def test_ask_referral_finds_the_office_in_another_wording(conv) -> None:
    # no keyword of referrals.yml as written: "pulman" misspelt, "scuola media" with words between
    assert_referral(conv.say("ma il pulman x Magenta la domenica passa?", "ask_referral"), "public_transport")
    text = "vorrei iscrivere mio figlio alla scuola media, a chi mi rivolgo?"
    assert_referral(conv.say(text, "ask_referral"), "school_enrolment")


@pytest.mark.parametrize("intent", ["out_of_scope", "nlu_fallback"])
def test_out_of_scope_refers_only_on_a_keyword_as_written(conv, intent: str) -> None:
    # a message the model did not judge to be another office's: the loose wording is not enough
    reply = conv.say("ma il pulman x Magenta la domenica passa?", intent)
    assert reply.meta["referral"] is None


def test_ask_referral_without_a_known_referral_explains_the_offices(conv) -> None:
    r = conv.say("mi serve il rimborso del 730", "ask_referral")
    assert r.meta["referral"] is None and r.meta["fallback"] is True and r.meta["topic"] is None
    assert "INPS" in r.text and "CAF" in r.text and "Comune" in r.text
    assert any(b["payload"].startswith("/choose_topic") for b in r.buttons)


@pytest.mark.parametrize("intent", ["out_of_scope", "nlu_fallback"])
def test_out_of_scope_and_not_understood_refer_when_a_keyword_matches(conv, intent: str) -> None:
    assert_referral(conv.say("devo fare l'isee per la mensa", intent), "isee")


@pytest.mark.parametrize("intent", ["out_of_scope", "nlu_fallback"])
def test_out_of_scope_without_keyword_is_unchanged(conv, intent: str) -> None:
    r = conv.say("chi ha vinto il campionato nel 1990?", intent)
    assert r.meta["referral"] is None and r.meta["fallback"] is True


def test_an_exclusive_phrase_beats_a_topic_intent(conv) -> None:
    r = conv.say("il bonus nido vale anche per il nido serale di Magenta?", "ask_nursery")
    assert_referral(r, "bonus_nido")
    assert r.meta["comune"] == "Magenta"  # the town is still remembered


def test_a_plain_keyword_does_not_beat_a_topic_intent(conv) -> None:
    r = conv.say("il centro estivo di Corbetta ha la mensa?", "ask_summer_camp")
    assert r.meta["referral"] is None and r.meta["topic"] == "school_closure"


def test_every_other_answer_has_referral_null(conv) -> None:
    assert conv.say("ciao", "greet").meta["referral"] is None
    assert conv.say("centri estivi a Magenta a luglio", "ask_summer_camp").meta["referral"] is None
    assert conv.say("vorrei parlare con una persona", "request_human").meta["referral"] is None


def test_a_referral_does_not_count_as_a_misunderstanding(conv) -> None:
    conv.say("blablabla", "nlu_fallback")
    conv.say("come si fa la carta d'identità?", "out_of_scope")
    r = conv.say("uffa", "nlu_fallback")
    assert conv.slots["failures"] == 2.0
    assert r.meta["handoff"] is True  # the second misunderstanding offers a person, as before


def test_a_number_of_another_office_is_not_a_handoff(conv) -> None:
    r = conv.say("mi passi il numero dell'inps?", "request_human")
    assert r.meta["handoff"] is False and r.meta["fallback"] is True
    assert "INPS" in r.text and "www.inps.it" in r.text
    r2 = conv.say("mi date il numero del caf per il bonus nido?", "request_human")
    assert_referral(r2, "bonus_nido")


def test_company_welfare_questions_about_a_benefit_are_not_referred(conv) -> None:
    r = conv.say("la mensa scolastica è rimborsabile con il welfare?", "ask_welfare_employee")
    assert r.meta["referral"] is None and r.meta["topic"] == "company_welfare"
    r = conv.say("posso rimborsare il bonus nido col welfare aziendale?", "ask_nursery")
    assert r.meta["referral"] is None


def test_a_parent_who_works_as_an_educator_still_gets_the_nursery(conv) -> None:
    r = conv.say("lavoro come educatrice la sera: c'è un nido serale a Legnano?", "ask_nursery")
    assert r.meta["referral"] is None and r.meta["topic"] == "evening_nursery"
