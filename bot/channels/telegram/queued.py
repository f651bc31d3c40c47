"""The replies queued in the outbox (:mod:`bot.core.outbox`): :class:`QueuedReplies` sends a REPLY item,
the replies of one turn rendered and sent by the one send path, each Telegram message recorded once
accepted (a retry sends only the rest)."""

from __future__ import annotations

import logging

from telegram.error import BadRequest, Forbidden

from bot.channels.telegram.callbacks import CallbackStore
from bot.channels.telegram.render import render_reply
from bot.channels.telegram.send import TelegramSend
from bot.core.outbox import OutboxItem, Progress, Undeliverable, replies_of

log = logging.getLogger(__name__)


class QueuedReplies:
    def __init__(self, send: TelegramSend, callbacks: CallbackStore) -> None:
        self.telegram = send
        self.callbacks = callbacks

    async def __call__(self, item: OutboxItem, progress: Progress) -> None:
        chat_id = int(item.body["user_key"])
        rendered = [m for r in replies_of(item.body) for m in render_reply(r, self.callbacks.encode)]
        await self.callbacks.save_pending()
        for n, msg in enumerate(rendered[item.parts_done :], start=item.parts_done + 1):
            try:
                await self.telegram.rendered(chat_id, msg)
            except (Forbidden, BadRequest) as exc:  # blocked, or refused: trying again would not help
                raise Undeliverable(f"chat {chat_id}: {exc}") from exc
            await progress(n)
