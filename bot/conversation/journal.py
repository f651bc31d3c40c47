"""Taking messages in and writing answers down: the conversation's journal.

* Every inbound message is stored (with its Telegram update id, in the same transaction) before it is
  answered: an update id already taken in is a duplicate, also after a restart.
* If the database is unreachable the message goes to a bounded spool (in memory, copied to a local file),
  written as soon as the database answers again; the person is answered all the same.
* The replies are stored with their meta, and the inbound message marked answered, in one transaction that
  only succeeds if no other gateway answered the message meanwhile (see :mod:`bot.conversation.recovery`).
  On Telegram the same transaction queues them in the outbox (:mod:`bot.core.outbox`) instead, and the
  message counts as answered once Telegram accepted them.
* The per-person rate limit is counted in the database, shared by every gateway (the in-memory limiter is
  the fallback while the database is away).
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.core import commands, outbox
from bot.core.messages import MAX_TEXT_CHARS, Inbound, Reply, normalise_meta
from bot.core.outbox import NewItem
from bot.core.ratelimit import RateLimiter
from bot.store import NewMessage, PendingMessage, Store, StoreUnavailable, new_sender_id
from bot.store.records import ConversationAge
from bot.store.spool import Spool

log = logging.getLogger(__name__)

_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Sender:
    """The person behind a message, as the journal knows her."""

    user_id: int | None  # None while the database has not taken the person in yet
    sender_id: str  # her opaque Rasa id


@dataclass
class Outcome:
    replies: list[Reply]
    reply_metas: list[dict[str, Any] | None]
    meta: dict[str, Any] | None = None
    store_replies: bool = True


def said(*replies: Reply, meta: dict[str, Any] | None = None) -> Outcome:
    return Outcome(list(replies), [None] * len(replies), meta)


class Stored(Enum):
    """What became of a turn's replies."""

    STORED = "stored"  # stored (or spooled): the channel sends them
    QUEUED = "queued"  # stored and queued in the outbox, whose worker sends them
    ELSEWHERE = "elsewhere"  # another gateway answered the message first: nothing to send


@dataclass(frozen=True)
class TakenIn:
    person: Sender
    message_id: int | None  # None when the message is in the spool or could not be stored
    recent_inbound: int | None = None  # the person's inbound messages in the flood window, this one included
    conversation: ConversationAge | None = None  # the age of her Rasa conversation, when the database told
    # she has an open ticket or a request for a person pending (None: the database did not say)
    in_handoff: bool | None = None


def clean(value: str | None, limit: int | None = None) -> str | None:
    """Text the databases accept: no NUL characters, no lone surrogates."""
    if value is None:
        return None
    value = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return value[:limit] if limit is not None else value


