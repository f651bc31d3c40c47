"""The outbox: work for Telegram written to the database first, and sent by a worker.

Replies to people on Telegram, relays into the operators' topics, topics with their cards and notices are
items of one table (the store's :class:`~bot.store.outbox.OutboxStore` implements :class:`OutboxQueue`).
A kill loses none of them: what was not sent is sent after the restart, once.

* **Claimed, with a lease.** A worker takes an item with a conditional update (``state='pending'``, or a
  claim whose lease ran out, or one this very gateway made before it started again): exactly one worker
  gets it, on SQLite and PostgreSQL alike.
* **One at a time per key, oldest first** (a key is a chat or a ticket): a burst for one ticket creates
  its topic once, and the messages arrive in order. Different keys go out concurrently.
* **Parts counted.** An item of several Telegram messages (a long text split at 4,096 characters)
  records each part Telegram accepted; a retry sends only the rest. An item Telegram accepted is marked
  sent and never sent again. (What cannot be closed is the instant between Telegram's answer and the
  database write: a kill right there sends that one part again.)
* **Done means accepted.** A reply counts as answered when Telegram accepted it: the item and the answered
  mark of its inbound message are written in one transaction.
* **Failures.** A refusal (the person blocked the bot, a bad request) ends the item as ``failed`` and is
  logged; anything else (Telegram unreachable) is tried again later with a doubling wait.

Nothing here knows Telegram: the channel gives a handler per kind of item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.messages import Button, Reply

log = logging.getLogger(__name__)

# kinds of items, in one place for the journal, the desk and the store
REPLY = "reply"  # replies to a person
ANNOUNCE = "announce"  # a ticket's topic and card
RELAY = "relay"  # what a person wrote, into her ticket's topic
NOTICE = "notice"  # a notice in a ticket's topic (and its card refreshed), or the ticket's end
ERASE = "erase"  # a ticket erased: its copies deleted, its topic told and closed
CARD = "card"  # a ticket's card brought up to date, quietly
GROUP = "group"  # one message in a partner's group, outside the topics (announcements again)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    key: str
    body: dict[str, Any]
    parts_done: int = 0
    attempts: int = 1


@dataclass(frozen=True)
class NewItem:
    """An item to queue: ``user_id`` ties it to a person (erased with her), ``answers`` to the inbound
    message it answers."""

    kind: str
    key: str
    body: dict[str, Any]
    user_id: int | None = None
    answers: int | None = None


class Undeliverable(Exception):
    """Telegram refused the item for good (the person blocked the bot, a bad request): never retried."""


class OutboxQueue(Protocol):
    async def put(self, item: NewItem) -> int: ...

    async def claim(self, now: datetime, limit: int) -> list[OutboxItem]:
        """At most ``limit`` items, the oldest unsent of each key, taken for this worker."""
        ...

    async def progress(self, item_id: int, parts_done: int, now: datetime) -> None:
        """``parts_done`` messages of the item were accepted (the lease is renewed)."""
        ...

    async def done(self, item_id: int, now: datetime) -> None: ...

    async def retry(self, item_id: int, at: datetime) -> None: ...

    async def failed(self, item_id: int, now: datetime) -> None: ...


# records that the first n parts of an item were accepted
Progress = Callable[[int], Awaitable[None]]
Handler = Callable[[OutboxItem, Progress], Awaitable[None]]


def chat_key(channel: str, user_key: str) -> str:
    return f"{channel}:{user_key}"


def ticket_key(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def replies_body(user_key: str, replies: list[Reply]) -> dict[str, Any]:
    """The body of a REPLY item."""
    return {
        "user_key": user_key,
        "replies": [{"text": r.text, "buttons": [[b.title, b.payload] for b in r.buttons]} for r in replies],
    }


def replies_of(body: dict[str, Any]) -> list[Reply]:
    return [
        Reply(r["text"], tuple(Button(title, payload) for title, payload in r.get("buttons", [])))
        for r in body.get("replies", [])
    ]


class OutboxWorker:
    """Claims items and hands each to the handler of its kind, until cancelled. ``poke()`` wakes it at
    once; otherwise it looks every ``idle`` seconds (items of other gateways, retries)."""

    def __init__(
        self,
        queue: OutboxQueue,
        clock: Callable[[], datetime],
        *,
        idle: float = 1.0,
        batch: int = 32,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.idle = idle
        self.batch = batch
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()

    def handle(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()  # before claiming: a poke while this batch goes out is not lost
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: look again later
                log.warning("outbox: cannot claim items, will retry: %s", exc)
                busy = 0
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle)

    async def run_once(self) -> int:
        """Claim a batch and send it; how many items were taken."""
        items = await self.queue.claim(self.clock(), self.batch)
        if items:
            await asyncio.gather(*(self._one(item) for item in items))
        return len(items)

    async def drain(self, timeout: float) -> None:
        """Send what is queued, for at most ``timeout`` seconds (at shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while await self.run_once():
                    pass

    async def _one(self, item: OutboxItem) -> None:
        handler = self.handlers.get(item.kind)
        if handler is None:  # another gateway's kind: leave it to the lease
            log.error("outbox: no handler for %r items", item.kind)
            return

        async def progress(parts: int) -> None:
            await self.queue.progress(item.id, parts, self.clock())

        try:
            await handler(item, progress)
        except asyncio.CancelledError:
            raise
        except Undeliverable as exc:
            log.warning("outbox: a %s item was refused by Telegram, not retried: %s", item.kind, exc)
            await self._settle(self.queue.failed(item.id, self.clock()))
            return
        except Exception as exc:
            wait = min(self.backoff * 2 ** (item.attempts - 1), self.max_backoff)
            log.warning("outbox: a %s item failed (%s), retrying in %.0f s", item.kind, exc, wait)
            await self._settle(self.queue.retry(item.id, self.clock() + timedelta(seconds=wait)))
            return
        await self._settle(self.queue.done(item.id, self.clock()))

    @staticmethod
    async def _settle(step: Awaitable[None]) -> None:
        """Write an item's outcome; if the database is away the lease runs out and it is claimed again."""
        try:
            await step
        except Exception as exc:
            log.warning("outbox: cannot record an item's outcome: %s", exc)


class UpdateInbox(Protocol):
    """Webhook updates kept from their arrival until handled (the store's ``InboxStore``)."""

    async def keep(self, update_id: int, body: dict[str, Any], now: datetime) -> bool:
        """False when the update is kept already (Telegram sent it again)."""
        ...

    async def handled(self, update_id: int) -> None: ...

    async def left(self) -> list[dict[str, Any]]: ...


@dataclass
class _Held:
    item: NewItem
    id: int
    state: str = "pending"
    parts_done: int = 0
    attempts: int = 0
    available_at: datetime | None = None


class MemoryOutbox:
    """An :class:`OutboxQueue` in memory, for a channel built without a database (tests, tools): the same
    order and outcomes, nothing survives the process."""

    def __init__(self) -> None:
        self.items: dict[int, _Held] = {}
        self._next = 1

    async def put(self, item: NewItem) -> int:
        held = _Held(item, self._next)
        self.items[held.id] = held
        self._next += 1
        return held.id

    async def claim(self, now: datetime, limit: int) -> list[OutboxItem]:
        heads: dict[str, _Held] = {}
        for held in self.items.values():  # in id order
            if held.state in ("pending", "claimed"):
                heads.setdefault(held.item.key, held)
        taken = []
        for held in heads.values():
            if held.state != "pending" or (held.available_at is not None and held.available_at > now):
                continue
            held.state, held.attempts = "claimed", held.attempts + 1
            item = held.item
            taken.append(OutboxItem(held.id, item.kind, item.key, item.body, held.parts_done, held.attempts))
            if len(taken) == limit:
                break
        return taken

    async def progress(self, item_id: int, parts_done: int, now: datetime) -> None:
        self.items[item_id].parts_done = parts_done

    async def done(self, item_id: int, now: datetime) -> None:
        del self.items[item_id]

    async def retry(self, item_id: int, at: datetime) -> None:
        held = self.items[item_id]
        held.state, held.available_at = "pending", at

    async def failed(self, item_id: int, now: datetime) -> None:
        del self.items[item_id]
