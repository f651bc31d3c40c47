"""``concilia run`` wired for real: the gateway with its Telegram channel (the fake Bot API server), the
operators' desk, the knowledge watcher and the jobs; a person is answered, and it stops cleanly."""

from __future__ import annotations

import asyncio

import pytest

from bot import app
from bot.conversation import texts
from bot.settings import Settings
from harness.fake_telegram import FakeTelegramServer
from tests.fakes.fake_rasa import FakeRasa
from tests.support import eventually

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_the_gateway_answers_on_telegram_and_stops(tmp_path, capsys):
    async with FakeTelegramServer() as tg, FakeRasa() as rasa:
        settings = Settings(
            _env_file=None,
            rasa_url=rasa.url,
            rasa_token=rasa.token,
            database_url=f"sqlite:///{tmp_path / 'concilia.db'}",
            web_port=0,
            telegram_bot_token="123456:ABCdefGHIjklMNOpqrSTUvwx",
            telegram_api_base=tg.api_base,
            spool_path=str(tmp_path / "spool.jsonl"),
        )
        stop = asyncio.Event()
        gateway = asyncio.create_task(app.serve(settings, stop))
        try:
            await eventually(lambda: "Web chat:" in capsys.readouterr().out, timeout=20, what="the start")
            tg.user_message(user_id=42, first_name="Giulia", text="/start")
            [welcome] = await tg.wait_sent(chat_id=42, timeout=10)
            assert welcome["params"]["text"].startswith("Ciao Giulia!")
            assert (
                texts.welcome("Giulia", settings.retention_days).split("\n")[0] in welcome["params"]["text"]
            )
        finally:
            stop.set()
            assert await asyncio.wait_for(gateway, 30) == 0