class Journal:
    def __init__(
        self,
        store: Store,
        *,
        limiter: RateLimiter,
        spool: Spool,
        db_retry_after: float,
        clock: Callable[[], datetime],
        gateway_name: str | None,
        outbox_channels: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        self.outbox_channels = outbox_channels  # channels whose replies the outbox worker sends
        self.limiter = limiter
        self.spool = spool
        self.db_retry_after = db_retry_after
        self.clock = clock
        self.gateway_name = gateway_name  # recorded on every inbound message (see bot.conversation.recovery)
        self._db_down_until = 0.0
        self._people: OrderedDict[tuple[str, str], Sender] = OrderedDict()
        self._recent_updates: OrderedDict[int, None] = OrderedDict()
        self._slowed: OrderedDict[tuple[str, str], datetime] = OrderedDict()  # when "Rallenta" was said

    # --- in -----------------------------------------------------------------------------------------

    async def take_in(self, msg: Inbound) -> TakenIn | None:
        """Store the inbound message; None means a duplicate update."""
        key = (msg.channel, msg.user_key)
        cached = self._people.get(key)
        record = NewMessage(
            channel=msg.channel,
            user_key=msg.user_key,
            direction="in",
            rasa_sender_id=cached.sender_id if cached else new_sender_id(),
            text=stored_text(msg),
            payload=msg.payload[:MAX_TEXT_CHARS] if msg.payload else None,
            first_name=msg.first_name,
            update_id=msg.update_id,
            created_at=self.clock(),
            taken_by=self.gateway_name,
        )
        await self.flush_spool()
        if not len(self.spool) and self.db_may_answer():
            try:
                since = record.created_at - timedelta(seconds=self.limiter.window)
                ref = await self.store.save([record], count_since=since)
            except StoreUnavailable as exc:
                log.warning("database unreachable, keeping the message in memory: %s", exc)
                self.db_failed()
            except Exception:
                log.exception("the database refused an inbound message; answering without storing it")
                return TakenIn(self.remember(key, cached or Sender(None, record.rasa_sender_id)), None)
            else:
                if ref is None:
                    return None
                person = self.remember(key, Sender(ref.id, ref.rasa_sender_id))
                return TakenIn(person, ref.message_id, ref.recent_inbound, ref.conversation, ref.in_handoff)
        # Answered now, while the database is away: written as answered, so no gateway answers it again.
        self.spool.add(replace(record, answered_at=record.created_at))
        return TakenIn(self.remember(key, cached or Sender(None, record.rasa_sender_id)), None)

    async def allowed(self, msg: Inbound, person: Sender, recent: int | None = None) -> bool:
        """The per-person rate limit. The database counts the person's inbound messages of the last
        window, this one included, whichever gateway took them in (``recent``: counted when the message
        was stored, in the same transaction); while it is away (or the person has no row yet) the
        in-memory limiter of this gateway decides."""
        key = (msg.channel, msg.user_key)
        if recent is not None:
            return recent <= self.limiter.limit
        if person.user_id is None or not self.db_may_answer():
            return self.limiter.allow(key)
        since = self.clock() - timedelta(seconds=self.limiter.window)
        try:
            count = await self.store.count_inbound(person.user_id, since)
        except StoreUnavailable as exc:
            log.warning("database unreachable, rate limit in memory: %s", exc)
            self.db_failed()
            return self.limiter.allow(key)
        except Exception:
            log.exception("rate limit: cannot count the messages, using the in-memory limiter")
            return self.limiter.allow(key)
        return count <= self.limiter.limit

    def say_slow_down(self, msg: Inbound) -> bool:
        """Whether to tell the person over the limit to slow down: on Telegram once per window of the
        limit (every message after it gets no reply), elsewhere (the web chat waits for an answer) always."""
        if msg.channel != "telegram":
            return True
        key, now = (msg.channel, msg.user_key), self.clock()
        said_at = self._slowed.get(key)
        if said_at is not None and (now - said_at).total_seconds() < self.limiter.window:
            return False
        self._slowed[key] = now
        self._slowed.move_to_end(key)
        while len(self._slowed) > _CACHE_SIZE:
            self._slowed.popitem(last=False)
        return True

    # --- out ----------------------------------------------------------------------------------------

    async def store_replies(
        self, msg: Inbound, person: Sender, outcome: Outcome, answers: int | None, *, pushed: bool = False
    ) -> Stored:
        """Store the replies and mark the inbound message ``answers`` answered; for a channel that sends
        through the outbox, queue them there instead (``answers`` is marked when Telegram accepts them).
        ELSEWHERE (nothing stored, the replies must not be sent) when another gateway answered that
        message first."""
        now = self.clock()
        records = [
            NewMessage(
                channel=msg.channel,
                user_key=msg.user_key,
                direction="out",
                rasa_sender_id=person.sender_id,
                text=reply.text,
                buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons] or None,
                meta=normalise_meta(meta) if meta is not None else None,
                created_at=now,
                pushed=pushed,
                answers=answers,
            )
            for reply, meta in zip(outcome.replies, outcome.reply_metas, strict=True)
        ]
        if not len(self.spool) and self.db_may_answer():
            try:
                return await self._store(msg, person, outcome, records, answers, now)
            except StoreUnavailable as exc:
                log.warning("database unreachable, keeping the replies in memory: %s", exc)
                self.db_failed()
            except Exception:
                log.exception("the database refused the replies; they are not stored")
                return Stored.STORED
        for record in records:
            self.spool.add(record)
        if answers is not None and not records:
            self.spool.add(_answered_marker(msg, person, answers, now))
        return Stored.STORED

    async def _store(
        self,
        msg: Inbound,
        person: Sender,
        outcome: Outcome,
        records: list[NewMessage],
        answers: int | None,
        now: datetime,
    ) -> Stored:
        if records and msg.channel in self.outbox_channels:
            item = NewItem(
                outbox.REPLY,
                outbox.chat_key(msg.channel, msg.user_key),
                outbox.replies_body(msg.user_key, outcome.replies),
                user_id=person.user_id,
            )
            queued = await self.store.queue_turn(answers, records, item, now)
            return Stored.QUEUED if queued else Stored.ELSEWHERE
        if answers is not None:
            return Stored.STORED if await self.store.finish_turn(answers, records, now) else Stored.ELSEWHERE
        if records:
            await self.store.save(records)
        return Stored.STORED

    async def flush_spool(self) -> int:
        """Write the messages kept while the database was away."""
        if not len(self.spool) or not self.db_may_answer():
            return 0
        written = await self.spool.flush(self.store)
        if len(self.spool):
            self.db_failed()
        return written

    # --- state --------------------------------------------------------------------------------------

    def db_may_answer(self) -> bool:
        return time.monotonic() >= self._db_down_until

    def db_failed(self) -> None:
        self._db_down_until = time.monotonic() + self.db_retry_after

    def remember(self, key: tuple[str, str], person: Sender) -> Sender:
        self._people[key] = person
        self._people.move_to_end(key)
        while len(self._people) > _CACHE_SIZE:
            self._people.popitem(last=False)
        return person

    def forget(self, channel: str, user_key: str) -> None:
        """The person erased her data: nothing of hers stays in memory either."""
        self._people.pop((channel, user_key), None)
        self.spool.forget(channel, user_key)

    def seen_update(self, update_id: int) -> bool:
        return update_id in self._recent_updates or self.spool.holds_update(update_id)

    def remember_update(self, update_id: int) -> None:
        self._recent_updates[update_id] = None
        while len(self._recent_updates) > _CACHE_SIZE:
            self._recent_updates.popitem(last=False)


