"""People and their messages, behind an async interface: :class:`Store`, the gateway's main store.

It owns the :class:`~bot.store.db.Database` (engine, sessions, the database thread) that the other
aggregates share (:mod:`bot.store.tickets`, :mod:`bot.store.operators`, :mod:`bot.store.desk`), and
fronts the small ones: long button payloads (:mod:`bot.store.callbacks`), privacy events, the erasure of a
person (:mod:`bot.store.erase`) and the retention purge (:mod:`bot.store.retention`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, bindparam, exists, false, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.outbox import NewItem
from bot.store.callbacks import payload as callback_payload
from bot.store.callbacks import save as save_callback_payloads
from bot.store.conversations import conversation_age, record_sender_id, switch_sender_id
from bot.store.db import Database, PersonErased
from bot.store.erase import erase_person, sender_ids_of
from bot.store.models import Message, PrivacyEvent, ProcessedUpdate, User, utcnow
from bot.store.outbox import may_answer, no_answer_queued, queue_item
from bot.store.people import USER_BY_KEY, user_for
from bot.store.records import NewMessage, PendingMessage, StoredMessage, UserRef
from bot.store.retention import Erasable, PurgeResult, inactive_people
from bot.store.retention import purge as purge_all
from bot.store.ticket_rows import in_handoff

log = logging.getLogger(__name__)
T = TypeVar("T")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.db = Database(engine)
        self.engine = engine
        self._sessions = self.db.sessions

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.db.call(fn, *args)

    def close(self) -> None:
        self.db.close()

    # --- writes -------------------------------------------------------------------------------------

    async def save(
        self, records: Sequence[NewMessage], *, count_since: datetime | None = None
    ) -> UserRef | None:
        """Store ``records`` in one transaction and return the sender's row. Returns None, storing nothing,
        when the first record is an inbound Telegram update whose id was already taken in. With
        ``count_since`` the row also says how many inbound messages the person sent from then on (the
        flood limit shared by the gateways), the age of her Rasa conversation and whether she is in a
        handoff, read in the same transaction. Raises
        :class:`~bot.store.db.PersonErased`, storing nothing, when the person erased her data after the
        records were made (a spool writing them back)."""
        return await self.db.call(self._save, list(records), count_since)

    def _save(self, records: list[NewMessage], count_since: datetime | None = None) -> UserRef | None:
        for attempt in (1, 2):
            with self._sessions() as session:
                try:
                    ref = self._save_in(session, records)
                    if ref is not None and count_since is not None:
                        ref = replace(
                            ref,
                            recent_inbound=_count_inbound(session, ref.id, count_since),
                            conversation=conversation_age(session, ref.id, ref.message_id)
                            if ref.message_id is not None
                            else None,
                            in_handoff=in_handoff(session, ref.id),
                        )
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
        erased: list[str] = []
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
            user = user_for(session, rec)
            if user is None:  # written back from a spool after she erased her data: dropped
                erased.append(rec.rasa_sender_id)
                continue
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
        if erased and ref is None:
            raise PersonErased(list(dict.fromkeys(erased)))
        session.flush()
        if ref is not None and added:
            ref = UserRef(ref.id, ref.rasa_sender_id, added[0].id)
        return ref

    async def finish_turn(self, message_id: int, records: Sequence[NewMessage], at: datetime) -> bool:
        """Mark the inbound message ``message_id`` answered and store its replies, in one transaction.
        False, storing nothing, when it was already answered: another gateway took it over after this
        one was thought dead, and that gateway's answer is the one the person gets."""

        def run(session: Session) -> bool:
            if not _mark_answered(session, message_id, at):
                return False
            # marked once, here: the replies' own ``answers`` would mark it again, one UPDATE each
            self._save_in(session, [replace(r, answers=None) for r in records if not r.is_mark])
            return True

        return await self.db.write(run)

    async def queue_turn(
        self, message_id: int | None, records: Sequence[NewMessage], item: NewItem, at: datetime
    ) -> bool:
        """Store the replies and queue ``item`` (which sends them) in the outbox, in one transaction; the
        inbound message ``message_id`` is marked answered when Telegram accepts the item. False, storing
        nothing, when that message was answered, claimed or queued an answer meanwhile."""

        def run(session: Session) -> bool:
            if message_id is not None and not may_answer(session, message_id):
                return False
            ref = self._save_in(session, [replace(r, answers=None) for r in records])
            user_id = ref.id if ref is not None else item.user_id
            queue_item(session, replace(item, user_id=user_id, answers=message_id), at)
            return True

        return await self.db.write(run)

    async def claim(self, message_id: int, at: datetime) -> bool:
        """Take an unanswered inbound message over to answer it: True for exactly one caller, whatever the
        number of gateways asking at once (the message's row is locked first; an answer already queued in
        the outbox counts as taken)."""

        return await self.db.write(lambda s: may_answer(s, message_id) and _mark_answered(s, message_id, at))

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
        mine = (
            (Message.taken_by == gateway) & (Message.created_at < mine_before)
            if gateway is not None and mine_before is not None
            else false()
        )
        query = (
            select(Message, User)
            .join(User, User.id == Message.user_id)
            .where(
                Message.direction == "in",
                Message.answered_at.is_(None),
                no_answer_queued(),  # not one whose answer waits in the outbox
                Message.created_at >= since,
                (Message.created_at < others_before) | mine,
            )
            .order_by(Message.created_at, Message.id)
            .limit(limit)
        )

        def run(session: Session) -> list[PendingMessage]:
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
                for m, u in session.execute(query).all()
            ]

        return await self.db.read(run)

    async def count_inbound(self, user_id: int, since: datetime) -> int:
        """How many messages the person sent from ``since`` on (the rate limit shared by the gateways)."""
        return await self.db.read(lambda s: _count_inbound(s, user_id, since))

    async def save_callback_payloads(self, entries: dict[str, str], at: datetime) -> None:
        """Store long button payloads under their keys (see :func:`bot.store.callbacks.save`)."""
        if entries:
            await self.db.write(partial(save_callback_payloads, entries, at))

    async def callback_payload(self, key: str) -> str | None:
        """The payload stored under a button's key, None when unknown (never stored, or purged)."""
        return await self.db.read(partial(callback_payload, key))

    async def record_privacy_event(self, user_id: int | None, kind: str, at: datetime | None = None) -> None:
        await self.db.write(
            lambda s: s.add(PrivacyEvent(user_id=user_id, kind=kind, created_at=at or utcnow()))
        )

    async def erase_requested_since(self, user_id: int, since: datetime) -> bool:
        """Whether the person asked to erase their data after ``since`` (so a "yes" is a real answer)."""
        query = select(
            exists().where(
                PrivacyEvent.user_id == user_id,
                PrivacyEvent.kind == "erase_requested",
                PrivacyEvent.created_at >= since,
            )
        )
        return await self.db.read(lambda s: bool(s.scalar(query)))

    async def sender_ids(self, user_id: int) -> list[str]:
        """Every Rasa id the person was given (see :func:`bot.store.erase.sender_ids_of`)."""
        return await self.db.read(lambda s: sender_ids_of(s, user_id))

    async def record_sender_id(self, user_id: int, sender_id: str, at: datetime) -> bool:
        """Record a new Rasa id of the person before Rasa hears of it (see :mod:`bot.store.conversations`)."""
        return await self.db.write(lambda s: record_sender_id(s, user_id, sender_id, at))

    async def switch_sender_id(self, user_id: int, old: str, new: str) -> str | None:
        """Make the recorded ``new`` her current Rasa id if ``old`` still is; the current one after."""
        return await self.db.write(lambda s: switch_sender_id(s, user_id, old, new))

    async def erase_user(self, user_id: int) -> None:
        """Delete everything about the person (see :func:`bot.store.erase.erase_person`); keep one
        anonymous "erased" record and her tombstones. On SQLite the deleted bytes are overwritten
        (``secure_delete``) and the WAL is then copied into the database and emptied, so her words are
        in no file of it."""
        await self.db.write(lambda s: erase_person(s, user_id, utcnow()))
        await self.db.checkpoint()

    async def purge(
        self, messages_before: datetime, updates_before: datetime, pending_before: datetime
    ) -> PurgeResult:
        """The retention purge, every table at once (see :func:`bot.store.retention.purge`); on SQLite the
        WAL is then emptied, as after an erase."""
        result = await self.db.write(lambda s: purge_all(s, messages_before, updates_before, pending_before))
        await self.db.checkpoint()
        return result

    async def inactive_people(self, before: datetime) -> list[Erasable]:
        """People who wrote nothing since ``before`` (see :func:`bot.store.retention.inactive_people`)."""
        return await self.db.read(lambda s: inactive_people(s, before))

    # --- reads --------------------------------------------------------------------------------------

    async def ping(self) -> bool:
        def run() -> bool:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True

        try:
            return await self.db.call(run)
        except Exception:
            return False

    async def find_user(self, channel: str, user_key: str) -> UserRef | None:
        def run(session: Session) -> UserRef | None:
            user = session.scalars(USER_BY_KEY, {"channel": channel, "key": user_key}).first()
            return None if user is None else UserRef(user.id, user.rasa_sender_id)

        return await self.db.read(run)

    async def pushed_since(
        self, channel: str, user_key: str, after: int, limit: int = 50
    ) -> tuple[list[StoredMessage], int]:
        """Messages pushed to the person (operators' messages, tickets closed...) with an id above
        ``after``, oldest first, and the cursor to ask with next time (the last id seen, or ``after``)."""
        query = (
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
        )

        def run(session: Session) -> tuple[list[StoredMessage], int]:
            found = [_stored(m) for m in session.scalars(query).all()]
            return found, (found[-1].id if found else after)

        return await self.db.read(run)

    async def recent_messages(self, user_id: int, limit: int) -> list[StoredMessage]:
        """The person's last ``limit`` messages, oldest first."""
        query = (
            select(Message)
            .where(Message.user_id == user_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
        return await self.db.read(lambda s: [_stored(m) for m in reversed(s.scalars(query).all())])

    async def messages_of(self, user_id: int) -> list[StoredMessage]:
        """The person's messages, oldest first."""
        query = select(Message).where(Message.user_id == user_id).order_by(Message.created_at, Message.id)
        return await self.db.read(lambda s: [_stored(m) for m in s.scalars(query).all()])


def _stored(m: Message) -> StoredMessage:
    return StoredMessage(m.id, m.direction, m.text, m.payload, m.buttons, m.meta, m.created_at, m.purged)


# Built once: the two statements of every message, with their compiled form cached by SQLAlchemy.
_MESSAGES = cast(Table, Message.__table__)
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


def _count_inbound(session: Session, user_id: int, since: datetime) -> int:
    return int(session.scalar(_COUNT_INBOUND, {"user_id": user_id, "since": since}) or 0)


def _mark_answered(session: Session, message_id: int, at: datetime) -> bool:
    """Set ``answered_at`` on an inbound message that has none; True when this call set it."""
    # a Core UPDATE built once: the ORM's bulk-update machinery cost as much as storing the replies
    result = session.execute(_MARK_ANSWERED, {"message_id": message_id, "at": at})
    return bool(result.rowcount)  # type: ignore[attr-defined]
