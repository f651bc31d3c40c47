"""Fixtures shared by the gateway's unit tests: a fake Rasa server, an in-memory store, a Rasa client.
A test file that needs another timeout or limiter defines its own fixture of the same name."""

from __future__ import annotations

import pytest

from bot.assistant.rasa import RasaClient
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.stores import memory_store


@pytest.fixture
async def rasa():
    async with FakeRasa() as server:
        yield server


@pytest.fixture
async def store():
    s = memory_store()
    yield s
    s.close()


@pytest.fixture
async def client(rasa):
    c = RasaClient(rasa.url, rasa.token, timeout=2.0)
    yield c
    await c.aclose()