def _answered_marker(msg: Inbound, person: Sender, answers: int, at: datetime) -> NewMessage:
    """A turn without replies (the person wrote to her operator) whose mark could not be written: a
    record with no text carries the mark through the spool (see ``NewMessage.is_mark``)."""
    return NewMessage(
        channel=msg.channel,
        user_key=msg.user_key,
        direction="out",
        rasa_sender_id=person.sender_id,
        created_at=at,
        answers=answers,
    )


_UNSUPPORTED = re.compile(r"\[([a-z_]{1,32})\]")


def inbound_again(pending: PendingMessage) -> Inbound:
    """The inbound message as the channel gave it, rebuilt from what was stored (see
    :func:`stored_text`). A location's coordinates are not kept: it comes back as a location at (0, 0),
    which :meth:`ConversationRouter.answer_pending` answers by asking for it again."""
    text = pending.text
    fields: dict[str, Any] = {}
    if pending.payload:
        fields["payload"] = pending.payload
    elif text == "[posizione]":
        fields["location"] = (0.0, 0.0)
    elif text and (found := _UNSUPPORTED.fullmatch(text)):
        fields["unsupported"] = found.group(1)
    elif text and text.startswith("/") and text[1:].lower() in commands.NAMES:
        fields["command"] = text[1:].lower()
    else:
        fields["text"] = text
    return Inbound(
        channel=pending.channel, user_key=pending.user_key, first_name=pending.first_name, **fields
    )


def stored_text(msg: Inbound) -> str | None:
    if msg.command:
        return "/" + msg.command
    if msg.location is not None:
        return "[posizione]"  # the coordinates are not kept: the town Rasa is told is enough
    if msg.unsupported:
        return f"[{msg.unsupported[:32]}]"
    return msg.text[:MAX_TEXT_CHARS] if msg.text is not None else None
