"""The one way the gateway calls Telegram and sends messages, for people and operators alike.

* **One retry policy.** Telegram's 429 (flood control) is waited out and retried by PTB's
  ``AIORateLimiter``, under every call. A network error (a timeout, a 502) is retried here, ``attempts``
  times in all with a doubling backoff. Nothing else is retried: a refusal (``BadRequest``,
  ``Forbidden``), or a 429 the rate limiter gave up on, goes back to the caller.
* **One plain-text fallback.** When Telegram refuses our HTML ("can't parse entities"), the same text is
  sent once more as plain text.
* **Splitting at Telegram's limit** (4,096 characters) for every text, relays and notices included; the
  buttons go with the last part.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError

from bot.channels.telegram.render import RenderedMessage, split_text

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def markup_of(msg: RenderedMessage) -> InlineKeyboardMarkup | None:
    if not msg.rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(title, callback_data=data) for title, data in row] for row in msg.rows]
    )


def refused_html(exc: BadRequest) -> bool:
    return "parse entities" in exc.message.lower()


class TelegramSend:
    def __init__(self, bot: Callable[[], Any], *, attempts: int = 4, backoff: float = 0.5) -> None:
        self._bot = bot
        self.attempts = max(1, attempts)
        self.backoff = backoff

    @property
    def bot(self) -> Any:
        return self._bot()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call under the retry policy (see the module's docstring)."""
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return await fn()
            except BadRequest:
                raise
            except NetworkError as exc:
                if attempt == self.attempts:
                    log.error("Telegram unreachable after %d attempts: %s", attempt, exc)
                    raise
                log.warning("Telegram network error (%s), attempt %d, retrying", exc, attempt)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def html(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> int:
        """Send one HTML message (at most 4,096 characters); its message id."""

        async def send(body: str, parse_mode: str | None) -> int:
            sent = await self.call(
                lambda: self.bot.send_message(
                    chat_id=chat_id,
                    text=body,
                    parse_mode=parse_mode,
                    reply_markup=markup,
                    message_thread_id=thread_id,
                    link_preview_options=NO_PREVIEW,
                )
            )
            return int(sent.message_id)

        try:
            return await send(text, ParseMode.HTML)
        except BadRequest as exc:
            if not refused_html(exc):
                raise
            log.error("Telegram refused our HTML (%s); sending the part as plain text", exc)
            return await send(html.unescape(text), None)

    async def rendered(self, chat_id: int, msg: RenderedMessage, *, thread_id: int | None = None) -> int:
        return await self.html(chat_id, msg.html, thread_id=thread_id, markup=markup_of(msg))

    async def text(self, chat_id: int, text: str, *, thread_id: int | None = None) -> list[int]:
        """Plain text, escaped and split at Telegram's limit; the ids of the messages sent."""
        return [await self.html(chat_id, part, thread_id=thread_id) for part in split_text(text)]
