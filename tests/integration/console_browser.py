"""What the console's browser tests share (tests/integration/test_console_browser*.py): the gateway's web
server with the console mounted, over the fake Rasa and a SQLite file; a headless chromium; an account
invited by the command that sets her password and signs in; the axe-core check of a page."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.assistant.rasa import RasaClient
from bot.channels.web.chat import WebChannel
from bot.console.accounts import ConsoleAccounts
from bot.console.dashboard import DashboardWeb
from bot.console.review import ReviewWeb
from bot.console.views import TicketViews
from bot.console.web import ConsoleWeb
from bot.conversation.router import ConversationRouter
from bot.core.messages import normalise_meta
from bot.core.ratelimit import RateLimiter
from bot.handoff.service import HandoffService
from bot.store import NewMessage, Store, new_sender_id
from bot.store.console import ConsoleStore
from bot.store.insights import InsightsStore
from bot.store.review import ReviewStore
from knowledge import load
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.handoff import rasa_script
from tests.fakes.stores import file_store
from tests.integration.test_web_browser import CHROMIUM, CHROMIUM_ARGS

AXE = Path(__file__).parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
KB = load()
MAGENTINO, ABBIATENSE = "azienda-consortile-magentino", "asp-abbiatense"
PASSWORD = "una-password-lunga"
# CONSOLE_SCREENSHOTS=docs/img: the screenshots of docs/console.md are taken again there
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


@dataclass
class Site:
    url: str
    accounts: ConsoleAccounts
    handoff: HandoffService
    seconds: list[float]  # the clock of the sign-in failures' window: a test moves it on

    async def exchange(self, user_key: str, question: str, meta: dict, answer: str = "Ecco.") -> None:
        """A person's question and the assistant's answer with ``meta``, stored as the router stores them."""
        for direction, text in (("in", question), ("out", answer)):
            await self.handoff.store.save(
                [
                    NewMessage(
                        channel="web",
                        user_key=user_key,
                        direction=direction,
                        rasa_sender_id=new_sender_id(),
                        text=text,
                        meta=normalise_meta(meta) if direction == "out" else None,
                    )
                ]
            )


@contextlib.asynccontextmanager
async def console_site(
    store: Store, handoff: HandoffService, router: ConversationRouter
) -> AsyncIterator[Site]:
    """The gateway's web server on a free port, the chat and the console mounted, on ``handoff``'s tickets."""
    console = ConsoleStore(store)
    seconds = [0.0]
    accounts = ConsoleAccounts(console, clock=handoff.clock, failure_clock=lambda: seconds[0])
    web = ConsoleWeb(accounts, TicketViews(handoff, console), clock=handoff.clock)
    dashboard = DashboardWeb(web, handoff, InsightsStore(store))
    queue = ReviewWeb(dashboard, ReviewStore(store))
    dashboard.waiting = queue.waiting
    mounts = [web.mount, dashboard.mount, queue.mount]
    channel = WebChannel(router, updates=store.pushed_since, mounts=mounts)
    url = await channel.start("127.0.0.1", 0)
    try:
        yield Site(url, accounts, handoff, seconds)
    finally:
        await channel.stop()


@pytest.fixture(name="site")
async def site_fixture(tmp_path):
    async with FakeRasa(script=rasa_script) as rasa:
        store = file_store(tmp_path / "concilia.db")
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        handoff = HandoffService(store, lambda: KB)
        router = ConversationRouter(store, client, limiter=RateLimiter(1000), handoff=handoff)
        async with console_site(store, handoff, router) as site:
            yield site
        await client.aclose()
        store.close()


@pytest.fixture(name="browser")
async def browser_fixture():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        await b.close()


async def new_page(browser):
    return await (await browser.new_context(locale="it-IT", bypass_csp=True)).new_page()


async def set_password(page, site: Site, partner: str, role: str, login: str, name: str, *, check: bool):
    """Invite by the command, then her password set on the invite's page (axe-checked with ``check``)."""
    from playwright.async_api import expect

    token, _ = await site.accounts.invite(partner, role, login, name)
    await page.goto(f"{site.url}console/invito?t={token}")
    if check:
        await accessible(page)
    await page.get_by_label("Nuova password").fill(PASSWORD)
    await page.get_by_label("Ripeti la password").fill(PASSWORD)
    await page.get_by_role("button", name="Salva la password").click()
    await expect(page.get_by_role("status")).to_contain_text("Password salvata")
    if check:
        await accessible(page)


async def sign_in(page, login: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Nome utente").fill(login)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Entra").click()


async def signed_in(browser, site: Site, partner: str, role: str, login: str, name: str, *, check=False):
    """A page of the console, signed in as a new account of ``partner`` with ``role``, on the queue."""
    from playwright.async_api import expect

    page = await new_page(browser)
    await set_password(page, site, partner, role, login, name, check=check)
    await sign_in(page, login)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Coda delle richieste")
    if check:
        await accessible(page)
    return page


async def accessible(page) -> None:
    """No serious or critical WCAG 2.1 A/AA violation on the page, by axe-core (tests/a11y: npm install);
    without axe-core installed the check is skipped, and says so."""
    if not AXE.exists():
        pytest.skip(f"axe-core not installed at {AXE}: cd tests/a11y && npm install")
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html)}))",
        AXE_RULES,
    )
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{page.url}: {serious}"
