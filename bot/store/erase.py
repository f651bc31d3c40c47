"""Erasing a person: the one path that deletes her rows, used by the conversation's /cancella (through
:meth:`bot.store.Store.erase_user`) and by the handoff (:meth:`bot.store.tickets.TicketStore.erase_person`,
which returns what the operators' desks must clean up)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.handoff.model import ErasedTicket, TopicPlace
from bot.store.models import DeskTopic, Message, PrivacyEvent, RelayedMessage, Ticket, TicketEvent, User
from bot.store.ticket_rows import tickets_where

TELEGRAM_DESK = "telegram"


def erase_tickets(session: Session, user_id: int) -> list[ErasedTicket]:
    """Delete the person's tickets with their events, desk places and relayed messages; return what was
    there (where each sat, the copies made in its topic)."""
    erased = []
    for view in tickets_where(session, Ticket.user_id == user_id):
        ids = session.scalars(
            select(RelayedMessage.topic_message_id).where(
                RelayedMessage.ticket_id == view.id, RelayedMessage.topic_message_id.is_not(None)
            )
        ).all()
        desk = session.get(DeskTopic, (view.id, TELEGRAM_DESK))
        place = (
            None if desk is None else TopicPlace(view.id, desk.chat_id, desk.thread_id, desk.card_message_id)
        )
        erased.append(ErasedTicket(view, place, tuple(int(i) for i in ids if i is not None)))
    ticket_ids = [e.ticket.id for e in erased]
    if ticket_ids:
        for table in (RelayedMessage, TicketEvent, DeskTopic):
            session.execute(delete(table).where(table.ticket_id.in_(ticket_ids)))
        session.execute(delete(Ticket).where(Ticket.id.in_(ticket_ids)))
    return erased


def erase_person(session: Session, user_id: int, now: datetime) -> list[ErasedTicket]:
    """Delete the person's row, messages, tickets and privacy events; keep one anonymous "erased"
    record. Returns the tickets erased."""
    erased = erase_tickets(session, user_id)
    session.execute(delete(Message).where(Message.user_id == user_id))
    session.execute(delete(PrivacyEvent).where(PrivacyEvent.user_id == user_id))
    session.execute(delete(User).where(User.id == user_id))
    session.add(PrivacyEvent(user_id=None, kind="erased", created_at=now))
    return erased
