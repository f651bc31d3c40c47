"""The Telegram channel: python-telegram-bot 22 at the edge of the gateway.

Everything that knows about Telegram lives here (and in ``telegram_render`` / ``callback_store``): handlers
turn an update into an :class:`~bot.messages.Inbound`, hand it to the conversation router, and render the
:class:`~bot.messages.Turn` it answers as HTML messages with inline keyboards.

Wiring (the one place where the PTB ``Application`` is built) is :func:`build_telegram`; ``bot/app.py``
calls it and then ``await channel.start()`` / ``await channel.stop()``.

* Long polling by default (``TELEGRAM_MODE=polling``); webhook mode behind a reverse proxy
  (``TELEGRAM_MODE=webhook``): a small aiohttp server receives the updates, checks Telegram's
  ``X-Telegram-Bot-Api-Secret-Token`` header and puts them on the application's queue. (PTB's own webhook
  server needs tornado, an extra dependency; aiohttp is already one of ours.)
* Updates of one chat are processed one at a time and in order; different chats concurrently.
* ``typing…`` is shown when the router takes longer than ``typing_delay`` (0.5 s), refreshed every few
  seconds; a quick answer goes out alone.
* Telegram's 429 answers are waited out and retried by PTB's ``AIORateLimiter``; other network errors
  are retried a few times with a backoff, then logged. A handler error never stops the application.
* Button payloads longer than Telegram's 64-byte ``callback_data`` travel as a short key whose payload
  is kept in the database, shared by every gateway (see :mod:`bot.channels.callback_store`): the keys of a
  turn are written before it is sent; a key nobody knows gets a kind request to write the question again.
* With a handoff service, the operators' side (groups, forum topics, registration) is added by
  :mod:`bot.channels.telegram_operators`; its handlers run before these.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import hmac
import html
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.channels.callback_store import CallbackStore
from bot.channels.telegram_render import RenderedMessage, render_reply
from bot.messages import Inbound, Reply, Turn

log = logging.getLogger(__name__)

CHANNEL = "telegram"

# Commands shown in Telegram's menu (setMyCommands), in the order people see them.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Inizia e guarda il menu"),
    ("menu", "Mostra il menu dei servizi"),
    ("help", "Come posso aiutarti"),
    ("privacy", "Quali dati teniamo e per quanto tempo"),
    ("cancella", "Cancella tutti i tuoi dati"),
)
COMMAND_NAMES = tuple(name for name, _ in COMMANDS)

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


@dataclass(frozen=True)
class WebhookConfig:
    url: str  # public HTTPS address Telegram calls (the reverse proxy)
    secret: str  # checked against X-Telegram-Bot-Api-Secret-Token
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "/telegram"


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of the same chat one at a time, in arrival order; different chats concurrently."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    @staticmethod
    def _chat_key(update: object) -> int | None:
        if isinstance(update, Update):
            if update.effective_chat is not None:
                return update.effective_chat.id
            if update.effective_user is not None:
                return update.effective_user.id
        return None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._chat_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
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


class PrivateCallbackQueryHandler(CallbackQueryHandler):
    """Button presses in private chats only: presses in groups are left to the operators' handlers."""

    def check_update(self, update: object) -> bool | object | None:
        if isinstance(update, Update) and update.callback_query is not None:
            message = update.callback_query.message
            if message is not None and message.chat.type != "private":
                return False
        return super().check_update(update)


class _Typing:
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


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


def unsupported_kind(message: Message) -> str:
    """What kind of content a message carries that we cannot read ("other" when none of the known ones)."""
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"


def _markup(msg: RenderedMessage) -> InlineKeyboardMarkup | None:
    if not msg.rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(title, callback_data=data) for title, data in row] for row in msg.rows]
    )


