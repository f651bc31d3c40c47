"""/cancella for real: the gateway (`concilia run`) on its SQLite file, Rasa with the erasable tracker store
on a SQLite file of its own (see conftest.py). Before the erase her words and her Rasa id are in both
files; after it they are in no byte of either (database, WAL, journal)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.telegram_user import TelegramUser, buttons_of, text_of

SECRET = "Zanzibarina"  # a word only she wrote


def raw(db: Path) -> bytes:
    """Every byte of a SQLite database and its side files (-wal, -journal, -shm)."""
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_cancella_leaves_nothing_in_the_gateways_database_or_in_rasas_tracker_store(gateway, rasa_stack):
    tracker_db = rasa_stack.logdir / "rasa-tracker.db"
    user = TelegramUser(gateway.telegram, user_id=700090, first_name="Ornella")
    answer = user.say(f"ci sono centri estivi a Corbetta per luglio? Mi chiamo {SECRET}")
    assert text_of(answer)  # the assistant answered (it may first ask the child's age)
    with sqlite3.connect(gateway.db_path) as db:
        [(sender_id,)] = db.execute(
            "SELECT rasa_sender_id FROM users WHERE channel_user_key = ?", (str(user.user_id),)
        ).fetchall()
    for data in (raw(tracker_db), raw(gateway.db_path)):  # the test can fail: both hold her words now
        assert SECRET.encode() in data and sender_id.encode() in data

    confirm = user.say("/cancella")
    assert buttons_of(confirm[-1]) == ["Sì", "No"]
    assert "cancellato" in text_of(user.press(confirm[-1], "Sì"))

    for data in (raw(tracker_db), raw(gateway.db_path)):
        assert SECRET.encode() not in data
        assert sender_id.encode() not in data
        assert b"Ornella" not in data
