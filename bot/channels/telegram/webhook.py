"""Webhook mode: a small aiohttp server receives Telegram's updates behind the reverse proxy.

It checks Telegram's ``X-Telegram-Bot-Api-Secret-Token`` header, stores each update (:class:`WebhookInbox`,
over the store's inbox table) before answering 200, and puts it on the application's queue; the update is
forgotten once its handlers have run. An update a killed run stored and did not handle is handled at the
next start, before anything new. When the database cannot take an update Telegram is answered 503 and
sends it again later. (PTB's own webhook server needs tornado, an extra dependency; aiohttp is already
one of ours.)
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.core.outbox import UpdateInbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookConfig:
    url: str  # public HTTPS address Telegram calls (the reverse proxy)
    secret: str  # checked against X-Telegram-Bot-Api-Secret-Token
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "/telegram"


class WebhookInbox:
    def __init__(self, inbox: UpdateInbox, clock: Callable[[], datetime]) -> None:
        self.inbox = inbox
        self.clock = clock

    async def keep(self, data: dict[str, Any]) -> bool:
        """Store the update; False when it was stored already (Telegram sent it again). Raises when the
        database cannot take it: Telegram is then answered an error, and sends it again later."""
        return await self.inbox.keep(int(data["update_id"]), data, self.clock())

    async def handled(self, update: object) -> None:
        if not isinstance(update, Update):
            return
        try:
            await self.inbox.handled(update.update_id)
        except Exception as exc:  # it is handled again at the next start: the journal knows it
            log.warning("webhook update %s handled, not forgotten: %s", update.update_id, exc)

    async def left(self, bot: Any) -> list[Update]:
        """The updates stored by an earlier run and not handled (it was killed meanwhile)."""
        updates = []
        for data in await self.inbox.left():
            update = Update.de_json(data, bot)
            if update is not None:
                updates.append(update)
        return updates


class TelegramWebhook:
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        cfg: WebhookConfig,
        inbox: WebhookInbox | None,
        allowed_updates: list[str],
    ) -> None:
        self.application = application
        self.cfg = cfg
        self.inbox = inbox
        self.allowed_updates = allowed_updates
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        cfg = self.cfg
        if self.inbox is not None:  # what an earlier run stored and did not handle, before anything new
            for update in await self.inbox.left(self.application.bot):
                await self.application.update_queue.put(update)
        webapp = web.Application()
        webapp.router.add_post(cfg.path, self.handle)
        runner = web.AppRunner(webapp, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, cfg.listen, cfg.port).start()
        self._runner = runner
        await self.application.bot.set_webhook(
            url=cfg.url,
            secret_token=cfg.secret,
            allowed_updates=self.allowed_updates,
            drop_pending_updates=False,
        )
        log.info("Telegram webhook listening on %s:%s%s", cfg.listen, cfg.port, cfg.path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def handle(self, request: web.Request) -> web.Response:
        """aiohttp handler for Telegram's webhook calls (also mountable on another aiohttp app)."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.cfg.secret or not hmac.compare_digest(given.encode(), self.cfg.secret.encode()):
            log.warning("webhook call refused: wrong secret token")
            return web.Response(status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot)
        except Exception:  # malformed body: Telegram never sends one, so it is not Telegram
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        if self.inbox is not None:  # stored before Telegram hears 200: a kill now loses nothing
            try:
                if not await self.inbox.keep(data):
                    return web.Response(status=200)  # sent again by Telegram: stored already
            except Exception as exc:
                log.error("webhook update not stored, Telegram will send it again: %s", exc)
                return web.Response(status=503)
        await self.application.update_queue.put(update)
        return web.Response(status=200)
