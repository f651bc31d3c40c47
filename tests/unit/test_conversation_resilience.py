"""Rasa down or slow, the database away, duplicates, floods: the person always gets a clear answer."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from bot.assistant.answers import AssistantAnswer
from bot.assistant.rasa import RasaClient
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound
from bot.core.ratelimit import RateLimiter
from bot.store import make_engine, upgrade
from tests.fakes import fake_rasa
from tests.fakes.stores import file_store


@pytest.fixture
async def client(rasa):
    c = RasaClient(rasa.url, rasa.token, timeout=0.5)
    yield c
    await c.aclose()


def web(text, user="u-1"):
    return Inbound(channel="web", user_key=user, text=text)


def flood_router(store, client, now: list[float]) -> ConversationRouter:
    """A router limiting to 20 messages a minute, on the clock ``now[0]`` (seconds)."""
    start = datetime(2027, 1, 20, 12, 0, tzinfo=timezone.utc)
    return ConversationRouter(
        store,
        client,
        limiter=RateLimiter(20, clock=lambda: now[0]),
        clock=lambda: start + timedelta(seconds=now[0]),  # the stored messages are counted on this clock
    )


async def test_inbound_is_stored_before_rasa_is_asked(store, client):
    seen_at_send: list[list[str | None]] = []

    class Watching:
        async def send(self, sender_id: str, text: str) -> AssistantAnswer:
            user = await store.find_user("web", "u-1")
            seen_at_send.append([m.text for m in await store.messages_of(user.id)])
            return await client.send(sender_id, text)

        async def erase(self, sender_id: str) -> None:
            await client.erase(sender_id)

    await ConversationRouter(store, Watching()).handle(web("centri estivi?"))

    assert seen_at_send == [["centri estivi?"]]


async def test_rasa_error_gives_the_plain_message_and_keeps_the_message(store, client, rasa):
    rasa.fail_status = 500
    router = ConversationRouter(store, client)

    turn = await router.handle(web("centri estivi a Corbetta?"))

    assert [r.text for r in turn.replies] == [texts.UNAVAILABLE]
    assert "non è disponibile" in texts.UNAVAILABLE and "riprova tra poco" in texts.UNAVAILABLE.lower()
    assert all(v is None for v in turn.meta.values())
    user = await store.find_user("web", "u-1")
    assert [(m.direction, m.text) for m in await store.messages_of(user.id)] == [
        ("in", "centri estivi a Corbetta?"),
        ("out", texts.UNAVAILABLE),
    ]


async def test_rasa_down_then_back_on_the_same_address(store, client, rasa):
    router = ConversationRouter(store, client)
    await rasa.stop()

    down = await router.handle(web("centri estivi?"))
    await rasa.start()
    back = await router.handle(web("centri estivi?"))

    assert down.replies[0].text == texts.UNAVAILABLE
    assert back.replies[0].text == fake_rasa.CAMP_TEXT


async def test_slow_rasa_is_cut_off_by_the_timeout(store, client, rasa):
    rasa.delay = 1.5
    router = ConversationRouter(store, client)

    started = time.monotonic()
    slow = await router.handle(web("centri estivi?"))
    elapsed = time.monotonic() - started
    rasa.delay = 0
    fine = await router.handle(web("centri estivi?"))

    assert slow.replies[0].text == texts.UNAVAILABLE
    assert elapsed < 1.2
    assert fine.replies[0].text == fake_rasa.CAMP_TEXT


async def test_duplicate_update_is_answered_once(store, client, rasa):
    router = ConversationRouter(store, client)
    msg = Inbound(channel="telegram", user_key="7", text="centri estivi?", update_id=500)

    first = await router.handle(msg)
    again = await router.handle(msg)

    assert first.replies and again.replies == []
    assert len(rasa.calls) == 1
    user = await store.find_user("telegram", "7")
    assert [m.direction for m in await store.messages_of(user.id)] == ["in", "out"]


async def test_duplicate_update_after_a_restart_is_not_answered(tmp_path, rasa):
    msg = Inbound(channel="telegram", user_key="7", text="centri estivi?", update_id=501)
    for expected_replies in (1, 0):  # the second router is the gateway after a restart
        store = file_store(tmp_path / "concilia.db")
        client = RasaClient(rasa.url, rasa.token)
        turn = await ConversationRouter(store, client).handle(msg)
        assert len(turn.replies) == expected_replies
        await client.aclose()
        store.close()
    assert len(rasa.calls) == 1


async def test_flood_is_slowed_down_without_affecting_others(store, client, rasa):
    now = [1000.0]
    router = flood_router(store, client, now)

    answers = [await router.handle(web("ciao", user="flood")) for _ in range(21)]
    other = await router.handle(web("centri estivi?", user="calm"))

    assert all(a.replies[0].text != texts.RATE_LIMITED for a in answers[:20])
    assert answers[20].replies[0].text == texts.RATE_LIMITED
    assert "Rallenta" in texts.RATE_LIMITED
    assert len([c for c in rasa.calls if c[1] == "ciao"]) == 20  # the 21st never reached Rasa
    assert other.replies[0].text == fake_rasa.CAMP_TEXT

    now[0] += 61
    later = await router.handle(web("centri estivi?", user="flood"))
    assert later.replies[0].text == fake_rasa.CAMP_TEXT
    user = await store.find_user("web", "flood")
    assert len([m for m in await store.messages_of(user.id) if m.direction == "in"]) == 22


async def test_database_away_answers_and_spools_then_writes_when_back(tmp_path, client, rasa):
    db = tmp_path / "not-yet" / "concilia.db"  # the folder does not exist: SQLite cannot open the file
    engine = make_engine(f"sqlite:///{db}", create_dirs=False)
    from bot.store import Store

    store = Store(engine)
    router = ConversationRouter(store, client, db_retry_after=0)

    during = await router.handle(web("centri estivi a Corbetta?"))
    cmd = await router.handle(Inbound(channel="telegram", user_key="5", update_id=77, text="ciao"))
    dup = await router.handle(Inbound(channel="telegram", user_key="5", update_id=77, text="ciao"))

    assert during.replies[0].text == fake_rasa.CAMP_TEXT  # Rasa still answers
    assert cmd.replies and dup.replies == []  # duplicates caught in memory too
    assert len(router.spool) == 4  # two inbound, two replies

    db.parent.mkdir()
    upgrade(engine)
    after = await router.handle(web("centri estivi?"))

    assert after.replies[0].text == fake_rasa.CAMP_TEXT
    assert len(router.spool) == 0
    user = await store.find_user("web", "u-1")
    assert [m.text for m in await store.messages_of(user.id)] == [
        "centri estivi a Corbetta?",
        fake_rasa.CAMP_TEXT,
        "centri estivi?",
        fake_rasa.CAMP_TEXT,
    ]
    assert user.rasa_sender_id == rasa.calls[0][0]  # the id Rasa knew during the outage is kept
    store.close()


async def test_database_away_cancella_says_it_cannot_erase(tmp_path, client):
    from bot.store import Store

    store = Store(make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", create_dirs=False))
    router = ConversationRouter(store, client, db_retry_after=0)

    turn = await router.handle(Inbound(channel="web", user_key="u-1", command="cancella"))

    assert turn.replies[0].text == texts.ERASE_FAILED
    store.close()


async def test_spool_is_bounded(tmp_path, client):
    from bot.store import Store
    from bot.store.spool import Spool

    store = Store(make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", create_dirs=False))
    router = ConversationRouter(store, client, spool=Spool(capacity=5), db_retry_after=60)

    for i in range(10):
        await router.handle(web(f"messaggio {i}"))

    assert len(router.spool) == 5 and router.spool.dropped > 0
    store.close()


async def test_on_telegram_slow_down_is_said_once_per_window(store, client, rasa):
    now = [1000.0]
    router = flood_router(store, client, now)

    def tg(n: int) -> Inbound:
        return Inbound(channel="telegram", user_key="9", update_id=9000 + n, text="ciao")

    answers = [await router.handle(tg(n)) for n in range(30)]

    said = [r.text for a in answers for r in a.replies]
    assert said.count(texts.RATE_LIMITED) == 1 and answers[20].replies[0].text == texts.RATE_LIMITED
    assert all(a.replies == [] for a in answers[21:])  # no reply at all after it, within the window
    now[0] += 61
    later = await router.handle(tg(100))
    assert later.replies and later.replies[0].text != texts.RATE_LIMITED
