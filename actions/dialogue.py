"""Actions for the turns that are not about a service: small talk, privacy, asking for a person,
out-of-scope requests and messages not understood."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import ask_or_none
from actions.context import read_request
from actions.kb import knowledge
from actions.person import asks_for_a_number, human_answer, misunderstood, number_answer
from actions.privacy import privacy_answer
from actions.project_info import menu_buttons
from actions.referrals import (
    exclusive_referral,
    message_text,
    names_an_office,
    offices_answer,
    referral_for,
)
from actions.reply import Answer, send

SHORT_CAN_DO = (
    "Posso aiutarti con centri estivi e scuole chiuse, nidi aperti la sera e il sabato, "
    "aiuti per chi assiste un familiare, servizi salvatempo e welfare aziendale."
)


SMALLTALK = ("greet", "goodbye", "thanks", "affirm", "deny")


class ActionSmalltalk(Action):
    def name(self) -> str:
        return "action_smalltalk"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        pending = tracker.get_slot("pending")
        if intent == "affirm" and pending == "handoff_offer":
            return send(dispatcher, tracker, human_answer(knowledge(), read_request(knowledge(), tracker)))
        buttons = menu_buttons() if intent in ("greet", "affirm") else []
        response = f"utter_{intent}" if intent in SMALLTALK else "utter_affirm"
        return send(dispatcher, tracker, Answer(text="", response=response, buttons=buttons))


class ActionPrivacy(Action):
    def name(self) -> str:
        return "action_privacy"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        return send(dispatcher, tracker, privacy_answer(message_text(tracker)))


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        kb = knowledge()
        text = message_text(tracker)
        if names_an_office(text):  # "mi passi il numero dell'inps?" is not for the alliance's operators
            return send(dispatcher, tracker, referral_for(kb, text) or offices_answer())
        req = read_request(kb, tracker)
        if asks_for_a_number(req.text):  # "datemi un numero": the contacts, and a person offered
            return send(dispatcher, tracker, number_answer(kb, req))
        return send(dispatcher, tracker, human_answer(kb, req))


class ActionOutOfScope(Action):
    def name(self) -> str:
        return "action_out_of_scope"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        kb = knowledge()
        referral = referral_for(kb, message_text(tracker))  # another office's business: say which
        if referral is not None:
            return send(dispatcher, tracker, referral)
        text = "Mi dispiace, non è una cosa su cui posso aiutarti. " + SHORT_CAN_DO
        failures = float(tracker.get_slot("failures") or 0)
        return send(
            dispatcher, tracker, misunderstood(read_request(kb, tracker), failures, text, menu_buttons())
        )


class ActionNotUnderstood(Action):
    def name(self) -> str:
        return "action_not_understood"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        kb = knowledge()
        text = (
            "Scusa, non ho capito bene. Prova con altre parole, per esempio: "
            "«centri estivi a Magenta per luglio» o «nido aperto il sabato ad Abbiategrasso»."
        )
        referral = exclusive_referral(kb, tracker)
        if referral is not None:
            return send(dispatcher, tracker, referral)
        req = read_request(kb, tracker)
        question = ask_or_none(req, tracker, fallback=True)  # two plausible topics: ask which one
        if question is not None:
            return send(dispatcher, tracker, question)
        referral = referral_for(kb, message_text(tracker))
        if referral is not None:
            return send(dispatcher, tracker, referral)
        failures = float(tracker.get_slot("failures") or 0)
        return send(dispatcher, tracker, misunderstood(req, failures, text, menu_buttons()))
