"""Building the SQLAlchemy engine from ``DATABASE_URL`` (SQLite file by default, PostgreSQL in production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool


def make_engine(url: str, *, create_dirs: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``. For a SQLite file its folder is created (``var/`` by default), foreign keys
    are enforced and writers wait for each other instead of failing at once. ``sqlite://`` (in memory)
    gets one shared connection so every thread sees the same database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("connect_args", {"connect_timeout": 5})
        return create_engine(url, **kwargs)

    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", 5)
    if in_memory:
        kwargs.setdefault("poolclass", StaticPool)
    elif create_dirs:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _sqlite_pragmas(engine, wal=not in_memory)
    return engine


def _sqlite_pragmas(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()
