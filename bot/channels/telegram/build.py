"""Building the Telegram channel: the one place where the PTB ``Application`` is made (no network I/O)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import BaseRequest

from bot.channels.telegram.callbacks import CallbackStore
from bot.channels.telegram.operators import TelegramOperators
from bot.channels.telegram.people import Router, TelegramChannel
from bot.channels.telegram.updates import PerChatUpdateProcessor
from bot.channels.telegram.webhook import WebhookConfig

if TYPE_CHECKING:
    from bot.handoff.service import HandoffService


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else str(value)
    return text or None


def webhook_config(settings: Any) -> WebhookConfig:
    """Webhook settings: the public URL and secret, and where our own listener binds.

    ``telegram_webhook_listen`` / ``telegram_webhook_port`` (default 127.0.0.1:8443, behind the reverse
    proxy) are read when present; the listener's path is the path of the public URL.
    """
    url = getattr(settings, "telegram_webhook_url", None)
    secret = _secret(getattr(settings, "telegram_webhook_secret", None))
    if not url or not secret:
        raise ValueError("webhook mode needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET")
    path = urlsplit(str(url)).path or "/telegram"
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
    handoff: HandoffService | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limit_retries: int = 5,
    **channel_options: Any,
) -> TelegramChannel:
    """Build the PTB Application and the channel around it. No network I/O happens here.

    ``settings`` needs ``telegram_bot_token`` (SecretStr), ``telegram_mode`` ("polling" | "webhook"),
    ``telegram_api_base`` (optional, e.g. "http://127.0.0.1:8081/bot" for the fake server), and in webhook
    mode what :func:`webhook_config` reads. ``request`` / ``get_updates_request`` replace PTB's HTTP layer
    (tests); ``channel_options`` go to :class:`TelegramChannel` (``outbox``: the queue its worker sends, in
    memory when not given; ``inbox``: where webhook updates are kept until handled). With ``handoff`` (a
    :class:`bot.handoff.service.HandoffService`) the operators' side is added.
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

    processor = PerChatUpdateProcessor()
    inbox = channel_options.get("inbox")
    if inbox is not None:
        processor.after = inbox.handled  # a webhook update is forgotten once its handlers have run
    builder = (
        ApplicationBuilder()
        .token(token)
        .rate_limiter(AIORateLimiter(overall_max_rate=per_second, max_retries=rate_limit_retries))
        .concurrent_updates(processor)
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
    channel_options.setdefault("buttons_per_minute", getattr(settings, "rate_limit_per_minute", 20))
    callbacks = channel_options.pop("callbacks", None)
    if callbacks is None:  # not `or`: an empty store is falsy (it has a length)
        callbacks = CallbackStore()
    channel = TelegramChannel(application, router, webhook=webhook, callbacks=callbacks, **channel_options)
    if handoff is not None:
        channel.operators = TelegramOperators(
            application, handoff, channel.telegram, encode=callbacks.encode, outbox=channel.outbox
        )
    return channel
