"""The console in a real headless browser and the ticket's Telegram topic on the same ticket: a person asks
for someone on Telegram (PTB against the fake Telegram Bot API server, the real router and handoff service);
an operator signed in in chromium presses "Prendo io" and replies from the console. The topic then shows the
claim notice and the card with her name, and her reply reaches the person once."""

from __future__ import annotations

import pytest

from bot.handoff import texts as txt
from harness.fake_telegram.bot_api import ApiError
from tests.fakes.stores import file_store
from tests.integration import test_telegram_handoff as tg
from tests.integration.console_browser import (  # noqa: F401
    MAGENTINO,
    accessible,
    browser_fixture,
    console_site,
    signed_in,
)
from tests.integration.test_console_telegram import claim_shows_in_topic, topic_texts
from tests.integration.test_web_browser import pytestmark as needs_chromium
from tests.support import eventually

pytestmark = [needs_chromium, pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]


@pytest.fixture
async def desk(tmp_path):
    """The Telegram side (fake server, PTB, the partners' forum groups) and the console's web server on the
    same handoff service and database."""
    store = file_store(tmp_path / "concilia.db")
    try:
        async with tg.handoff_env(store) as env, console_site(store, env.service, env.router) as site:
            env.site = site
            yield env
    finally:
        store.close()


async def test_a_claim_and_a_reply_in_the_browser_show_in_the_telegram_topic(desk, browser):
    from playwright.async_api import expect

    env = desk
    number, thread = await tg.open_ticket(env)  # Giulia, on Telegram; the card is up in the topic
    lucia = await signed_in(browser, env.site, MAGENTINO, "operator", "lucia", "Lucia")
    await expect(lucia.get_by_role("status")).to_have_text("Una richiesta aperta.")
    await lucia.get_by_role("link", name=f"n. {number}").click()
    await expect(lucia.get_by_role("heading", level=1)).to_contain_text(f"Richiesta n. {number}")
    await accessible(lucia)

    await lucia.get_by_role("button", name="Prendo io").click()
    await expect(lucia.get_by_role("status")).to_contain_text("Lucia ha preso la richiesta.")
    await accessible(lucia)
    joined = await tg.sent_to(env, tg.GIULIA, count=3)
    assert joined[-1]["params"]["text"] == txt.joined("Lucia", tg.PARTNER)
    await claim_shows_in_topic(env, number, thread, "Lucia")

    reply = "Ciao Giulia, sono Lucia del Consorzio: il centro estivo di Corbetta apre il 15 giugno."
    await lucia.get_by_label("Messaggio").fill(reply)
    await lucia.get_by_role("button", name="Invia").click()
    await expect(lucia.get_by_role("status")).to_contain_text("Messaggio inviato.")
    await tg.sent_to(env, tg.GIULIA, count=4)
    await eventually(lambda: any(reply in t for t in topic_texts(env, thread)), what="the reply in the topic")
    to_giulia = [c["params"].get("text") for c in env.fake.sent(chat_id=tg.GIULIA)]
    assert to_giulia.count(reply) == 1
    assert [m.get("text") for m in env.fake.api.messages(tg.GIULIA)].count(reply) == 1

    # the card in the topic lost its "Prendo io": Marco cannot take the ticket from her
    with pytest.raises(ApiError, match="no bot message with such a button"):
        tg.press(env, tg.MARCO, "Marco", f"h:claim:{number}")
    assert (await env.service.tickets.get(number)).assigned_name == "Lucia"
