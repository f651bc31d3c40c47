"""What the console's benchmarks share: the gateway's web server with the web chat and the partners'
console mounted as bot/app.py mounts them (and as tests/integration/console_browser.py does), over a
SQLite file; a scripted assistant in place of Rasa (each message's answer and meta come from the
script, at once, so only the gateway and the console are timed); a clock the script can set (a day of
traffic is played at its own hours); Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.assistant.answers import AssistantAnswer, AssistantReply
from bot.channels.web.chat import WebChannel, WebConfig
from bot.channels.web.limits import Limits
from bot.console.accounts import ConsoleAccounts
from bot.console.dashboard import DashboardWeb
from bot.console.review import ReviewWeb
from bot.console.views import TicketViews
from bot.console.web import ConsoleWeb
from bot.conversation.router import ConversationRouter
from bot.core.messages import Reply
from bot.core.ratelimit import RateLimiter
from bot.handoff.model import Timeouts
from bot.handoff.service import HandoffService
from bot.store import Store, make_engine, upgrade
from bot.store.console import ConsoleStore
from bot.store.insights import InsightsStore
from bot.store.models import utcnow
from bot.store.review import ReviewStore
from knowledge import load

API_KEY = "bench-console-key-not-secret"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PASSWORD = "una-password-lunga"
HUMAN = "posso parlare con una persona?"


def human_meta(topic: str, territory: str, town: str) -> dict[str, Any]:
    """The meta of the assistant's answer when a person asks for someone (as actions/ send it)."""
    where = {"topic": topic, "territory": territory, "comune": town}
    return {**where, "intent": "request_human", "confidence": 0.96, "handoff": True}


@dataclass
class Clock:
    """The time the gateway sees: ``now`` when set, else the real time."""

    now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or utcnow()


@dataclass
class ScriptedAssistant:
    """Answers each text with what the script put under it (``said``): a reply and its meta."""

    said: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    async def send(self, sender_id: str, text: str) -> AssistantAnswer:
        answer, meta = self.said.get(text, ("Non ho capito.", {"intent": "nlu_fallback", "fallback": True}))
        return AssistantAnswer([AssistantReply(Reply(answer), dict(meta))])

    async def erase(self, sender_id: str) -> None:
        return None

    async def slots(self, sender_id: str) -> dict[str, Any]:
        return {}

    async def set_slots(self, sender_id: str, slots: dict[str, Any]) -> None:
        return None


@dataclass
class Site:
    url: str
    store: Store
    handoff: HandoffService
    accounts: ConsoleAccounts
    assistant: ScriptedAssistant
    clock: Clock
    channel: WebChannel

    async def operator_id(self, partner: str, login: str, name: str) -> int:
        """A console account of ``partner`` with its password set: the id of its operators row."""
        token, _ = await self.accounts.invite(partner, "operator", login, name)
        account = await self.accounts.set_password(token, PASSWORD, "127.0.0.1")
        assert account is not None and account.operator_id is not None
        return account.operator_id

    async def close(self) -> None:
        await self.channel.stop()
        self.store.close()


async def start_site(database: Path, port: int = 0) -> Site:
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    store = Store(engine)
    kb = load()
    clock = Clock()
    handoff = HandoffService(
        store, lambda: kb, clock=clock, timeouts=Timeouts(queue_cap=10_000), tickets_per_address=10_000
    )
    assistant = ScriptedAssistant()
    router = ConversationRouter(store, assistant, limiter=RateLimiter(10_000), handoff=handoff, clock=clock)
    console = ConsoleStore(store)
    accounts = ConsoleAccounts(console, clock=clock)
    web = ConsoleWeb(accounts, TicketViews(handoff, console), clock=clock)
    dashboard = DashboardWeb(web, handoff, InsightsStore(store))
    queue = ReviewWeb(dashboard, ReviewStore(store))
    dashboard.waiting = queue.waiting
    limits = Limits(messages_per_minute=1_000_000, messages_per_address_per_minute=1_000_000)
    channel = WebChannel(
        router,
        updates=store.pushed_since,
        config=WebConfig(limits=limits, api_key=API_KEY),
        clock=clock,
        mounts=[web.mount, dashboard.mount, queue.mount],
    )
    url = await channel.start("127.0.0.1", port)
    return Site(url, store, handoff, accounts, assistant, clock, channel)


async def new_page(browser: Any) -> Any:
    context = await browser.new_context(locale="it-IT", viewport={"width": 1280, "height": 900})
    return await context.new_page()


async def sign_in(browser: Any, url: str, login: str) -> Any:
    """A new page of the console, signed in as ``login`` (her password set), on the queue."""
    from playwright.async_api import expect

    page = await new_page(browser)
    await page.goto(f"{url}console/login")
    await page.get_by_label("Nome utente").fill(login)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Entra").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Coda delle richieste")
    return page
