"""The cache of trackers in front of the SQL tracker store (rasa_addons/tracker_cache.py): a turn of a
conversation in use is served from memory, every save reaches the file (a restart of Rasa goes on where the
conversation was), the cache is bounded, and an erased or purged conversation is never served from it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text

from rasa_addons.tracker_store import ErasableSQLTrackerStore

DOMAIN = Domain.from_path("nlu/domain.yml")


def _store(tmp_path: Path, **kwargs: Any) -> ErasableSQLTrackerStore:
    return ErasableSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"), **kwargs)


def _rows(store: ErasableSQLTrackerStore, sender: str) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
        )


def _delete_behind_its_back(store: ErasableSQLTrackerStore, sender: str) -> None:
    """Rows gone from the file with no call to the store: only a cached tracker can still be served."""
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE sender_id = :s"), {"s": sender})


async def _turn(
    store: ErasableSQLTrackerStore, sender: str, words: str, **slots: Any
) -> DialogueStateTracker:
    """What Rasa's processor does with a message: get (or create) the tracker, append the turn, save it."""
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    if not tracker.events:  # action_session_start logged after the SessionStarted it returned
        started = SessionStarted()
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(started)
        tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(words, {"name": "centri_estivi"}))
    for name, value in slots.items():
        tracker.update(SlotSet(name, value))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    return tracker


def _said(tracker: DialogueStateTracker | None) -> list[str | None]:
    assert tracker is not None
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


def test_a_conversation_in_use_is_served_from_the_cache(tmp_path: Path) -> None:
    asyncio.run(_hit(tmp_path))


