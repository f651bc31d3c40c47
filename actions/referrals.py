"""Referrals: requests that belong to another public office (INPS, the CAF, the town's registry or
school office, ...) get where to go and how, from knowledge/data/referrals.yml.

A referral's meta has ``fallback: true``, ``topic: null`` and ``referral: <id>``. It is the answer to
``ask_referral``; to ``out_of_scope`` and ``nlu_fallback`` when a referral keyword is in the message;
and to any question about the alliance's services that contains an *exclusive* referral phrase
("il bonus nido vale anche per il nido serale?").
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.kb import knowledge
from actions.project_info import menu_buttons
from actions.reply import Answer, send
from knowledge import KnowledgeBase, Referral, normalise

OFFICES_GUIDE = (
    "Questa richiesta è di un altro ufficio. In generale: bonus per i figli, congedi, maternità, "
    "permessi 104 e invalidità sono dell'INPS, e un patronato ti aiuta gratis con la domanda "
    "(www.inps.it). L'ISEE lo fai in un CAF. Documenti, mensa, scuolabus e iscrizioni ai servizi "
    "comunali sono del tuo Comune."
)
CAN_DO = "Io posso aiutarti con i servizi per conciliare famiglia e lavoro: scegli un argomento."

WELFARE_INTENTS = ("ask_welfare_employee", "ask_welfare_join")
# Words that name an outside office: a request for "a number" that names one is not for our operators.
OFFICE_WORDS = ("inps", "caf", "patronato", "anagrafe", "agenzia delle entrate", "questura", "asl", "ats")


def referral_answer(ref: Referral) -> Answer:
    # one message (Rasa sends each paragraph as a message of its own): the link on its own line
    text = f"{ref.name}: devi rivolgerti {ref.office}. {ref.how}\nPiù informazioni: {ref.source}"
    return Answer(text=text, topic=None, fallback=True, referral=ref.id, events=[SlotSet("pending", None)])


def offices_answer() -> Answer:
    """ask_referral without a known referral: which office handles what, and the menu."""
    return Answer(
        text=f"{OFFICES_GUIDE}\n\n{CAN_DO}",
        buttons=menu_buttons(),
        topic=None,
        fallback=True,
        events=[SlotSet("pending", None)],
    )


def message_text(tracker: Tracker) -> str:
    """The person's words (a button payload has none)."""
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text


def referral_for(
    kb: KnowledgeBase, text: str, exclusive_only: bool = False, loose: bool = False
) -> Answer | None:
    ref = kb.find_referral(text, exclusive_only=exclusive_only, loose=loose) if text else None
    return referral_answer(ref) if ref is not None else None


def exclusive_referral(kb: KnowledgeBase, tracker: Tracker) -> Answer | None:
    """The referral an exclusive phrase names, even in a question about a topic; not for company
    welfare, which asks whether a benefit (canteen, school bus, nursery fees) is covered."""
    intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    text = message_text(tracker)
    if intent in WELFARE_INTENTS or "welfare" in normalise(text).split():
        return None
    return referral_for(kb, text, exclusive_only=True)


def names_an_office(text: str) -> bool:
    padded = f" {normalise(text)} "
    return any(f" {word} " in padded for word in OFFICE_WORDS)


class ActionReferral(Action):
    def name(self) -> str:
        return "action_referral"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        # the model judged it another office's business: the office may be named in any wording
        answer = referral_for(knowledge(), message_text(tracker), loose=True) or offices_answer()
        return send(dispatcher, tracker, answer)
