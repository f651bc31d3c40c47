"""Reading tickets: the one query a ticket's view is built from (with the person and the operator), the
version of a partner's queue that the console's page polls, and whether a person is in a handoff at all."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.orm import Session

from bot.handoff.model import OPEN_STATES, TicketState, TicketView
from bot.store.models import Operator, Ticket, User


def select_tickets() -> Select[Ticket, str, str, str | None, str | None]:
    return (
        select(Ticket, User.channel, User.channel_user_key, User.first_name, Operator.first_name)
        .join(User, User.id == Ticket.user_id)
        .outerjoin(Operator, Operator.id == Ticket.assigned_to)
    )


def ticket_view(row: Any) -> TicketView:
    t, channel, user_key, first_name, operator_name = row
    return TicketView(
        id=t.id,
        user_id=t.user_id,
        partner_id=t.partner_id,
        topic=t.topic,
        territory=t.territory,
        town=t.town,
        question=t.question,
        state=TicketState(t.state),
        created_at=t.created_at,
        announced_at=t.announced_at,
        reannounced=t.reannounced,
        assigned_to=t.assigned_to,
        assigned_name=operator_name,
        assigned_at=t.assigned_at,
        last_activity_at=t.last_activity_at,
        closed_at=t.closed_at,
        closed_by=t.closed_by,
        close_reason=t.close_reason,
        rating=t.rating,
        channel=channel,
        user_key=user_key,
        first_name=first_name,
    )


def get_ticket(session: Session, ticket_id: int) -> TicketView | None:
    row = session.execute(select_tickets().where(Ticket.id == ticket_id)).first()
    return None if row is None else ticket_view(row)


def tickets_where(session: Session, *where: Any, order: Any = None) -> list[TicketView]:
    rows = session.execute(select_tickets().where(*where).order_by(order or Ticket.id)).all()
    return [ticket_view(r) for r in rows]


def queue_version(session: Session, partner_id: str | None) -> str:
    """A short text that changes whenever the open tickets of the partner (all partners for ``None``)
    change in what the console's queue shows: a ticket opened, claimed, released, closed or announced
    again. One indexed query on ``tickets`` only (no join), so a page may ask every few seconds; the same
    database gives every gateway the same answer."""
    query = select(Ticket.id, Ticket.state, Ticket.assigned_to, Ticket.announced_at).where(
        Ticket.state.in_(OPEN_STATES)
    )
    if partner_id is not None:
        query = query.where(Ticket.partner_id == partner_id)
    rows = session.execute(query.order_by(Ticket.id)).all()
    digest = hashlib.sha256()
    for ticket_id, state, assigned_to, announced_at in rows:
        digest.update(f"{ticket_id}|{state}|{assigned_to}|{announced_at.isoformat()}\n".encode())
    return f"{len(rows)}-{digest.hexdigest()[:16]}"


# Built once (its compiled form cached): asked on every inbound message, in the transaction that stores it
_IN_HANDOFF = select(
    User.handoff_pending,
    exists().where(Ticket.user_id == User.id, Ticket.state.in_(OPEN_STATES)),
).where(User.id == bindparam("user_id"))


def in_handoff(session: Session, user_id: int) -> bool:
    """Whether the person has an open ticket or a request for a person waiting for her town: one indexed
    statement, so that a message of a person in neither (nearly all of them) needs no other read of the
    handoff's tables. ``handoff_pending`` is compared in Python: a cleared request is JSON ``null``."""
    row = session.execute(_IN_HANDOFF, {"user_id": user_id}).first()
    return row is not None and (row[0] is not None or bool(row[1]))
