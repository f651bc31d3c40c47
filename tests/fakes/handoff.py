"""Test doubles for the handoff service's edges: an operators' desk that records what it was asked to do,
a person sender that records (and can refuse, like a person who blocked the bot), a clock to set, and
the fake Rasa's answers that ask for a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.messages import Inbound, Reply
from bot.handoff.model import Card, Delivery, ErasedTicket, TicketView
from tests.fakes import fake_rasa


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class RecordingDesk:
    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def announce(self, ticket: TicketView, card: Card) -> None:
        self.calls.append(("announce", card))

    async def person_wrote(self, ticket: TicketView, msg: Inbound) -> None:
        self.calls.append(("person_wrote", msg))

    async def notice(self, ticket: TicketView, text: str, card: Card | None = None) -> None:
        self.calls.append(("notice", text))

    async def ended(self, ticket: TicketView, text: str, card: Card) -> None:
        self.calls.append(("ended", text))

    async def erased(self, tickets: list[ErasedTicket]) -> None:
        self.calls.append(("erased", [e.ticket.id for e in tickets]))

    async def reannounced(self, partner_id: str, tickets: list[tuple[TicketView, Card]], text: str) -> None:
        self.calls.append(("reannounced", text))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]

    def of(self, kind: str) -> list[Any]:
        return [what for k, what in self.calls if k == kind]


@dataclass
class RecordingSender:
    sent: list[tuple[str, list[Reply]]] = field(default_factory=list)
    copies: list[tuple[str, int, int]] = field(default_factory=list)
    delivery: Delivery = Delivery.OK

    async def send(self, user_key: str, replies: list[Reply]) -> Delivery:
        if self.delivery is Delivery.OK:
            self.sent.append((user_key, replies))
        return self.delivery

    async def copy(self, user_key: str, from_chat_id: int, message_id: int) -> tuple[Delivery, int | None]:
        if self.delivery is not Delivery.OK:
            return self.delivery, None
        self.copies.append((user_key, from_chat_id, message_id))
        return Delivery.OK, 1000 + len(self.copies)

    def texts(self) -> list[str]:
        return [r.text for _, replies in self.sent for r in replies]


HUMAN_META = {
    "intent": "request_human",
    "confidence": 0.96,
    "topic": "school_closure",
    "territory": "magentino",
    "comune": "Magenta",
    "service_ids": [],
    "handoff": True,
    "fallback": False,
}
OFFER_META = {**HUMAN_META, "intent": "nlu_fallback", "topic": None, "territory": None, "fallback": True}


def rasa_script(sender: str, message: str) -> list[dict[str, Any]]:
    """Fake Rasa answers with the handoff meta: an explicit request (with or without a territory), an
    offer after a misunderstanding; anything else as the default fake Rasa."""
    if message in ("posso parlare con una persona?", "/request_human"):
        return [
            {"recipient_id": sender, "text": "Va bene, ti metto in contatto con una persona."},
            {"recipient_id": sender, "custom": {"meta": HUMAN_META}},
        ]
    if message == "operatore":
        meta = {**HUMAN_META, "topic": None, "territory": None, "comune": None}
        return [{"recipient_id": sender, "text": "Va bene.", "custom": {"meta": meta}}]
    if message == "blorf":
        return [
            {
                "recipient_id": sender,
                "text": "Non ho capito. Vuoi che ti metta in contatto con una persona?",
                "buttons": [{"title": "Sì, con una persona", "payload": "/request_human"}],
            },
            {"recipient_id": sender, "custom": {"meta": OFFER_META}},
        ]
    return fake_rasa.default_script(sender, message)
