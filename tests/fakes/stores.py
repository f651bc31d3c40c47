"""Real stores for tests: in-memory SQLite (unit tier) or a SQLite file (restarts, outages).

The Alembic chain runs once per test session, into a template database; every store is a copy of it
(SQLite's backup API: a few milliseconds instead of the whole chain of migrations)."""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path

from bot.store import Store, make_engine, upgrade


@cache
def _template() -> sqlite3.Connection:
    """A database migrated to the head revision, built on first use and kept for the session."""
    engine = make_engine("sqlite://")
    upgrade(engine)
    template = sqlite3.connect(":memory:", check_same_thread=False)
    with engine.connect() as conn:
        conn.connection.driver_connection.backup(template)  # type: ignore[union-attr]
    engine.dispose()
    return template


def _copy_template(store: Store) -> Store:
    with store.engine.connect() as conn:
        _template().backup(conn.connection.driver_connection)  # type: ignore[arg-type]
    return store


def memory_store() -> Store:
    return _copy_template(Store(make_engine("sqlite://")))


def file_store(path: Path, *, migrate: bool = True) -> Store:
    fresh = not path.exists() or path.stat().st_size == 0
    store = Store(make_engine(f"sqlite:///{path}", create_dirs=False))
    if migrate and fresh:
        return _copy_template(store)
    if migrate:
        upgrade(store.engine)  # a database from an earlier run: brought to the head revision
    return store
