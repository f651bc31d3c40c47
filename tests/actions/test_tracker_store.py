"""rasa_addons.tracker_store: the SQL tracker store used when several Rasa servers share conversations
(deploy/endpoints.scaleout.yml) must forget a conversation when the gateway erases it (/cancella), as the
in-memory store does; Rasa's own SQL store keeps every event."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rasa_addons.tracker_store import ErasableSQLTrackerStore

DOMAIN = Domain.empty()


def _conversation(sender: str) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("ci sono centri estivi a Corbetta?"),
    ]
    return DialogueStateTracker.from_events(sender, events)


async def _erase_as_the_gateway_does(store: SQLTrackerStore, sender: str) -> None:
    # what Rasa's PUT /conversations/<id>/tracker/events does with the gateway's empty list
    await store.save(DialogueStateTracker.from_dict(sender, [], DOMAIN.slots))


def test_erasing_deletes_every_event_of_that_conversation_only(tmp_path: Path) -> None:
    asyncio.run(_erasing(tmp_path))


async def _erasing(tmp_path: Path) -> None:
    store = ErasableSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    await store.save(_conversation("c-giulia"))
    await store.save(_conversation("c-marco"))

    await _erase_as_the_gateway_does(store, "c-giulia")

    assert await store.retrieve_full_tracker("c-giulia") is None
    marco = await store.retrieve_full_tracker("c-marco")
    assert marco is not None and marco.latest_message.text == "ci sono centri estivi a Corbetta?"
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("rasa.db"))
    assert b"c-marco" in raw and b"c-giulia" not in raw  # her events are in no byte of the file


def test_a_conversation_still_grows_as_in_rasa(tmp_path: Path) -> None:
    asyncio.run(_growing(tmp_path))


async def _growing(tmp_path: Path) -> None:
    store = ErasableSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    await store.save(_conversation("c-giulia"))
    tracker = await store.retrieve("c-giulia")  # as Rasa does at each turn: retrieve, update, save
    assert tracker is not None
    tracker.update(UserUttered("e quanto costa?"))
    await store.save(tracker)

    again = await store.retrieve("c-giulia")
    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == [
        "ci sono centri estivi a Corbetta?",
        "e quanto costa?",
    ]


def test_rasas_own_sql_store_keeps_an_erased_conversation(tmp_path: Path) -> None:
    """Why the class exists: if Rasa ever fixes this, the class can go."""
    asyncio.run(_rasa_own(tmp_path))


async def _rasa_own(tmp_path: Path) -> None:
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    await store.save(_conversation("c-giulia"))
    await _erase_as_the_gateway_does(store, "c-giulia")
    assert await store.retrieve_full_tracker("c-giulia") is not None


def test_a_failed_statement_does_not_quote_what_was_bound(tmp_path: Path) -> None:
    store = ErasableSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    with pytest.raises(DBAPIError) as failed, store.engine.connect() as conn:
        conn.execute(text("INSERT INTO no_such_table VALUES (:words)"), {"words": "mi chiamo Giulia"})
    assert "no_such_table" in str(failed.value)
    assert "Giulia" not in str(failed.value) and "hidden" in str(failed.value)


def _conversation_at(sender: str, at: float) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
        UserUttered("ci sono centri estivi a Corbetta?", timestamp=at),
    ]
    return DialogueStateTracker.from_events(sender, events)


def test_the_retention_purge_deletes_the_conversations_silent_past_it(tmp_path: Path) -> None:
    asyncio.run(_purging(tmp_path))


async def _purging(tmp_path: Path) -> None:
    now = time.time()
    store = ErasableSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    await store.save(_conversation_at("c-old", now - 200 * 86400))
    await store.save(_conversation_at("c-recent", now - 10 * 86400))
    old_but_active = _conversation_at("c-active", now - 300 * 86400)
    old_but_active.update(UserUttered("e quanto costa?", timestamp=now - 3600))
    await store.save(old_but_active)

    assert store.purge(now - 180 * 86400) == 1

    assert await store.retrieve_full_tracker("c-old") is None
    assert await store.retrieve_full_tracker("c-recent") is not None
    assert await store.retrieve_full_tracker("c-active") is not None
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("rasa.db"))
    assert b"c-old" not in raw and b"c-recent" in raw

    # at start-up with `retention_days` (endpoints.yml): the same purge
    await store.save(_conversation_at("c-old", now - 200 * 86400))
    again = ErasableSQLTrackerStore(
        DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"), retention_days=180
    )
    assert await again.retrieve_full_tracker("c-old") is None
    assert await again.retrieve_full_tracker("c-recent") is not None


def test_a_new_store_on_the_same_file_goes_on_with_the_conversation(tmp_path: Path) -> None:
    """A restart of Rasa: the conversation is where it was; the file is in WAL mode."""
    asyncio.run(_restarting(tmp_path))


async def _restarting(tmp_path: Path) -> None:
    first = ErasableSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    tracker = _conversation("c-giulia")
    tracker.update(SlotSet("comune", "Corbetta"))
    await first.save(tracker)
    first.engine.dispose()

    second = ErasableSQLTrackerStore(
        Domain.from_path("nlu/domain.yml"), dialect="sqlite", db=str(tmp_path / "rasa.db")
    )
    again = await second.retrieve("c-giulia")
    assert again is not None and again.get_slot("comune") == "Corbetta"
    assert again.latest_message.text == "ci sono centri estivi a Corbetta?"
    with second.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_endpoints_yml_makes_rasa_keep_conversations_in_the_erasable_sqlite_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default set-up: what Rasa builds from endpoints.yml (relative paths from the project root, as
    systemd's WorkingDirectory; scripts/supervise.py writes an absolute one)."""
    from rasa.core.tracker_store import create_tracker_store
    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(str(Path("endpoints.yml").resolve()), "tracker_store")
    monkeypatch.chdir(tmp_path)  # a fresh checkout: no var/ yet
    store = create_tracker_store(config, DOMAIN)
    inner = getattr(store, "_tracker_store", store)  # Rasa wraps it in a FailSafeTrackerStore
    assert isinstance(inner, ErasableSQLTrackerStore)
    assert inner.retention_days == 180
    asyncio.run(inner.save(_conversation("c-giulia")))
    assert (tmp_path / "var" / "rasa-conversations.db").exists()


def test_the_rows_are_the_ones_rasas_own_store_writes(tmp_path: Path) -> None:
    """One INSERT of several rows instead of the ORM's one object per event: the same rows, column by column,
    so Rasa's own store (and a Rasa upgrade) reads them back."""
    asyncio.run(_same_rows(tmp_path))


async def _same_rows(tmp_path: Path) -> None:
    tracker = _conversation("c-rows")
    tracker.update(SlotSet("comune", "Corbetta"))
    tracker.update(ActionExecuted("action_answer"))

    columns = "sender_id, type_name, timestamp, intent_name, action_name, data"
    rows = []
    for store in (
        SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa-own.db")),
        ErasableSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "ours.db")),
    ):
        await store.save(tracker)
        with store.engine.connect() as conn:
            rows.append(conn.execute(text(f"SELECT {columns} FROM events ORDER BY id")).fetchall())
    assert len(rows[0]) == 6 and rows[0] == rows[1]
    own = SQLTrackerStore(Domain.from_path("nlu/domain.yml"), dialect="sqlite", db=str(tmp_path / "ours.db"))
    again = await own.retrieve("c-rows")
    assert again is not None and again.get_slot("comune") == "Corbetta"
