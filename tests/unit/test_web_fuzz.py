"""Whatever arrives at POST /api/chat (body, cookie, forwarding headers), the answer is a 200 or a JSON 4xx,
never a 5xx. The flood limits are raised out of the way: tests/unit/test_web_sessions.py tests them."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.assistant.rasa import RasaClient
from bot.channels.web.chat import WebChannel, WebConfig
from bot.channels.web.limits import Limits
from bot.channels.web.sessions import COOKIE
from bot.conversation.router import ConversationRouter
from bot.core.ratelimit import RateLimiter
from bot.settings import trusted_networks
from bot.store.web_sessions import WebSessionStore
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.stores import memory_store

NO_LIMITS = Limits(10**6, 10**6, 10**6, 10**6)

HOSTILE_PIECES = [
    "<script>alert(1)</script>",
    "<b>grassetto</b> &amp; &lt;",
    "\u202e\u202dRTL\u200f\u200e",  # bidirectional overrides
    "\u200b\u200c\u200d\ufeff",  # zero-width characters
    "\x00\x01\x07\x1b[31m\x7f",  # NUL and control characters
    "ﷺ 𝕮𝖔𝖓𝖈𝖎𝖑𝖎𝖆 👨‍👩‍👧‍👦 é",
    "'; DROP TABLE messages; --",
    "/start",
    "/cancella",
    '/inform{"town": ',
    "concilia:erase:yes",
    "\r\n\t",
]

hostile_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=8).map("".join),
    st.integers(min_value=4000, max_value=9000).map(lambda n: "x" * n),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Mn"]), max_size=50),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
valid_user = st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True)
user_id = st.one_of(valid_user, hostile_text, json_value)
chat_object = st.fixed_dictionaries(
    {},
    optional={
        "user": user_id,
        "text": st.one_of(hostile_text, json_value),
        "payload": st.one_of(hostile_text, json_value),
    },
)
# a well-formed user with anything as text or payload: the fields the router would see
known_user_object = st.fixed_dictionaries(
    {"user": valid_user}, optional={"text": json_value, "payload": json_value}
)
raw_json_escapes = st.lists(st.integers(0xD800, 0xDFFF), min_size=1, max_size=3).map(
    lambda cps: '{"user": "u1", "text": "' + "".join(f"\\u{cp:04x}" for cp in cps) + '"}'
)
body = st.one_of(
    chat_object.map(json.dumps),
    known_user_object.map(json.dumps),
    json_value.map(lambda v: json.dumps(v, allow_nan=True)),
    st.binary(max_size=500),
    raw_json_escapes,
    st.integers(1, 200).map(lambda n: "[" * n + "]" * n),
)
content_type = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "",
        "*/*",
        "json",
    ]
)


@pytest.fixture
async def http():
    async with FakeRasa() as rasa:
        store = memory_store()
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        router = ConversationRouter(store, client, limiter=RateLimiter(1_000_000))
        config = WebConfig(limits=NO_LIMITS, trusted_proxies=trusted_networks("127.0.0.1"))
        channel = WebChannel(router, config=config, sessions=WebSessionStore(store))
        async with TestClient(TestServer(channel.make_app())) as test_client:
            yield test_client
        await client.aclose()
        store.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=body, ctype=content_type)
async def test_never_a_5xx(http, data, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    res = await http.post(
        "/api/chat",
        data=data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data,
        headers=headers,
    )

    assert res.status < 500, await res.text()
    answer = await res.json()
    if res.status == 200:
        assert set(answer) == {"replies", "meta"}
        assert all(isinstance(r["text"], str) for r in answer["replies"])
    else:
        assert 400 <= res.status < 500 and isinstance(answer["error"], str) and answer["error"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_text)
async def test_valid_requests_with_hostile_text_are_answered(http, text):
    res = await http.post("/api/chat", json={"user": "fuzz-user", "text": text})

    if not text.strip() or len(text) > 4096:
        assert res.status == 422
    else:
        assert res.status == 200
        assert (await res.json())["replies"]


header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=";,"), max_size=80
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cookie=header_text, forwarded=header_text, proto=header_text)
async def test_hostile_cookies_and_forwarding_headers_never_a_5xx(http, cookie, forwarded, proto):
    http.session.cookie_jar.clear()
    res = await http.post(
        "/api/chat",
        json={"text": "ciao"},
        headers={"Cookie": f"{COOKIE}={cookie}", "X-Forwarded-For": forwarded, "X-Forwarded-Proto": proto},
    )
    updates = await http.get("/api/chat/updates", headers={"Cookie": f"{COOKIE}={cookie}"})

    assert res.status == 200, await res.text()
    assert updates.status in (200, 401), await updates.text()
