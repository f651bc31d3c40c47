"""Erasing a person: the one path that deletes her rows, used by the conversation's /cancella (through
:meth:`bot.store.Store.erase_user`) and by the handoff (:meth:`bot.store.tickets.TicketStore.erase_person`,
which returns what the operators' desks must clean up).

An erasure leaves tombstones (:class:`~bot.store.models.Erasure`): the SHA-256 of her channel and key and of
each Rasa id she had, with the time. A gateway's spool may still hold messages of hers from before (taken in
while the database was away, by this gateway or another one); :func:`erased_since` tells the store not to
write them back, and a Rasa id she had is never given to anybody again."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.handoff.model import ErasedTicket, TopicPlace
from bot.store.console_models import ReviewLabel, TicketNote
from bot.store.models import (
    DeskTopic,
    Erasure,
    Message,
    PrivacyEvent,
    RasaSenderId,
    RelayedMessage,
    Ticket,
    TicketEvent,
    User,
)
from bot.store.ticket_rows import tickets_where

TELEGRAM_DESK = "telegram"


def tombstone_key(kind: str, *parts: str) -> str:
    """The tombstone's key: ``person`` (channel, key) or ``rasa`` (a Rasa id), hashed."""
    return hashlib.sha256("\x1f".join(("concilia-erasure", kind, *parts)).encode("utf-8")).hexdigest()


def erased_since(session: Session, key: str, at: datetime) -> bool:
    """Whether ``key`` (see :func:`tombstone_key`) was erased at or after ``at``."""
    row = session.get(Erasure, key)
    return row is not None and row.erased_at >= at


def sender_ids_of(session: Session, user_id: int) -> list[str]:
    """Every Rasa id the person was given: her row's first, then those made during an outage."""
    first = session.scalar(select(User.rasa_sender_id).where(User.id == user_id))
    query = select(RasaSenderId.sender_id).where(RasaSenderId.user_id == user_id)
    others = session.scalars(query.order_by(RasaSenderId.created_at)).all()
    return ([first] if first else []) + [s for s in others if s != first]


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
        for table in (RelayedMessage, TicketEvent, DeskTopic, TicketNote):
            session.execute(delete(table).where(table.ticket_id.in_(ticket_ids)))
        session.execute(delete(Ticket).where(Ticket.id.in_(ticket_ids)))
    return erased


def _tombstone(session: Session, key: str, now: datetime) -> None:
    row = session.get(Erasure, key)
    if row is None:
        session.add(Erasure(key_hash=key, erased_at=now))
    else:
        row.erased_at = max(row.erased_at, now)


def erase_person(session: Session, user_id: int, now: datetime) -> list[ErasedTicket]:
    """Delete the person's row, Rasa ids, messages (and the review queue's labels on them), tickets and
    privacy events; keep one anonymous
    "erased" record and her tombstones. Returns the tickets erased."""
    user = session.get(User, user_id)
    if user is not None:
        _tombstone(session, tombstone_key("person", user.channel, user.channel_user_key), now)
        for sender_id in sender_ids_of(session, user_id):
            _tombstone(session, tombstone_key("rasa", sender_id), now)
    erased = erase_tickets(session, user_id)
    session.execute(delete(ReviewLabel).where(ReviewLabel.user_id == user_id))  # exported or not
    session.execute(delete(Message).where(Message.user_id == user_id))
    session.execute(delete(PrivacyEvent).where(PrivacyEvent.user_id == user_id))
    session.execute(delete(RasaSenderId).where(RasaSenderId.user_id == user_id))
    session.execute(delete(User).where(User.id == user_id))
    session.add(PrivacyEvent(user_id=None, kind="erased", created_at=now))
    return erased
