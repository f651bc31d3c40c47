"""The people's side of the Telegram channel: python-telegram-bot 22 at the edge of the gateway.

Handlers turn an update of a private chat into an :class:`~bot.core.messages.Inbound`, hand it to the
conversation router, and render the :class:`~bot.core.messages.Turn` it answers as HTML messages with
inline keyboards (:mod:`bot.channels.telegram.render`), sent by the one send path
(:mod:`bot.channels.telegram.send`).

Wiring (the one place where the PTB ``Application`` is built) is
:func:`bot.channels.telegram.build.build_telegram`; ``bot/app.py`` calls it and then
``await channel.start()`` / ``await channel.stop()``.

* Long polling by default (``TELEGRAM_MODE=polling``); webhook mode behind a reverse proxy
  (``TELEGRAM_MODE=webhook``): a small aiohttp server receives the updates, checks Telegram's
  ``X-Telegram-Bot-Api-Secret-Token`` header, stores each update (:mod:`bot.channels.telegram.queued`)
  before answering 200, and puts it on the application's queue; what a killed run left is handled at
  the next start. (PTB's own webhook
  server needs tornado, an extra dependency; aiohttp is already one of ours.)
* Updates of one chat are processed one at a time and in order, different chats concurrently, fairly
  (:mod:`bot.channels.telegram.updates`).
* The replies the router queued in the outbox (``Turn.queued``) are sent by its worker
  (:mod:`bot.core.outbox`), one chat at a time in order; the operators' desk shares that worker.
* ``typing…`` is shown when the router takes longer than ``typing_delay`` (0.5 s), refreshed every few
  seconds; a quick answer goes out alone.
* Button payloads longer than Telegram's 64-byte ``callback_data`` travel as a short key whose payload
  is kept in the database, shared by every gateway (see :mod:`bot.channels.telegram.callbacks`): the keys of
  a turn are written before it is sent; a key nobody knows gets a kind request to write the question again.
* Button presses past the person's flood limit (``buttons_per_minute``) cost nothing: the press is
  acknowledged to Telegram and dropped, with no reply and nothing read or written in the database.
* With a handoff service, the operators' side (groups, forum topics, registration) is added by
  :mod:`bot.channels.telegram.operators`; its handlers run before these. A handler error never stops the
  application.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
from collections.abc import Callable
from typing import Any, Protocol

from telegram import BotCommand, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.telegram.callbacks import CallbackStore
from bot.channels.telegram.queued import QueuedReplies
from bot.channels.telegram.render import RenderedMessage, render_reply
from bot.channels.telegram.send import TelegramSend
from bot.channels.telegram.typing_indicator import TypingIndicator
from bot.channels.telegram.webhook import TelegramWebhook, WebhookConfig, WebhookInbox
from bot.core import commands
from bot.core.messages import Inbound, Reply, Turn
from bot.core.outbox import REPLY, MemoryOutbox, OutboxQueue, OutboxWorker
from bot.core.ratelimit import RateLimiter

log = logging.getLogger(__name__)

CHANNEL = "telegram"

# Update types the bot asks for (the operators' messages in groups and their buttons are of these types too).
ALLOWED_UPDATES = ["message", "callback_query"]

# Content we cannot read, checked in this order (an animation also carries a document).
UNSUPPORTED_KINDS = (
    "animation",
    "sticker",
    "photo",
    "voice",
    "video_note",
    "video",
    "audio",
    "document",
    "contact",
)

TEXT_BUTTON_EXPIRED = (
    "Questo pulsante non è più attivo. Scrivimi di nuovo la tua domanda e ti rispondo subito."
)
TEXT_SOMETHING_WRONG = "Scusa, qualcosa non ha funzionato. Riprova tra qualche minuto."


class Router(Protocol):
    async def handle(self, msg: Inbound) -> Turn: ...


class PrivateCallbackQueryHandler(CallbackQueryHandler[ContextTypes.DEFAULT_TYPE, None]):
    """Button presses in private chats only: presses in groups are left to the operators' handlers."""

    def check_update(self, update: object) -> bool | object | None:
        if isinstance(update, Update) and update.callback_query is not None:
            message = update.callback_query.message
            if message is not None and message.chat.type != "private":
                return False
        return super().check_update(update)


