"""Fair per-chat processing of Telegram updates.

Updates of one conversation run one at a time, in arrival order; different conversations concurrently. A
conversation is a chat, or in a forum group a chat *and* a topic (``message_thread_id``): a busy operators'
group is as many conversations as it has tickets. An update waiting for its conversation holds none of the
``max_concurrent_updates`` slots: it first waits for its conversation's lock, and only then takes a slot, so
a flood from one chat never keeps the others waiting.

PTB's own limit is taken *before* ``do_process_update`` (and ``process_update`` is final), so it is set out
of reach here (:data:`UNBOUNDED`) and the real limit is this processor's own semaphore, taken after the
conversation's lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


def conversation_key(update: object) -> Hashable | None:
    """The chat (or (chat, topic) in a forum) the update belongs to; None when it has none."""
    if not isinstance(update, Update):
        return None
    chat = update.effective_chat
    if chat is None:
        return update.effective_user.id if update.effective_user is not None else None
    message = update.effective_message
    if message is not None and message.is_topic_message and message.message_thread_id is not None:
        return (chat.id, message.message_thread_id)
    return chat.id


UNBOUNDED = 1_000_000  # PTB's semaphore: never the one that makes an update wait


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of the same conversation one at a time, in arrival order; different ones concurrently, at
    most ``max_concurrent_updates`` at once."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(UNBOUNDED)
        # told of each update once its handlers have run (the webhook's inbox forgets it then)
        self.after: Callable[[object], Awaitable[None]] | None = None
        self.slots = max_concurrent_updates
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._waiting: dict[Hashable, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await self._process(update, coroutine)
        except asyncio.CancelledError:  # stopped half-way: not handled
            raise
        except Exception:
            await self._after(update)
            raise
        await self._after(update)

    async def _after(self, update: object) -> None:
        if self.after is not None:
            await self.after(update)

    async def _process(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = conversation_key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())  # asyncio.Lock wakes its waiters in order
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock, self._slots:  # the conversation's turn first, holding no slot; then a slot
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""
