"""Real stores for tests: in-memory SQLite (unit tier) or a SQLite file (restarts, outages)."""

from __future__ import annotations

from pathlib import Path

from bot.store import Store, make_engine, upgrade


def memory_store() -> Store:
    engine = make_engine("sqlite://")
    upgrade(engine)
    return Store(engine)


def file_store(path: Path, *, migrate: bool = True) -> Store:
    engine = make_engine(f"sqlite:///{path}", create_dirs=False)
    if migrate:
        upgrade(engine)
    return Store(engine)
