"""Real stores for tests: in-memory SQLite (unit tier) or a SQLite file (restarts, outages).

The Alembic chain runs once per test session, into a template database; every in-memory store starts
as a copy of it (SQLite's backup API, about a millisecond instead of a whole migration)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from bot.store import Store, make_engine, upgrade

_template: sqlite3.Connection | None = None
_template_lock = threading.Lock()


def _migrated_template() -> sqlite3.Connection:
    """An in-memory database migrated to head, built on first use and kept for the session."""
    global _template
    with _template_lock:
        if _template is None:
            engine = make_engine("sqlite://")
            upgrade(engine)
            template = sqlite3.connect(":memory:", check_same_thread=False)
            raw = engine.raw_connection()
            try:
                raw.driver_connection.backup(template)
            finally:
                raw.close()
                engine.dispose()
            _template = template
        return _template


def memory_store() -> Store:
    engine = make_engine("sqlite://")  # one connection (StaticPool): the copy is the store's database
    raw = engine.raw_connection()
    try:
        template = _migrated_template()
        with _template_lock:
            template.backup(raw.driver_connection)
    finally:
        raw.close()
    return Store(engine)


def file_store(path: Path, *, migrate: bool = True) -> Store:
    engine = make_engine(f"sqlite:///{path}", create_dirs=False)
    if migrate:
        upgrade(engine)
    return Store(engine)
