"""A shared location becomes the nearest town of the knowledge base, told to Rasa as an ``inform``."""

from __future__ import annotations

import pytest

from bot.assistant.rasa import RasaClient
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.conversation.town_locator import KnowledgeTownLocator
from bot.core.messages import Inbound
from tests.fakes.stores import memory_store

CORBETTA = (45.4685, 8.9195)
MILANO_DUOMO = (45.4642, 9.1900)


@pytest.fixture
async def parts(rasa):
    store = memory_store()
    client = RasaClient(rasa.url, rasa.token)
    yield store, client
    await client.aclose()
    store.close()


def located(lat_lon):
    return Inbound(channel="telegram", user_key="3", location=lat_lon, update_id=hash(lat_lon) & 0xFFFF)


async def test_location_in_a_town_informs_rasa_of_the_town(parts, rasa):
    store, client = parts
    router = ConversationRouter(store, client, locate_town=KnowledgeTownLocator())

    turn = await router.handle(located(CORBETTA))

    assert rasa.calls[-1][1] == '/inform{"town": "Corbetta"}'
    assert turn.replies[0].text == "Va bene, guardo i servizi di Corbetta."
    assert turn.meta["comune"] == "Corbetta"
    user = await store.find_user("telegram", "3")
    stored = (await store.messages_of(user.id))[0]
    assert stored.text == "[posizione]"  # the coordinates themselves are not kept


async def test_location_far_away_gets_an_honest_answer(parts, rasa):
    store, client = parts
    router = ConversationRouter(store, client, locate_town=KnowledgeTownLocator())

    turn = await router.handle(located(MILANO_DUOMO))

    assert turn.replies[0].text == texts.LOCATION_FAR
    assert rasa.calls == []


async def test_town_names_with_accents_are_sent_as_json(parts, rasa):
    store, client = parts
    router = ConversationRouter(store, client, locate_town=lambda lat, lon: "Cassinetta di Lugagnano")

    await router.handle(located((45.42, 8.9)))

    assert rasa.calls[-1][1] == '/inform{"town": "Cassinetta di Lugagnano"}'


async def test_location_when_the_knowledge_base_fails(parts, rasa):
    store, client = parts

    def broken(lat: float, lon: float) -> str | None:
        raise OSError("knowledge base unreadable")

    turn = await ConversationRouter(store, client, locate_town=broken).handle(located(CORBETTA))

    assert turn.replies[0].text == texts.LOCATION_UNUSABLE
    assert rasa.calls == []
