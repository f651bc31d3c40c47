"""Wiring of the gateway: everything is built here, once, and handed to whoever needs it.

``main()`` (``concilia run``) reads the settings, upgrades the database schema, then runs the web channel
(always), the Telegram channel with the operators' side of the handoff (when ``TELEGRAM_BOT_TOKEN`` is set),
the outbox worker (Telegram's replies and the operators' desk work, written to the database first), the
retention job, the handoff timers, the spool flusher (which also writes pending button payloads) and the
recovery of messages an earlier run left unanswered (:mod:`bot.recovery`), until SIGINT or SIGTERM. The
web server also serves the partners' console (``/console/``, :mod:`bot.console`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from bot.assistant.rasa import RasaClient
from bot.channels.telegram.callbacks import CallbackStore
from bot.channels.web.chat import WebChannel, WebConfig
from bot.channels.web.limits import Limits
from bot.console.accounts import ConsoleAccounts
from bot.console.accounts import Limits as ConsoleLimits
from bot.console.dashboard import DashboardWeb
from bot.console.review import ReviewWeb
from bot.console.views import TicketViews
from bot.console.web import ConsoleWeb
from bot.conversation.conversations import ConversationPolicy
from bot.conversation.recovery import Recovery, run_recovery
from bot.conversation.router import ConversationRouter
from bot.conversation.town_locator import KnowledgeTownLocator
from bot.core.jobs import run_every
from bot.core.knowledge import KnowledgeCache, watch_knowledge
from bot.core.ratelimit import RateLimiter
from bot.handoff.model import Timeouts
from bot.handoff.service import HandoffService
from bot.handoff.timeouts import run_timeouts
from bot.logs import configure_logging
from bot.settings import Settings, trusted_networks
from bot.store import Store, make_engine, upgrade
from bot.store.console import ConsoleStore
from bot.store.insights import InsightsStore
from bot.store.outbox import InboxStore, OutboxStore
from bot.store.retention import run_retention
from bot.store.review import ReviewStore
from bot.store.spool import Spool
from bot.store.web_sessions import WebSessionStore

log = logging.getLogger(__name__)

SPOOL_FLUSH_EVERY = 15.0


@dataclass
class Gateway:
    """The running parts, for start-up, shutdown and tests."""

    settings: Settings
    store: Store
    rasa: RasaClient
    router: ConversationRouter
    web: WebChannel
    handoff: HandoffService | None = None
    recovery: Recovery | None = None
    callbacks: CallbackStore | None = None
    telegram: Any = None
    outbox: OutboxStore | None = None
    inbox: InboxStore | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    web_url: str = ""


async def build(settings: Settings) -> Gateway:
    from knowledge import KnowledgeHolder

    engine = make_engine(settings.database_url)
    await asyncio.to_thread(upgrade, engine)
    store = Store(engine)
    rasa = RasaClient(settings.rasa_url, settings.rasa_token.get_secret_value(), settings.rasa_timeout)
    clock = settings.clock()
    knowledge = KnowledgeCache(KnowledgeHolder())
    # read in a worker thread (half a second), at start and whenever the files change: the web chat and
    # Telegram start meanwhile, and request paths only ever read the cached copy
    watcher = asyncio.create_task(watch_knowledge(knowledge), name="knowledge")
    handoff = HandoffService(
        store,
        knowledge.current,
        clock=clock,
        timeouts=Timeouts(
            unclaimed_after=settings.handoff_unclaimed_seconds,
            silent_after=settings.handoff_silent_seconds,
            waiting_expires_after=settings.handoff_waiting_expire_seconds,
            queue_cap=settings.handoff_queue_cap,
            invite_ttl=timedelta(hours=settings.invite_ttl_hours),
        ),
        tickets_per_address=settings.handoff_tickets_per_address,
    )
    router = ConversationRouter(
        store,
        rasa,
        limiter=RateLimiter(settings.rate_limit_per_minute),
        retention_days=settings.retention_days,
        locate_town=KnowledgeTownLocator(knowledge.current),
        spool=Spool(path=settings.spool_path),
        clock=clock,
        handoff=handoff,
        gateway_name=settings.gateway_name,
        # Telegram's replies go through the outbox, sent by the channel's worker
        outbox_channels=frozenset({"telegram"}) if settings.telegram_enabled else frozenset(),
        conversation_policy=ConversationPolicy(
            max_turns=settings.rasa_conversation_turns,
            session_expiration=timedelta(minutes=settings.rasa_session_expiration_minutes),
        ),
    )
    recovery = Recovery(
        store,
        router,
        gateway=settings.gateway_name,
        window=timedelta(seconds=settings.recover_window_seconds),
        grace=timedelta(seconds=settings.recover_after_seconds),
        clock=clock,
    )
    console_store = ConsoleStore(store)
    console = ConsoleWeb(
        ConsoleAccounts(
            console_store,
            clock=clock,
            session_idle=timedelta(minutes=settings.console_session_idle_minutes),
            limits=ConsoleLimits(settings.console_failures_per_login, settings.console_failures_per_address),
        ),
        TicketViews(handoff, console_store),
        trusted_proxies=trusted_networks(settings.web_trusted_proxies),
        clock=clock,
    )
    dashboard = DashboardWeb(console, handoff, InsightsStore(store))
    review = ReviewWeb(dashboard, ReviewStore(store))
    dashboard.waiting = review.waiting
    web = WebChannel(
        router,
        health_checks={"db": store.ping, "rasa": rasa.ping},
        updates=store.pushed_since,
        config=web_config(settings),
        sessions=WebSessionStore(store),
        clock=clock,
        mounts=[console.mount, dashboard.mount, review.mount],
    )
    gw = Gateway(settings, store, rasa, router, web, handoff, recovery, CallbackStore(store, clock=clock))
    gw.outbox = OutboxStore(store.db, gateway=settings.gateway_name, started_at=clock(), clock=clock)
    gw.inbox = InboxStore(store.db)
    gw.tasks.append(watcher)
    return gw


def web_config(settings: Settings) -> WebConfig:
    key = settings.web_api_key
    return WebConfig(
        limits=Limits(
            messages_per_address_per_minute=settings.web_messages_per_address_per_minute,
            messages_per_minute=settings.web_messages_per_minute,
            sessions_per_address_per_hour=settings.web_sessions_per_address_per_hour,
            sessions_per_hour=settings.web_sessions_per_hour,
        ),
        trusted_proxies=trusted_networks(settings.web_trusted_proxies),
        api_key=key.get_secret_value() if key is not None else None,
        frame_ancestors=settings.web_frame_ancestors,
        session_idle=timedelta(minutes=settings.web_session_idle_minutes),
        access_log=settings.web_access_log,
    )


async def start(gw: Gateway) -> None:
    gw.web_url = await gw.web.start(gw.settings.web_host, gw.settings.web_port)
    if gw.settings.telegram_enabled:
        # only now: python-telegram-bot stays optional
        from bot.channels.telegram.build import build_telegram
        from bot.channels.telegram.webhook import WebhookInbox

        # the clock the outbox's items were stamped with: a second clock from CONCILIA_FAKE_NOW would
        # start later, run behind, and find every new item not yet due
        clock = gw.outbox.clock if gw.outbox is not None else gw.settings.clock()
        gw.telegram = build_telegram(
            gw.settings,
            gw.router,
            handoff=gw.handoff,
            callbacks=gw.callbacks,
            outbox=gw.outbox,
            inbox=WebhookInbox(gw.inbox, clock) if gw.inbox is not None else None,
            clock=clock,
        )
        await gw.telegram.start()
        if gw.recovery is not None:
            gw.recovery.attach_sender("telegram", gw.telegram.send_turn)
    clock = gw.handoff.clock if gw.handoff is not None else gw.settings.clock()
    gw.tasks.append(
        asyncio.create_task(
            run_retention(gw.store, gw.settings.retention_days, clock=clock, forget=gw.router.privacy.forget),
            name="retention",
        )
    )
    if gw.handoff is not None:
        gw.tasks.append(
            asyncio.create_task(run_timeouts(gw.handoff, gw.settings.handoff_check_every), name="handoff")
        )
    gw.tasks.append(asyncio.create_task(_flush_spool_forever(gw.router, gw.callbacks), name="spool"))
    if gw.recovery is not None:
        every = gw.settings.recover_every
        gw.tasks.append(asyncio.create_task(run_recovery(gw.recovery, every), name="recovery"))


async def stop(gw: Gateway) -> None:
    for task in gw.tasks:
        task.cancel()
    for task in gw.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    steps: list[Awaitable[Any]] = []
    if gw.telegram is not None:
        steps.append(gw.telegram.stop())
    steps.append(gw.web.stop())
    for step in steps:
        try:
            await step
        except Exception:
            log.exception("error while stopping")
    await gw.router.flush_spool()
    if gw.callbacks is not None:
        await gw.callbacks.save_pending()
    await gw.rasa.aclose()
    await asyncio.to_thread(gw.store.close)


async def _flush_spool_forever(router: ConversationRouter, callbacks: CallbackStore | None) -> None:
    """Write the spool (at once: an earlier run may have left one) and the pending button payloads."""

    async def step() -> None:
        try:
            await router.flush_spool()
        finally:
            if callbacks is not None:
                await callbacks.save_pending()  # never raises

    await run_every(SPOOL_FLUSH_EVERY, step, "spool flush")


async def serve(settings: Settings, stop_event: asyncio.Event | None = None) -> int:
    """Run the gateway until ``stop_event`` is set (SIGINT and SIGTERM set it). Returns the exit code."""
    stop_event = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop_event.set)
            handled.append(sig)
    try:
        return await _serve(settings, stop_event)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _serve(settings: Settings, stop_event: asyncio.Event) -> int:
    try:
        gw = await build(settings)
    except Exception as exc:
        where = settings.database_url_for_logs
        print(f"Non riesco a preparare il database ({where}): {exc}", file=sys.stderr)
        return 1
    try:
        await start(gw)
    except OSError as exc:
        where = f"{settings.web_host}:{settings.web_port}"
        print(f"Non riesco ad avviare la chat web su {where}: {exc}", file=sys.stderr)
        await stop(gw)
        return 1
    except Exception:
        log.exception("start-up failed")
        await stop(gw)
        return 1
    print(f"Web chat: {gw.web_url}", flush=True)
    log.info(
        "gateway up: web %s, telegram %s, rasa %s, database %s",
        gw.web_url,
        settings.telegram_mode if settings.telegram_enabled else "off",
        settings.rasa_url,
        settings.database_url_for_logs,
    )
    await stop_event.wait()
    log.info("stopping")
    await stop(gw)
    return 0


def main() -> int:
    # what the gateway writes (the SQLite file with its -wal and -shm, the spool) is its user's alone
    os.umask(0o077)
    try:
        settings = Settings()  # type: ignore[call-arg]  # read from the environment
    except ValidationError as exc:
        print("Configurazione non valida:", file=sys.stderr)
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "impostazioni"
            message = str(err.get("msg", "")).removeprefix("Value error, ")
            if err.get("type") == "missing":
                message = "manca: impostalo nell'ambiente o nel file .env"
            print(f"  {where.upper()}: {message}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secret_values())
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 0
