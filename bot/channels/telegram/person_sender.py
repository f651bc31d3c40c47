"""How the handoff reaches a person on Telegram outside an answer (:class:`bot.handoff.ports.PersonSender`):
its messages to her, and an operator's messages copied to her, through the one send path."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram.error import Forbidden, TelegramError

from bot.channels.telegram.render import render_reply
from bot.channels.telegram.send import TelegramSend
from bot.core.messages import Reply
from bot.handoff.model import Delivery

log = logging.getLogger(__name__)


class TelegramPersonSender:
    def __init__(self, send: TelegramSend, encode: Callable[[str], str]) -> None:
        self.telegram = send
        self.encode = encode

    async def send(self, user_key: str, replies: list[Reply]) -> Delivery:
        for reply in replies:
            for part in render_reply(reply, self.encode):
                try:
                    await self.telegram.rendered(int(user_key), part)
                except Forbidden:
                    return Delivery.BLOCKED
                except TelegramError as exc:
                    log.warning("a handoff message did not reach the person: %s", exc)
                    return Delivery.FAILED
        return Delivery.OK

    async def copy(self, user_key: str, from_chat_id: int, message_id: int) -> tuple[Delivery, int | None]:
        try:
            copied = await self.telegram.call(
                lambda: self.telegram.bot.copy_message(
                    chat_id=int(user_key), from_chat_id=from_chat_id, message_id=message_id
                )
            )
        except Forbidden:
            return Delivery.BLOCKED, None
        except TelegramError as exc:
            log.warning("an operator's message did not reach the person: %s", exc)
            return Delivery.FAILED, None
        return Delivery.OK, int(copied.message_id)
