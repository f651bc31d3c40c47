"""Server-issued web sessions and the web chat's flood limits, black-box through aiohttp's test client: the
cookie and its flags, what the store keeps, expiry, "Nuova conversazione", the API key of a server-side
client, 429s per address and overall, X-Forwarded-For only from trusted proxies, the page's framing, the
access log without query strings. The real router and store, the fake Rasa behind."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text

from bot.assistant.rasa import RasaClient
from bot.channels.web import chat as web
from bot.channels.web.chat import WebChannel, WebConfig
from bot.channels.web.limits import Limits, client_address
from bot.channels.web.sessions import COOKIE, token_hash, user_key_of
from bot.conversation.router import ConversationRouter
from bot.core.ratelimit import RateLimiter
from bot.settings import trusted_networks
from bot.store.models import User, WebSession
from bot.store.web_sessions import WebSessionStore
from tests.fakes import fake_rasa
from tests.fakes.handoff import Clock
from tests.fakes.stores import memory_store

API_KEY = "k3y-for-the-town-site-0123456789"
MANY = 10**6


@pytest.fixture
async def make(rasa) -> AsyncIterator[Callable[..., Any]]:
    """``await make(**WebConfig fields)``: a test client on a fresh channel, router and store."""
    opened: list[Any] = []
    clock = Clock(datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))

    async def build(**config: Any) -> TestClient:
        store = memory_store()
        client = RasaClient(rasa.url, rasa.token, timeout=1.0)
        router = ConversationRouter(store, client, limiter=RateLimiter(MANY))
        channel = WebChannel(router, config=WebConfig(**config), sessions=WebSessionStore(store), clock=clock)
        http = TestClient(TestServer(channel.make_app()))
        await http.start_server()
        http.store, http.clock = store, clock  # type: ignore[attr-defined]
        opened.append((http, client, store))
        return http

    yield build
    for http, client, store in opened:
        await http.close()
        await client.aclose()
        store.close()


def set_cookie(res: ClientResponse) -> str:
    return "; ".join(res.headers.getall("Set-Cookie", []))


def cookie_of(http: TestClient) -> str:
    return next(c.value for c in http.session.cookie_jar if c.key == COOKIE)


async def rows(http: TestClient, model: Any) -> list[Any]:
    return await http.store.db.read(lambda s: list(s.scalars(select(model))))  # type: ignore[attr-defined]


async def test_the_first_message_gets_a_session_cookie_with_the_right_flags(make):
    http = await make()

    first = await http.post("/api/chat", json={"text": "Ci sono centri estivi a Corbetta?"})
    second = await http.post("/api/chat", json={"text": "e a Magenta?"})

    assert first.status == 200 and (await first.json())["replies"][0]["text"] == fake_rasa.CAMP_TEXT
    header = set_cookie(first)
    assert header.startswith(f"{COOKIE}=")
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Secure" not in header  # plain http on loopback
    assert set_cookie(second) == ""  # the same session goes on
    users = await rows(http, User)
    assert [u.channel_user_key for u in users] == [user_key_of(cookie_of(http))]


async def test_the_store_keeps_only_a_hash_of_the_token(make):
    http = await make()
    await http.post("/api/chat", json={"text": "ciao"})
    token = cookie_of(http)

    sessions = await rows(http, WebSession)

    assert [s.token_hash for s in sessions] == [token_hash(token)]
    [person] = await rows(http, User)
    assert person.channel_user_key[2:] not in sessions[0].token_hash  # the row says nothing of whose it is

    def everything(s: Any) -> str:
        tables = [r[0] for r in s.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
        return json.dumps(
            [[list(map(str, r)) for r in s.execute(text(f'SELECT * FROM "{t}"'))] for t in tables]
        )

    assert token not in await http.store.db.read(everything)  # type: ignore[attr-defined]


async def test_secure_only_when_a_trusted_proxy_says_https(make):
    behind = await make(trusted_proxies=trusted_networks("127.0.0.1"))
    direct = await make()

    proxied = await behind.post("/api/chat", json={"text": "ciao"}, headers={"X-Forwarded-Proto": "https"})
    forged = await direct.post("/api/chat", json={"text": "ciao"}, headers={"X-Forwarded-Proto": "https"})

    assert "Secure" in set_cookie(proxied) and "HttpOnly" in set_cookie(proxied)
    assert "Secure" not in set_cookie(forged)


async def test_a_browsers_user_field_is_ignored(make):
    http = await make()

    for user in ("web-1", "web-2", "someone-elses-id"):
        assert (await http.post("/api/chat", json={"user": user, "text": "ciao"})).status == 200

    assert len(await rows(http, User)) == 1


async def test_an_expired_session_is_refused_and_the_next_message_starts_a_new_one(make):
    http = await make(session_idle=timedelta(minutes=30))
    await http.post("/api/chat", json={"text": "ciao"})
    old = cookie_of(http)
    http.clock.advance(minutes=29)  # type: ignore[attr-defined]
    alive = await http.get("/api/chat/updates")
    http.clock.advance(minutes=31)  # type: ignore[attr-defined]  # 31 minutes after the last use

    expired = await http.get("/api/chat/updates", headers={"Cookie": f"{COOKIE}={old}"})
    renewed = await http.post(
        "/api/chat", json={"text": "Ci sono centri estivi a Corbetta?"}, headers={"Cookie": f"{COOKIE}={old}"}
    )

    assert alive.status == 200
    assert expired.status == 401 and (await expired.json())["error"] == web.EXPIRED
    assert f'{COOKIE}=""' in set_cookie(expired) and "Max-Age=0" in set_cookie(expired)
    body = await renewed.json()
    assert [r["text"] for r in body["replies"]] == [web.RENEWED, fake_rasa.CAMP_TEXT]
    new = set_cookie(renewed).split(";")[0].split("=", 1)[1]
    assert new and new != old
    assert {s.token_hash for s in await rows(http, WebSession)} == {token_hash(new)}
    assert len(await rows(http, User)) == 2  # a new conversation, not the old person's


async def test_a_made_up_token_is_never_taken_over(make):
    http = await make()
    made_up = "A" * 43  # well formed, never issued

    poll = await http.get("/api/chat/updates", headers={"Cookie": f"{COOKIE}={made_up}"})
    res = await http.post("/api/chat", json={"text": "ciao"}, headers={"Cookie": f"{COOKIE}={made_up}"})

    assert poll.status == 401 and (await poll.json())["error"] == web.NO_SESSION
    assert made_up not in set_cookie(res) and set_cookie(res).startswith(f"{COOKIE}=")
    assert [u.channel_user_key for u in await rows(http, User)] != [user_key_of(made_up)]


async def test_new_conversation_forgets_the_session_on_the_device_and_on_the_server(make):
    http = await make()
    await http.post("/api/chat", json={"text": "ciao"})
    old = cookie_of(http)

    ended = await http.delete("/api/chat/session")
    after = await http.get("/api/chat/updates", headers={"Cookie": f"{COOKIE}={old}"})
    again = await http.post("/api/chat", json={"text": "ciao"})

    assert ended.status == 200 and await ended.json() == {"ended": True}
    assert "Max-Age=0" in set_cookie(ended)
    assert after.status == 401
    assert cookie_of(http) != old
    assert {s.token_hash for s in await rows(http, WebSession)} == {token_hash(cookie_of(http))}
    assert again.status == 200


async def test_a_server_side_client_names_its_person_with_the_api_key(make):
    http = await make(api_key=API_KEY)
    auth = {"Authorization": f"Bearer {API_KEY}"}

    named = await http.post("/api/chat", json={"user": "town-7", "text": "ciao"}, headers=auth)
    updates = await http.get("/api/chat/updates", headers={**auth, "X-Concilia-User": "town-7"})
    nameless = await http.post("/api/chat", json={"text": "ciao"}, headers=auth)
    no_header = await http.get("/api/chat/updates", headers=auth)

    assert named.status == 200 and set_cookie(named) == ""  # no session for a server
    assert updates.status == 200 and await updates.json() == {"replies": [], "last": 0}
    assert nameless.status == 422 and (await nameless.json())["error"] == "Manca il campo user."
    assert no_header.status == 422
    assert (await no_header.json())["error"] == "Manca l'intestazione X-Concilia-User."
    assert [u.channel_user_key for u in await rows(http, User)] == ["k:town-7"]


@pytest.mark.parametrize(
    "authorization", [f"Bearer {API_KEY}x", f"Bearer {API_KEY[:-1]}", "Bearer ", f"Basic {API_KEY}", "Bearer"]
)
async def test_a_wrong_api_key_is_refused(make, authorization):
    http = await make(api_key=API_KEY)
    headers = {"Authorization": authorization}

    res = await http.post("/api/chat", json={"user": "town-7", "text": "ciao"}, headers=headers)
    poll = await http.get("/api/chat/updates", headers={**headers, "X-Concilia-User": "town-7"})

    assert res.status == 401 and await res.json() == {"error": web.WRONG_KEY}
    assert poll.status == 401
    assert await rows(http, User) == []


async def test_no_api_key_configured_refuses_every_key(make):
    http = await make()

    res = await http.post(
        "/api/chat", json={"user": "town-7", "text": "ciao"}, headers={"Authorization": f"Bearer {API_KEY}"}
    )

    assert res.status == 401 and await rows(http, User) == []


async def test_a_burst_of_messages_from_one_address_gets_429_json(make):
    http = await make(limits=Limits(messages_per_address_per_minute=5))

    answers = [await http.post("/api/chat", json={"text": f"ciao {k}"}) for k in range(8)]

    assert [a.status for a in answers] == [200] * 5 + [429] * 3
    assert all(a.content_type == "application/json" for a in answers)
    assert (await answers[-1].json()) == {"error": web.TOO_MANY_MESSAGES}


async def test_new_sessions_per_address_and_overall_are_limited(make):
    per_address = await make(limits=Limits(sessions_per_address_per_hour=2))
    overall = await make(
        limits=Limits(sessions_per_address_per_hour=MANY, sessions_per_hour=3),
        trusted_proxies=trusted_networks("127.0.0.1"),
    )

    async def fresh(http: TestClient, **kw: Any) -> ClientResponse:
        http.session.cookie_jar.clear()
        return await http.post("/api/chat", json={"text": "ciao"}, **kw)

    mine = [await fresh(per_address) for _ in range(3)]
    everyone = [await fresh(overall, headers={"X-Forwarded-For": f"198.51.100.{k}"}) for k in range(4)]

    assert [r.status for r in mine] == [200, 200, 429]
    assert (await mine[-1].json()) == {"error": web.TOO_MANY_SESSIONS}
    assert [r.status for r in everyone] == [200, 200, 200, 429]
    assert (await everyone[-1].json()) == {"error": web.BUSY}


async def test_overall_message_limit_holds_across_addresses(make):
    http = await make(limits=Limits(messages_per_minute=4), trusted_proxies=trusted_networks("127.0.0.1"))

    answers = [
        await http.post("/api/chat", json={"text": "ciao"}, headers={"X-Forwarded-For": f"198.51.100.{k}"})
        for k in range(6)
    ]

    assert [a.status for a in answers] == [200] * 4 + [429] * 2
    assert (await answers[-1].json()) == {"error": web.BUSY}


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(make):
    untrusted = await make(limits=Limits(messages_per_address_per_minute=2))
    trusted = await make(
        limits=Limits(messages_per_address_per_minute=2), trusted_proxies=trusted_networks("127.0.0.0/8")
    )

    async def burst(http: TestClient) -> list[int]:
        return [
            (
                await http.post(
                    "/api/chat", json={"text": "ciao"}, headers={"X-Forwarded-For": f"203.0.113.{k}"}
                )
            ).status
            for k in range(4)
        ]

    assert await burst(untrusted) == [200, 200, 429, 429]  # all counted as the peer, 127.0.0.1
    assert await burst(trusted) == [200, 200, 200, 200]  # four people behind the proxy


def test_client_address_reads_x_forwarded_for_from_the_right():
    proxies = trusted_networks("10.0.0.0/8, 127.0.0.1")

    assert client_address("10.0.0.5", ["198.51.100.7, 10.0.0.9"], proxies) == "198.51.100.7"
    # the left entries are what the client wrote: only the hop the trusted proxy appended counts
    assert client_address("10.0.0.5", ["6.6.6.6, 198.51.100.7"], proxies) == "198.51.100.7"
    assert client_address("10.0.0.5", ["garbage, 198.51.100.7"], proxies) == "198.51.100.7"
    assert client_address("10.0.0.5", ["198.51.100.7", "not-an-ip"], proxies) == "10.0.0.5"
    assert client_address("10.0.0.5", [], proxies) == "10.0.0.5"
    assert client_address("203.0.113.4", ["198.51.100.7"], proxies) == "203.0.113.4"
    assert client_address("2001:db8:1:2:3:4:5:6", [], proxies) == "2001:db8:1:2::/64"
    assert client_address(None, [], ()) == "unknown"


async def test_the_page_may_be_framed_only_by_the_configured_sites(make):
    default = await make()
    town = await make(frame_ancestors="'self' https://www.comune.example.org")

    mine = (await default.get("/")).headers["Content-Security-Policy"]
    theirs = (await town.get("/")).headers["Content-Security-Policy"]

    assert mine.endswith("frame-ancestors 'self'")
    assert theirs.endswith("frame-ancestors 'self' https://www.comune.example.org")


async def test_the_access_log_has_paths_without_query_strings(rasa, caplog):
    store = memory_store()
    client = RasaClient(rasa.url, rasa.token, timeout=1.0)
    channel = WebChannel(ConversationRouter(store, client), config=WebConfig(access_log=True))
    url = await channel.start("127.0.0.1", 0)
    try:
        with caplog.at_level(logging.INFO, logger="concilia.web.access"):
            async with httpx.AsyncClient(base_url=url) as http:
                await http.get("api/chat/updates", params={"after": "5", "user": "web-secret-id"})
                await http.get("/", params={"token": "s3cret"})
    finally:
        await channel.stop()
        await client.aclose()
        store.close()

    lines = [r.getMessage() for r in caplog.records if r.name == "concilia.web.access"]
    assert (
        len(lines) == 2
        and lines[0].startswith("GET /api/chat/updates 401")
        and lines[1].startswith("GET / 200")
    )
    assert not any(
        "?" in line or "secret" in line or "s3cret" in line or "127.0.0.1" in line for line in lines
    )
