"""The partners' console in a real headless browser (Debian's chromium driven by Playwright), on the same
server as the web chat: a person asks for someone in the chat; an operator invited by the command sets her
password, signs in, claims the ticket and replies; the person sees the reply in her chat. Another
partner's operator gets 403 on that ticket."""

from __future__ import annotations

import pytest

from bot.assistant.rasa import RasaClient
from bot.channels.web.chat import WebChannel
from bot.console.accounts import ConsoleAccounts
from bot.console.views import TicketViews
from bot.console.web import ConsoleWeb
from bot.conversation.router import ConversationRouter
from bot.core.ratelimit import RateLimiter
from bot.handoff.service import HandoffService
from bot.store.console import ConsoleStore
from knowledge import load
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.handoff import rasa_script
from tests.fakes.stores import file_store
from tests.integration.test_web_browser import CHROMIUM, CHROMIUM_ARGS, pytestmark  # noqa: F401

KB = load()
MAGENTINO, ABBIATENSE = "azienda-consortile-magentino", "asp-abbiatense"
PASSWORD = "una-password-lunga"


@pytest.fixture
async def site(tmp_path):
    async with FakeRasa(script=rasa_script) as rasa:
        store = file_store(tmp_path / "concilia.db")
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        handoff = HandoffService(store, lambda: KB)
        router = ConversationRouter(store, client, limiter=RateLimiter(1000), handoff=handoff)
        console = ConsoleStore(store)
        accounts = ConsoleAccounts(console, clock=handoff.clock)
        web = ConsoleWeb(accounts, TicketViews(handoff, console), clock=handoff.clock)
        channel = WebChannel(router, updates=store.pushed_since, mounts=[web.mount])
        url = await channel.start("127.0.0.1", 0)
        yield url, accounts, handoff
        await channel.stop()
        await client.aclose()
        store.close()


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        await b.close()


async def operator_page(browser, url: str, accounts: ConsoleAccounts, partner: str, login: str, name: str):
    from playwright.async_api import expect

    token, _ = await accounts.invite(partner, "operator", login, name)
    page = await (await browser.new_context(locale="it-IT")).new_page()
    await page.goto(f"{url}console/invito?t={token}")
    await page.get_by_label("Nuova password").fill(PASSWORD)
    await page.get_by_label("Ripeti la password").fill(PASSWORD)
    await page.get_by_role("button", name="Salva la password").click()
    await expect(page.get_by_role("status")).to_contain_text("Password salvata")
    await page.get_by_label("Nome utente").fill(login)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Entra").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Coda delle richieste")
    return page


async def test_an_operator_claims_a_web_chat_ticket_and_the_person_sees_her_reply(site, browser):
    from playwright.async_api import expect

    url, accounts, handoff = site
    lucia = await operator_page(browser, url, accounts, MAGENTINO, "lucia", "Lucia")

    person = await (await browser.new_context(locale="it-IT")).new_page()
    await person.goto(url)
    chat = person.get_by_role("log")
    await person.get_by_label("La tua domanda").fill("posso parlare con una persona?")
    await person.get_by_role("button", name="Invia").click()
    await expect(chat).to_contain_text("Ti metto in contatto con un operatore")

    await lucia.reload()
    await lucia.get_by_role("link", name="n. 1").click()
    await expect(lucia.get_by_role("heading", level=1)).to_contain_text("Richiesta n. 1")
    await lucia.get_by_role("button", name="Prendo io").click()
    await expect(lucia.get_by_role("status")).to_contain_text("Lucia ha preso la richiesta.")
    reply = "Ciao, sono Lucia del Consorzio: dimmi pure."
    await lucia.get_by_label("Messaggio").fill(reply)
    await lucia.get_by_role("button", name="Invia").click()
    await expect(lucia.get_by_role("status")).to_contain_text("Messaggio inviato.")

    await expect(chat).to_contain_text("Lucia", timeout=10_000)  # "Lucia di ... ti risponde"
    await expect(chat).to_contain_text(reply, timeout=10_000)
    assert (await handoff.ticket(1)).assigned_name == "Lucia"

    sara = await operator_page(browser, url, accounts, ABBIATENSE, "sara", "Sara")
    answer = await sara.goto(f"{url}console/ticket/1")
    assert answer.status == 403
    await expect(sara.get_by_role("heading", level=1)).to_have_text("Accesso negato")
