"""The fake Telegram Bot API server answers like Telegram, over real HTTP (no PTB here)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from harness.fake_telegram import FakeTelegramServer
from tests.support import eventually

TOKEN = "999:fake"
PERSON = 777
GROUP = -100555


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, tg: FakeTelegramServer, method: str, how: str = "json", **params: Any
) -> tuple[int, dict[str, Any]]:
    url = f"{tg.api_base}{TOKEN}/{method}"
    if how == "json":
        resp = await http.post(url, json=params)
    elif how == "form":  # as PTB sends it: every non-string value JSON-encoded
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        resp = await http.post(url, data=form)
    elif how == "multipart":
        data = aiohttp.FormData()
        for k, v in params.items():
            data.add_field(k, v if isinstance(v, str) else json.dumps(v))
        data.add_field("document", b"%PDF-1.4", filename="a.pdf")
        resp = await http.post(url, data=data)
    else:
        resp = await http.get(
            url, params={k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        )
    async with resp:
        if resp.content_type != "application/json":
            return resp.status, {"html": await resp.text()}
        return resp.status, await resp.json()


@pytest.mark.parametrize("how", ["json", "form", "multipart", "get"])
async def test_every_encoding_is_understood(
    tg: FakeTelegramServer, http: aiohttp.ClientSession, how: str
) -> None:
    tg.user_message(user_id=PERSON, text="ciao")
    markup = {"inline_keyboard": [[{"text": "Sì", "callback_data": "/affirm"}]]}
    status, body = await call(
        http,
        tg,
        "sendMessage",
        how,
        chat_id=PERSON,
        text="<b>Ciao</b>",
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert status == 200 and body["ok"] is True
    assert body["result"]["text"] == "Ciao"
    assert body["result"]["reply_markup"] == markup
    [sent] = tg.sent(chat_id=PERSON, method="sendMessage")
    assert sent["params"]["chat_id"] == PERSON and sent["params"]["reply_markup"] == markup


async def test_messages_are_validated_like_telegram(
    tg: FakeTelegramServer, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, tg, "sendMessage", chat_id=PERSON, text="ciao")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    tg.user_message(user_id=PERSON, text="/start")

    cases = [
        ({"text": "<b>non chiuso"}, "can't parse entities"),
        ({"text": "a <script>x</script>"}, 'Unsupported start tag "script"'),
        ({"text": "Tom & Jerry"}, "can't parse entities"),
        ({"text": "x" * 4097, "parse_mode": None}, "message is too long"),
        ({"text": "   "}, "message text is empty"),
    ]
    for params, error in cases:
        params = {"parse_mode": "HTML", **params}
        status, body = await call(
            http, tg, "sendMessage", chat_id=PERSON, **{k: v for k, v in params.items() if v}
        )
        assert status == 400 and error in body["description"], (params, body)

    long_data = {"inline_keyboard": [[{"text": "x", "callback_data": "é" * 33}]]}  # 66 bytes
    status, body = await call(http, tg, "sendMessage", chat_id=PERSON, text="ok", reply_markup=long_data)
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")

    # 4,096 characters after entity parsing are fine, even if the HTML is longer
    status, _ = await call(http, tg, "sendMessage", chat_id=PERSON, text="&lt;" * 4096, parse_mode="HTML")
    assert status == 200

    tg.api.block(PERSON)
    status, body = await call(http, tg, "sendMessage", chat_id=PERSON, text="ci sei?")
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")


async def test_get_updates_offsets_and_long_polling(
    tg: FakeTelegramServer, http: aiohttp.ClientSession
) -> None:
    poll = asyncio.create_task(call(http, tg, "getUpdates", timeout=3))
    await eventually(lambda: tg.api._poll_generation, what="the long poll")
    started = time.monotonic()
    first = tg.user_message(user_id=PERSON, first_name="Anna", text="/start")
    status, body = await poll
    assert status == 200 and time.monotonic() - started < 1.0
    [update] = body["result"]
    assert update["update_id"] == first["update_id"]
    message = update["message"]
    assert message["text"] == "/start" and message["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 6}
    ]
    assert message["chat"] == {"id": PERSON, "type": "private", "first_name": "Anna"}

    # not confirmed yet: delivered again
    _, body = await call(http, tg, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == [first["update_id"]]
    # confirmed by the offset: never again
    second = tg.user_message(user_id=PERSON, text="ciao")
    _, body = await call(http, tg, "getUpdates", offset=first["update_id"] + 1)
    assert [u["update_id"] for u in body["result"]] == [second["update_id"]]
    _, body = await call(http, tg, "getUpdates", offset=second["update_id"] + 1, timeout=0)
    assert body["result"] == []
    _, body = await call(http, tg, "getUpdates", timeout=0)
    assert body["result"] == []
    assert tg.state()["deliveries"] == {str(first["update_id"]): 2, str(second["update_id"]): 1}

    started = time.monotonic()
    _, body = await call(http, tg, "getUpdates", timeout=1)
    assert body["result"] == [] and 0.9 < time.monotonic() - started < 2


async def test_a_second_long_poll_ends_the_first_with_conflict(
    tg: FakeTelegramServer, http: aiohttp.ClientSession
) -> None:
    first = asyncio.create_task(call(http, tg, "getUpdates", timeout=3))
    polls = tg.api._poll_generation
    await eventually(lambda: tg.api._poll_generation > polls, what="the first long poll")
    second = asyncio.create_task(call(http, tg, "getUpdates", timeout=1))
    status, body = await first
    assert status == 409 and "terminated by other getUpdates request" in body["description"]
    assert (await second)[0] == 200


async def test_failures_look_like_telegrams(tg: FakeTelegramServer, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"{tg.base_url}/_test/fail", json={"method": "getMe", "status": 429, "retry_after": 3}
    ) as r:
        assert r.status == 200
    tg.fail("getMe", status=502)
    status, body = await call(http, tg, "getMe")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    status, body = await call(http, tg, "getMe")
    assert status == 502 and "502 Bad Gateway" in body["html"]
    status, body = await call(http, tg, "getMe")
    assert status == 200 and body["result"]["is_bot"] is True
    status, body = await call(http, tg, "noSuchMethod")
    assert (status, body["description"]) == (404, "Not Found")


async def test_buttons_and_callback_queries(tg: FakeTelegramServer, http: aiohttp.ClientSession) -> None:
    tg.user_message(user_id=PERSON, text="/start")
    markup = {"inline_keyboard": [[{"text": "Nidi", "callback_data": "/nidi"}]]}
    _, body = await call(http, tg, "sendMessage", chat_id=PERSON, text="Scegli", reply_markup=markup)
    async with http.post(
        f"{tg.base_url}/_test/user_message", json={"user_id": PERSON, "button_text": "Nidi"}
    ) as resp:
        pressed = await resp.json()
    assert pressed["data"] == "/nidi" and pressed["message_id"] == body["result"]["message_id"]
    _, updates = await call(http, tg, "getUpdates")
    query = updates["result"][-1]["callback_query"]
    assert query["data"] == "/nidi" and query["message"]["message_id"] == pressed["message_id"]
    assert (await call(http, tg, "answerCallbackQuery", callback_query_id=query["id"]))[0] == 200
    status, body = await call(http, tg, "answerCallbackQuery", callback_query_id=query["id"])
    assert status == 400 and "query is too old" in body["description"]

    mid = pressed["message_id"]
    status, body = await call(
        http, tg, "editMessageText", chat_id=PERSON, message_id=mid, text="Scegli", reply_markup=markup
    )
    assert status == 400 and "message is not modified" in body["description"]
    status, body = await call(
        http, tg, "editMessageText", chat_id=PERSON, message_id=mid, text="Hai scelto: Nidi"
    )
    assert status == 200 and "reply_markup" not in body["result"]
    assert (await call(http, tg, "deleteMessage", chat_id=PERSON, message_id=mid))[0] == 200
    status, body = await call(http, tg, "deleteMessage", chat_id=PERSON, message_id=mid)
    assert (status, body["description"]) == (400, "Bad Request: message to delete not found")


async def test_forum_topics_and_copies(tg: FakeTelegramServer, http: aiohttp.ClientSession) -> None:
    tg.add_chat(GROUP, type="supergroup", title="Operatori Magentino", is_forum=True)
    tg.add_chat(-100999, type="supergroup", title="Senza topic")
    status, body = await call(http, tg, "createForumTopic", chat_id=-100999, name="x")
    assert (status, body["description"]) == (400, "Bad Request: the chat is not a forum")

    _, body = await call(http, tg, "createForumTopic", chat_id=GROUP, name="Ticket #12 · Giulia")
    thread = body["result"]["message_thread_id"]
    assert body["result"]["name"] == "Ticket #12 · Giulia"

    said = tg.user_message(user_id=PERSON, first_name="Giulia", text="Mi serve aiuto per il nido")
    status, body = await call(
        http,
        tg,
        "copyMessage",
        chat_id=GROUP,
        from_chat_id=PERSON,
        message_id=said["message_id"],
        message_thread_id=thread,
    )
    assert status == 200
    copied = [m for m in tg.api.messages(GROUP) if m.get("text")]
    assert copied[0]["text"] == "Mi serve aiuto per il nido" and copied[0]["message_thread_id"] == thread
    assert body["result"] == {"message_id": copied[0]["message_id"]}

    # an operator writes in the topic: the update carries the thread
    tg.api.user_message(
        user_id=31, first_name="Marta", chat_id=GROUP, text="Ciao Giulia", message_thread_id=thread
    )
    _, updates = await call(http, tg, "getUpdates")
    op = updates["result"][-1]["message"]
    assert op["chat"]["type"] == "supergroup" and op["message_thread_id"] == thread and op["is_topic_message"]

    status, body = await call(
        http, tg, "editForumTopic", chat_id=GROUP, message_thread_id=thread, name="Ticket #12 · Giulia"
    )
    assert (status, body["description"]) == (400, "Bad Request: TOPIC_NOT_MODIFIED")
    assert (await call(http, tg, "closeForumTopic", chat_id=GROUP, message_thread_id=thread))[0] == 200
    status, body = await call(
        http, tg, "sendMessage", chat_id=GROUP, message_thread_id=thread, text="ci sei?"
    )
    assert (status, body["description"]) == (400, "Bad Request: TOPIC_CLOSED")

    async with http.post(
        f"{tg.base_url}/_test/delete_topic", json={"chat_id": GROUP, "message_thread_id": thread}
    ) as resp:
        assert resp.status == 200
    status, body = await call(
        http, tg, "sendMessage", chat_id=GROUP, message_thread_id=thread, text="ci sei?"
    )
    assert (status, body["description"]) == (400, "Bad Request: message thread not found")
    _, chat = await call(http, tg, "getChat", chat_id=GROUP)
    assert chat["result"]["is_forum"] is True and chat["result"]["title"] == "Operatori Magentino"


async def test_group_flood_control_when_asked_for(http: aiohttp.ClientSession) -> None:
    async with FakeTelegramServer(group_messages_per_minute=3) as tg:
        tg.add_chat(GROUP, title="Operatori")
        statuses = [(await call(http, tg, "sendMessage", chat_id=GROUP, text=f"n. {i}"))[0] for i in range(4)]
        _, body = await call(http, tg, "sendMessage", chat_id=GROUP, text="ancora")
        tg.user_message(user_id=PERSON, text="ciao")
        private = [(await call(http, tg, "sendMessage", chat_id=PERSON, text="ok"))[0] for _ in range(5)]

    assert statuses == [200, 200, 200, 429]
    assert 55 <= body["parameters"]["retry_after"] <= 61
    assert private == [200] * 5  # private chats are not limited per minute


async def test_webhook_delivery_with_the_secret_header(
    tg: FakeTelegramServer, http: aiohttp.ClientSession
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    refuse_first = [True]

    async def hook(request: web.Request) -> web.Response:
        if refuse_first[0]:
            refuse_first[0] = False
            return web.Response(status=500)
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/hook"
        status, _ = await call(http, tg, "setWebhook", url=url, secret_token="abc_DEF-1")
        assert status == 200
        status, body = await call(http, tg, "getUpdates")
        assert status == 409 and "webhook is active" in body["description"]
        sent = tg.user_message(user_id=PERSON, text="via webhook")
        await eventually(lambda: received, what="the webhook call")
        assert [(secret, u["update_id"]) for secret, u in received] == [("abc_DEF-1", sent["update_id"])]
        assert tg.state()["pending_updates"] == []
        _, info = await call(http, tg, "getWebhookInfo")
        assert info["result"]["url"] == url and "Wrong response" in info["result"]["last_error_message"]
        assert (await call(http, tg, "deleteWebhook"))[0] == 200
    finally:
        await runner.cleanup()


async def test_the_control_api_over_http(tg: FakeTelegramServer, http: aiohttp.ClientSession) -> None:
    base = tg.base_url
    async with http.post(f"{base}/_test/user_message", json={"user_id": PERSON, "sticker": True}) as r:
        assert r.status == 200
    async with http.post(
        f"{base}/_test/user_message",
        json={"user_id": PERSON, "location": {"latitude": 45.5, "longitude": 8.9}},
    ) as r:
        assert r.status == 200
    _, updates = await call(http, tg, "getUpdates")
    kinds = [
        u["message"].get("sticker", {}).get("type") or u["message"].get("location") for u in updates["result"]
    ]
    assert kinds == ["regular", {"latitude": 45.5, "longitude": 8.9}]

    waiter = asyncio.create_task(
        http.get(f"{base}/_test/wait_sent", params={"chat_id": PERSON, "timeout": "2"})
    )
    await asyncio.sleep(0.1)
    await call(http, tg, "sendMessage", chat_id=PERSON, text="eccomi")
    async with await waiter as r:
        assert r.status == 200 and [s["params"]["text"] for s in await r.json()] == ["eccomi"]
    async with http.get(f"{base}/_test/sent", params={"chat_id": PERSON}) as r:
        assert [s["method"] for s in await r.json()] == ["sendMessage"]
    async with http.get(f"{base}/_test/wait_sent", params={"chat_id": 1, "timeout": "0.2"}) as r:
        assert r.status == 408
    async with http.post(f"{base}/_test/user_message", json={"user_id": PERSON}) as r:
        assert r.status == 400  # nothing to send
    async with http.post(f"{base}/_test/reset") as r:
        assert r.status == 200
    assert tg.sent() == [] and tg.state()["chats"] == {}


def test_it_runs_standalone() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.fake_telegram", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line

        async def get_me() -> dict[str, Any]:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/bot1:x/getMe") as r,
            ):
                return await r.json()

        assert asyncio.run(get_me())["result"]["username"] == "concilia_test_bot"
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
