"""Queries of the gateway, behind an async interface.

Why a sync engine in a thread rather than SQLAlchemy's async engine: the same code and the same drivers
(sqlite3, psycopg) serve SQLite and PostgreSQL without an extra async driver (aiosqlite), the store's load is
a handful of short statements per message, and Alembic runs on the same engine at start-up. Every call runs
in a small dedicated thread pool (one thread for SQLite, which has one writer anyway, so writers never wait
on each other's locks), and the event loop never blocks on the database.

Failures that mean "the database cannot be reached" (connection refused, file not openable, locked for too
long, pool exhausted) are raised as :class:`StoreUnavailable`, so the router can spool and go on.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, delete, exists, false, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import (
    CallbackPayload,
    Message,
    PrivacyEvent,
    ProcessedUpdate,
    RelayedMessage,
    Ticket,
    TicketEvent,
    User,
    utcnow,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreUnavailable(Exception):
    """The database cannot be reached right now; try again later."""


def new_sender_id() -> str:
    """A random opaque id for Rasa: it says nothing about the person or the channel."""
    return "c-" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class UserRef:
    id: int
    rasa_sender_id: str
    message_id: int | None = field(default=None, compare=False)  # the first message just stored
    # the person's inbound messages since ``count_since`` (this one included), when save() was asked
    recent_inbound: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class NewMessage:
    """A message to store. It carries who sent it (channel and key) and the Rasa id to give the person if
    their row does not exist yet, so a message kept in the spool can be written later on its own."""

    channel: str
    user_key: str
    direction: str  # "in" | "out"
    rasa_sender_id: str
    text: str | None = None
    payload: str | None = None
    buttons: list[dict[str, str]] | None = None
    meta: dict[str, Any] | None = None
    first_name: str | None = None
    update_id: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    pushed: bool = False  # sent outside an answer (see Message.pushed)
    taken_by: str | None = None  # inbound: the gateway that took it in
    answered_at: datetime | None = None  # inbound: already answered (e.g. answered from the spool)
    answers: int | None = None  # outbound: the id of the inbound message this reply answers

    @property
    def is_mark(self) -> bool:
        """An outbound record with nothing to show: it only marks ``answers`` answered (a turn without
        replies, kept in the spool while the database was away)."""
        return self.direction == "out" and self.answers is not None and not (self.text or self.buttons)


@dataclass(frozen=True)
class PendingMessage:
    """An inbound message stored but not answered: a gateway stopped between storing and answering it."""

    id: int
    user_id: int
    channel: str
    user_key: str
    rasa_sender_id: str
    first_name: str | None
    text: str | None
    payload: str | None
    created_at: datetime
    taken_by: str | None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    direction: str
    text: str | None
    payload: str | None
    buttons: list[dict[str, str]] | None
    meta: dict[str, Any] | None
    created_at: datetime
    purged: bool


@dataclass(frozen=True)
class PurgeResult:
    messages: int
    updates: int
    tickets: int = 0  # tickets whose question was purged
    callbacks: int = 0  # long button payloads not rendered for the whole period


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(str(exc).splitlines()[0]) from exc
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()

    # --- writes -------------------------------------------------------------------------------------

    async def save(
        self, records: Sequence[NewMessage], *, count_since: datetime | None = None
    ) -> UserRef | None:
        """Store ``records`` in one transaction and return the sender's row. Returns None, storing nothing,
        when the first record is an inbound Telegram update whose id was already taken in. With
        ``count_since`` the row also says how many inbound messages the person sent from then on (the
        flood limit shared by the gateways), counted in the same transaction."""
        return await self._run(self._save, list(records), count_since)

    def _save(self, records: list[NewMessage], count_since: datetime | None = None) -> UserRef | None:
        for attempt in (1, 2):
            with self._sessions() as session:
                try:
                    ref = self._save_in(session, records)
                    if ref is not None and count_since is not None:
                        ref = replace(ref, recent_inbound=_count_inbound(session, ref.id, count_since))
                    session.commit()
                    return ref
                except IntegrityError:
                    # Two writers created the same user or update id at once: look again.
                    session.rollback()
                    first = records[0] if records else None
                    if (
                        first
                        and first.update_id is not None
                        and session.get(ProcessedUpdate, first.update_id)
                    ):
                        return None
                    if attempt == 2:
                        raise
        return None  # pragma: no cover

    def _save_in(self, session: Session, records: list[NewMessage]) -> UserRef | None:
        ref: UserRef | None = None
        added: list[Message] = []
        # One record (a message just received): a duplicate update id fails the insert, and _save looks
        # then; a batch (the spool) checks each id first so one duplicate does not undo the others.
        check_first = len(records) > 1
        for i, rec in enumerate(records):
            if rec.update_id is not None:
                if check_first and session.get(ProcessedUpdate, rec.update_id) is not None:
                    if i == 0:
                        return None
                    continue
                session.add(ProcessedUpdate(update_id=rec.update_id, processed_at=rec.created_at))
            if rec.is_mark:
                _mark_answered(session, rec.answers or 0, rec.created_at)
                continue
            user = self._user_for(session, rec)
            message = Message(
                user_id=user.id,
                direction=rec.direction,
                text=rec.text,
                payload=rec.payload,
                buttons=rec.buttons,
                meta=rec.meta,
                created_at=rec.created_at,
                purged=False,
                pushed=rec.pushed,
                taken_by=rec.taken_by,
                answered_at=rec.answered_at,
            )
            session.add(message)
            added.append(message)
            if rec.answers is not None:
                _mark_answered(session, rec.answers, rec.created_at)
            ref = UserRef(user.id, user.rasa_sender_id)
        session.flush()
        if ref is not None and added:
            ref = UserRef(ref.id, ref.rasa_sender_id, added[0].id)
        return ref

    async def finish_turn(self, message_id: int, records: Sequence[NewMessage], at: datetime) -> bool:
        """Mark the inbound message ``message_id`` answered and store its replies, in one transaction.
        False, storing nothing, when it was already answered: another gateway took it over after this
        one was thought dead, and that gateway's answer is the one the person gets."""

        def run() -> bool:
            with self._sessions.begin() as session:
                if not _mark_answered(session, message_id, at):
                    return False
                self._save_in(session, list(records))
                return True

        return await self._run(run)

    async def claim(self, message_id: int, at: datetime) -> bool:
        """Take an unanswered inbound message over to answer it: True for exactly one caller, whatever the
        number of gateways asking at once (a conditional update)."""

        def run() -> bool:
            with self._sessions.begin() as session:
                return _mark_answered(session, message_id, at)

        return await self._run(run)

    async def unanswered(
        self,
        since: datetime,
        others_before: datetime,
        gateway: str | None = None,
        mine_before: datetime | None = None,
        limit: int = 100,
    ) -> list[PendingMessage]:
        """Inbound messages stored after ``since`` and not answered, oldest first: those of any gateway
        stored before ``others_before`` (older than any answer in progress can be), and those taken in by
        ``gateway`` before ``mine_before`` (by an earlier run of this very gateway)."""

        def run() -> list[PendingMessage]:
            mine = (
                (Message.taken_by == gateway) & (Message.created_at < mine_before)
                if gateway is not None and mine_before is not None
                else false()
            )
            with self._sessions() as session:
                rows = session.execute(
                    select(Message, User)
                    .join(User, User.id == Message.user_id)
                    .where(
                        Message.direction == "in",
                        Message.answered_at.is_(None),
                        Message.created_at >= since,
                        (Message.created_at < others_before) | mine,
                    )
                    .order_by(Message.created_at, Message.id)
                    .limit(limit)
                ).all()
                return [
                    PendingMessage(
                        m.id,
                        u.id,
                        u.channel,
                        u.channel_user_key,
                        u.rasa_sender_id,
                        u.first_name,
                        m.text,
                        m.payload,
                        m.created_at,
                        m.taken_by,
                    )
                    for m, u in rows
                ]

        return await self._run(run)

    async def count_inbound(self, user_id: int, since: datetime) -> int:
        """How many messages the person sent from ``since`` on (the rate limit shared by the gateways)."""

        def run() -> int:
            with self._sessions() as session:
                return _count_inbound(session, user_id, since)

        return await self._run(run)

    async def save_callback_payloads(self, entries: dict[str, str], at: datetime) -> None:
        """Store long button payloads under their keys. Idempotent: a key already stored keeps its
        payload and only has ``seen_at`` moved on (several gateways may store the same button at once)."""
        if not entries:
            return

        def run() -> None:
            insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
            rows = [{"key": k, "payload": v, "created_at": at, "seen_at": at} for k, v in entries.items()]
            stmt = insert(CallbackPayload).values(rows)
            stmt = stmt.on_conflict_do_update(
                index_elements=[CallbackPayload.key], set_={"seen_at": stmt.excluded.seen_at}
            )
            with self._sessions.begin() as session:
                session.execute(stmt)

        await self._run(run)

    async def callback_payload(self, key: str) -> str | None:
        """The payload stored under a button's key, None when unknown (never stored, or purged)."""

        def run() -> str | None:
            with self._sessions() as session:
                return session.scalar(select(CallbackPayload.payload).where(CallbackPayload.key == key))

        return await self._run(run)

    def _user_for(self, session: Session, rec: NewMessage) -> User:
        user = session.scalars(_USER_BY_KEY, {"channel": rec.channel, "key": rec.user_key}).first()
        if user is None:
            user = User(
                channel=rec.channel,
                channel_user_key=rec.user_key,
                rasa_sender_id=rec.rasa_sender_id,
                first_name=rec.first_name,
                created_at=rec.created_at,
                last_seen_at=rec.created_at,
            )
            session.add(user)
            session.flush()
        elif rec.direction == "in":
            user.last_seen_at = max(user.last_seen_at, rec.created_at)
            if rec.first_name:
                user.first_name = rec.first_name
        return user

    async def record_privacy_event(self, user_id: int | None, kind: str, at: datetime | None = None) -> None:
        def run() -> None:
            with self._sessions.begin() as session:
                session.add(PrivacyEvent(user_id=user_id, kind=kind, created_at=at or utcnow()))

        await self._run(run)

    async def erase_requested_since(self, user_id: int, since: datetime) -> bool:
        """Whether the person asked to erase their data after ``since`` (so a "yes" is a real answer)."""

        def run() -> bool:
            with self._sessions() as session:
                query = select(
                    exists().where(
                        PrivacyEvent.user_id == user_id,
                        PrivacyEvent.kind == "erase_requested",
                        PrivacyEvent.created_at >= since,
                    )
                )
                return bool(session.scalar(query))

        return await self._run(run)

    async def erase_user(self, user_id: int) -> None:
        """Delete the person's row, messages, tickets (with their events and relayed messages) and privacy
        events; keep one anonymous "erased" record."""

        def run() -> None:
            with self._sessions.begin() as session:
                tickets = select(Ticket.id).where(Ticket.user_id == user_id)
                session.execute(delete(RelayedMessage).where(RelayedMessage.ticket_id.in_(tickets)))
                session.execute(delete(TicketEvent).where(TicketEvent.ticket_id.in_(tickets)))
                session.execute(delete(Ticket).where(Ticket.user_id == user_id))
                session.execute(delete(Message).where(Message.user_id == user_id))
                session.execute(delete(PrivacyEvent).where(PrivacyEvent.user_id == user_id))
                session.execute(delete(User).where(User.id == user_id))
                session.add(PrivacyEvent(user_id=None, kind="erased", created_at=utcnow()))

        await self._run(run)

    async def purge(self, messages_before: datetime, updates_before: datetime) -> PurgeResult:
        """Null the text of messages older than ``messages_before``; forget update ids older than
        ``updates_before``. Tickets are part of the transcript: their question is nulled, the mapping of
        their relayed messages dropped, and invite codes past their date are forgotten after the same
        period. Long button payloads no gateway rendered since ``messages_before`` are deleted."""

        def run() -> PurgeResult:
            from bot.store.tickets import purge_tickets

            with self._sessions.begin() as session:
                tickets = purge_tickets(session, messages_before)
                purged = session.execute(
                    update(Message)
                    .where(Message.created_at < messages_before, Message.purged.is_(False))
                    .values(text=None, payload=None, buttons=None, purged=True)
                    .execution_options(synchronize_session=False)
                )
                dropped = session.execute(
                    delete(ProcessedUpdate)
                    .where(ProcessedUpdate.processed_at < updates_before)
                    .execution_options(synchronize_session=False)
                )
                buttons = session.execute(
                    delete(CallbackPayload)
                    .where(CallbackPayload.seen_at < messages_before)
                    .execution_options(synchronize_session=False)
                )
                return PurgeResult(
                    int(purged.rowcount or 0),  # type: ignore[attr-defined]
                    int(dropped.rowcount or 0),  # type: ignore[attr-defined]
                    tickets,
                    int(buttons.rowcount or 0),  # type: ignore[attr-defined]
                )

        return await self._run(run)

    # --- reads --------------------------------------------------------------------------------------

    async def ping(self) -> bool:
        def run() -> bool:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True

        try:
            return await self._run(run)
        except Exception:
            return False

    async def find_user(self, channel: str, user_key: str) -> UserRef | None:
        def run() -> UserRef | None:
            with self._sessions() as session:
                user = session.scalars(
                    select(User).where(User.channel == channel, User.channel_user_key == user_key)
                ).first()
                return None if user is None else UserRef(user.id, user.rasa_sender_id)

        return await self._run(run)

    async def pushed_since(
        self, channel: str, user_key: str, after: int, limit: int = 50
    ) -> tuple[list[StoredMessage], int]:
        """Messages pushed to the person (operators' messages, tickets closed...) with an id above
        ``after``, oldest first, and the cursor to ask with next time (the last id seen, or ``after``)."""

        def run() -> tuple[list[StoredMessage], int]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(Message)
                    .join(User, User.id == Message.user_id)
                    .where(
                        User.channel == channel,
                        User.channel_user_key == user_key,
                        Message.pushed.is_(True),
                        Message.direction == "out",
                        Message.id > after,
                    )
                    .order_by(Message.id)
                    .limit(limit)
                ).all()
                found = [
                    StoredMessage(
                        m.id, m.direction, m.text, m.payload, m.buttons, m.meta, m.created_at, m.purged
                    )
                    for m in rows
                ]
                return found, (found[-1].id if found else after)

        return await self._run(run)

    async def recent_messages(self, user_id: int, limit: int) -> list[StoredMessage]:
        """The person's last ``limit`` messages, oldest first."""

        def run() -> list[StoredMessage]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(Message)
                    .where(Message.user_id == user_id)
                    .order_by(Message.created_at.desc(), Message.id.desc())
                    .limit(limit)
                ).all()
                return [
                    StoredMessage(
                        m.id, m.direction, m.text, m.payload, m.buttons, m.meta, m.created_at, m.purged
                    )
                    for m in reversed(rows)
                ]

        return await self._run(run)

    async def messages_of(self, user_id: int) -> list[StoredMessage]:
        """The person's messages, oldest first."""

        def run() -> list[StoredMessage]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(Message).where(Message.user_id == user_id).order_by(Message.created_at, Message.id)
                ).all()
                return [
                    StoredMessage(
                        m.id, m.direction, m.text, m.payload, m.buttons, m.meta, m.created_at, m.purged
                    )
                    for m in rows
                ]

        return await self._run(run)


