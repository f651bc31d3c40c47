"""Erasure is complete: a person who used every feature on Telegram (questions to the assistant, the town
question, a ticket with relays both ways in a topic, a rating, messages taken in by other gateways while the
database was away) confirms /cancella, and so does one on the web chat (cookie session, the same features,
the operator's messages fetched as updates). Then nothing of theirs is anywhere: in no table, in no byte of
the database file or its WAL, in no spool file, in no Rasa conversation; the topic is renamed to the
ticket's number and closed; a gateway that held her messages in its spool during the erase does not write
them back.

The real PTB dispatcher against the fake Telegram server, the real router, handoff, web channel and SQLite
file; a fake Rasa (tests/actions/test_tracker_store.py checks the real tracker store's file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import inspect, text

from bot.assistant.rasa import RasaClient
from bot.channels.web.chat import WebChannel
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound
from bot.handoff import texts as txt
from bot.store import Store, make_engine
from bot.store.spool import Spool
from bot.store.web_sessions import WebSessionStore
from tests.fakes.stores import file_store
from tests.integration.test_telegram_handoff import (
    GIULIA,
    GROUP,
    MARCO,
    handoff_env,
    in_topic,
    person_says,
    press,
    sent_to,
)
from tests.support import eventually

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

PHONE = "333 0000000"  # clearly fictional
SECRET = "Zanzibarina"  # a word only she wrote, to the assistant
OUTAGE_WORDS = "Quokkalandia"  # written while the database was away, taken in by another gateway
LATE_WORDS = "Tapirolungo"  # spooled by a third gateway, still waiting when she erased


class OtherGateway:
    """A gateway on the same database reached through a folder link: removing the link is its outage."""

    def __init__(self, tmp: Path, real_dir: Path, name: str, rasa: RasaClient) -> None:
        self.link = tmp / f"{name}-db"
        self.real_dir = real_dir
        self.spool_path = tmp / f"{name}-spool" / "spool.jsonl"
        self.store = Store(make_engine(f"sqlite:///{self.link / 'concilia.db'}", create_dirs=False))
        self.router = ConversationRouter(
            self.store, rasa, spool=Spool(path=self.spool_path), db_retry_after=0, gateway_name=name
        )

    def database_away(self) -> None:
        if self.link.is_symlink():
            self.link.unlink()

    def database_back(self) -> None:
        if not self.link.is_symlink():
            self.link.symlink_to(self.real_dir, target_is_directory=True)


def every_value(store: Store) -> list[str]:
    """Every value of every row of every table, as text."""
    found: list[str] = []
    with store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 (names from the schema)
                found.extend(f"{table}: {value}" for value in row if value is not None)
    return found


def database_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


async def test_nothing_of_her_is_left_anywhere_after_cancella(tmp_path: Path) -> None:
    real_dir = tmp_path / "var"
    real_dir.mkdir()
    db = real_dir / "concilia.db"
    store = file_store(db)
    try:
        async with handoff_env(store) as env:
            await _use_everything_then_erase(env, tmp_path, real_dir, db)
    finally:
        store.close()


async def _use_everything_then_erase(env, tmp_path: Path, real_dir: Path, db: Path) -> None:
    # the assistant, then the town question, then a ticket with relays both ways and a rating
    person_says(env, f"centri estivi a Corbetta, mi chiamo {SECRET}")
    await sent_to(env, GIULIA)
    person_says(env, "operatore")
    [*_, asked] = await sent_to(env, GIULIA, count=2)
    assert asked["params"]["text"] == txt.ASK_TOWN
    person_says(env, "Corbetta")
    [topic] = await sent_to(env, GROUP, "createForumTopic")
    thread = topic["result"]["message_thread_id"]
    assert "Giulia" in topic["params"]["name"]
    [ticket] = await env.service.tickets.open_tickets()
    person_says(env, f"il mio numero è {PHONE}")
    await sent_to(env, GROUP, "copyMessage")
    press(env, MARCO, "Marco", f"h:claim:{ticket.id}")
    in_topic(env, MARCO, "Marco", thread, "Ciao Giulia, ti richiamo io.")
    await sent_to(env, GIULIA, "copyMessage")
    press(env, MARCO, "Marco", f"h:close:{ticket.id}")
    await eventually(
        lambda: any(
            b["text"] == "1"
            for m in env.fake.api.messages(GIULIA)
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        ),
        what="the rating question",
    )
    env.fake.user_message(user_id=GIULIA, callback_data=f"concilia:rate:{ticket.id}:5")
    await eventually(lambda: any(m.get("text") == txt.RATED for m in env.fake.api.messages(GIULIA)))
    [her] = [u for u in every_value(env.store) if u.startswith("users: c-")]
    first_id = her.split(": ", 1)[1]

    # two other gateways take her messages in while the database is away; they never saw her before,
    # so each gives her a Rasa id of its own. The first writes its spool back before she erases.
    b = OtherGateway(tmp_path, real_dir, "gw-b", env.client)
    c = OtherGateway(tmp_path, real_dir, "gw-c", env.client)
    try:
        for gw, words in ((b, OUTAGE_WORDS), (c, LATE_WORDS)):
            gw.database_away()
            turn = await gw.router.handle(Inbound(channel="telegram", user_key=str(GIULIA), text=words))
            assert turn.replies  # answered all the same
            assert words in gw.spool_path.read_text("utf-8")
        outage_id = next(s for s, m in env.rasa.calls if m == OUTAGE_WORDS)
        late_id = next(s for s, m in env.rasa.calls if m == LATE_WORDS)
        assert len({first_id, outage_id, late_id}) == 3
        b.database_back()
        assert await b.router.flush_spool() == 2  # her message and its answer

        person_says(env, "/cancella")
        await eventually(
            lambda: any(m.get("text") == texts.ERASE_CONFIRM for m in env.fake.api.messages(GIULIA))
        )
        env.fake.user_message(user_id=GIULIA, callback_data=texts.ERASE_YES)
        await eventually(lambda: any(m.get("text") == texts.ERASED for m in env.fake.api.messages(GIULIA)))

        c.database_back()  # the third gateway's spool comes back after the erase
        await c.router.flush_spool()
        assert len(c.router.spool) == 0
    finally:
        for gw in (b, c):
            gw.store.close()

    # her topic: renamed to the number, closed, told
    await eventually(
        lambda: env.fake.state()["chats"][str(GROUP)]["topics"][str(thread)]["name"] == f"n. {ticket.id}",
        what="the topic renamed",
    )
    assert env.fake.state()["chats"][str(GROUP)]["topics"][str(thread)]["closed"] is True

    assert {first_id, outage_id, late_id} <= set(env.rasa.erased)  # every Rasa id she ever had
    marks = (SECRET, OUTAGE_WORDS, LATE_WORDS, PHONE, "Giulia", first_id, outage_id, late_id)
    nothing_left(env, db, marks, [b.spool_path, c.spool_path])
    assert not [v for v in every_value(env.store) if v.endswith(f": {GIULIA}")]  # her Telegram id


def nothing_left(env, db: Path, marks: tuple[str, ...], spools: list[Path]) -> None:
    """None of ``marks`` in any Rasa conversation, any table, any byte of the database and its WAL, or
    any spool file."""
    told = " ".join(m for messages in env.rasa.trackers.values() for m in messages)
    values = every_value(env.store)
    assert os.path.getsize(db.with_name(db.name + "-wal")) == 0  # checkpointed and truncated
    raw = database_bytes(db)
    spooled = b"".join(p.read_bytes() for p in spools if p.exists())
    for mark in marks:
        assert mark not in told, mark
        assert not [v for v in values if mark in v], mark
        assert mark.encode() not in raw, mark
        assert mark.encode() not in spooled, mark


async def test_nothing_of_a_web_person_is_left_after_cancella(tmp_path: Path) -> None:
    db = tmp_path / "concilia.db"
    store = file_store(db)
    try:
        async with handoff_env(store) as env:
            channel = WebChannel(env.router, updates=store.pushed_since, sessions=WebSessionStore(store))
            async with TestClient(TestServer(channel.make_app())) as web:
                await _web_person_uses_everything_then_erases(env, web, db)
    finally:
        store.close()


async def _web_person_uses_everything_then_erases(env, web: TestClient, db: Path) -> None:
    async def say(**body: str) -> list[str]:
        res = await web.post("/api/chat", json=body)
        assert res.status == 200
        return [r["text"] for r in (await res.json())["replies"]]

    async def pushed() -> list[dict]:
        res = await web.get("/api/chat/updates")
        assert res.status == 200
        return (await res.json())["replies"]

    await say(text=f"centri estivi a Corbetta, mi chiamo {SECRET}")
    assert await say(text="operatore") == [txt.ASK_TOWN]
    await say(text="Corbetta")
    [ticket] = await env.service.tickets.open_tickets()
    [topic] = await sent_to(env, GROUP, "createForumTopic")
    thread = topic["result"]["message_thread_id"]
    await say(text=f"il mio numero è {PHONE}")
    await eventually(
        lambda: any(PHONE in m.get("text", "") for m in env.fake.api.messages(GROUP)), what="the relay"
    )
    press(env, MARCO, "Marco", f"h:claim:{ticket.id}")
    in_topic(env, MARCO, "Marco", thread, f"Ti richiamo al {PHONE}.")
    await eventually(lambda: _has(pushed, f"Ti richiamo al {PHONE}."), what="the operator's message")
    press(env, MARCO, "Marco", f"h:close:{ticket.id}")
    await eventually(lambda: _has(pushed, txt.RATE_QUESTION), what="the rating question")
    assert await say(payload=f"concilia:rate:{ticket.id}:5") == [txt.RATED]
    with env.store.engine.connect() as conn:
        query = text("SELECT channel_user_key, rasa_sender_id FROM users WHERE channel = 'web'")
        key, sender_id = conn.execute(query).one()

    assert await say(text="/cancella") == [texts.ERASE_CONFIRM]
    assert await say(payload=texts.ERASE_YES) == [texts.ERASED]

    await eventually(
        lambda: env.fake.state()["chats"][str(GROUP)]["topics"][str(thread)]["name"] == f"n. {ticket.id}",
        what="the topic renamed",
    )
    assert sender_id in env.rasa.erased
    assert await pushed() == []
    nothing_left(env, db, (SECRET, PHONE, key, sender_id), [])


async def _has(pushed, text_: str) -> bool:
    return any(r["text"] == text_ for r in await pushed())
