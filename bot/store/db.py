"""The database: the SQLAlchemy engine built from ``DATABASE_URL`` (SQLite file by default, PostgreSQL in
production) and :class:`Database`, the one helper that runs a function in the database thread.

Why a sync engine in a thread rather than SQLAlchemy's async engine: the same code and the same drivers
(sqlite3, psycopg) serve SQLite and PostgreSQL without an extra async driver (aiosqlite), the store's load is
a handful of short statements per message, and Alembic runs on the same engine at start-up. Every call runs
in a small dedicated thread pool (one thread for SQLite, which has one writer anyway, so writers never wait
on each other's locks), and the event loop never blocks on the database.

Failures that mean "the database cannot be reached" (connection refused, file not openable, locked for too
long, pool exhausted) are raised as :class:`StoreUnavailable`, so the router can spool and go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

T = TypeVar("T")
log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database cannot be reached right now; try again later."""


class PersonErased(Exception):
    """The records were not written: the person erased her data after they were taken in (they come from
    a spool). ``sender_ids``: the Rasa ids they carry, whose conversations must be erased too."""

    def __init__(self, sender_ids: list[str]) -> None:
        super().__init__("the person erased her data after these records were taken in")
        self.sender_ids = sender_ids


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def rowcount(result: Any) -> int:
    """The rows an UPDATE or DELETE touched."""
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


class Database:
    """The engine, its sessions and the thread pool every query runs in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the database thread; "cannot reach the database" raised as StoreUnavailable."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(str(exc).splitlines()[0]) from exc
            raise

    async def read(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` in the database thread; the session commits only if ``fn`` does."""

        def run() -> T:
            with self.sessions() as session:
                return fn(session)

        return await self.call(run)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` in one transaction, committed when ``fn`` returns (rolled back if it raises)."""

        def run() -> T:
            with self.sessions.begin() as session:
                return fn(session)

        return await self.call(run)

    async def checkpoint(self) -> bool:
        """SQLite in WAL mode: copy the WAL into the database file and truncate it to nothing, so what a
        transaction deleted is no longer in the WAL either. True when done (or nothing to do: another
        database); False when a reader kept it from completing (logged; the next erase tries again)."""
        if self.engine.dialect.name != "sqlite":
            return True

        def run() -> bool:
            with self.engine.connect() as conn:
                busy, *_ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            return not busy

        for _ in range(5):
            if await self.call(run):
                return True
            await asyncio.sleep(0.2)
        log.warning("the SQLite WAL could not be checkpointed (a reader kept it busy)")
        return False

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()


def make_engine(url: str, *, create_dirs: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``. For a SQLite file its folder is created (``var/`` by default), foreign keys
    are enforced, deleted content is overwritten (``secure_delete``) and writers wait for each other instead
    of failing at once. ``sqlite://`` (in memory)
    gets one shared connection so every thread sees the same database.

    Bound parameters (message texts, ids) are never put in error messages or logs (``hide_parameters``),
    and the folder and files of a SQLite database are readable by their owner only."""
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
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
    else:
        owner_only(Path(database).expanduser(), create_dirs=create_dirs)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _sqlite_pragmas(engine, wal=not in_memory)
    return engine


def owner_only(database: Path, *, create_dirs: bool = True) -> None:
    """A SQLite file's folder is created 0700, and the file with its ``-wal`` and ``-shm`` made 0600 (SQLite
    gives those two the database file's mode). A folder that exists is left as it is, with a warning when
    others can read it: it may be the project's or the home folder."""
    folder = database.parent
    if create_dirs and not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if folder.stat().st_mode & 0o077 and folder.stat().st_uid == os.getuid():
            log.warning("the database folder %s can be read by other users: chmod 700 it", folder)
    for suffix in ("", "-wal", "-shm"):
        path = database.with_name(database.name + suffix)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if path.stat().st_uid == os.getuid():
                path.chmod(0o600)


def _sqlite_pragmas(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            # what is deleted is overwritten with zeros, not left in free pages (erasure, retention)
            cursor.execute("PRAGMA secure_delete=ON")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()
