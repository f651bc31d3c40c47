"""The Rasa client: parsing the REST channel's answer, the tracker wipe, timeouts and errors."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from bot.assistant.answers import AssistantUnavailable, parse_rest_answer
from bot.assistant.rasa import RasaClient
from bot.core.messages import Button, Reply


def test_meta_follows_the_text_it_belongs_to():
    answer = parse_rest_answer(
        [
            {"recipient_id": "c", "text": "Uno", "buttons": [{"title": "A", "payload": "/a"}]},
            {"recipient_id": "c", "custom": {"meta": {"intent": "one"}}},
            {"recipient_id": "c", "text": "Due"},
        ]
    )

    assert answer.replies == [Reply("Uno", (Button("A", "/a"),)), Reply("Due")]
    assert [i.meta for i in answer.items] == [{"intent": "one"}, None]
    assert answer.meta == {"intent": "one"}  # the last meta sent in the turn


def test_meta_in_the_same_item_and_custom_without_meta():
    answer = parse_rest_answer(
        [
            {"recipient_id": "c", "text": "Ecco", "custom": {"meta": {"intent": "x"}}},
            {"recipient_id": "c", "custom": {"something": "else"}},
            {"recipient_id": "c", "image": "https://example.org/a.png"},
        ]
    )

    assert answer.replies == [Reply("Ecco")]
    assert answer.meta == {"intent": "x"}


def test_malformed_buttons_are_skipped_and_a_meta_alone_is_kept():
    answer = parse_rest_answer(
        [
            {
                "recipient_id": "c",
                "text": "T",
                "buttons": [{"title": "ok", "payload": "/ok"}, {"title": 3}, "x"],
            }
        ]
    )
    assert answer.replies[0].buttons == (Button("ok", "/ok"),)

    alone = parse_rest_answer([{"recipient_id": "c", "custom": {"meta": {"intent": "greet"}}}])
    assert alone.replies == [] and alone.meta == {"intent": "greet"}


def test_an_answer_that_is_not_a_list_is_unusable():
    with pytest.raises(AssistantUnavailable):
        parse_rest_answer({"error": "x"})


async def test_send_posts_sender_and_message(rasa):
    client = RasaClient(rasa.url + "/", rasa.token)
    answer = await client.send("c-abc", "centri estivi")
    await client.aclose()

    assert rasa.calls == [("c-abc", "centri estivi")]
    assert answer.meta["topic"] == "school_closure"


async def test_a_proxy_in_the_environment_is_not_used_for_rasa(rasa, monkeypatch):
    # Rasa is on loopback or a private network: a proxy set for the machine must not see its calls
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    client = RasaClient(rasa.url, rasa.token)

    answer = await client.send("c-abc", "centri estivi")
    await client.aclose()

    assert answer.meta["topic"] == "school_closure"


async def test_an_answer_that_is_not_json_text_is_unavailable(rasa, monkeypatch):
    async def garbage(request):
        return web.Response(body=b"\xff<html>", content_type="text/html")

    monkeypatch.setattr(rasa, "_webhook", garbage)
    await rasa.stop()
    await rasa.start()  # the routes are bound at start
    client = RasaClient(rasa.url, rasa.token)

    with pytest.raises(AssistantUnavailable, match="not JSON"):
        await client.send("c-abc", "ciao")
    await client.aclose()


async def test_non_json_answer_is_unavailable(rasa):
    rasa.script = lambda s, m: "not json"  # type: ignore[assignment,return-value]
    client = RasaClient(rasa.url, rasa.token)

    with pytest.raises(AssistantUnavailable):
        await client.send("c-abc", "ciao")
    await client.aclose()


async def test_erase_replaces_the_tracker_with_the_token(rasa):
    client = RasaClient(rasa.url, rasa.token)
    await client.send("c-abc", "ciao")

    await client.erase("c-abc")

    assert rasa.erased == ["c-abc"] and rasa.trackers["c-abc"] == []
    await client.aclose()


async def test_wrong_token_fails_without_logging_it(rasa, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-token-value-123-0123456789ab"
    client = RasaClient(rasa.url, wrong)

    with pytest.raises(AssistantUnavailable) as exc:
        await client.erase("c-abc")
    await client.aclose()

    assert "401" in str(exc.value)
    assert wrong not in str(exc.value) and wrong not in caplog.text
    assert wrong not in repr(client)


async def test_one_connection_is_reused(rasa):
    client = RasaClient(rasa.url, rasa.token)
    await client.send("c-1", "ciao")
    first = client.client
    await client.send("c-1", "ancora")

    assert client.client is first
    await client.aclose()


async def test_ping(rasa):
    client = RasaClient(rasa.url, rasa.token, timeout=0.5)
    assert await client.ping() is True
    await rasa.stop()
    assert await client.ping() is False
    await client.aclose()


async def test_several_rasa_servers_each_conversation_always_on_the_same_one(rasa):
    from tests.fakes.fake_rasa import FakeRasa

    async with FakeRasa() as other:
        client = RasaClient(f"{rasa.url}, {other.url}/", rasa.token, timeout=2.0)
        try:
            senders = [f"c-{i}" for i in range(40)]
            for _ in range(2):
                for sender in senders:
                    await client.send(sender, "ciao")
            await client.set_slots("c-7", {"comune": "Corbetta"})
            assert (await client.slots("c-7")) == {"comune": "Corbetta"}
            await client.erase("c-7")
            assert await client.ping()
        finally:
            await client.aclose()

    here, there = {s for s, _ in rasa.calls}, {s for s, _ in other.calls}
    assert here and there and not here & there  # spread over both, each on one
    assert here | there == set(senders)
    assert all(len(rasa.trackers[s]) == 2 for s in here - {"c-7"})  # both turns of each on one server
    holder = rasa if "c-7" in here else other
    assert holder.erased == ["c-7"] and (other if holder is rasa else rasa).erased == []


async def test_one_rasa_server_down_among_several_fails_the_health_check(rasa):
    client = RasaClient(f"{rasa.url},http://127.0.0.1:9", rasa.token, timeout=1.0)
    try:
        assert not await client.ping()
    finally:
        await client.aclose()
