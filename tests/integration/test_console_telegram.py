"""The partners' console and the Telegram topics on the same tickets, for real over HTTP: the console's
pages on an in-process aiohttp server, PTB against the fake Telegram Bot API server, the real router,
handoff service, knowledge base and database. A claim on the web shows in the ticket's topic (a notice
and the card), a reply from the web reaches the person once, and a claim in the topic shows on the web."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from bot.console.accounts import ConsoleAccounts
from bot.console.views import TicketViews
from bot.console.web import ConsoleWeb
from bot.handoff import texts as txt
from bot.store.console import ConsoleStore
from harness.fake_telegram.bot_api import ApiError
from tests.fakes.stores import memory_store
from tests.integration.test_telegram_handoff import (
    GIULIA,
    GROUP,
    MAGENTINO,
    MARCO,
    PARTNER,
    handoff_env,
    open_ticket,
    press,
    sent_to,
)
from tests.support import eventually

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
PASSWORD = "una-password-lunga"


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
async def both():
    store = memory_store()
    try:
        async with handoff_env(store) as env:
            console = ConsoleStore(store)
            accounts = ConsoleAccounts(
                console,
                clock=env.service.clock,
                hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
            )
            app = web.Application()
            ConsoleWeb(accounts, TicketViews(env.service, console), clock=env.service.clock).mount(app)
            async with TestClient(TestServer(app)) as client:
                token, _ = await accounts.invite(MAGENTINO, "operator", "lucia", "Lucia")
                page = await (await client.get(f"/console/invito?t={token}")).text()
                form = {"csrf": csrf(page), "token": token, "password": PASSWORD, "again": PASSWORD}
                login = await (await client.post("/console/invito", data=form)).text()
                form = {"csrf": csrf(login), "login": "lucia", "password": PASSWORD}
                assert (await client.post("/console/login", data=form)).status == 200  # the queue, redirected
                env.web = client
                yield env
    finally:
        store.close()


def topic_texts(env, thread: int) -> list[str]:
    return [m.get("text", "") for m in env.fake.api.messages(GROUP) if m.get("message_thread_id") == thread]


async def claim_shows_in_topic(env, number: int, thread: int, name: str) -> None:
    """The topic gets the notice that ``name`` took the ticket, and its card says who has it."""
    await eventually(
        lambda: any(txt.claimed_notice(name) in t for t in topic_texts(env, thread)),
        what="the claim in the topic",
    )
    await eventually(
        lambda: any(t.startswith(f"Richiesta n. {number}") and name in t for t in topic_texts(env, thread)),
        what="the card saying who has it",
    )


async def test_a_claim_and_a_reply_on_the_web_show_in_the_topic_and_reach_the_person_once(both):
    env = both
    number, thread = await open_ticket(env)
    html = await (await env.web.get(f"/console/ticket/{number}")).text()
    assert "Prendo io" in html

    await env.web.post(f"/console/ticket/{number}/azione", data={"action": "claim", "csrf": csrf(html)})
    joined = await sent_to(env, GIULIA, count=3)
    assert joined[-1]["params"]["text"] == txt.joined("Lucia", PARTNER)
    await claim_shows_in_topic(env, number, thread, "Lucia")

    reply = "Ciao Giulia, sono Lucia: a Corbetta il centro estivo apre il 15 giugno."
    sent = await env.web.post(f"/console/ticket/{number}/risposta", data={"text": reply, "csrf": csrf(html)})
    assert "Messaggio inviato." in await sent.text()
    await sent_to(env, GIULIA, count=4)
    await eventually(lambda: any(reply in t for t in topic_texts(env, thread)), what="the reply in the topic")
    assert [m.get("text") for m in env.fake.api.messages(GIULIA)].count(reply) == 1

    with pytest.raises(ApiError, match="no bot message with such a button"):  # the card lost "Prendo io"
        press(env, MARCO, "Marco", f"h:claim:{number}")
    assert (await env.service.tickets.get(number)).assigned_name == "Lucia"


async def test_a_claim_in_the_topic_shows_on_the_web(both):
    env = both
    number, _ = await open_ticket(env)
    press(env, MARCO, "Marco", f"h:claim:{number}")
    await sent_to(env, GIULIA, count=3)

    queue = await (await env.web.get("/console/")).text()
    assert f"n. {number}" in queue and "presa in carico" in queue and "Marco" in queue
    html = await (await env.web.get(f"/console/ticket/{number}")).text()
    assert "Prendo io" not in html and "Rispondi alla persona" not in html
