"""What every part of the handoff service shares: its stores, the knowledge base, the clock, the attached
desks and person senders, reaching the person, and the one authorisation check of operators' actions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.messages import Reply
from bot.handoff import texts as txt
from bot.handoff.model import (
    Actor,
    Card,
    Delivery,
    GroupView,
    OperatorView,
    TicketView,
    Timeouts,
    display_name,
)
from bot.handoff.ports import DeskPlaces, OperatorsDesk, PersonSender
from bot.store import NewMessage, Store, new_sender_id
from bot.store.desk import DeskPlacesStore
from bot.store.models import utcnow
from bot.store.operators import OperatorStore
from bot.store.tickets import TicketStore

if TYPE_CHECKING:
    from knowledge import KnowledgeBase, Partner

log = logging.getLogger(__name__)


class HandoffCore:
    def __init__(
        self,
        store: Store,
        knowledge: Callable[[], KnowledgeBase],
        *,
        tickets: TicketStore | None = None,
        clock: Callable[[], datetime] = utcnow,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.store = store
        self.tickets = tickets or TicketStore(store)
        self.operators = OperatorStore(store)
        self.desk_places: DeskPlaces = DeskPlacesStore(store)  # the Telegram desk's own table
        self._kb = knowledge
        self.clock = clock
        self.timeouts = timeouts or Timeouts()
        self.desks: list[OperatorsDesk] = []
        self._senders: dict[str, PersonSender] = {}

    # --- wiring -------------------------------------------------------------------------------------

    def attach_desk(self, desk: OperatorsDesk) -> None:
        """Add an operators' channel: it is told about every ticket from now on."""
        self.desks.append(desk)

    def attach_sender(self, channel: str, sender: PersonSender) -> None:
        self._senders[channel] = sender

    # --- what the desks read ------------------------------------------------------------------------

    async def ticket(self, ticket_id: int) -> TicketView | None:
        return await self.tickets.get(ticket_id)

    async def group_of(self, partner_id: str) -> GroupView | None:
        """The partner's operators' group on Telegram, None when it has none."""
        return await self.operators.group_of(partner_id)

    # --- knowledge base -----------------------------------------------------------------------------

    def knowledge(self) -> KnowledgeBase:
        return self._kb()

    def partner(self, partner_id: str) -> Partner | None:
        try:
            return self._kb().partners.get(partner_id)
        except Exception:
            log.exception("knowledge base unavailable")
            return None

    def partner_name(self, partner_id: str) -> str:
        partner = self.partner(partner_id)
        return partner.name if partner else partner_id

    # --- telling the desks --------------------------------------------------------------------------

    async def _announce(self, ticket: TicketView, card: Card) -> None:
        for desk in self.desks:
            await desk.announce(ticket, card)

    async def _notice(self, ticket: TicketView, text: str, card: Card | None = None) -> None:
        for desk in self.desks:
            await desk.notice(ticket, text, card)

    async def _ended(self, ticket: TicketView, text: str, card: Card) -> None:
        for desk in self.desks:
            await desk.ended(ticket, text, card)

    # --- who may act --------------------------------------------------------------------------------

    async def authorize(
        self, chat_id: int, telegram_user_id: int, first_name: str | None, ticket: TicketView | None
    ) -> tuple[OperatorView | None, str | None]:
        """The operator acting in ``chat_id`` (on ``ticket``), or a refusal to show them: the one check of
        every operator's action. Refusals are logged, and recorded on the ticket."""
        return await self.authorise(Actor(telegram_user_id, first_name, chat_id), ticket)

    async def authorise(
        self, actor: Actor, ticket: TicketView | None
    ) -> tuple[OperatorView | None, str | None]:
        if actor.chat_id is None:
            return None, txt.NOT_LINKED
        group = await self.operators.group_by_chat(actor.chat_id)
        if group is None:
            return None, txt.NOT_LINKED
        op = await self.operators.operator(actor.telegram_user_id, group.partner_id)
        if op is None or (ticket is not None and ticket.partner_id != group.partner_id):
            log.warning(
                "refused: a Telegram user who is not an operator of %s tried to act on ticket %s",
                group.partner_id,
                ticket.id if ticket else "-",
            )
            if ticket is not None:
                await self.tickets.add_event(
                    ticket.id,
                    "refused",
                    f"telegram:{actor.telegram_user_id}",
                    self.clock(),
                    detail="not an operator",
                )
            return None, txt.not_operator(self.partner_name(group.partner_id))
        if actor.first_name and actor.first_name != op.first_name:
            await self.operators.rename_operator(op.id, actor.first_name)
            op = OperatorView(op.id, op.partner_id, op.telegram_user_id, actor.first_name, op.active)
        return op, None

    # --- reaching the person ------------------------------------------------------------------------

    async def _store_pushed(self, ticket: TicketView, replies: list[Reply], source: str) -> None:
        records = [
            NewMessage(
                channel=ticket.channel,
                user_key=ticket.user_key,
                direction="out",
                rasa_sender_id=new_sender_id(),  # used only if her row were gone
                text=r.text,
                buttons=[{"title": b.title, "payload": b.payload} for b in r.buttons] or None,
                meta={"ticket": ticket.id, "from": source},
                created_at=self.clock(),
                pushed=True,
            )
            for r in replies
        ]
        try:
            await self.store.save(records)
        except Exception:
            log.exception("ticket %d: a message for the person was not stored", ticket.id)

    async def _tell(self, ticket: TicketView, replies: list[Reply]) -> Delivery:
        """A system message to the person (stored; sent right away on Telegram)."""
        await self._store_pushed(ticket, replies, source="system")
        sender = self._senders.get(ticket.channel)
        if sender is None:
            return Delivery.OK
        try:
            delivery = await sender.send(ticket.user_key, replies)
        except Exception:
            log.exception("ticket %d: cannot reach the person", ticket.id)
            delivery = Delivery.FAILED
        notice = self._delivery_notice(ticket, delivery)
        if notice:
            await self._notice(ticket, notice)
        return delivery

    def _delivery_notice(self, ticket: TicketView, delivery: Delivery) -> str | None:
        if delivery is Delivery.BLOCKED:
            log.info("ticket %d: the person blocked the bot", ticket.id)
            return txt.blocked_notice(display_name(ticket))
        if delivery is Delivery.FAILED:
            return txt.not_delivered_notice(display_name(ticket))
        return None
