"""``typing…`` in a chat while the router works on an answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram.error import TelegramError

log = logging.getLogger(__name__)


class TypingIndicator:
    """Shows "typing…" in a chat until stopped, from ``delay`` seconds on (refreshed every ``interval``).

    An answer that comes within the delay (nearly all of them) goes out alone: one Bot API call instead of
    two, which halves what the bot spends of Telegram's 30 calls a second when many people write at once.
    With ``delay`` 0 the action is always sent, before any answer."""

    def __init__(self, send: Callable[[], Awaitable[object]], interval: float, delay: float = 0.0) -> None:
        self._send = send
        self._interval = interval
        self._delay = delay
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _wait_stop(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _run(self) -> None:
        if self._delay > 0 and await self._wait_stop(self._delay):
            return
        while True:
            try:
                await self._send()
            except TelegramError as exc:  # "typing" is a courtesy: never let it get in the way
                log.debug("chat action failed: %s", exc)
            if await self._wait_stop(self._interval):
                return

    async def stop(self) -> None:
        self._stop.set()
        if self._task is None:
            return
        try:
            # let an action already on its way arrive before the answer does
            await asyncio.wait_for(asyncio.shield(self._task), 2.0)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
