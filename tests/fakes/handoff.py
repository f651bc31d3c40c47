"""Test doubles for the handoff service's edges: an operators' desk that records what it was asked to do,
a person sender that records (and can refuse, like a person who blocked the bot), and a clock to set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.handoff import Card, Delivery
from bot.messages import Inbound, Reply
from bot.store.tickets import ErasedTicket, TicketView


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

    def announce(self, ticket: TicketView, card: Card) -> None:
        self.calls.append(("announce", card))

    def person_wrote(self, ticket: TicketView, msg: Inbound) -> None:
        self.calls.append(("person_wrote", msg))

    def notice(self, ticket: TicketView, text: str, card: Card | None = None) -> None:
        self.calls.append(("notice", text))

    def ended(self, ticket: TicketView, text: str, card: Card) -> None:
        self.calls.append(("ended", text))

    def erased(self, tickets: list[ErasedTicket]) -> None:
        self.calls.append(("erased", [e.ticket.id for e in tickets]))

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
