"""The outbox through the real Telegram channel (PTB, long polling or webhook) and the fake Telegram Bot
API server, with the real router, handoff service, knowledge base and database and a fake Rasa: what the
person and the operators get when Telegram fails, when a web message is as long as allowed, and what the
webhook keeps before it answers 200."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.assistant.rasa import RasaClient
from bot.channels.telegram.build import build_telegram
from bot.channels.telegram.webhook import WebhookInbox
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound
from bot.core.ratelimit import RateLimiter
from bot.handoff.office_hours import ROME
from bot.handoff.service import HandoffService
from bot.store.models import Message, OutboxRow, TelegramInbox
from bot.store.outbox import InboxStore, OutboxStore
from harness.fake_telegram import FakeTelegramServer
from knowledge import load
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.handoff import Clock, rasa_script
from tests.fakes.stores import memory_store
from tests.support import eventually

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

KB = load()
TOKEN = "123456:FAKE-token"
MAGENTINO = "azienda-consortile-magentino"
GROUP, GIULIA, ADMIN = -1001500, 42, 9


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def env() -> AsyncIterator[SimpleNamespace]:
    async with FakeTelegramServer() as fake, FakeRasa(script=rasa_script) as rasa:
        store = memory_store()
        clock = Clock(datetime(2026, 12, 1, 10, 0, tzinfo=ROME))
        service = HandoffService(store, lambda: KB, clock=clock)
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        router = ConversationRouter(
            store,
            client,
            limiter=RateLimiter(1000),
            clock=clock,
            handoff=service,
            outbox_channels=frozenset({"telegram"}),
        )
        fake.add_chat(GROUP, "supergroup", "Operatori Magentino", is_forum=True)
        env = SimpleNamespace(fake=fake, store=store, service=service, router=router, clock=clock)
        try:
            yield env
        finally:
            await client.aclose()
            store.close()


async def start(env, mode: str = "polling", **settings: Any):
    outbox = OutboxStore(env.store.db, gateway="gw", started_at=env.clock(), clock=env.clock)
    base = SimpleNamespace(
        telegram_bot_token=SecretStr(TOKEN),
        telegram_mode=mode,
        telegram_api_base=env.fake.api_base,
        telegram_typing_delay=5,
        **settings,
    )
    channel = build_telegram(
        base,
        env.router,
        handoff=env.service,
        polling_timeout=1,
        retry_backoff=0.05,
        outbox=outbox,
        inbox=WebhookInbox(InboxStore(env.store.db), env.clock),
        clock=env.clock,
    )
    await channel.start()
    return channel


async def rows(env, model):
    return await env.store.db.read(lambda s: list(s.scalars(select(model)).all()))


async def test_a_reply_telegram_refuses_for_a_while_arrives_once_and_only_then_counts_as_answered(env):
    channel = await start(env)
    try:
        env.fake.fail("sendMessage", status=502, times=4)  # one whole round of the send path's retries
        env.fake.user_message(user_id=GIULIA, first_name="Giulia", text="centri estivi a Corbetta")
        await eventually(
            lambda: len(env.fake.sent(chat_id=GIULIA, include_failed=True)) >= 4, what="four failed sends"
        )
        [inbound] = [m for m in await rows(env, Message) if m.direction == "in"]
        [item] = await rows(env, OutboxRow)
        assert inbound.answered_at is None and item.state in ("pending", "claimed")

        env.clock.advance(seconds=3)  # past the worker's wait before trying again
        [reply] = await env.fake.wait_sent(chat_id=GIULIA, timeout=10)
        assert "Corbetta" in reply["params"]["text"]

        async def accepted() -> bool:
            [inbound] = [m for m in await rows(env, Message) if m.direction == "in"]
            [item] = await rows(env, OutboxRow)
            return inbound.answered_at is not None and item.state == "sent" and item.body == {}

        await eventually(accepted, what="the reply recorded as accepted, the message as answered")
        await asyncio.sleep(1.5)  # a worker round or more: nothing is sent again
        assert len(env.fake.sent(chat_id=GIULIA)) == 1
    finally:
        await channel.stop()


async def link_group(env) -> None:
    code, _ = await env.service.create_invite("group", MAGENTINO)
    env.fake.user_message(user_id=ADMIN, first_name="Admin", chat_id=GROUP, text=f"/collega {code}")
    await env.fake.wait_sent(chat_id=GROUP)


async def test_a_web_message_of_4096_characters_reaches_the_operators_whole_in_two_parts(env):
    channel = await start(env)
    try:
        await link_group(env)
        web = {"channel": "web", "user_key": "web-giulia", "first_name": "Giulia"}
        await env.router.handle(Inbound(text="centri estivi a Corbetta", **web))
        await env.router.handle(Inbound(text="posso parlare con una persona?", **web))
        [topic] = await env.fake.wait_sent(chat_id=GROUP, method="createForumTopic")
        thread = topic["result"]["message_thread_id"]
        long = ("Mia figlia ha sette anni e cerco un centro estivo. " * 90)[:4095] + "X"
        assert len(long) == 4096
        await env.router.handle(Inbound(text=long, **web))

        def relayed() -> list[dict[str, Any]]:
            return [
                c
                for c in env.fake.sent(chat_id=GROUP)
                if c["params"].get("message_thread_id") == thread
                and "Richiesta n." not in c["params"]["text"]
            ]

        await eventually(lambda: len(relayed()) == 2, what="the two parts in the topic")
        parts = [c["params"]["text"] for c in relayed()]
        assert all(len(p) <= 4096 for p in parts)
        assert parts[0].startswith("Giulia: Mia figlia")
        joined = " ".join(parts).removeprefix("Giulia: ").split()
        assert joined == long.split()  # every word, in order, none lost
    finally:
        await channel.stop()


async def test_the_webhook_stores_the_update_before_answering_200_and_a_kill_leaves_it_for_the_restart(env):
    port = free_port()
    hook = {
        "telegram_webhook_url": f"http://127.0.0.1:{port}/tg-hook",
        "telegram_webhook_secret": SecretStr("s3cret-Token_1"),
        "telegram_webhook_port": port,
    }
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 77,
            "date": 0,
            "chat": {"id": GIULIA, "type": "private"},
            "from": {"id": GIULIA, "is_bot": False, "first_name": "Giulia"},
            "text": "centri estivi a Corbetta",
        },
    }
    env.fake.add_chat(GIULIA, "private", "Giulia")
    channel = await start(env, "webhook", **hook)
    try:
        await channel.application.stop()  # a gateway about to die: it takes updates in, handles none
        async with aiohttp.ClientSession() as http:
            answer = await http.post(
                hook["telegram_webhook_url"],
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"},
            )
            again = await http.post(
                hook["telegram_webhook_url"],
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"},
            )
        assert (answer.status, again.status) == (200, 200)
        assert [r.update_id for r in await rows(env, TelegramInbox)] == [9001]
    finally:
        await channel.stop()

    channel = await start(env, "webhook", **hook)  # the restart

    async def forgotten() -> bool:
        return await rows(env, TelegramInbox) == []

    try:
        [reply] = await env.fake.wait_sent(chat_id=GIULIA, timeout=10)
        assert "Corbetta" in reply["params"]["text"]
        await eventually(forgotten, what="the handled update forgotten")
    finally:
        await channel.stop()
    assert len(env.fake.sent(chat_id=GIULIA)) == 1  # answered once
