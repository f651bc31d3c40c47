"""Hostile text from Telegram: whatever a person types, the real channel and the real router answer it with
exactly one message that Telegram accepts, and store it; nothing crashes.

The fake Telegram Bot API server runs in process (real HTTP, long polling, Telegram's checks on what the bot
sends: strict HTML, 4,096 characters); the channel is the real python-telegram-bot one; the router is the
real one, with an in-memory SQLite store and the fake Rasa server behind the real Rasa client.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.assistant.rasa import RasaClient
from bot.channels.telegram.build import build_telegram
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.core.ratelimit import RateLimiter
from bot.store import Store
from harness.fake_telegram import FakeTelegramServer
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.stores import memory_store

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

PIECES = [
    "<b>grassetto</b>",
    "</code></pre><i>",
    '<a href="javascript:alert(1)">clic</a>',
    "<script>alert(1)</script>",
    "&amp; &lt; &gt; &#0; &bogus;",
    "*grassetto* _corsivo_ `codice` ```blocco``` [link](http://example.com) ||spoiler|| ~barrato~",
    "\\*\\_\\[\\]\\(\\)",
    "\u202eRTL override\u202c \u202dLTR\u200f\u200e",
    "مرحبا بالعالم עברית",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\x01\x02\x07\x08\x0b\x0c\x1b[31m\x7f\x9f",
    "\x00",
    "Z\u0351\u0352\u0353a\u0300\u0301\u0302l\u0303\u0304g\u0305o\u0306",
    "'; DROP TABLE messages; --",
    "/start",
    "/cancella",
    "/start@altro_bot",
    '/inform{"town": "Magenta"}',
    '/request_human{"x": 1}',
    "concilia:erase:yes",
    "\r\n\t ",
    "centri estivi a Magenta",
]
EMOJI = ["👍", "👨‍👩‍👧‍👦", "🇮🇹", "👩🏽‍⚕️", "❤️", "🏳️‍🌈", "😀", "\U0001f9d1\u200d\U0001f37c"]

hostile_text = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join),
    st.lists(st.sampled_from(EMOJI), min_size=1, max_size=40).map("".join),
    st.text(
        alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn"]),
        min_size=1,
        max_size=80,
    ),
    # huge: around and above Telegram's 4,096 characters, some of them two UTF-16 units each
    st.tuples(st.sampled_from([*PIECES[:12], *EMOJI, "é", "x"]), st.integers(4000, 6000)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]
    ),
)
first_names = st.one_of(
    st.just("Giulia"),
    st.sampled_from(PIECES[:14]).map(lambda s: s[:64] or "x"),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=64),
)
TOKEN = "123456:FUZZ-token"
_user_ids = itertools.count(880_000_000)


class Harness(SimpleNamespace):
    tg: FakeTelegramServer
    router: ConversationRouter
    store: Store


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with FakeTelegramServer() as tg, FakeRasa() as rasa:
        store = memory_store()
        client = RasaClient(rasa.url, rasa.token, timeout=5.0)
        router = ConversationRouter(store, client, limiter=RateLimiter(1_000_000))
        settings_ = SimpleNamespace(
            telegram_bot_token=SecretStr(TOKEN), telegram_mode="polling", telegram_api_base=tg.api_base
        )
        channel = build_telegram(settings_, router, polling_timeout=1, retry_backoff=0.05)
        await channel.start()
        try:
            yield Harness(tg=tg, router=router, store=store)
        finally:
            await channel.stop()
            await client.aclose()
            store.close()


async def _one_answer(h: Harness, user_id: int, **message: object) -> str:
    h.tg.user_message(user_id=user_id, **message)
    [reply] = await h.tg.wait_sent(chat_id=user_id, count=1, timeout=15)
    text = reply["params"]["text"]
    assert isinstance(text, str) and text.strip()
    return text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_text)
async def test_hostile_text_is_answered_once_and_stored(harness: Harness, text: str) -> None:
    user_id = next(_user_ids)
    answer = await _one_answer(harness, user_id, first_name="Giulia", text=text)

    readable = text.replace("\x00", "")  # the router drops NUL characters (databases refuse them)
    if len(readable) > texts.MAX_TEXT_CHARS and not readable.startswith("/"):
        assert answer == texts.TOO_LONG
    elif not readable.strip().lstrip("/").strip():
        assert answer == texts.EMPTY
    # exactly one answer, and nothing the bot tried to send was refused by Telegram
    calls = harness.tg.sent(chat_id=user_id, include_failed=True)
    assert [c["method"] for c in calls if c["method"] == "sendMessage"] == ["sendMessage"]
    assert all(c["ok"] for c in calls), [c["error"] for c in calls if not c["ok"]]
    # the message was stored before it was answered
    person = await harness.store.find_user("telegram", str(user_id))
    assert person is not None
    stored = [m for m in await harness.store.messages_of(person.id) if m.direction == "in"]
    assert len(stored) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=first_names)
async def test_hostile_first_name_in_the_welcome(harness: Harness, name: str) -> None:
    """/start greets the person by name: the name is escaped, and Telegram accepts the message."""
    user_id = next(_user_ids)
    answer = await _one_answer(harness, user_id, first_name=name, text="/start")
    assert answer.startswith("Ciao")
    calls = harness.tg.sent(chat_id=user_id, method="sendMessage", include_failed=True)
    assert [c["ok"] for c in calls] == [True], [c["error"] for c in calls]
