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


async def test_serve_prints_the_address_answers_and_stops(rasa, capsys):
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(settings_for(rasa), stop))
    printed: list[str] = []

    def address_printed() -> bool:
        printed.append(capsys.readouterr().out)
        return "Web chat:" in "".join(printed)

    await eventually(address_printed, what="the address printed")
    out = "".join(printed)
    url = out.split("Web chat: ", 1)[1].split()[0]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")

    async with httpx.AsyncClient(base_url=url) as http:
        answer = (await http.post("api/chat", json={"user": "web-1", "text": "centri estivi?"})).json()
        health = (await http.get("healthz")).json()

    assert answer["replies"][0]["text"] == fake_rasa.CAMP_TEXT
    assert health == {"status": "ok", "db": True, "rasa": True}
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0


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
