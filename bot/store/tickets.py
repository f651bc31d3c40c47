"""Queries of the handoff: tickets and their events, relayed messages, operators, their groups, invite codes.

Same shape as :class:`bot.store.Store` (whose engine, sessions and thread pool it shares): synchronous
SQLAlchemy in a worker thread behind an async interface, plain frozen dataclasses out.

Every state change is a conditional ``UPDATE ... WHERE state = ...`` whose row count says whether it
happened, in the same transaction as the event that records it. So two operators pressing "Prendo io" at
the same moment get exactly one winner on SQLite (one writer at a time; the UPDATE is the first statement of
its transaction, so a waiting writer re-reads the row) and on PostgreSQL (the second UPDATE waits for the
first one's row lock, then re-checks ``state = 'waiting'`` on the new row version and changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import CursorResult, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import (
    OPEN_STATES,
    InviteCode,
    Operator,
    OperatorGroup,
    RelayedMessage,
    Ticket,
    TicketEvent,
    User,
)
from bot.store.repository import Store

T = TypeVar("T")


@dataclass(frozen=True)
class TicketView:
    id: int
    user_id: int
    partner_id: str
    topic: str | None
    territory: str | None
    comune: str | None
    question: str | None
    state: str
    created_at: datetime
    announced_at: datetime
    reannounced: int
    assigned_to: int | None
    assigned_name: str | None
    assigned_at: datetime | None
    last_activity_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    group_chat_id: int | None
    thread_id: int | None
    card_message_id: int | None
    rating: int | None
    # the person: how to reach her (never shown to operators) and her first name (shown)
    channel: str
    user_key: str
    first_name: str | None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class OperatorView:
    id: int
    partner_id: str
    telegram_user_id: int
    first_name: str | None
    active: bool


@dataclass(frozen=True)
class GroupView:
    partner_id: str
    chat_id: int
    title: str | None


@dataclass(frozen=True)
class EventView:
    kind: str
    from_state: str | None
    to_state: str | None
    actor: str
    operator_id: int | None
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class RelayView:
    direction: str
    person_message_id: int | None
    group_chat_id: int | None
    topic_message_id: int | None


@dataclass(frozen=True)
class Transition:
    """The result of a conditional state change: ``done`` tells whether this call made it, ``ticket`` is
    the ticket as it is now (None when it does not exist)."""

    done: bool
    ticket: TicketView | None


@dataclass(frozen=True)
class ErasedTicket:
    ticket: TicketView
    topic_message_ids: tuple[int, ...]


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


def purge_tickets(session: Session, before: datetime) -> int:
    """Retention: null the question of ended tickets created before ``before``, drop their relayed
    messages mapping, and forget invite codes that expired before it. Returns the tickets purged."""
    ended = select(Ticket.id).where(Ticket.created_at < before, Ticket.state.not_in(OPEN_STATES))
    session.execute(
        delete(RelayedMessage)
        .where(RelayedMessage.ticket_id.in_(ended))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(InviteCode).where(InviteCode.expires_at < before).execution_options(synchronize_session=False)
    )
    result = session.execute(
        update(Ticket)
        .where(Ticket.created_at < before, Ticket.state.not_in(OPEN_STATES), Ticket.purged.is_(False))
        .values(question=None, purged=True)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


class TicketStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._sessions = store._sessions

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.store._run(fn, *args)

    # --- reading tickets ----------------------------------------------------------------------------

    @staticmethod
    def _select() -> Any:
        return (
            select(Ticket, User.channel, User.channel_user_key, User.first_name, Operator.first_name)
            .join(User, User.id == Ticket.user_id)
            .outerjoin(Operator, Operator.id == Ticket.assigned_to)
        )

    @staticmethod
    def _view(row: Any) -> TicketView:
        t, channel, user_key, first_name, operator_name = row
        return TicketView(
            id=t.id,
            user_id=t.user_id,
            partner_id=t.partner_id,
            topic=t.topic,
            territory=t.territory,
            comune=t.comune,
            question=t.question,
            state=t.state,
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
            group_chat_id=t.group_chat_id,
            thread_id=t.thread_id,
            card_message_id=t.card_message_id,
            rating=t.rating,
            channel=channel,
            user_key=user_key,
            first_name=first_name,
        )

    def _get(self, session: Session, ticket_id: int) -> TicketView | None:
        row = session.execute(self._select().where(Ticket.id == ticket_id)).first()
        return None if row is None else self._view(row)

    def _many(self, *where: Any, order: Any = None) -> list[TicketView]:
        with self._sessions() as session:
            rows = session.execute(self._select().where(*where).order_by(order or Ticket.id)).all()
            return [self._view(r) for r in rows]

    async def get(self, ticket_id: int) -> TicketView | None:
        def run() -> TicketView | None:
            with self._sessions() as session:
                return self._get(session, ticket_id)

        return await self._run(run)

    async def open_ticket_of(self, user_id: int) -> TicketView | None:
        def run() -> TicketView | None:
            found = self._many(Ticket.user_id == user_id, Ticket.state.in_(OPEN_STATES))
            return found[-1] if found else None

        return await self._run(run)

    async def tickets_of(self, user_id: int) -> list[TicketView]:
        return await self._run(self._many, Ticket.user_id == user_id)

    async def by_topic(self, group_chat_id: int, thread_id: int) -> TicketView | None:
        def run() -> TicketView | None:
            found = self._many(Ticket.group_chat_id == group_chat_id, Ticket.thread_id == thread_id)
            return found[-1] if found else None

        return await self._run(run)

    async def queue(self, partner_id: str) -> list[TicketView]:
        """The partner's open tickets, oldest first."""
        return await self._run(self._many, Ticket.partner_id == partner_id, Ticket.state.in_(OPEN_STATES))

    async def open_tickets(self) -> list[TicketView]:
        return await self._run(self._many, Ticket.state.in_(OPEN_STATES))

    async def position(self, ticket_id: int) -> int:
        """1 for the first waiting ticket of its partner, 2 for the next..., 0 when not waiting."""

        def run() -> int:
            with self._sessions() as session:
                ticket = session.get(Ticket, ticket_id)
                if ticket is None or ticket.state != "waiting":
                    return 0
                ahead = session.scalar(
                    select(func.count())
                    .select_from(Ticket)
                    .where(
                        Ticket.partner_id == ticket.partner_id,
                        Ticket.state == "waiting",
                        Ticket.id < ticket.id,
                    )
                )
                return int(ahead or 0) + 1

        return await self._run(run)

    async def events(self, ticket_id: int) -> list[EventView]:
        def run() -> list[EventView]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
                ).all()
                return [
                    EventView(e.kind, e.from_state, e.to_state, e.actor, e.operator_id, e.at, e.detail)
                    for e in rows
                ]

        return await self._run(run)

    async def relays(self, ticket_id: int) -> list[RelayView]:
        def run() -> list[RelayView]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(RelayedMessage)
                    .where(RelayedMessage.ticket_id == ticket_id)
                    .order_by(RelayedMessage.id)
                ).all()
                return [
                    RelayView(r.direction, r.person_message_id, r.group_chat_id, r.topic_message_id)
                    for r in rows
                ]

        return await self._run(run)

    # --- changing tickets ---------------------------------------------------------------------------

    @staticmethod
    def _event(
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

    async def create(
        self,
        user_id: int,
        partner_id: str,
        *,
        topic: str | None,
        territory: str | None,
        comune: str | None,
        question: str | None,
        now: datetime,
    ) -> tuple[TicketView, bool]:
        """A new waiting ticket, or the person's open one (second value False) if she already has one."""

        def run() -> tuple[TicketView, bool]:
            with self._sessions() as session:
                try:
                    ticket = Ticket(
                        user_id=user_id,
                        partner_id=partner_id,
                        topic=topic,
                        territory=territory,
                        comune=comune,
                        question=question,
                        state="waiting",
                        created_at=now,
                        announced_at=now,
                        reannounced=0,
                        last_activity_at=now,
                        purged=False,
                    )
                    session.add(ticket)
                    session.flush()
                    self._event(session, ticket.id, "created", "person", now, to_state="waiting")
                    session.commit()
                    view = self._get(session, ticket.id)
                    assert view is not None
                    return view, True
                except IntegrityError:  # the partial unique index: she already has an open ticket
                    session.rollback()
                    row = session.execute(
                        self._select().where(Ticket.user_id == user_id, Ticket.state.in_(OPEN_STATES))
                    ).first()
                    if row is None:
                        raise
                    return self._view(row), False

        return await self._run(run)

    def _transition(
        self,
        ticket_id: int,
        where: Any,
        values: dict[str, Any],
        event: dict[str, Any],
    ) -> Transition:
        with self._sessions() as session:
            result = session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                session.rollback()
                return Transition(False, self._get(session, ticket_id))
            self._event(session, ticket_id, **event)
            session.commit()
            return Transition(True, self._get(session, ticket_id))

    def claim_sync(self, ticket_id: int, operator_id: int, now: datetime) -> Transition:
        """waiting → assigned to ``operator_id``, atomically (blocking; :meth:`claim` from async code)."""
        return self._transition(
            ticket_id,
            Ticket.state == "waiting",
            {"state": "assigned", "assigned_to": operator_id, "assigned_at": now, "last_activity_at": now},
            {
                "kind": "claimed",
                "actor": f"operator:{operator_id}",
                "at": now,
                "from_state": "waiting",
                "to_state": "assigned",
                "operator_id": operator_id,
            },
        )

    async def claim(self, ticket_id: int, operator_id: int, now: datetime) -> Transition:
        return await self._run(self.claim_sync, ticket_id, operator_id, now)

    async def release(self, ticket_id: int, operator_id: int, now: datetime) -> Transition:
        """assigned (to this operator) → waiting; the unclaimed timer starts again."""
        return await self._run(
            self._transition,
            ticket_id,
            and_(Ticket.state == "assigned", Ticket.assigned_to == operator_id),
            {
                "state": "waiting",
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
                "from_state": "assigned",
                "to_state": "waiting",
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
        state: str = "closed",
        from_state: str | None = None,
    ) -> Transition:
        """An open ticket (or only one in ``from_state``) → ``state`` ("closed" or "expired")."""
        sources = (from_state,) if from_state else OPEN_STATES

        def run() -> Transition:
            before = None
            with self._sessions() as session:
                current = session.get(Ticket, ticket_id)
                before = current.state if current is not None else None
            return self._transition(
                ticket_id,
                Ticket.state.in_(sources),
                {"state": state, "closed_at": now, "closed_by": actor, "close_reason": reason},
                {
                    "kind": state,
                    "actor": actor,
                    "at": now,
                    "from_state": before,
                    "to_state": state,
                    "operator_id": operator_id,
                    "detail": reason,
                },
            )

        return await self._run(run)

    async def reannounce(self, ticket_id: int, seen_count: int, now: datetime) -> Transition:
        """Count one more announcement of a waiting ticket, unless someone else just did."""
        return await self._run(
            self._transition,
            ticket_id,
            and_(Ticket.state == "waiting", Ticket.reannounced == seen_count),
            {"announced_at": now, "reannounced": seen_count + 1},
            {"kind": "reannounced", "actor": "system", "at": now, "detail": f"time {seen_count + 1}"},
        )

    async def touch(self, ticket_id: int, now: datetime) -> None:
        """Someone wrote in the ticket's chat (the silence timer starts again)."""

        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(update(Ticket).where(Ticket.id == ticket_id).values(last_activity_at=now))

        await self._run(run)

    async def set_topic(
        self,
        ticket_id: int,
        group_chat_id: int,
        thread_id: int,
        card_message_id: int | None,
        now: datetime,
        *,
        replacing: int | None = None,
    ) -> bool:
        """Link the ticket to its forum topic, if it still has the topic ``replacing`` (None: no topic
        yet). False when another gateway linked a topic first: the caller's topic is one too many."""

        def run() -> bool:
            current = Ticket.thread_id.is_(None) if replacing is None else Ticket.thread_id == replacing
            with self._sessions.begin() as session:
                result = session.execute(
                    update(Ticket)
                    .where(Ticket.id == ticket_id, current)
                    .values(group_chat_id=group_chat_id, thread_id=thread_id, card_message_id=card_message_id)
                    .execution_options(synchronize_session=False)
                )
                if not result.rowcount:  # type: ignore[attr-defined]
                    return False
                self._event(session, ticket_id, "topic", "system", now, detail=f"thread {thread_id}")
                return True

        return await self._run(run)

    async def set_card(self, ticket_id: int, card_message_id: int) -> None:
        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(
                    update(Ticket).where(Ticket.id == ticket_id).values(card_message_id=card_message_id)
                )

        await self._run(run)

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
        def run() -> None:
            with self._sessions.begin() as session:
                self._event(session, ticket_id, kind, actor, now, operator_id=operator_id, detail=detail)

        await self._run(run)

    async def rate(self, ticket_id: int, user_id: int, score: int, now: datetime) -> bool:
        """Store the person's rating of an ended ticket of hers, once."""

        def run() -> bool:
            with self._sessions() as session:
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
                if _rowcount(result) != 1:
                    session.rollback()
                    return False
                self._event(session, ticket_id, "rated", "person", now, detail=str(score))
                session.commit()
                return True

        return await self._run(run)

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
        def run() -> None:
            with self._sessions.begin() as session:
                session.add(
                    RelayedMessage(
                        ticket_id=ticket_id,
                        direction=direction,
                        person_message_id=person_message_id,
                        group_chat_id=group_chat_id,
                        topic_message_id=topic_message_id,
                        created_at=now,
                    )
                )

        await self._run(run)

    async def erase_person(self, user_id: int) -> list[ErasedTicket]:
        """Delete the person's tickets with their events and relayed messages; return what was there, so
        the operators' topics can be cleaned and told."""

        def run() -> list[ErasedTicket]:
            with self._sessions.begin() as session:
                rows = session.execute(self._select().where(Ticket.user_id == user_id)).all()
                erased = []
                for row in rows:
                    view = self._view(row)
                    ids = session.scalars(
                        select(RelayedMessage.topic_message_id).where(
                            RelayedMessage.ticket_id == view.id, RelayedMessage.topic_message_id.is_not(None)
                        )
                    ).all()
                    erased.append(ErasedTicket(view, tuple(int(i) for i in ids if i is not None)))
                ticket_ids = [e.ticket.id for e in erased]
                if ticket_ids:
                    session.execute(delete(RelayedMessage).where(RelayedMessage.ticket_id.in_(ticket_ids)))
                    session.execute(delete(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids)))
                    session.execute(delete(Ticket).where(Ticket.id.in_(ticket_ids)))
                return erased

        return await self._run(run)

    # --- a request waiting for the town ---------------------------------------------------------------

    async def pending(self, user_id: int) -> dict[str, Any] | None:
        def run() -> dict[str, Any] | None:
            with self._sessions() as session:
                return session.scalar(select(User.handoff_pending).where(User.id == user_id))

        return await self._run(run)

    async def set_pending(self, user_id: int, value: dict[str, Any] | None) -> None:
        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(update(User).where(User.id == user_id).values(handoff_pending=value))

        await self._run(run)

    # --- operators and groups -----------------------------------------------------------------------

    @staticmethod
    def _operator(o: Operator) -> OperatorView:
        return OperatorView(o.id, o.partner_id, o.telegram_user_id, o.first_name, o.active)

    async def add_operator(
        self, partner_id: str, telegram_user_id: int, first_name: str | None, now: datetime
    ) -> OperatorView:
        """Register (or reactivate) an operator of a partner."""

        def run() -> OperatorView:
            with self._sessions.begin() as session:
                op = session.scalars(
                    select(Operator).where(
                        Operator.partner_id == partner_id, Operator.telegram_user_id == telegram_user_id
                    )
                ).first()
                if op is None:
                    op = Operator(
                        partner_id=partner_id,
                        telegram_user_id=telegram_user_id,
                        first_name=first_name,
                        active=True,
                        created_at=now,
                    )
                    session.add(op)
                else:
                    op.active = True
                    op.first_name = first_name or op.first_name
                session.flush()
                return self._operator(op)

        return await self._run(run)

    async def operator(self, telegram_user_id: int, partner_id: str) -> OperatorView | None:
        """The active operator registration of this Telegram user for this partner."""

        def run() -> OperatorView | None:
            with self._sessions() as session:
                op = session.scalars(
                    select(Operator).where(
                        Operator.partner_id == partner_id,
                        Operator.telegram_user_id == telegram_user_id,
                        Operator.active.is_(True),
                    )
                ).first()
                return None if op is None else self._operator(op)

        return await self._run(run)

    async def operator_by_id(self, operator_id: int) -> OperatorView | None:
        def run() -> OperatorView | None:
            with self._sessions() as session:
                op = session.get(Operator, operator_id)
                return None if op is None else self._operator(op)

        return await self._run(run)

    async def rename_operator(self, operator_id: int, first_name: str) -> None:
        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(
                    update(Operator).where(Operator.id == operator_id).values(first_name=first_name)
                )

        await self._run(run)

    async def operators(self) -> list[OperatorView]:
        def run() -> list[OperatorView]:
            with self._sessions() as session:
                rows = session.scalars(select(Operator).order_by(Operator.partner_id, Operator.id)).all()
                return [self._operator(o) for o in rows]

        return await self._run(run)

    async def deactivate_operator(self, operator_id: int) -> bool:
        def run() -> bool:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(Operator)
                    .where(Operator.id == operator_id, Operator.active.is_(True))
                    .values(active=False)
                )
                return _rowcount(result) == 1

        return await self._run(run)

    async def link_group(self, partner_id: str, chat_id: int, title: str | None, now: datetime) -> None:
        """Make ``chat_id`` the partner's operators' group (replacing a previous link of either)."""

        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(
                    delete(OperatorGroup).where(
                        (OperatorGroup.partner_id == partner_id) | (OperatorGroup.chat_id == chat_id)
                    )
                )
                session.flush()
                session.add(OperatorGroup(partner_id=partner_id, chat_id=chat_id, title=title, linked_at=now))

        await self._run(run)

    async def group_of(self, partner_id: str) -> GroupView | None:
        def run() -> GroupView | None:
            with self._sessions() as session:
                g = session.scalars(
                    select(OperatorGroup).where(OperatorGroup.partner_id == partner_id)
                ).first()
                return None if g is None else GroupView(g.partner_id, g.chat_id, g.title)

        return await self._run(run)

    async def group_by_chat(self, chat_id: int) -> GroupView | None:
        def run() -> GroupView | None:
            with self._sessions() as session:
                g = session.scalars(select(OperatorGroup).where(OperatorGroup.chat_id == chat_id)).first()
                return None if g is None else GroupView(g.partner_id, g.chat_id, g.title)

        return await self._run(run)

    async def groups(self) -> list[GroupView]:
        def run() -> list[GroupView]:
            with self._sessions() as session:
                rows = session.scalars(select(OperatorGroup).order_by(OperatorGroup.partner_id)).all()
                return [GroupView(g.partner_id, g.chat_id, g.title) for g in rows]

        return await self._run(run)

    # --- invite codes -------------------------------------------------------------------------------

    async def add_invite(
        self, kind: str, partner_id: str, code_hash: str, expires_at: datetime, now: datetime
    ) -> None:
        def run() -> None:
            with self._sessions.begin() as session:
                session.add(
                    InviteCode(
                        code_hash=code_hash,
                        kind=kind,
                        partner_id=partner_id,
                        created_at=now,
                        expires_at=expires_at,
                    )
                )

        await self._run(run)

    async def redeem_invite(self, kind: str, code_hash: str, used_by: str, now: datetime) -> str | None:
        """Use a code once: the partner it was made for, or None (unknown, used, expired, other kind)."""

        def run() -> str | None:
            with self._sessions() as session:
                result = session.execute(
                    update(InviteCode)
                    .where(
                        InviteCode.code_hash == code_hash,
                        InviteCode.kind == kind,
                        InviteCode.used_at.is_(None),
                        InviteCode.expires_at > now,
                    )
                    .values(used_at=now, used_by=used_by)
                )
                if _rowcount(result) != 1:
                    session.rollback()
                    return None
                partner = session.scalar(
                    select(InviteCode.partner_id).where(InviteCode.code_hash == code_hash)
                )
                session.commit()
                return partner

        return await self._run(run)
