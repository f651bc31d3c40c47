"""The store on a real SQLite file and, when TEST_POSTGRES_URL is set, on PostgreSQL
(a fresh schema per test)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from bot.store import NewMessage, Store, StoreUnavailable, make_engine, upgrade
from bot.store.migrate import current_revision, head_revision
from bot.store.models import Base, Message, PrivacyEvent, ProcessedUpdate, RasaSenderId, User
from bot.store.retention import purge_once, run_retention
from tests.support import eventually

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def _sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'concilia.db'}")
    return engine, lambda: None


def _postgres(tmp_path):
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}", "connect_timeout": 5}
    )

    def drop() -> None:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


BACKENDS = [
    pytest.param(_sqlite, id="sqlite"),
    pytest.param(
        _postgres,
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
async def store(request, tmp_path):
    engine, cleanup = request.param(tmp_path)
    await asyncio.to_thread(upgrade, engine)
    s = Store(engine)
    yield s
    s.close()
    cleanup()


def msg(user_key="42", direction="in", text="ciao", at=NOW, update_id=None, channel="telegram", **kw):
    return NewMessage(
        channel=channel,
        user_key=user_key,
        direction=direction,
        rasa_sender_id=f"c-{user_key}-{uuid.uuid4().hex[:6]}",
        text=text,
        created_at=at,
        update_id=update_id,
        **kw,
    )


def all_rows(store, model):
    with store._sessions() as session:
        return session.scalars(select(model)).all()


async def test_migrations_reach_head_and_match_the_models(store):
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        tables = set(inspect(conn).get_table_names())
    assert {"users", "messages", "processed_updates", "privacy_events", "alembic_version"} <= tables
    handoff = {"tickets", "ticket_events", "relayed_messages", "operators", "operator_groups", "invite_codes"}
    assert handoff <= tables
    await asyncio.to_thread(upgrade, store.engine)  # running again is harmless
    assert current_revision(store.engine) == head_revision()


async def test_sqlite_default_folder_is_created(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh' / 'var' / 'concilia.db'}")
    upgrade(engine)

    assert (tmp_path / "fresh" / "var" / "concilia.db").exists()
    engine.dispose()


async def test_messages_round_trip_with_meta_buttons_and_utc_times(store):
    meta = {
        "intent": "ask_cost",
        "comune": "Cassinetta di Lugagnano",
        "service_ids": ["a", "b"],
        "handoff": False,
    }
    ref = await store.save(
        [
            msg(text="quanto costa? €"),
            msg(direction="out", text="85 €", meta=meta, buttons=[{"title": "Sì", "payload": "/affirm"}]),
        ]
    )

    rows = await store.messages_of(ref.id)
    assert [(m.direction, m.text) for m in rows] == [("in", "quanto costa? €"), ("out", "85 €")]
    assert rows[1].meta == meta and rows[1].buttons == [{"title": "Sì", "payload": "/affirm"}]
    assert rows[0].created_at == NOW and rows[0].created_at.tzinfo is not None


async def test_one_user_per_channel_and_key(store):
    a = await store.save([msg(user_key="1")])
    b = await store.save([msg(user_key="1", text="di nuovo")])
    c = await store.save([msg(user_key="1", channel="web")])

    assert a == b and a != c
    assert a.rasa_sender_id != c.rasa_sender_id


async def test_update_ids_are_taken_once_even_concurrently(store):
    results = await asyncio.gather(
        *(store.save([msg(user_key=str(i % 3), update_id=900)]) for i in range(12))
    )

    assert sum(r is not None for r in results) == 1
    assert len(all_rows(store, Message)) == 1
    assert [u.update_id for u in all_rows(store, ProcessedUpdate)] == [900]


async def test_a_new_person_writing_twice_at_once_gets_one_row(store):
    results = await asyncio.gather(*(store.save([msg(user_key="new", text=str(i))]) for i in range(10)))

    assert len({r.id for r in results}) == 1
    assert len(all_rows(store, User)) == 1 and len(all_rows(store, Message)) == 10


async def test_erase_removes_the_person_and_keeps_an_anonymous_record(store):
    ref = await store.save([msg(user_key="1"), msg(user_key="1", direction="out")])
    other = await store.save([msg(user_key="2")])
    await store.record_privacy_event(ref.id, "notice_shown")
    await store.record_privacy_event(ref.id, "erase_requested", NOW)
    assert await store.erase_requested_since(ref.id, NOW - timedelta(minutes=15))
    assert not await store.erase_requested_since(other.id, NOW - timedelta(minutes=15))

    await store.erase_user(ref.id)

    assert [u.channel_user_key for u in all_rows(store, User)] == ["2"]
    assert {m.user_id for m in all_rows(store, Message)} == {other.id}
    assert [(e.user_id, e.kind) for e in all_rows(store, PrivacyEvent)] == [(None, "erased")]


async def test_retention_purges_old_texts_and_old_update_ids(store):
    old = NOW - timedelta(days=181)
    recent = NOW - timedelta(days=179)
    ref = await store.save(
        [
            msg(text="vecchio", at=old, update_id=1, payload="/old"),
            msg(
                direction="out",
                text="risposta vecchia",
                at=old,
                meta={"topic": "school_closure"},
                buttons=[{"title": "x", "payload": "/x"}],
            ),
            msg(text="recente", at=recent, update_id=2),
        ]
    )
    await store.save([msg(text="ieri", at=NOW - timedelta(days=6), update_id=3)])
    await store.save([msg(text="una settimana fa", at=NOW - timedelta(days=8), update_id=4)])

    result = await purge_once(store, retention_days=180, now=NOW)

    assert (result.messages, result.updates) == (2, 3)  # update ids: kept 7 days
    rows = await store.messages_of(ref.id)
    assert [(m.text, m.payload, m.buttons, m.purged) for m in rows] == [
        (None, None, None, True),
        (None, None, None, True),
        ("recente", None, None, False),
        ("una settimana fa", None, None, False),
        ("ieri", None, None, False),
    ]
    assert rows[1].meta == {"topic": "school_closure"}  # no personal text in meta: kept for statistics
    assert [u.update_id for u in all_rows(store, ProcessedUpdate)] == [3]
    again = await purge_once(store, retention_days=180, now=NOW)
    assert (again.messages, again.updates) == (0, 0)


async def test_retention_job_runs_until_cancelled(store):
    await store.save([msg(text="vecchio", at=NOW - timedelta(days=400))])
    job = asyncio.create_task(run_retention(store, 180, interval=0.05, clock=lambda: NOW))
    await eventually(lambda: all(m.purged for m in all_rows(store, Message)), what="the purge")
    assert not job.done()  # it keeps running until cancelled
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job

    assert all(m.purged and m.text is None for m in all_rows(store, Message))


async def test_unreachable_database_raises_store_unavailable(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nothing" if POSTGRES_URL else None
    engine = make_engine(url or f"sqlite:///{tmp_path / 'missing' / 'x.db'}", create_dirs=False)
    store = Store(engine)

    assert await store.ping() is False
    with pytest.raises(StoreUnavailable):
        await store.save([msg()])
    store.close()


async def test_a_new_rasa_conversation_is_recorded_counted_from_its_start_and_erased(store):
    """bot/store/conversations.py: the age of the current conversation, a new id recorded then made
    current (once, whoever asks twice), and every id erased with the person."""
    since = NOW - timedelta(hours=1)

    def mine(at):  # what the gateway sends: the id it holds for her
        return dataclasses.replace(msg(at=at), rasa_sender_id="c-first")

    ref = await store.save([mine(NOW)], count_since=since)
    assert ref.conversation.turns == 0 and ref.conversation.last_at is None
    ref = await store.save([mine(NOW + timedelta(seconds=5))], count_since=since)
    assert ref.conversation.turns == 1 and ref.conversation.last_at == NOW
    assert ref.conversation.at == NOW + timedelta(seconds=5)
    first = ref.rasa_sender_id

    started = NOW + timedelta(seconds=10)
    assert await store.record_sender_id(ref.id, "c-second", started)
    assert await store.sender_ids(ref.id) == [first, "c-second"]  # recorded before it is current
    assert await store.switch_sender_id(ref.id, first, "c-second") == "c-second"
    assert await store.switch_sender_id(ref.id, first, "c-third") == "c-second"  # already switched

    ref = await store.save([mine(started)], count_since=since)
    assert ref.rasa_sender_id == "c-second"
    assert ref.conversation.turns == 0  # the new conversation's own messages only
    ref = await store.save([mine(started + timedelta(seconds=1))], count_since=since)
    assert ref.conversation.turns == 1 and ref.conversation.last_at == started
    assert set(await store.sender_ids(ref.id)) == {first, "c-second"}

    await store.erase_user(ref.id)
    assert all_rows(store, RasaSenderId) == [] and all_rows(store, User) == []
    assert not await store.record_sender_id(ref.id, "c-fourth", started)


async def test_the_save_says_whether_the_person_is_in_a_handoff(store):
    from bot.handoff.model import PendingRequest
    from bot.store.tickets import TicketStore

    tickets = TicketStore(store)
    since = NOW - timedelta(hours=1)

    async def in_handoff(seconds: int) -> bool | None:
        ref = await store.save([msg(at=NOW + timedelta(seconds=seconds))], count_since=since)
        return ref.in_handoff

    assert await in_handoff(0) is False
    user = await store.find_user("telegram", "42")
    await tickets.set_pending(user.id, PendingRequest("summer_camp", "operatore", 0, NOW))
    assert await in_handoff(1) is True
    await tickets.set_pending(user.id, None)  # cleared: stored as JSON null
    assert await in_handoff(2) is False
    ticket, _ = await tickets.create(
        user.id, "azienda-consortile-magentino", topic=None, territory=None, town=None, question=None, now=NOW
    )
    assert await in_handoff(3) is True
    await tickets.close(ticket.id, NOW, actor="person", reason="left")
    assert await in_handoff(4) is False
    assert (await store.save([msg(at=NOW + timedelta(seconds=5))])).in_handoff is None  # not asked
