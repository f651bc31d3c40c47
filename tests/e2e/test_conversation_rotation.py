"""A person's Rasa conversation for real (bot/conversation/conversations.py, rasa_addons/tracker_store.py):
after RASA_CONVERSATION_TURNS messages the gateway starts a new conversation in Rasa under a new opaque id,
with her slots set on it through Rasa's tracker API, and erases the old one; a restart of Rasa (its
conversations in the SQLite tracker store) loses nothing; /cancella erases every id she had."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.assistant.rasa import rasa_auth_headers
from harness.stack import Gateway, RasaStack, start_gateway
from harness.telegram_user import TelegramUser, buttons_of, text_of


@pytest.fixture
def gateway3(rasa_stack: RasaStack, logdir: Path, tmp_path: Path) -> Iterator[Gateway]:
    g = start_gateway(
        rasa_stack.rasa_url,
        rasa_stack.token,
        logdir,
        tmp_path / "gateway.db",
        extra_env={"RASA_CONVERSATION_TURNS": "3"},
    )
    try:
        yield g
    finally:
        g.stop()


def tracker(stack: RasaStack, sender_id: str) -> dict:
    r = httpx.get(
        f"{stack.rasa_url}/conversations/{sender_id}/tracker",
        headers=rasa_auth_headers(stack.token),
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


def ids_of(db: Path, user_id: int) -> tuple[str, set[str]]:
    with sqlite3.connect(db) as conn:
        [(uid, current)] = conn.execute(
            "SELECT id, rasa_sender_id FROM users WHERE channel_user_key = ?", (str(user_id),)
        ).fetchall()
        recorded = {
            r[0] for r in conn.execute("SELECT sender_id FROM rasa_sender_ids WHERE user_id = ?", (uid,))
        }
    return current, recorded


def raw(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_a_new_conversation_carries_her_slots_survives_a_restart_and_is_erased(gateway3, rasa_stack):
    user = TelegramUser(gateway3.telegram, user_id=700131, first_name="Bianca")
    assert text_of(user.say("ci sono centri estivi a Corbetta per luglio?"))
    first, _ = ids_of(gateway3.db_path, user.user_id)
    slots = tracker(rasa_stack, first)["slots"]
    assert slots["comune"] == "Corbetta"  # the test can fail: the first message set her town
    user.say("mio figlio ha 7 anni")
    user.say("grazie")
    before = {k: v for k, v in tracker(rasa_stack, first)["slots"].items() if v is not None}

    answer = user.say("e a Magenta?")  # her fourth message: a new conversation
    assert text_of(answer)
    second, recorded = ids_of(gateway3.db_path, user.user_id)
    assert second != first and recorded == {first, second}
    new = tracker(rasa_stack, second)
    assert [e["event"] for e in new["events"]][:2] == ["action", "session_started"]  # Rasa's session start
    events = new["events"]
    first_user = next(i for i, e in enumerate(events) if e["event"] == "user")
    carried = {e["name"]: e["value"] for e in events[:first_user] if e["event"] == "slot"}
    assert carried["comune"] == "Corbetta" and carried["age"] == 7.0
    assert {k: carried[k] for k in before if k != "session_started_metadata"} == {
        k: v for k, v in before.items() if k != "session_started_metadata"
    }
    # the old conversation is gone from Rasa (asked for, Rasa shows a new one: a session start alone)
    assert not [e for e in tracker(rasa_stack, first)["events"] if e["event"] in ("user", "slot")]
    kept = tracker(rasa_stack, second)["slots"]

    rasa_stack.rasa.stop()  # Rasa restarted: its conversations are in the SQLite tracker store
    rasa_stack.start_rasa()
    assert tracker(rasa_stack, second)["slots"] == kept
    assert text_of(user.say("grazie"))
    assert ids_of(gateway3.db_path, user.user_id)[0] == second

    confirm = user.say("/cancella")
    assert buttons_of(confirm[-1]) == ["Sì", "No"]
    assert "cancellato" in text_of(user.press(confirm[-1], "Sì"))
    data = raw(rasa_stack.logdir / "rasa-tracker.db")
    assert first.encode() not in data and second.encode() not in data
    assert not [e for e in tracker(rasa_stack, second)["events"] if e["event"] in ("user", "slot")]