class TelegramChannel:
    """The PTB application, its handlers, and how a Turn is sent back to a chat."""

    def __init__(
        self,
        application: Application,
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
    ) -> None:
        self.application = application
        self.operators = operators
        self.router = router
        self.webhook = webhook
        self.callbacks = callbacks if callbacks is not None else CallbackStore()
        self.typing_interval = typing_interval
        self.typing_delay = typing_delay
        self.polling_timeout = polling_timeout
        self.send_attempts = send_attempts
        self.retry_backoff = retry_backoff
        self.start_attempts = start_attempts
        self._webhook_runner: web.AppRunner | None = None
        self._started = False
        self._add_handlers()

    # ------------------------------------------------------------------ wiring

    def _add_handlers(self) -> None:
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        app = self.application
        app.add_handler(CommandHandler(list(COMMAND_NAMES), self._on_command, filters=private))
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
        else:
            await self._start_webhook(self.webhook)
        self._started = True
        log.info("Telegram channel started (%s)", self.mode)

    async def stop(self) -> None:
        """Stop receiving, finish the updates in hand, and release the connections. Safe to call twice."""
        app = self.application
        with contextlib.suppress(Exception):
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
        if self._webhook_runner is not None:
            await self._webhook_runner.cleanup()
            self._webhook_runner = None
        if self.operators is not None and app.running:
            await self.operators.stop()  # messages still queued for the operators' topics go out first
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
            await self.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
        except TelegramError as exc:  # the menu is a convenience; the commands work anyway
            log.warning("setMyCommands failed: %s", exc)

    async def _start_webhook(self, cfg: WebhookConfig) -> None:
        webapp = web.Application()
        webapp.router.add_post(cfg.path, self.handle_webhook)
        runner = web.AppRunner(webapp, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, cfg.listen, cfg.port).start()
        self._webhook_runner = runner
        await self.bot.set_webhook(
            url=cfg.url,
            secret_token=cfg.secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        log.info("Telegram webhook listening on %s:%s%s", cfg.listen, cfg.port, cfg.path)

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """aiohttp handler for Telegram's webhook calls (also mountable on another aiohttp app)."""
        secret = self.webhook.secret if self.webhook else ""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook call refused: wrong secret token")
            return web.Response(status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self.bot)
        except Exception:  # malformed body: Telegram never sends one, so it is not Telegram
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response(status=200)

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
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
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
        typing = _Typing(
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
        text: str = msg.html
        parse_mode: str | None = ParseMode.HTML
        markup = _markup(msg)
        delay = self.retry_backoff
        for attempt in range(1, self.send_attempts + 1):
            try:
                await self.bot.send_message(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=parse_mode,
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                return True
            except RetryAfter as exc:  # the rate limiter already retried: wait once more
                wait = _retry_after_seconds(exc)
                log.warning("Telegram flood control: waiting %.0f s", wait)
                await asyncio.sleep(wait)
            except BadRequest as exc:
                if parse_mode and "parse entities" in exc.message.lower():
                    log.error("Telegram refused our HTML (%s); sending the part as plain text", exc)
                    text, parse_mode = html.unescape(text), None
                    continue
                log.error("Telegram refused a message to chat %s: %s", chat_id, exc)
                return False
            except Forbidden as exc:  # the person blocked the bot or deleted the chat
                log.warning("cannot write to chat %s: %s", chat_id, exc)
                return False
            except NetworkError as exc:
                if attempt == self.send_attempts:
                    break
                log.warning("sending to Telegram failed (%s), attempt %d, retrying", exc, attempt)
                await asyncio.sleep(delay)
                delay *= 2
            except TelegramError as exc:
                log.error("Telegram error sending to chat %s: %s", chat_id, exc)
                return False
        log.error("giving up sending a message to chat %s after %d attempts", chat_id, self.send_attempts)
        return False


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else str(value)
    return text or None


def webhook_config(settings: Any) -> WebhookConfig:
    """Webhook settings: the public URL and secret, and where our own listener binds.

    ``telegram_webhook_listen`` / ``telegram_webhook_port`` (default 127.0.0.1:8443, behind the reverse
    proxy) and ``telegram_webhook_path`` (default: the path of the public URL) are read when present.
    """
    url = getattr(settings, "telegram_webhook_url", None)
    secret = _secret(getattr(settings, "telegram_webhook_secret", None))
    if not url or not secret:
        raise ValueError("webhook mode needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET")
    path = getattr(settings, "telegram_webhook_path", None) or urlsplit(str(url)).path or "/telegram"
    return WebhookConfig(
        url=str(url),
        secret=secret,
        listen=getattr(settings, "telegram_webhook_listen", None) or "127.0.0.1",
        port=int(getattr(settings, "telegram_webhook_port", None) or 8443),
        path=path,
    )


def build_telegram(
    settings: Any,
    router: Router,
    *,
    handoff: Any = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limit_retries: int = 5,
    **channel_options: Any,
) -> TelegramChannel:
    """Build the PTB Application and the channel around it. No network I/O happens here.

    ``settings`` needs ``telegram_bot_token`` (SecretStr), ``telegram_mode`` ("polling" | "webhook"),
    ``telegram_api_base`` (optional, e.g. "http://127.0.0.1:8081/bot" for the fake server), and in webhook
    mode what :func:`webhook_config` reads. ``request`` / ``get_updates_request`` replace PTB's HTTP layer
    (tests); ``channel_options`` go to :class:`TelegramChannel`. With ``handoff`` (a
    :class:`bot.handoff.HandoffService`) the operators' side is added.
    """
    token = _secret(getattr(settings, "telegram_bot_token", None))
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    mode = getattr(settings, "telegram_mode", None) or "polling"
    if mode not in ("polling", "webhook"):
        raise ValueError(f"unknown telegram_mode {mode!r}: use 'polling' or 'webhook'")
    webhook = webhook_config(settings) if mode == "webhook" else None

    # Telegram's ~30 messages a second are per bot: with several gateways each gets its share
    per_second = float(getattr(settings, "telegram_messages_per_second", 30.0))

    # httpx logs every request URL at INFO, and the URL carries the bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)

    builder = (
        ApplicationBuilder()
        .token(token)
        .rate_limiter(AIORateLimiter(overall_max_rate=per_second, max_retries=rate_limit_retries))
        .concurrent_updates(PerChatUpdateProcessor())
    )
    api_base = getattr(settings, "telegram_api_base", None)
    if api_base:
        builder = builder.base_url(str(api_base))
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if webhook is not None:
        builder = builder.updater(None)
    application = builder.build()
    channel_options.setdefault("typing_delay", getattr(settings, "telegram_typing_delay", 0.5))
    callbacks = channel_options.pop("callbacks", None)
    if callbacks is None:  # not `or`: an empty store is falsy (it has a length)
        callbacks = CallbackStore()
    operators = None
    if handoff is not None:
        from bot.channels.telegram_operators import TelegramOperators

        operators = TelegramOperators(application, handoff, encode=callbacks.encode)
    return TelegramChannel(
        application, router, webhook=webhook, callbacks=callbacks, operators=operators, **channel_options
    )
