"""What several gateways share through the database, on a SQLite file and (with TEST_POSTGRES_URL) on
PostgreSQL: claiming an unanswered message, finishing a turn, long button payloads, and migration 0003."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.store import NewMessage, Store, make_engine, upgrade
from bot.store.models import CallbackPayload, Message
from bot.store.retention import purge_once
from tests.fakes.databases import BACKENDS, POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 20, 12, 0, tzinfo=timezone.utc)


def inbound(key: str = "42", at: datetime = NOW, gateway: str | None = "gw-a", **kw) -> NewMessage:
    return NewMessage(
        channel="telegram",
        user_key=key,
        direction="in",
        rasa_sender_id=f"c-{key}",
        text="ciao",
        created_at=at,
        taken_by=gateway,
        **kw,
    )


def reply(key: str = "42", answers: int | None = None) -> NewMessage:
    return NewMessage(
        channel="telegram",
        user_key=key,
        direction="out",
        rasa_sender_id=f"c-{key}",
        text="Ciao!",
        answers=answers,
    )


async def test_exactly_one_of_many_gateways_claims_a_message(db):
    store, make = db
    ref = await store.save([inbound()])
    others = [Store(make()) for _ in range(4)]

    won = await asyncio.gather(*(s.claim(ref.message_id, NOW) for s in [store, *others] for _ in range(2)))

    assert won.count(True) == 1
    assert await store.unanswered(NOW - timedelta(hours=1), NOW + timedelta(hours=1)) == []
    for s in others:
        s.close()


async def test_a_turn_finishes_only_if_nobody_answered_the_message_first(db):
    store, _ = db
    first = await store.save([inbound(key="1")])
    second = await store.save([inbound(key="2")])

    assert await store.finish_turn(first.message_id, [reply("1")], NOW) is True
    assert await store.claim(second.message_id, NOW) is True
    assert await store.finish_turn(second.message_id, [reply("2")], NOW) is False

    with store._sessions() as session:
        out = session.scalars(select(Message.user_id).where(Message.direction == "out")).all()
    assert out == [first.id]  # the late turn stored nothing


async def test_unanswered_messages_are_found_by_age_and_by_gateway(db):
    store, _ = db
    old = await store.save([inbound(key="1", at=NOW - timedelta(minutes=11))])
    dead_peer = await store.save([inbound(key="2", at=NOW - timedelta(minutes=2), gateway="gw-b")])
    busy_peer = await store.save([inbound(key="3", at=NOW - timedelta(seconds=10), gateway="gw-b")])
    mine = await store.save([inbound(key="4", at=NOW - timedelta(seconds=10), gateway="gw-a")])
    answered = await store.save([inbound(key="5", at=NOW - timedelta(seconds=90), answered_at=NOW)])
    await store.save([reply("6")])  # replies are never "unanswered"

    found = await store.unanswered(
        NOW - timedelta(minutes=10), NOW - timedelta(seconds=60), "gw-a", NOW - timedelta(seconds=5)
    )

    assert [p.id for p in found] == [dead_peer.message_id, mine.message_id]
    assert found[0].user_key == "2" and found[0].rasa_sender_id == "c-2" and found[0].text == "ciao"
    assert old and busy_peer and answered


async def test_a_reply_kept_in_the_spool_marks_its_message_answered_when_written(db):
    store, _ = db
    ref = await store.save([inbound()])
    silent = await store.save([inbound(key="7")])
    mark = NewMessage(
        channel="telegram", user_key="7", direction="out", rasa_sender_id="c-7", answers=silent.message_id
    )

    await store.save([reply(answers=ref.message_id)])
    await store.save([mark])  # a turn without replies: nothing to show is stored, only the mark

    assert await store.claim(ref.message_id, NOW) is False
    assert await store.claim(silent.message_id, NOW) is False
    assert [m.direction for m in await store.messages_of(silent.id)] == ["in"]


async def test_long_button_payloads_are_written_idempotently_and_purged(db):
    store, make = db
    other = Store(make())
    payload = '/ask_service{"comune": "San Vittore Olona", "topic": "nidi"}' * 2

    await asyncio.gather(
        store.save_callback_payloads({"p:0123456789": payload}, NOW - timedelta(days=200)),
        other.save_callback_payloads({"p:0123456789": payload}, NOW - timedelta(days=200)),
    )
    await store.save_callback_payloads({"p:abcdefabcd": "/x" * 40}, NOW - timedelta(days=200))
    await other.save_callback_payloads({"p:abcdefabcd": "/x" * 40}, NOW - timedelta(days=1))  # seen again

    assert await other.callback_payload("p:0123456789") == payload
    result = await purge_once(store, retention_days=180, now=NOW)
    assert result.callbacks == 1
    assert await store.callback_payload("p:0123456789") is None
    assert await store.callback_payload("p:abcdefabcd") == "/x" * 40
    with store._sessions() as session:
        assert session.scalar(select(CallbackPayload.seen_at)) == NOW - timedelta(days=1)
    other.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migration_0003_marks_the_messages_already_stored_as_answered(backend, tmp_path):
    make, cleanup = backend(tmp_path)
    engine = make()
    await asyncio.to_thread(upgrade, engine, "0002")
    at = NOW if engine.dialect.name == "postgresql" else NOW.replace(tzinfo=None)  # as the model writes it
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, channel, channel_user_key, rasa_sender_id, created_at, last_seen_at)"
                " VALUES (1, 'telegram', '42', 'c-42', :at, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO messages (user_id, direction, text, created_at, purged, pushed)"
                " VALUES (1, 'in', 'ciao', :at, false, false), (1, 'out', 'Ciao!', :at, false, false)"
            ),
            {"at": at},
        )
    await asyncio.to_thread(upgrade, engine)
    store = Store(engine)

    assert await store.unanswered(NOW - timedelta(days=1), NOW + timedelta(days=1)) == []
    with store._sessions() as session:
        marks = session.execute(select(Message.direction, Message.answered_at).order_by(Message.id)).all()
    assert marks == [("in", NOW), ("out", None)]
    store.close()
    cleanup()


_MIGRATE_IN_A_PROCESS = """
import sys
from bot.store import make_engine, upgrade
engine = make_engine(sys.argv[1], connect_args={"options": sys.argv[2], "connect_timeout": 5})
upgrade(engine)
"""


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs TEST_POSTGRES_URL")
def test_gateways_starting_together_migrate_an_empty_database_once():
    assert POSTGRES_URL
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # without the migration lock the processes' DDL collides: fail (lock timeout) instead of hanging
    options = f"-csearch_path={schema} -clock_timeout=15s"
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _MIGRATE_IN_A_PROCESS, POSTGRES_URL, options],
                cwd=ROOT,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, errors
        with admin.connect() as conn:
            version = conn.execute(text(f'SELECT version_num FROM "{schema}".alembic_version')).all()
        assert len(version) == 1
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


async def test_a_ticket_is_linked_to_one_forum_topic_whoever_creates_it(db):
    from bot.store.desk import DeskPlacesStore
    from bot.store.tickets import TicketStore

    store, make = db
    other = Store(make())
    user = await store.save([inbound()])
    tickets = TicketStore(store)
    ticket, _ = await tickets.create(
        user.id, "p", topic=None, territory=None, town=None, question=None, now=NOW
    )
    results = await asyncio.gather(
        DeskPlacesStore(store).link(ticket.id, -100, 1, NOW),
        DeskPlacesStore(other).link(ticket.id, -100, 2, NOW),
    )

    assert sorted(results) == [False, True]
    linked = (await DeskPlacesStore(store).place(ticket.id)).thread_id
    assert linked == (1 if results[0] else 2)
    assert await DeskPlacesStore(store).link(ticket.id, -100, 3, NOW, replacing=linked) is True  # made again
    other.close()
