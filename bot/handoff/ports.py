"""The ports of the handoff service: what it needs from the channels, and what it gives them.

* :class:`OperatorsDesk`: an operators' channel (Telegram forum topics today; a web inbox can be a second
  one). The service tells every attached desk what happened; a desk renders it its own way. Its calls
  return once the work is queued (the Telegram desk writes it to the outbox), not sent.
* :class:`PersonSender`: how to reach a person on one channel outside an answer.
* :class:`DeskPlaces`: a desk's own table of where each ticket sits (topic, card, copies). The service
  hands an implementation to the desks (:attr:`HandoffService.desk_places`), so a channel never touches
  the store, and the ticket row knows nothing of any desk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.core.messages import Inbound, Reply
from bot.handoff.model import Card, Delivery, ErasedTicket, TicketView, TopicPlace


class OperatorsDesk(Protocol):
    """The operators' side: one topic (or one inbox entry) per ticket in the partner's place."""

    async def announce(self, ticket: TicketView, card: Card) -> None: ...

    async def person_wrote(self, ticket: TicketView, msg: Inbound) -> None: ...

    async def notice(self, ticket: TicketView, text: str, card: Card | None = None) -> None: ...

    async def ended(self, ticket: TicketView, text: str, card: Card) -> None: ...

    async def erased(self, tickets: list[ErasedTicket]) -> None: ...

    async def reannounced(self, partner_id: str, tickets: list[tuple[TicketView, Card]], text: str) -> None:
        """Tickets of one partner nobody claimed, announced again: one message for all of them (``text``),
        and each card brought up to date."""
        ...


class PersonSender(Protocol):
    """How to reach a person on one channel outside an answer."""

    async def send(self, user_key: str, replies: list[Reply]) -> Delivery: ...

    async def copy(
        self, user_key: str, from_chat_id: int, message_id: int
    ) -> tuple[Delivery, int | None]: ...


class DeskPlaces(Protocol):
    """Where the tickets sit on one desk (``desk``: its name, such as "telegram")."""

    async def place(self, ticket_id: int) -> TopicPlace | None: ...

    async def ticket_at(self, chat_id: int, thread_id: int) -> int | None:
        """The ticket whose topic this is, None for a topic that is not a ticket's."""
        ...

    async def link(
        self, ticket_id: int, chat_id: int, thread_id: int, now: datetime, *, replacing: int | None = None
    ) -> bool:
        """Link the ticket to its topic if it still has the topic ``replacing`` (None: no topic yet).
        False when another gateway linked a topic first: the caller's topic is one too many."""
        ...

    async def set_card(self, ticket_id: int, card_message_id: int) -> None: ...

    async def add_relay(
        self,
        ticket_id: int,
        direction: str,
        *,
        person_message_id: int | None,
        chat_id: int | None,
        topic_message_id: int | None,
        now: datetime,
    ) -> None: ...