def unsupported_kind(message: Message) -> str:
    """What kind of content a message carries that we cannot read ("other" when none of the known ones)."""
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"


class TelegramChannel:
    """The PTB application, its handlers, and how a Turn is sent back to a chat."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        router: Router,
        *,
        webhook: WebhookConfig | None = None,
        callbacks: CallbackStore | None = None,
        typing_interval: float = 4.0,
        typing_delay: float = 0.5,
        polling_timeout: float = 10.0,
        send_attempts: int = 4,
        retry_backoff: float = 0.5,
        start_attempts: int = 5,
        operators: Any = None,
        buttons_per_minute: int = 20,
        outbox: OutboxQueue | None = None,
        inbox: WebhookInbox | None = None,  # webhook mode: updates stored before Telegram hears 200
        clock: Callable[[], dtm.datetime] = lambda: dtm.datetime.now(dtm.timezone.utc),
    ) -> None:
        self.application = application
        self.operators = operators
        self.router = router
        self.webhook = webhook
        self.callbacks = callbacks if callbacks is not None else CallbackStore()
        self.typing_interval = typing_interval
        self.typing_delay = typing_delay
        self.polling_timeout = polling_timeout
        self.telegram = TelegramSend(lambda: application.bot, attempts=send_attempts, backoff=retry_backoff)
        self.start_attempts = start_attempts
        # button presses past the person's flood limit cost nothing: no reply, no database
        self.buttons = RateLimiter(buttons_per_minute)
        # replies queued by the journal, and the operators' desk work, sent by one worker
        self.outbox = OutboxWorker(outbox if outbox is not None else MemoryOutbox(), clock)
        self.outbox.handle(REPLY, QueuedReplies(self.telegram, self.callbacks))
        self._outbox_task: asyncio.Task[None] | None = None
        self._webhook = (
            None if webhook is None else TelegramWebhook(application, webhook, inbox, ALLOWED_UPDATES)
        )
        self._started = False
        self._add_handlers()

    # ------------------------------------------------------------------ wiring

    def _add_handlers(self) -> None:
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        app = self.application
        names = [c.name for c in commands.IN_MENU]
        app.add_handler(CommandHandler(names, self._on_command, filters=private))
        # other commands ("/qualcosa") go on as text: the router decides what they mean
        app.add_handler(MessageHandler(private & filters.TEXT, self._on_text))
        app.add_handler(MessageHandler(private & filters.LOCATION, self._on_location))
        app.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, self._on_unsupported))
        app.add_handler(PrivateCallbackQueryHandler(self._on_callback))
        app.add_error_handler(self._on_error)

    @property
    def bot(self) -> Any:
        return self.application.bot

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook else "polling"

    async def start(self) -> None:
        """Connect to Telegram, register the commands, and start receiving updates."""
        await self._initialize_with_retries()
        await self._set_commands()
        if self.operators is not None:
            await self.operators.start()
        await self.application.start()
        self._outbox_task = asyncio.create_task(self.outbox.run(), name="outbox")
        if self.webhook is None:
            updater = self.application.updater
            if updater is None:
                raise RuntimeError("polling needs an Updater")
            await updater.start_polling(
                timeout=dtm.timedelta(seconds=self.polling_timeout),
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=3,
                drop_pending_updates=False,
            )
        elif self._webhook is not None:
            await self._webhook.start()
        self._started = True
        log.info("Telegram channel started (%s)", self.mode)

    async def stop(self) -> None:
        """Stop receiving, finish the updates in hand, and release the connections. Safe to call twice."""
        app = self.application
        with contextlib.suppress(Exception):
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
        if self._webhook is not None:
            await self._webhook.stop()
        if self.operators is not None and app.running:
            await self.operators.stop()  # messages still queued for the operators' topics go out first
        if self._outbox_task is not None:
            self._outbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outbox_task
            self._outbox_task = None
        if app.running:
            await app.stop()
        await app.shutdown()
        if self._started:
            log.info("Telegram channel stopped")
        self._started = False

    async def _initialize_with_retries(self) -> None:
        delay = 1.0
        for attempt in range(1, self.start_attempts + 1):
            try:
                await self.application.initialize()
                return
            except InvalidToken:
                raise
            except NetworkError as exc:
                if attempt == self.start_attempts:
                    raise
                log.warning("Telegram not reachable (%s), retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _set_commands(self) -> None:
        try:
            menu = [BotCommand(c.name, c.description or c.name) for c in commands.IN_MENU]
            await self.bot.set_my_commands(menu)
        except TelegramError as exc:  # the menu is a convenience; the commands work anyway
            log.warning("setMyCommands failed: %s", exc)

    # ------------------------------------------------------------------ handlers

    @staticmethod
    def _first_name(update: Update) -> str | None:
        user = update.effective_user
        return user.first_name if user else None

    def _inbound(self, update: Update, chat_id: int, **fields: Any) -> Inbound:
        return Inbound(
            channel=CHANNEL,
            user_key=str(chat_id),
            first_name=self._first_name(update),
            update_id=update.update_id,
            message_id=update.message.message_id if update.message is not None else None,
            **fields,
        )

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        name = commands.command_name(message.text)
        await self._dispatch(message.chat_id, self._inbound(update, message.chat_id, command=name))

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        await self._dispatch(message.chat_id, self._inbound(update, message.chat_id, text=message.text))

    async def _on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.location is None:
            return
        where = (message.location.latitude, message.location.longitude)
        await self._dispatch(message.chat_id, self._inbound(update, message.chat_id, location=where))

    async def _on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        kind = unsupported_kind(message)
        await self._dispatch(message.chat_id, self._inbound(update, message.chat_id, unsupported=kind))

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        chat = query.message.chat if query.message is not None else None
        chat_id = chat.id if chat is not None else query.from_user.id
        try:
            await query.answer()  # stops the little clock on the button
        except TelegramError as exc:
            log.debug("answerCallbackQuery failed: %s", exc)
        if not self.buttons.allow(chat_id):
            return  # over the limit: nothing read, nothing stored, nothing said
        payload = await self.callbacks.resolve(query.data or "")
        if not payload:
            await self.send_turn(chat_id, Turn(replies=[Reply(TEXT_BUTTON_EXPIRED)]))
            return
        await self._dispatch(chat_id, self._inbound(update, chat_id, payload=payload))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("error while handling Telegram update %s", update_id, exc_info=context.error)

    # ------------------------------------------------------------------ answering

    async def _dispatch(self, chat_id: int, inbound: Inbound) -> None:
        typing = TypingIndicator(
            lambda: self.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING),
            self.typing_interval,
            self.typing_delay,
        )
        typing.start()
        try:
            turn = await self.router.handle(inbound)
        except Exception:
            # the router answers failures itself; this is the last line of defence
            log.exception("router failed on Telegram update %s", inbound.update_id)
            turn = Turn(replies=[Reply(TEXT_SOMETHING_WRONG)])
        finally:
            await typing.stop()
        if turn.queued:
            self.outbox.poke()
        else:
            await self.send_turn(chat_id, turn)

    async def send_turn(self, chat_id: int | str, turn: Turn) -> bool:
        """Send every reply of a turn, in order. False when a message could not be delivered. The long
        button payloads of the turn are stored first (or kept pending while the database is away)."""
        rendered = [msg for reply in turn.replies for msg in render_reply(reply, self.callbacks.encode)]
        await self.callbacks.save_pending()
        for msg in rendered:
            if not await self._send_message(int(chat_id), msg):
                return False
        return True

    async def _send_message(self, chat_id: int, msg: RenderedMessage) -> bool:
        try:
            await self.telegram.rendered(chat_id, msg)
            return True
        except Forbidden as exc:  # the person blocked the bot or deleted the chat
            log.warning("cannot write to chat %s: %s", chat_id, exc)
        except RetryAfter as exc:  # the rate limiter waited and retried already
            log.error("Telegram flood control: a message to chat %s is not sent (%s)", chat_id, exc)
        except BadRequest as exc:
            log.error("Telegram refused a message to chat %s: %s", chat_id, exc)
        except NetworkError as exc:
            log.error("giving up sending a message to chat %s: %s", chat_id, exc)
        except TelegramError as exc:
            log.error("Telegram error sending to chat %s: %s", chat_id, exc)
        return False
