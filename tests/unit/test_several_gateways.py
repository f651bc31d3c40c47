"""Several gateways on one database, and gateways that stop suddenly: messages left unanswered are answered
once (bot/recovery.py), the flood limit is shared, and the spool survives a restart."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.assistant.answers import AssistantAnswer
from bot.assistant.rasa import RasaClient
from bot.conversation import texts
from bot.conversation.recovery import Recovery
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound, Turn
from bot.core.ratelimit import RateLimiter
from bot.store import Store, make_engine, upgrade
from bot.store.models import Message
from bot.store.spool import Spool
from tests.fakes import fake_rasa

START = datetime(2027, 1, 20, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Stuck:
    """An assistant that never answers until released: the gateway is "thinking" when it is killed."""

    def __init__(self, then: RasaClient) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.then = then

    async def send(self, sender_id: str, text: str) -> AssistantAnswer:
        self.asked.set()
        await self.release.wait()
        return await self.then.send(sender_id, text)

    async def erase(self, sender_id: str) -> None:
        await self.then.erase(sender_id)


class Delivered:
    def __init__(self) -> None:
        self.turns: list[tuple[str, Turn]] = []

    async def __call__(self, user_key: str, turn: Turn) -> bool:
        self.turns.append((user_key, turn))
        return True


def rows(store: Store) -> list[Message]:
    with store._sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def telegram(text: str, update_id: int, user: str = "4242") -> Inbound:
    return Inbound(channel="telegram", user_key=user, text=text, update_id=update_id, first_name="Giulia")


async def killed_while_thinking(store: Store, client: RasaClient, clock: Clock, msg: Inbound) -> None:
    """Gateway "gw-a" stores ``msg`` and dies while Rasa thinks (its task is cancelled, nothing is saved)."""
    stuck = Stuck(client)
    router = ConversationRouter(store, stuck, clock=clock, gateway_name="gw-a")
    task = asyncio.create_task(router.handle(msg))
    await asyncio.wait_for(stuck.asked.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.advance(1)


# --- recovery -----------------------------------------------------------------------------------------


async def test_a_message_left_unanswered_is_answered_once_after_a_restart(store, client, rasa):
    clock = Clock()
    await killed_while_thinking(store, client, clock, telegram("centri estivi a Corbetta?", 10))
    assert [(m.direction, m.answered_at, m.taken_by) for m in rows(store)] == [("in", None, "gw-a")]

    clock.advance(2)  # the same gateway starts again at once
    router = ConversationRouter(store, client, clock=clock, gateway_name="gw-a")
    recovery = Recovery(store, router, gateway="gw-a", clock=clock)
    sent = Delivered()
    recovery.attach_sender("telegram", sent)
    other = Recovery(store, ConversationRouter(store, client, clock=clock), gateway="gw-b", clock=clock)
    other.attach_sender("telegram", sent)

    assert await recovery.sweep() == 1
    assert await recovery.sweep() == 0
    clock.advance(120)  # long after: the other gateway would take it, but it is answered
    assert await other.sweep() == 0

    [(chat, turn)] = sent.turns
    assert chat == "4242"
    first = turn.replies[0].text
    assert first.startswith("Scusa, mi sono interrotta. Ecco la risposta a «centri estivi a Corbetta?»")
    assert first.endswith(fake_rasa.CAMP_TEXT)
    stored = rows(store)
    assert [m.direction for m in stored] == ["in", "out"]
    assert stored[0].answered_at is not None and stored[1].text == first and not stored[1].pushed
    # the update id was taken in once: Telegram's redelivery would still be a duplicate
    assert (await router.handle(telegram("centri estivi a Corbetta?", 10))).replies == []


async def test_another_gateways_message_waits_until_it_is_surely_dead(store, client):
    clock = Clock()
    await killed_while_thinking(store, client, clock, telegram("centri estivi?", 11))
    router = ConversationRouter(store, client, clock=clock, gateway_name="gw-b")
    recovery = Recovery(store, router, gateway="gw-b", grace=timedelta(seconds=60), clock=clock)
    sent = Delivered()
    recovery.attach_sender("telegram", sent)

    clock.advance(30)  # gw-a may still be answering it
    assert await recovery.sweep() == 0
    clock.advance(31)
    assert await recovery.sweep() == 1
    clock.advance(600)  # older than the window: nothing left, nothing answered again
    assert await recovery.sweep() == 0
    assert len(sent.turns) == 1


async def test_messages_older_than_the_window_are_left_alone(store, client):
    clock = Clock()
    await killed_while_thinking(store, client, clock, telegram("centri estivi?", 12))
    clock.advance(11 * 60)
    router = ConversationRouter(store, client, clock=clock, gateway_name="gw-a")
    recovery = Recovery(store, router, gateway="gw-a", window=timedelta(minutes=10), clock=clock)

    assert await recovery.sweep() == 0
    assert [m.direction for m in rows(store)] == ["in"]


async def test_a_slow_gateway_sends_nothing_once_another_took_its_message_over(store, client, rasa):
    clock = Clock()
    stuck = Stuck(client)
    slow = ConversationRouter(store, stuck, clock=clock, gateway_name="gw-a")
    task = asyncio.create_task(slow.handle(telegram("centri estivi?", 13)))
    await asyncio.wait_for(stuck.asked.wait(), 5)

    clock.advance(61)  # gw-a looks dead to gw-b
    recovery = Recovery(store, ConversationRouter(store, client, clock=clock), gateway="gw-b", clock=clock)
    sent = Delivered()
    recovery.attach_sender("telegram", sent)
    assert await recovery.sweep() == 1
    stuck.release.set()
    late = await task

    assert late.replies == []  # gw-a stays silent: the person gets one answer
    assert len(sent.turns) == 1
    assert [m.direction for m in rows(store)] == ["in", "out"]


async def test_a_web_message_left_unanswered_is_pushed_to_the_page(store, client):
    clock = Clock()
    web = Inbound(channel="web", user_key="w-1", text="centri estivi?")
    await killed_while_thinking(store, client, clock, web)
    router = ConversationRouter(store, client, clock=clock, gateway_name="gw-a")

    assert await Recovery(store, router, gateway="gw-a", clock=clock).sweep() == 1

    pushed, _ = await store.pushed_since("web", "w-1", 0)
    assert [m.text for m in pushed] == [texts.recovered("centri estivi?") + fake_rasa.CAMP_TEXT]


async def test_a_location_left_unanswered_is_asked_again(store, client, rasa):
    clock = Clock()
    where = Inbound(channel="telegram", user_key="7", location=(45.46, 8.87), update_id=14)
    await killed_while_thinking_locate(store, clock, where)
    router = ConversationRouter(store, client, clock=clock, gateway_name="gw-a")
    recovery = Recovery(store, router, gateway="gw-a", clock=clock)
    sent = Delivered()
    recovery.attach_sender("telegram", sent)

    assert await recovery.sweep() == 1
    assert [r.text for r in sent.turns[0][1].replies] == [texts.RECOVERED_LOCATION]
    assert rasa.calls == []  # a made-up place never reaches Rasa


async def killed_while_thinking_locate(store: Store, clock: Clock, msg: Inbound) -> None:
    found = asyncio.Event()

    def locate(lat: float, lon: float) -> str | None:
        found.set()
        return "Magenta"

    asked = asyncio.Event()

    class Never:
        async def send(self, sender_id: str, text: str) -> AssistantAnswer:
            asked.set()
            await asyncio.Event().wait()
            raise AssertionError

        async def erase(self, sender_id: str) -> None: ...

    router = ConversationRouter(store, Never(), clock=clock, gateway_name="gw-a", locate_town=locate)
    task = asyncio.create_task(router.handle(msg))
    await asyncio.wait_for(found.wait(), 5)
    await asyncio.wait_for(asked.wait(), 5)  # the gateway dies while it waits for the assistant
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.advance(1)


# --- the flood limit ------------------------------------------------------------------------------------


async def test_the_flood_limit_is_shared_by_two_gateways(store, client, rasa):
    clock = Clock()
    a = ConversationRouter(store, client, limiter=RateLimiter(5), clock=clock)
    b = ConversationRouter(store, client, limiter=RateLimiter(5), clock=clock)

    answers = [await (a if i % 2 else b).handle(telegram("ciao", 100 + i)) for i in range(6)]

    assert [t.replies[0].text == texts.RATE_LIMITED for t in answers] == [False] * 5 + [True]
    clock.advance(61)
    assert (await a.handle(telegram("centri estivi?", 200))).replies[0].text == fake_rasa.CAMP_TEXT


async def test_the_flood_limit_falls_back_to_memory_while_the_database_is_away(tmp_path, client):
    store = Store(make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", create_dirs=False))
    router = ConversationRouter(store, client, limiter=RateLimiter(3), db_retry_after=0)

    answers = [await router.handle(telegram("ciao", 300 + i)) for i in range(4)]

    assert [t.replies[0].text == texts.RATE_LIMITED for t in answers] == [False] * 3 + [True]
    store.close()


# --- the spool on disk ------------------------------------------------------------------------------------


async def test_the_spool_survives_a_restart_and_is_written_once(tmp_path, client):
    db = tmp_path / "not-yet" / "concilia.db"  # the folder does not exist: SQLite cannot open the file
    path = tmp_path / "spool" / "gw-a.jsonl"
    store = Store(make_engine(f"sqlite:///{db}", create_dirs=False))
    router = ConversationRouter(store, client, spool=Spool(path=path), db_retry_after=0)

    await router.handle(telegram("centri estivi?", 400))
    await router.handle(Inbound(channel="web", user_key="w-2", text="ciao"))
    assert len(path.read_text().splitlines()) == 4  # two messages, two replies
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    store.close()

    # the gateway is killed; a new one starts, the database is back
    db.parent.mkdir()
    store = Store(make_engine(f"sqlite:///{db}", create_dirs=False))
    await asyncio.to_thread(upgrade, store.engine)
    again = ConversationRouter(store, client, spool=Spool(path=path), db_retry_after=0)
    assert len(again.spool) == 4 and again.spool.holds_update(400)

    assert await again.flush_spool() == 4
    assert await again.flush_spool() == 0
    assert path.read_text() == ""
    assert len(Spool(path=path)) == 0
    stored = rows(store)
    assert [(m.direction, m.text) for m in stored if m.direction == "in"] == [
        ("in", "centri estivi?"),
        ("in", "ciao"),
    ]
    assert len(stored) == 4
    # answered while the database was away: no gateway answers them again
    assert all(m.answered_at is not None for m in stored if m.direction == "in")
    store.close()


async def test_erasing_a_person_removes_her_spooled_messages_from_the_file(tmp_path, client):
    path = tmp_path / "spool.jsonl"
    store = Store(make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", create_dirs=False))
    router = ConversationRouter(store, client, spool=Spool(path=path), db_retry_after=0)
    await router.handle(telegram("ciao", 500, user="1"))
    await router.handle(telegram("ciao", 501, user="2"))

    router.spool.forget("telegram", "1")

    assert {json.loads(line)["user_key"] for line in path.read_text().splitlines()} == {"2"}
    store.close()


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    path = tmp_path / "spool.jsonl"
    spool = Spool(path=path)
    from bot.store import NewMessage

    spool.add(NewMessage(channel="web", user_key="w", direction="in", rasa_sender_id="c-1", text="uno"))
    with path.open("a") as fh:
        fh.write('{"channel": "web", "user_ke')

    loaded = Spool(path=path)
    assert len(loaded) == 1 and loaded._items[0].text == "uno"


def test_the_spool_file_stays_bounded(tmp_path):
    from bot.store import NewMessage

    path = tmp_path / "spool.jsonl"
    spool = Spool(capacity=3, path=path)
    for i in range(5):
        spool.add(NewMessage(channel="web", user_key="w", direction="in", rasa_sender_id="c", text=str(i)))

    assert [json.loads(line)["text"] for line in path.read_text().splitlines()] == ["2", "3", "4"]
    assert spool.dropped == 2
