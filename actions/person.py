"""Recognising that the person needs a human: an explicit request, or repeated misunderstanding.

The meta payload carries `handoff: true`; the gateway acts on it (the handoff to partner operators
lives in bot/). Here the assistant names the partner that covers the conversation's topic and
territory, with its contacts and office hours from the knowledge base.
"""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.context import Request
from actions.reply import Answer, button
from actions.services import contacts
from knowledge import KnowledgeBase
from knowledge import italian as fmt
from knowledge.contract import REQUEST_HUMAN_INTENT

OFFER_AFTER = 2  # misunderstandings in a row before a person is offered


def office_hours(partner) -> str:
    """'dal lunedì al venerdì 9:00-13:00; giovedì anche 14:00-17:00' → grouped by identical hours."""
    groups: dict[str, list[str]] = {}
    for day in fmt.DAY_KEYS:
        spans = partner.office_hours.get(day)
        if spans:
            groups.setdefault(fmt.hours(spans), []).append(day)
    return "; ".join(f"{fmt.days(days)} {hours}" for hours, days in groups.items())


def partner_for(kb: KnowledgeBase, req: Request):
    partner = None
    if req.topic and req.territory:
        partner = kb.partner_for(req.topic, req.territory)
    return partner or kb.default_partner


def human_answer(kb: KnowledgeBase, req: Request) -> Answer:
    partner = partner_for(kb, req)
    text = "Va bene, ti metto in contatto con una persona."
    if partner is not None:
        text += f" Se ne occupa {partner.name}"
        hours = office_hours(partner)
        if hours:
            text += f", che risponde {hours}"
        text += f". Puoi anche contattarli direttamente: {contacts(partner.contacts)}."
    return Answer(
        text=text,
        topic=req.topic,
        handoff=True,
        events=[SlotSet("pending", None), SlotSet("failures", 0.0)],
    )


# "datemi un numero" wants the contacts, not a ticket; "mi richiamate al mio numero?" wants a callback.
NUMBER_WORDS = ("numero", "telefono", "cellulare", "contatti", "mail", "email", "number", "phone")
CALLBACK_WORDS = (
    "richiamate", "richiamatemi", "richiamami", "richiamarmi", "chiamatemi", "chiamami", "chiamarmi",
    "mi chiamate", "fatemi chiamare", "call me", "call back",
)  # fmt: skip


def asks_for_a_number(text: str) -> bool:
    """The message (normalised) asks for a number or an address to contact, not to be called back."""
    padded = f" {text} "
    wants_number = any(f" {w} " in padded for w in NUMBER_WORDS)
    return wants_number and not any(f" {w} " in padded for w in CALLBACK_WORDS)


def number_answer(kb: KnowledgeBase, req: Request) -> Answer:
    """The partner's contacts, with a person offered in the chat. ``handoff`` and ``fallback`` both true:
    a person is offered, not yet requested, so the gateway shows these contacts instead of a ticket."""
    partner = partner_for(kb, req)
    text = f"Puoi scrivere o telefonare a {partner.name}: {contacts(partner.contacts)}."
    hours = office_hours(partner)
    if hours:
        text += f" Risponde {hours}."
    text += " Se preferisci, ti metto in contatto io con un operatore qui in chat."
    return Answer(
        text=text,
        buttons=[button("Sì, con un operatore", REQUEST_HUMAN_INTENT)],
        topic=req.topic,
        handoff=True,
        fallback=True,
        events=[SlotSet("pending", "handoff_offer"), SlotSet("failures", 0.0)],
    )


def misunderstood(req: Request, failures: float, text: str, buttons: list[dict[str, str]]) -> Answer:
    """A reply for a message not understood or out of scope; offers a person after OFFER_AFTER in a row."""
    failures += 1
    if failures >= OFFER_AFTER:
        return Answer(
            text=text + "\n\nVuoi che ti metta in contatto con una persona?",
            buttons=[button("Sì, con una persona", REQUEST_HUMAN_INTENT), button("No, grazie", "deny")],
            topic=None,
            handoff=True,
            fallback=True,
            events=[SlotSet("failures", failures), SlotSet("pending", "handoff_offer")],
        )
    return Answer(
        text=text,
        buttons=buttons,
        topic=None,
        fallback=True,
        events=[SlotSet("failures", failures), SlotSet("pending", None)],
    )