async def _hit(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = await _turn(store, "c-giulia", "ci sono centri estivi a Corbetta?")
    second = await _turn(store, "c-giulia", "e quanto costa?")
    assert second is first  # the same object, not rebuilt from the file
    _delete_behind_its_back(store, "c-giulia")
    assert _said(await store.retrieve("c-giulia")) == ["ci sono centri estivi a Corbetta?", "e quanto costa?"]

    uncached = _store(tmp_path / "off", cache_size=0)  # the same turns with no cache: the file is all
    await _turn(uncached, "c-giulia", "ci sono centri estivi a Corbetta?")
    _delete_behind_its_back(uncached, "c-giulia")
    assert await uncached.retrieve("c-giulia") is None


def test_the_cache_holds_the_conversations_used_last_up_to_its_size(tmp_path: Path) -> None:
    asyncio.run(_bound(tmp_path))


async def _bound(tmp_path: Path) -> None:
    store = _store(tmp_path, cache_size=2)
    for sender in ("c-anna", "c-bruno", "c-carla"):
        await _turn(store, sender, f"ciao, sono {sender}")
    await store.retrieve("c-bruno")  # used again: c-carla is now the one used longest ago after c-anna
    await _turn(store, "c-dario", "ciao")
    assert len(store.cache) == 2
    for sender in ("c-anna", "c-bruno", "c-carla", "c-dario"):
        _delete_behind_its_back(store, sender)
    assert await store.retrieve("c-anna") is None and await store.retrieve("c-carla") is None
    assert _said(await store.retrieve("c-bruno")) == ["ciao, sono c-bruno"]
    assert _said(await store.retrieve("c-dario")) == ["ciao"]


def test_every_turn_is_in_the_file_and_a_restarted_rasa_goes_on(tmp_path: Path) -> None:
    asyncio.run(_write_through(tmp_path))


async def _write_through(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await _turn(store, "c-giulia", "ci sono centri estivi a Corbetta?", comune="Corbetta")
    await _turn(store, "c-giulia", "per un bambino di 8 anni")
    tracker = await _turn(store, "c-giulia", "e quanto costa?")
    assert _rows(store, "c-giulia") == len(tracker.events)  # each event once: only the new ones written

    restarted = _store(tmp_path)  # a second store on the same file, as after a restart of Rasa
    again = await restarted.retrieve("c-giulia")
    assert again is not None and again.get_slot("comune") == "Corbetta"
    assert [e.as_dict() for e in again.events] == [e.as_dict() for e in tracker.events]
    await _turn(restarted, "c-giulia", "grazie")
    assert _said(await _store(tmp_path, cache_size=0).retrieve("c-giulia"))[-1] == "grazie"


def test_a_turn_that_failed_before_saving_is_not_served(tmp_path: Path) -> None:
    asyncio.run(_unsaved(tmp_path))


async def _unsaved(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await _turn(store, "c-giulia", "ci sono centri estivi a Corbetta?")
    tracker = await store.retrieve("c-giulia")
    assert tracker is not None
    tracker.update(UserUttered("mai salvato"))  # the processor failed before its save
    assert _said(await store.retrieve("c-giulia")) == ["ci sono centri estivi a Corbetta?"]
    await _turn(store, "c-giulia", "e quanto costa?")
    assert _said(await _store(tmp_path, cache_size=0).retrieve("c-giulia")) == [
        "ci sono centri estivi a Corbetta?",
        "e quanto costa?",
    ]


def test_erasing_every_id_of_a_person_leaves_none_in_the_cache(tmp_path: Path) -> None:
    asyncio.run(_erase(tmp_path))


async def _erase(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ids = ["c-giulia-1", "c-giulia-2"]  # her conversation before and after a rotation
    for sender in ids:
        await _turn(store, sender, "abito a Corbetta")
    await _turn(store, "c-marco", "ciao")
    for sender in ids:  # what the gateway's /cancella does for each: PUT .../tracker/events with []
        await store.save(DialogueStateTracker.from_dict(sender, [], DOMAIN.slots))
    for sender in ids:
        assert await store.retrieve(sender) is None
        assert _rows(store, sender) == 0
    assert _said(await store.retrieve("c-marco")) == ["ciao"]


def test_the_retention_purge_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    asyncio.run(_purge(tmp_path))


async def _purge(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await _turn(store, "c-old", "ciao")
    assert await store.retrieve("c-old") is not None  # in the cache
    assert store.purge(time.time() + 60) == 1  # as if its last event were past retention
    assert await store.retrieve("c-old") is None


def test_a_new_session_is_served_alone_as_from_the_file(tmp_path: Path) -> None:
    asyncio.run(_new_session(tmp_path))


async def _new_session(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await _turn(store, "c-giulia", "ci sono centri estivi a Corbetta?")
    tracker = await store.retrieve("c-giulia")
    assert tracker is not None
    tracker.update(ActionExecuted("action_session_start"))  # the session expired: Rasa starts a new one
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("sono tornata"))
    await store.save(tracker)
    assert _said(await store.retrieve("c-giulia")) == ["sono tornata"]
    assert _said(await store.retrieve_full_tracker("c-giulia")) == [
        "ci sono centri estivi a Corbetta?",
        "sono tornata",
    ]


def test_an_event_broker_gets_each_new_event_once(tmp_path: Path) -> None:
    asyncio.run(_broker(tmp_path))


class _Broker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


async def _broker(tmp_path: Path) -> None:
    broker = _Broker()
    store = _store(tmp_path, event_broker=broker)
    await _turn(store, "c-giulia", "ciao")
    tracker = await _turn(store, "c-giulia", "e quanto costa?")
    assert [e["event"] for e in broker.published] == [e.as_dict()["event"] for e in tracker.events]


def test_the_size_comes_from_the_environment_and_the_scaleout_set_up_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASA_TRACKER_CACHE", "7")
    assert _store(tmp_path).cache.size == 7
    # several Rasa servers behind a load balancer with no stickiness: any of them writes any conversation
    scaleout = yaml.safe_load(Path("deploy/endpoints.scaleout.yml").read_text("utf-8"))
    assert scaleout["tracker_store"]["cache_size"] == 0
