"""The chat page in a real headless browser (Debian's chromium driven by Playwright), against the real web
channel and router, with the fake Rasa behind: type a question, read the answer, press a button."""

from __future__ import annotations

import os
import shutil

import pytest

from bot.assistant.rasa import RasaClient
from bot.channels.web.chat import WebChannel
from bot.channels.web.sessions import COOKIE, user_key_of
from bot.conversation.router import ConversationRouter
from tests.fakes import fake_rasa
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.stores import file_store
from tests.support import eventually

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"chromium not found at {CHROMIUM}: apt-get install chromium"
)


@pytest.fixture
async def site(tmp_path):
    async with FakeRasa() as rasa:
        store = file_store(tmp_path / "concilia.db")
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        channel = WebChannel(ConversationRouter(store, client))
        url = await channel.start("127.0.0.1", 0)
        yield url, rasa, store
        await channel.stop()
        await client.aclose()
        store.close()


@pytest.fixture
async def page():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = await browser.new_context(viewport={"width": 390, "height": 780}, locale="it-IT")
        yield await context.new_page()
        await browser.close()


async def test_type_a_question_read_the_answer_press_a_button(site, page):
    from playwright.async_api import expect

    url, rasa, store = site
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    await page.goto(url)
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Sono Concilia")  # the welcome of /start, with the menu
    await expect(page.get_by_role("button", name="Parla con una persona")).to_be_visible()

    await page.get_by_label("La tua domanda").fill("Ci sono centri estivi a Corbetta a luglio?")
    await page.get_by_role("button", name="Invia").click()

    await expect(log).to_contain_text("Ci sono centri estivi a Corbetta a luglio?")
    await expect(log).to_contain_text(fake_rasa.CAMP_TEXT)

    await page.get_by_role("button", name=fake_rasa.CAMP_BUTTON["title"]).click()

    await expect(log).to_contain_text(fake_rasa.DETAIL_TEXT)
    assert [message for _, message in rasa.calls] == [
        "Ci sono centri estivi a Corbetta a luglio?",
        fake_rasa.CAMP_BUTTON["payload"],
    ]
    [session] = [c for c in await page.context.cookies() if c["name"] == COOKIE]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert COOKIE not in await page.evaluate("document.cookie")  # the page's script never sees it
    user_id = user_key_of(session["value"])
    assert user_id and (await store.find_user("web", user_id)) is not None
    assert errors == []


async def session_cookie(page) -> str:
    [value] = [c["value"] for c in await page.context.cookies() if c["name"] == COOKIE]
    return value


async def test_the_session_survives_a_reload_and_enter_sends(site, page):
    from playwright.async_api import expect

    url, rasa, _ = site
    await page.goto(url)
    await expect(page.get_by_role("log")).to_contain_text("Sono Concilia")
    first = await session_cookie(page)
    await page.reload()
    await expect(page.get_by_role("log")).to_contain_text("Sono Concilia")

    box = page.get_by_label("La tua domanda")
    await box.fill("<b>che tempo fa?</b>")
    await box.press("Enter")

    await expect(page.get_by_role("log")).to_contain_text("Scusa, non ho capito bene.")
    await expect(page.locator(".msg.me").last).to_have_text("<b>che tempo fa?</b>")  # shown as text, not HTML
    assert await session_cookie(page) == first
    assert {sender for sender, _ in rasa.calls} and rasa.calls[-1][1] == "<b>che tempo fa?</b>"


async def test_an_api_error_is_shown_in_the_log(site, page):
    from playwright.async_api import expect

    url, _, _ = site
    await page.goto(url)
    await expect(page.get_by_role("log")).to_contain_text("Sono Concilia")
    await page.evaluate("document.getElementById('text').removeAttribute('maxlength')")

    await page.get_by_label("La tua domanda").fill("a" * 5000)
    await page.get_by_role("button", name="Invia").click()

    await expect(page.get_by_role("log")).to_contain_text(
        "Il testo è troppo lungo: al massimo 4096 caratteri."
    )


@pytest.fixture
async def site_with_updates(tmp_path):
    async with FakeRasa() as rasa:
        store = file_store(tmp_path / "concilia.db")
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        channel = WebChannel(ConversationRouter(store, client), updates=store.pushed_since)
        url = await channel.start("127.0.0.1", 0)
        yield url, store
        await channel.stop()
        await client.aclose()
        store.close()


async def test_an_operators_message_appears_by_itself_and_only_once(site_with_updates, page):
    """After a handoff the page polls GET api/chat/updates: what an operator writes shows up without the
    person sending anything, and a reload does not show it again."""
    from playwright.async_api import expect

    from bot.store import NewMessage, new_sender_id

    url, store = site_with_updates
    await page.goto(url)
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Sono Concilia")
    user_id = user_key_of(await session_cookie(page))

    await store.save(
        [
            NewMessage(
                channel="web",
                user_key=user_id,
                direction="out",
                rasa_sender_id=new_sender_id(),
                text="Ciao, sono Marco dell'Azienda consortile. Come posso aiutarti?",
                pushed=True,
            )
        ]
    )

    await expect(page.locator(".msg.pushed")).to_have_text(
        "Ciao, sono Marco dell'Azienda consortile. Come posso aiutarti?", timeout=8000
    )
    await page.reload()
    await expect(log).to_contain_text("Sono Concilia")
    await page.wait_for_timeout(3500)  # at least one more poll
    assert await page.locator(".msg.pushed").count() == 0


async def test_new_conversation_starts_again_with_another_session(site, page):
    """For a shared computer: "Nuova conversazione" empties the page and the next person gets a new
    session cookie."""
    from playwright.async_api import expect

    url, _rasa, _store = site
    await page.goto(url)
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Sono Concilia")
    await page.get_by_label("La tua domanda").fill("Ci sono centri estivi a Corbetta a luglio?")
    await page.get_by_role("button", name="Invia").click()
    await expect(log).to_contain_text(fake_rasa.CAMP_TEXT)
    before = await session_cookie(page)

    await page.get_by_role("button", name="Nuova conversazione").click()

    await expect(log).to_contain_text("Sono Concilia")
    await expect(log).not_to_contain_text(fake_rasa.CAMP_TEXT)  # the last person's chat is gone
    await eventually(lambda: session_cookie_changed(page, before), what="a new session cookie")


async def session_cookie_changed(page, before: str) -> bool:
    values = [c["value"] for c in await page.context.cookies() if c["name"] == COOKIE]
    return len(values) == 1 and values != [before]
