"""A person's Rasa conversations: how old the current one is, and a new one in its place.

Rasa loads, locks and serialises a conversation's whole tracker on every turn, and sends it to the action
server: a message costs more the longer the conversation (bench/RESULTS.md, "Cost per message"). So the
gateway gives a person a new opaque Rasa id from time to time (:mod:`bot.conversation.conversations`
decides when). The id in ``users.rasa_sender_id`` is always the current one; every id she was ever given
is in ``rasa_sender_ids`` too, with the time it was given, so erasing her (:mod:`bot.store.erase`) erases
every conversation she had in Rasa.

The order matters for erasure: a new id is recorded (:func:`record_sender_id`) before Rasa hears of it, and
made current (:func:`switch_sender_id`) only once Rasa holds what was carried over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from bot.store.models import Message, RasaSenderId, User
from bot.store.records import ConversationAge


def _age_statement() -> Select[Any]:
    given = (
        select(RasaSenderId.created_at)
        .where(RasaSenderId.sender_id == User.rasa_sender_id)
        .correlate(User)
        .scalar_subquery()
    )
    user_id: BindParameter[int] = bindparam("user_id")
    message_id: BindParameter[int] = bindparam("message_id")
    start = select(func.coalesce(given, User.created_at)).where(User.id == user_id).scalar_subquery()
    at = select(Message.created_at).where(Message.id == message_id).scalar_subquery()
    counted = (
        select(func.count(Message.id), func.max(Message.created_at))
        .where(
            Message.user_id == user_id,
            Message.direction == "in",
            Message.created_at >= start,
            Message.id != message_id,
        )
        .subquery()
    )
    # max() and the subqueries keep the column's type: aware UTC times
    return select(counted.c[0], counted.c[1], at, start)


# Built once, with bound parameters: building it anew on every message was a quarter of the database work
# of a message (bench/RESULTS.md, "Gateway and action server CPU per message")
_AGE = _age_statement()


def conversation_age(session: Session, user_id: int, message_id: int) -> ConversationAge | None:
    """The age of the person's current conversation, seen from her inbound message ``message_id``.

    One statement on every message that goes to Rasa: the time her current Rasa id was given (its row's
    time, or her own for the first id) and the message's time are subqueries of the count, not
    ``session.get`` calls (the flushed rows are weakly held by the session, so each get was a SELECT)."""
    row = session.execute(_AGE, {"user_id": user_id, "message_id": message_id}).one()
    turns, last_at, message_at, started = row
    if message_at is None or started is None:  # she or the message is gone
        return None
    return ConversationAge(int(turns or 0), last_at, message_at)


def record_sender_id(session: Session, user_id: int, sender_id: str, at: datetime) -> bool:
    """Record ``sender_id`` as one of the person's Rasa ids (the current one too, with the time it was
    given); False when she is gone (erased meanwhile)."""
    user = session.get(User, user_id)
    if user is None:
        return False
    current = user.rasa_sender_id
    if session.get(RasaSenderId, current) is None:
        session.add(RasaSenderId(sender_id=current, user_id=user_id, created_at=user.created_at))
    if session.get(RasaSenderId, sender_id) is None:
        session.add(RasaSenderId(sender_id=sender_id, user_id=user_id, created_at=at))
    return True


def switch_sender_id(session: Session, user_id: int, old: str, new: str) -> str | None:
    """Make ``new`` (recorded first) the person's current Rasa id, if ``old`` still is; the current id
    after the call (another gateway's, when it switched first), None when she is gone."""
    result = session.execute(
        update(User).where(User.id == user_id, User.rasa_sender_id == old).values(rasa_sender_id=new)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return new
    return session.scalar(select(User.rasa_sender_id).where(User.id == user_id))
