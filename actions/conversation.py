"""Actions for the turns that are not about a service: small talk, privacy, asking for a person,
out-of-scope requests and messages not understood."""

from __future__ import annotations

import os
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import ask_or_none
from actions.context import read_request
from actions.handoff import human_answer, misunderstood
from actions.kb import knowledge
from actions.project_info import menu_buttons
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
        days = os.environ.get("RETENTION_DAYS", "180")
        text = (
            "Conservo i tuoi messaggi solo per risponderti, e dopo "
            f"{days} giorni cancello i testi. Non ti chiedo documenti né il cognome. "
            "Le conversazioni passate a un operatore le vede solo l'ente che gestisce il servizio. "
            "Con il comando /cancella elimini subito tutto quello che ti riguarda."
        )
        return send(dispatcher, tracker, Answer(text=text))


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        kb = knowledge()
        return send(dispatcher, tracker, human_answer(kb, read_request(kb, tracker)))


class ActionOutOfScope(Action):
    def name(self) -> str:
        return "action_out_of_scope"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        kb = knowledge()
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
        req = read_request(kb, tracker)
        question = ask_or_none(req, tracker, fallback=True)  # two plausible topics: ask which one
        if question is not None:
            return send(dispatcher, tracker, question)
        failures = float(tracker.get_slot("failures") or 0)
        return send(dispatcher, tracker, misunderstood(req, failures, text, menu_buttons()))
