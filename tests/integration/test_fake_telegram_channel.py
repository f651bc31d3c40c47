"""The real Telegram channel (PTB, long polling or webhook) against the fake Telegram Bot API server.

Real HTTP on 127.0.0.1: getUpdates with offsets and long polling, sendMessage validated like Telegram
(4,096 characters, strict HTML, 64-byte callback_data), 429 flood control and 502 gateway errors.
The router is a small fake that records what reaches it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.channels.telegram.build import build_telegram
from bot.channels.telegram.people import TelegramChannel
from bot.channels.telegram.render import split_text
from bot.core.commands import IN_MENU as COMMANDS
from bot.core.messages import Button, Inbound, Reply, Turn
from harness.fake_telegram import FakeTelegramServer
from tests.support import eventually

# PTB itself warns about RetryAfter.retry_after becoming a timedelta in v23; our code reads both
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:FAKE-token"
PERSON = 5151


class RecordingRouter:
    def __init__(self, answer: Callable[[Inbound], Turn] | None = None) -> None:
        self.seen: list[Inbound] = []
        self.answer = answer or (lambda msg: Turn(replies=[Reply("Ciao, come posso aiutarti?")]))

    async def handle(self, msg: Inbound) -> Turn:
        self.seen.append(msg)
        return self.answer(msg)


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running(
    fake: FakeTelegramServer, router: RecordingRouter, mode: str = "polling", **extra: Any
) -> AsyncIterator[TelegramChannel]:
    settings = SimpleNamespace(
        telegram_bot_token=SecretStr(TOKEN),
        telegram_mode=mode,
        telegram_api_base=fake.api_base,
        **extra,
    )
    channel = build_telegram(settings, router, polling_timeout=1, retry_backoff=0.05)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def test_start_round_trip_through_long_polling(
    fake_tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # at DEBUG PTB prints its URL; bot/logs.py redacts secrets there
    menu = Turn(replies=[Reply("Benvenuta! Scegli un argomento.", (Button("Nidi serali", "/nidi"),))])
    router = RecordingRouter(lambda msg: menu)
    async with running(fake_tg, router, telegram_typing_delay=0):
        await eventually(lambda: fake_tg.api._poll_generation, what="the bot's long poll")
        started = time.monotonic()
        sent = fake_tg.user_message(user_id=PERSON, first_name="Giulia", text="/start")
        [reply] = await fake_tg.wait_sent(chat_id=PERSON)
        elapsed = time.monotonic() - started

    assert elapsed < 1.0  # long polling answers at once, it does not wait for the timeout
    assert [(m.command, m.user_key, m.first_name, m.update_id) for m in router.seen] == [
        ("start", str(PERSON), "Giulia", sent["update_id"])
    ]
    assert reply["params"]["text"] == "Benvenuta! Scegli un argomento."
    assert reply["params"]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Nidi serali", "callback_data": "/nidi"}]]
    }
    actions = fake_tg.sent(chat_id=PERSON, method="sendChatAction")
    assert actions and actions[0]["time"] <= reply["time"]
    commands = next(iter(fake_tg.state()["commands"].values()))
    assert [(c["command"], c["description"]) for c in commands] == [(c.name, c.description) for c in COMMANDS]
    assert caplog.records and TOKEN not in caplog.text  # httpx would log every URL with the token


async def test_an_update_is_never_delivered_twice_once_confirmed_also_across_a_restart(
    fake_tg: FakeTelegramServer,
) -> None:
    router = RecordingRouter()
    async with running(fake_tg, router):
        first = fake_tg.user_message(user_id=PERSON, text="primo")
        await fake_tg.wait_sent(chat_id=PERSON, count=1)
        second = fake_tg.user_message(user_id=PERSON, text="secondo")
        await fake_tg.wait_sent(chat_id=PERSON, count=2)
    # stopped: the last offset was confirmed on the way out
    assert fake_tg.state()["pending_updates"] == []

    restarted = RecordingRouter()
    async with running(fake_tg, restarted):
        third = fake_tg.user_message(user_id=PERSON, text="terzo")
        await fake_tg.wait_sent(chat_id=PERSON, count=3)

    assert [m.text for m in router.seen] == ["primo", "secondo"]
    assert [m.text for m in restarted.seen] == ["terzo"]
    deliveries = fake_tg.state()["deliveries"]
    assert {k: deliveries[str(u["update_id"])] for k, u in (("1", first), ("2", second), ("3", third))} == {
        "1": 1,
        "2": 1,
        "3": 1,
    }
    assert len(fake_tg.sent(chat_id=PERSON, method="sendMessage")) == 3


async def test_flood_control_429_is_waited_out_and_the_message_delivered_once(
    fake_tg: FakeTelegramServer,
) -> None:
    router = RecordingRouter()
    async with running(fake_tg, router):
        fake_tg.fail("sendMessage", status=429, times=2, retry_after=1)
        fake_tg.user_message(user_id=PERSON, text="ciao")
        await fake_tg.wait_sent(chat_id=PERSON, timeout=6)  # leaving `running` waits for the handlers

    attempts = fake_tg.sent(chat_id=PERSON, method="sendMessage", include_failed=True)
    assert [a["status"] for a in attempts] == [429, 429, 200]
    assert attempts[2]["time"] - attempts[0]["time"] >= 2.0  # retry_after was respected, twice
    assert len(fake_tg.sent(chat_id=PERSON, method="sendMessage")) == 1


async def test_a_502_on_send_is_retried_and_delivered_once(fake_tg: FakeTelegramServer) -> None:
    router = RecordingRouter()
    async with running(fake_tg, router):
        fake_tg.fail("sendMessage", status=502, times=2)
        fake_tg.user_message(user_id=PERSON, text="ciao")
        await fake_tg.wait_sent(chat_id=PERSON)  # leaving `running` waits for the handlers

    attempts = fake_tg.sent(chat_id=PERSON, method="sendMessage", include_failed=True)
    assert [a["status"] for a in attempts] == [502, 502, 200]
    assert len(router.seen) == 1


async def test_a_502_on_getupdates_only_delays_the_message(fake_tg: FakeTelegramServer) -> None:
    router = RecordingRouter()
    async with running(fake_tg, router):
        fake_tg.fail("getUpdates", status=502, times=1)
        fake_tg.user_message(user_id=PERSON, text="ci sei?")
        await fake_tg.wait_sent(chat_id=PERSON, timeout=4)

    assert [m.text for m in router.seen] == ["ci sei?"]
    assert len(fake_tg.sent(chat_id=PERSON, method="sendMessage")) == 1


async def test_buttons_html_and_long_answers_pass_telegrams_checks(fake_tg: FakeTelegramServer) -> None:
    long_payload = '/scegli_servizio{"comune": "Robecchetto con Induno", "servizio": "pre e post scuola"}'
    long_answer = "\n\n".join(["Un paragrafo del servizio <importante> & utile. " * 30] * 8)

    def answer(msg: Inbound) -> Turn:
        if msg.payload:
            return Turn(replies=[Reply(long_answer)])
        return Turn(replies=[Reply(f"Hai scritto <{msg.text}>", (Button("Dettagli", long_payload),))])

    router = RecordingRouter(answer)
    async with running(fake_tg, router):
        fake_tg.user_message(user_id=PERSON, text="<b>pre scuola</b>")
        [first] = await fake_tg.wait_sent(chat_id=PERSON)
        pressed = fake_tg.user_message(user_id=PERSON, button_text="Dettagli")
        expected_parts = len(split_text(long_answer))
        sent = await fake_tg.wait_sent(chat_id=PERSON, count=1 + expected_parts)

    assert first["result"]["text"] == "Hai scritto <<b>pre scuola</b>>"  # what the person reads
    assert len(pressed["data"].encode()) <= 64
    assert router.seen[1].payload == long_payload
    assert (
        fake_tg.sent(method="answerCallbackQuery")[0]["params"]["callback_query_id"]
        == pressed["callback_query_id"]
    )
    parts = [s["result"]["text"] for s in sent[1:]]
    assert len(parts) == expected_parts > 2
    assert all(len(s["params"]["text"]) <= 4096 for s in sent)
    assert " ".join(parts).split() == long_answer.split()
    assert not fake_tg.sent(chat_id=PERSON, method="sendMessage", include_failed=True)[-1].get("error")


async def test_a_restart_makes_an_old_long_button_ask_to_repeat(fake_tg: FakeTelegramServer) -> None:
    long_payload = "/x" + "y" * 80
    router = RecordingRouter(lambda msg: Turn(replies=[Reply("Scegli", (Button("Vai", long_payload),))]))
    async with running(fake_tg, router):
        fake_tg.user_message(user_id=PERSON, text="ciao")
        await fake_tg.wait_sent(chat_id=PERSON)
    async with running(fake_tg, router):  # a new process: the in-memory mapping is empty
        fake_tg.user_message(user_id=PERSON, button_text="Vai")
        sent = await fake_tg.wait_sent(chat_id=PERSON, count=2)

    assert sent[1]["result"]["text"].startswith("Questo pulsante non è più attivo")
    assert len(router.seen) == 1


async def test_webhook_mode_checks_the_secret_token(fake_tg: FakeTelegramServer) -> None:
    port = _free_port()
    router = RecordingRouter()
    async with running(
        fake_tg,
        router,
        mode="webhook",
        telegram_webhook_url=f"http://127.0.0.1:{port}/tg-hook",
        telegram_webhook_secret=SecretStr("s3cret-Token_1"),
        telegram_webhook_port=port,
    ):
        assert fake_tg.state()["webhook"] == {"url": f"http://127.0.0.1:{port}/tg-hook", "has_secret": True}
        fake_tg.user_message(user_id=PERSON, first_name="Marco", text="ciao dal webhook")
        await fake_tg.wait_sent(chat_id=PERSON)
        async with aiohttp.ClientSession() as http:
            forged = {
                "update_id": 1,
                "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}},
            }
            wrong = await http.post(
                f"http://127.0.0.1:{port}/tg-hook",
                json=forged,
                headers={"X-Telegram-Bot-Api-Secret-Token": "no"},
            )
            missing = await http.post(f"http://127.0.0.1:{port}/tg-hook", json=forged)

    assert (wrong.status, missing.status) == (403, 403)
    assert [(m.text, m.first_name) for m in router.seen] == [("ciao dal webhook", "Marco")]


async def test_button_presses_over_the_limit_get_no_reply_and_reach_nothing(
    fake_tg: FakeTelegramServer,
) -> None:
    menu = Turn(replies=[Reply("Scegli un argomento.", (Button("Nidi serali", "/nidi"),))])
    router = RecordingRouter(lambda msg: menu)
    async with running(fake_tg, router, telegram_typing_delay=0, rate_limit_per_minute=5):
        fake_tg.user_message(user_id=PERSON, text="/start")
        await fake_tg.wait_sent(chat_id=PERSON)
        for _ in range(12):
            fake_tg.user_message(user_id=PERSON, callback_data="/nidi")
        await eventually(
            lambda: len(fake_tg.sent(method="answerCallbackQuery")) == 12, what="every press acknowledged"
        )
        await fake_tg.wait_sent(chat_id=PERSON, count=6)

    presses = [m for m in router.seen if m.payload == "/nidi"]
    assert len(presses) == 5  # the router (and so the database) saw only the presses within the limit
    assert len(fake_tg.sent(chat_id=PERSON, method="sendMessage")) == 6  # /start's answer and five more
