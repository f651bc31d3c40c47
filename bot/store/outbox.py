"""The outbox table and the webhook's inbox: :class:`OutboxStore` implements
:class:`bot.core.outbox.OutboxQueue`, :class:`InboxStore` the Telegram channel's update inbox.

A claim is a conditional ``UPDATE ... WHERE state = 'pending' OR <lease over>`` per item: on PostgreSQL the
second of two concurrent claims waits for the first one's row lock, finds the row claimed, and updates
nothing; on SQLite writers take turns. Only the oldest unsent item of each key is offered, so the items of
one chat or ticket go out in order whichever gateway sends them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.outbox import NewItem, OutboxItem
from bot.store.db import Database, rowcount
from bot.store.models import Message, OutboxRow, TelegramInbox, utcnow

UNSENT = ("pending", "claimed")


def queue_item(session: Session, item: NewItem, now: datetime) -> OutboxRow:
    """Add an item in the caller's transaction (with the replies it sends, say)."""
    row = OutboxRow(
        kind=item.kind,
        key=item.key,
        body=item.body,
        state="pending",
        user_id=item.user_id,
        answers=item.answers,
        parts_done=0,
        attempts=0,
        available_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def may_answer(session: Session, message_id: int) -> bool:
    """The inbound message is neither answered (nor claimed) nor has an answer in the outbox. Its row is
    taken first (a no-op update: a row lock on PostgreSQL, the write lock on SQLite), so the checks see
    every answer committed before, whichever gateway wrote it."""
    session.execute(update(Message).where(Message.id == message_id).values(taken_by=Message.taken_by))
    if session.scalar(select(Message.answered_at).where(Message.id == message_id)) is not None:
        return False
    return not session.scalar(select(exists().where(OutboxRow.answers == message_id)))


def no_answer_queued() -> ColumnElement[bool]:
    """For a query of inbound messages: those whose answer is not in the outbox."""
    return ~exists().where(OutboxRow.answers == Message.id)


class OutboxStore:
    """The outbox of one gateway (``gateway``: its name; ``started_at``: when this run began, so the claims
    its earlier run left behind are taken over at once)."""

    def __init__(
        self,
        db: Database,
        *,
        gateway: str | None,
        started_at: datetime,
        lease: timedelta = timedelta(seconds=120),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.clock = clock
        self.gateway = gateway or "gateway"
        self.started_at = started_at
        self.lease = lease

    async def put(self, item: NewItem) -> int:
        def run(session: Session) -> int:
            row = queue_item(session, item, self.clock())
            session.flush()
            return row.id

        return await self.db.write(run)

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        mine_before_restart = and_(
            OutboxRow.claimed_by == self.gateway, OutboxRow.claimed_at < self.started_at
        )
        return or_(
            OutboxRow.state == "pending",
            and_(OutboxRow.state == "claimed", or_(OutboxRow.lease_until < now, mine_before_restart)),
        )

    async def claim(self, now: datetime, limit: int) -> list[OutboxItem]:
        heads = select(func.min(OutboxRow.id)).where(OutboxRow.state.in_(UNSENT)).group_by(OutboxRow.key)
        candidates = (
            select(OutboxRow.id)
            .where(OutboxRow.id.in_(heads), OutboxRow.available_at <= now, self._claimable(now))
            .order_by(OutboxRow.id)
            .limit(limit)
        )

        def run(session: Session) -> list[OutboxItem]:
            taken = []
            for item_id in session.scalars(candidates).all():
                result = session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == item_id, self._claimable(now))
                    .values(
                        state="claimed",
                        lease_until=now + self.lease,
                        claimed_by=self.gateway,
                        claimed_at=now,
                        attempts=OutboxRow.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if rowcount(result) == 1:
                    taken.append(item_id)
            rows = session.scalars(select(OutboxRow).where(OutboxRow.id.in_(taken)).order_by(OutboxRow.id))
            return [OutboxItem(r.id, r.kind, r.key, r.body, r.parts_done, r.attempts) for r in rows]

        return await self.db.write(run)

    async def progress(self, item_id: int, parts_done: int, now: datetime) -> None:
        await self._set(item_id, parts_done=parts_done, lease_until=now + self.lease)

    async def done(self, item_id: int, now: datetime) -> None:
        def run(session: Session) -> None:
            answers = session.scalar(select(OutboxRow.answers).where(OutboxRow.id == item_id))
            _update(session, item_id, state="sent", sent_at=now, body={}, lease_until=None)
            if answers is not None:
                session.execute(
                    update(Message)
                    .where(Message.id == answers, Message.answered_at.is_(None))
                    .values(answered_at=now)
                )

        await self.db.write(run)

    async def retry(self, item_id: int, at: datetime) -> None:
        await self._set(item_id, state="pending", available_at=at, lease_until=None)

    async def failed(self, item_id: int, now: datetime) -> None:
        await self._set(item_id, state="failed", sent_at=now, body={}, lease_until=None)

    async def _set(self, item_id: int, **values: Any) -> None:
        await self.db.write(lambda s: _update(s, item_id, **values))


def _update(session: Session, item_id: int, **values: Any) -> None:
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == item_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def purge_outbox(session: Session, before: datetime) -> int:
    """Items sent or refused before ``before`` (their bodies are empty already), and webhook updates never
    handled since then."""
    done = session.execute(
        delete(OutboxRow)
        .where(OutboxRow.state.in_(("sent", "failed")), OutboxRow.sent_at < before)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(TelegramInbox)
        .where(TelegramInbox.received_at < before)
        .execution_options(synchronize_session=False)
    )
    return rowcount(done)


class InboxStore:
    """Webhook updates kept from the moment they arrive until their handlers have run."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def keep(self, update_id: int, body: dict[str, Any], now: datetime) -> bool:
        """Store the update; False when it is stored already (Telegram sent it again)."""

        def run(session: Session) -> bool:
            try:
                with session.begin_nested():
                    session.add(TelegramInbox(update_id=update_id, body=body, received_at=now))
            except IntegrityError:
                return False
            return True

        return await self.db.write(run)

    async def handled(self, update_id: int) -> None:
        await self.db.write(
            lambda s: s.execute(delete(TelegramInbox).where(TelegramInbox.update_id == update_id))
        )

    async def left(self) -> list[dict[str, Any]]:
        """The updates an earlier run stored and did not finish, oldest first."""
        query = select(TelegramInbox.body).order_by(TelegramInbox.update_id)
        return await self.db.read(lambda s: list(s.scalars(query).all()))