# Built once: the two statements of every message, with their compiled form cached by SQLAlchemy.
_MESSAGES = Message.__table__
_COUNT_INBOUND = select(func.count()).where(
    _MESSAGES.c.user_id == bindparam("user_id"),
    _MESSAGES.c.created_at >= bindparam("since", type_=_MESSAGES.c.created_at.type),
    _MESSAGES.c.direction == "in",
)
_MARK_ANSWERED = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id == bindparam("message_id"),
        _MESSAGES.c.direction == "in",
        _MESSAGES.c.answered_at.is_(None),
    )
    .values(answered_at=bindparam("at", type_=_MESSAGES.c.answered_at.type))
)


_USER_BY_KEY = select(User).where(
    User.channel == bindparam("channel"), User.channel_user_key == bindparam("key")
)


def _count_inbound(session: Session, user_id: int, since: datetime) -> int:
    return int(session.scalar(_COUNT_INBOUND, {"user_id": user_id, "since": since}) or 0)


def _mark_answered(session: Session, message_id: int, at: datetime) -> bool:
    """Set ``answered_at`` on an inbound message that has none; True when this call set it."""
    # a Core UPDATE built once: the ORM's bulk-update machinery cost as much as storing the replies
    result = session.execute(_MARK_ANSWERED, {"message_id": message_id, "at": at})
    return bool(result.rowcount)  # type: ignore[attr-defined]
