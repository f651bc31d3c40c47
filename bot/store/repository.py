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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, exists, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import (
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

    async def save(self, records: Sequence[NewMessage]) -> UserRef | None:
        """Store ``records`` in one transaction and return the sender's row. Returns None, storing nothing,
        when the first record is an inbound Telegram update whose id was already taken in."""
        return await self._run(self._save, list(records))

    def _save(self, records: list[NewMessage]) -> UserRef | None:
        for attempt in (1, 2):
            with self._sessions() as session:
                try:
                    ref = self._save_in(session, records)
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
        for i, rec in enumerate(records):
            if rec.update_id is not None:
                if session.get(ProcessedUpdate, rec.update_id) is not None:
                    if i == 0:
                        return None
                    continue
                session.add(ProcessedUpdate(update_id=rec.update_id, processed_at=rec.created_at))
            user = self._user_for(session, rec)
            session.add(
                Message(
                    user_id=user.id,
                    direction=rec.direction,
                    text=rec.text,
                    payload=rec.payload,
                    buttons=rec.buttons,
                    meta=rec.meta,
                    created_at=rec.created_at,
                    purged=False,
                    pushed=rec.pushed,
                )
            )
            ref = UserRef(user.id, user.rasa_sender_id)
        session.flush()
        return ref

    def _user_for(self, session: Session, rec: NewMessage) -> User:
        user = session.scalars(
            select(User).where(User.channel == rec.channel, User.channel_user_key == rec.user_key)
        ).first()
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
        period."""

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
                return PurgeResult(
                    int(purged.rowcount or 0),  # type: ignore[attr-defined]
                    int(dropped.rowcount or 0),  # type: ignore[attr-defined]
                    tickets,
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
