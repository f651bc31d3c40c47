"""Tickets of the handoff and their events, behind an async interface (plain frozen views out).

Every state change is a conditional ``UPDATE ... WHERE state = ...`` whose row count says whether it
happened, in the same transaction as the event that records it. So two operators pressing "Prendo io" at
the same moment get exactly one winner on SQLite (one writer at a time; the UPDATE is the first statement of
its transaction, so a waiting writer re-reads the row) and on PostgreSQL (the second UPDATE waits for the
first one's row lock, then re-checks ``state = 'waiting'`` on the new row version and changes nothing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handoff.model import (
    OPEN_STATES,
    ErasedTicket,
    EventView,
    PendingRequest,
    RelayView,
    TicketState,
    TicketView,
    TooManyOpen,
    Transition,
)
from bot.store.db import rowcount
from bot.store.erase import erase_tickets
from bot.store.messages import Store
from bot.store.models import RelayedMessage, Ticket, TicketEvent, User
from bot.store.ticket_rows import get_ticket, select_tickets, ticket_view, tickets_where

WAITING, ASSIGNED, CLOSED = TicketState.WAITING, TicketState.ASSIGNED, TicketState.CLOSED


def add_event(
    session: Session,
    ticket_id: int,
    kind: str,
    actor: str,
    at: datetime,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    operator_id: int | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket_id,
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            operator_id=operator_id,
            at=at,
            detail=detail[:255] if detail else None,
        )
    )


def new_relay(
    ticket_id: int,
    direction: str,
    person_message_id: int | None,
    group_chat_id: int | None,
    topic_message_id: int | None,
    now: datetime,
) -> RelayedMessage:
    """The row linking a message of the person to its copy in an operators' chat (either way)."""
    return RelayedMessage(
        ticket_id=ticket_id,
        direction=direction,
        person_message_id=person_message_id,
        group_chat_id=group_chat_id,
        topic_message_id=topic_message_id,
        created_at=now,
    )


def _lock_origin(session: Session, origin: str) -> None:
    """PostgreSQL: concurrent creations for one origin (on any gateway) go one after the other, until the
    transaction ends. (On SQLite the insert itself takes the database's one write lock.)"""
    key = int(origin[:15], 16)  # 60 bits of the hash: fits PostgreSQL's bigint
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _open_from(session: Session, origin: str) -> int:
    query = select(func.count()).where(Ticket.origin == origin, Ticket.state.in_(OPEN_STATES))
    return int(session.scalar(query) or 0)


class TicketStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # --- reading tickets ----------------------------------------------------------------------------

    async def get(self, ticket_id: int) -> TicketView | None:
        return await self.db.read(lambda s: get_ticket(s, ticket_id))

    async def open_ticket_of(self, user_id: int) -> TicketView | None:
        found = await self.db.read(
            lambda s: tickets_where(s, Ticket.user_id == user_id, Ticket.state.in_(OPEN_STATES))
        )
        return found[-1] if found else None

    async def queue(self, partner_id: str) -> list[TicketView]:
        """The partner's open tickets, oldest first."""
        return await self.db.read(
            lambda s: tickets_where(s, Ticket.partner_id == partner_id, Ticket.state.in_(OPEN_STATES))
        )

    async def open_tickets(self) -> list[TicketView]:
        return await self.db.read(lambda s: tickets_where(s, Ticket.state.in_(OPEN_STATES)))

    async def waiting_count(self, partner_id: str) -> int:
        """How many tickets of the partner wait for an operator."""
        query = (
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.partner_id == partner_id, Ticket.state == WAITING)
        )
        return await self.db.read(lambda s: int(s.scalar(query) or 0))

    async def position(self, ticket_id: int) -> int:
        """1 for the first waiting ticket of its partner, 2 for the next..., 0 when not waiting."""

        def run(session: Session) -> int:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or ticket.state != WAITING:
                return 0
            ahead = session.scalar(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.partner_id == ticket.partner_id, Ticket.state == WAITING, Ticket.id < ticket.id)
            )
            return int(ahead or 0) + 1

        return await self.db.read(run)

    async def events(self, ticket_id: int) -> list[EventView]:
        query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        return await self.db.read(
            lambda s: [
                EventView(e.kind, e.from_state, e.to_state, e.actor, e.operator_id, e.at, e.detail)
                for e in s.scalars(query).all()
            ]
        )

    async def relays(self, ticket_id: int) -> list[RelayView]:
        query = (
            select(RelayedMessage).where(RelayedMessage.ticket_id == ticket_id).order_by(RelayedMessage.id)
        )
        return await self.db.read(
            lambda s: [
                RelayView(r.direction, r.person_message_id, r.group_chat_id, r.topic_message_id)
                for r in s.scalars(query).all()
            ]
        )

    # --- changing tickets ---------------------------------------------------------------------------

    async def create(
        self,
        user_id: int,
        partner_id: str,
        *,
        topic: str | None,
        territory: str | None,
        town: str | None,
        question: str | None,
        now: datetime,
        origin: str | None = None,
        origin_cap: int | None = None,
    ) -> tuple[TicketView, bool]:
        """A new waiting ticket, or the person's open one (second value False) if she already has one.
        With an ``origin`` (see :func:`bot.handoff.model.origin_of`) that already has ``origin_cap`` open
        tickets, :class:`TooManyOpen` (counted and inserted in one transaction)."""

        def run(session: Session) -> tuple[TicketView, bool]:
            capped = origin is not None and origin_cap is not None
            if capped and session.get_bind().dialect.name == "postgresql":
                _lock_origin(session, origin or "")
            try:
                ticket = Ticket(
                    user_id=user_id,
                    partner_id=partner_id,
                    topic=topic,
                    territory=territory,
                    town=town,
                    question=question,
                    state=WAITING,
                    created_at=now,
                    announced_at=now,
                    reannounced=0,
                    last_activity_at=now,
                    purged=False,
                    origin=origin,
                )
                session.add(ticket)
                session.flush()  # on SQLite the insert takes the write lock: other writers wait from here
                if capped and _open_from(session, origin or "") > (origin_cap or 0):
                    session.rollback()
                    raise TooManyOpen()
                add_event(session, ticket.id, "created", "person", now, to_state=WAITING)
                session.commit()
                view = get_ticket(session, ticket.id)
                assert view is not None
                return view, True
            except IntegrityError:  # the partial unique index: she already has an open ticket
                session.rollback()
                query = select_tickets().where(Ticket.user_id == user_id, Ticket.state.in_(OPEN_STATES))
                row = session.execute(query).first()
                if row is None:
                    raise
                return ticket_view(row), False

        return await self.db.read(run)

    def _transition_sync(
        self, ticket_id: int, where: Any, values: dict[str, Any], event: dict[str, Any]
    ) -> Transition:
        with self.db.sessions() as session:
            result = session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) != 1:
                session.rollback()
                return Transition(False, get_ticket(session, ticket_id))
            add_event(session, ticket_id, **event)
            session.commit()
            return Transition(True, get_ticket(session, ticket_id))

    async def _transition(
        self, ticket_id: int, where: Any, values: dict[str, Any], event: dict[str, Any]
    ) -> Transition:
        return await self.db.call(self._transition_sync, ticket_id, where, values, event)

    def claim_sync(self, ticket_id: int, operator_id: int, now: datetime) -> Transition:
        """waiting → assigned to ``operator_id``, atomically (blocking; :meth:`claim` from async code)."""
        return self._transition_sync(
            ticket_id,
            Ticket.state == WAITING,
            {"state": ASSIGNED, "assigned_to": operator_id, "assigned_at": now, "last_activity_at": now},
            {
                "kind": "claimed",
                "actor": f"operator:{operator_id}",
                "at": now,
                "from_state": WAITING,
                "to_state": ASSIGNED,
                "operator_id": operator_id,
            },
        )

    async def claim(self, ticket_id: int, operator_id: int, now: datetime) -> Transition:
        return await self.db.call(self.claim_sync, ticket_id, operator_id, now)

    async def release(self, ticket_id: int, operator_id: int, now: datetime) -> Transition:
        """assigned (to this operator) → waiting; the unclaimed timer starts again."""
        return await self._transition(
            ticket_id,
            and_(Ticket.state == ASSIGNED, Ticket.assigned_to == operator_id),
            {
                "state": WAITING,
                "assigned_to": None,
                "assigned_at": None,
                "announced_at": now,
                "reannounced": 0,
                "last_activity_at": now,
            },
            {
                "kind": "released",
                "actor": f"operator:{operator_id}",
                "at": now,
                "from_state": ASSIGNED,
                "to_state": WAITING,
                "operator_id": operator_id,
            },
        )

    async def close(
        self,
        ticket_id: int,
        now: datetime,
        *,
        actor: str,
        reason: str,
        operator_id: int | None = None,
        state: TicketState = CLOSED,
        from_state: TicketState | None = None,
    ) -> Transition:
        """An open ticket (or only one in ``from_state``) → ``state`` (closed or expired)."""
        sources = (from_state,) if from_state else OPEN_STATES
        before = await self.db.read(lambda s: s.scalar(select(Ticket.state).where(Ticket.id == ticket_id)))
        return await self._transition(
            ticket_id,
            Ticket.state.in_(sources),
            {"state": state, "closed_at": now, "closed_by": actor, "close_reason": reason, "origin": None},
            {
                "kind": str(state),
                "actor": actor,
                "at": now,
                "from_state": before,
                "to_state": state,
                "operator_id": operator_id,
                "detail": reason,
            },
        )

    async def reannounce(self, ticket_id: int, seen_count: int, now: datetime) -> Transition:
        """Count one more announcement of a waiting ticket, unless someone else just did."""
        return await self._transition(
            ticket_id,
            and_(Ticket.state == WAITING, Ticket.reannounced == seen_count),
            {"announced_at": now, "reannounced": seen_count + 1},
            {"kind": "reannounced", "actor": "system", "at": now, "detail": f"time {seen_count + 1}"},
        )

    async def touch(self, ticket_id: int, now: datetime) -> None:
        """Someone wrote in the ticket's chat (the silence timer starts again)."""
        await self.db.write(
            lambda s: s.execute(update(Ticket).where(Ticket.id == ticket_id).values(last_activity_at=now))
        )

    async def add_event(
        self,
        ticket_id: int,
        kind: str,
        actor: str,
        now: datetime,
        *,
        operator_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        await self.db.write(
            lambda s: add_event(s, ticket_id, kind, actor, now, operator_id=operator_id, detail=detail)
        )

    async def rate(self, ticket_id: int, user_id: int, score: int, now: datetime) -> bool:
        """Store the person's rating of an ended ticket of hers, once."""

        def run(session: Session) -> bool:
            result = session.execute(
                update(Ticket)
                .where(
                    Ticket.id == ticket_id,
                    Ticket.user_id == user_id,
                    Ticket.state.not_in(OPEN_STATES),
                    Ticket.rating.is_(None),
                )
                .values(rating=score, rated_at=now)
            )
            if rowcount(result) != 1:
                session.rollback()
                return False
            add_event(session, ticket_id, "rated", "person", now, detail=str(score))
            session.commit()
            return True

        return await self.db.read(run)

    async def add_relay(
        self,
        ticket_id: int,
        direction: str,
        *,
        person_message_id: int | None,
        group_chat_id: int | None,
        topic_message_id: int | None,
        now: datetime,
    ) -> None:
        relay = new_relay(ticket_id, direction, person_message_id, group_chat_id, topic_message_id, now)
        await self.db.write(lambda s: s.add(relay))

    async def erase_person(self, user_id: int) -> list[ErasedTicket]:
        """Delete the person's tickets with their events, desk places and relayed messages; return what
        was there, so the operators' topics can be cleaned and told."""
        return await self.db.write(lambda s: erase_tickets(s, user_id))

    # --- a request waiting for the town ---------------------------------------------------------------

    async def pending(self, user_id: int) -> PendingRequest | None:
        query = select(User.handoff_pending).where(User.id == user_id)
        return PendingRequest.from_json(await self.db.read(lambda s: s.scalar(query)))

    async def set_pending(self, user_id: int, value: PendingRequest | None) -> None:
        stored = value.to_json() if value is not None else None
        await self.db.write(
            lambda s: s.execute(update(User).where(User.id == user_id).values(handoff_pending=stored))
        )
