"""The wiring of ``concilia run``: settings in, web chat address printed, the chat answering, clean stop."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot import app
from bot.settings import Settings
from tests.fakes import fake_rasa
from tests.fakes.fake_rasa import FakeRasa
from tests.support import eventually


@pytest.fixture
async def rasa():
    async with FakeRasa() as server:
        yield server


def settings_for(rasa, **extra):
    values = {
        "rasa_url": rasa.url,
        "rasa_token": rasa.token,
        "database_url": "sqlite://",
        "web_port": 0,
        "telegram_bot_token": None,
        **extra,
    }
    return Settings(_env_file=None, **values)


async def serving(settings: Settings, capsys) -> tuple[str, asyncio.Event, asyncio.Task[int]]:
    """``concilia run`` started in this loop: the address it printed, its stop event and its task."""
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(settings, stop))
    printed: list[str] = []

    def address_printed() -> bool:
        printed.append(capsys.readouterr().out)
        return "Web chat:" in "".join(printed)

    await eventually(address_printed, what="the address printed")
    return "".join(printed).split("Web chat: ", 1)[1].split()[0], stop, task


async def test_serve_prints_the_address_answers_and_stops(rasa, capsys):
    url, stop, task = await serving(settings_for(rasa), capsys)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")

    async with httpx.AsyncClient(base_url=url) as http:
        answer = (await http.post("api/chat", json={"user": "web-1", "text": "centri estivi?"})).json()
        health = (await http.get("healthz")).json()

    assert answer["replies"][0]["text"] == fake_rasa.CAMP_TEXT
    assert health == {"status": "ok", "db": True, "rasa": True}
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0


async def test_the_web_chat_settings_reach_the_running_gateway(rasa, capsys):
    key = "a-town-sites-key-0123456789abcdef"
    settings = settings_for(
        rasa,
        web_messages_per_address_per_minute=3,
        web_api_key=key,
        web_frame_ancestors="'self' https://www.comune.example.org",
    )
    url, stop, task = await serving(settings, capsys)

    async with httpx.AsyncClient(base_url=url) as http:
        burst = [(await http.post("api/chat", json={"text": "ciao"})) for _ in range(4)]
        named = await http.post(
            "api/chat", json={"user": "town-1", "text": "ciao"}, headers={"Authorization": f"Bearer {key}"}
        )
        wrong = await http.post(
            "api/chat", json={"user": "town-1", "text": "ciao"}, headers={"Authorization": "Bearer nope"}
        )
        page = await http.get("")
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0

    assert [r.status_code for r in burst] == [200, 200, 200, 429]
    assert "HttpOnly" in burst[0].headers["set-cookie"] and "set-cookie" not in burst[1].headers
    assert named.status_code == 200 and wrong.status_code == 401  # the key is not counted per address
    assert page.headers["content-security-policy"].endswith(
        "frame-ancestors 'self' https://www.comune.example.org"
    )


async def test_busy_port_is_a_clear_error(rasa, capsys):
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        code = await app.serve(settings_for(rasa, web_port=port), asyncio.Event())
    finally:
        blocker.close()
        await blocker.wait_closed()

    assert code == 1
    assert f"Non riesco ad avviare la chat web su 127.0.0.1:{port}" in capsys.readouterr().err


def test_main_explains_missing_settings(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RASA_TOKEN", raising=False)

    assert app.main() == 2
    err = capsys.readouterr().err
    assert "Configurazione non valida" in err and "RASA_TOKEN: manca" in err
