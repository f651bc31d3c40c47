"""Databases for the storage tests: a SQLite file, and PostgreSQL (a fresh schema per test) when
TEST_POSTGRES_URL is set. Each factory returns ``(make_engine, cleanup)``: ``make_engine()`` can be called
more than once for several independent engines (separate connections) on the same database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.store import make_engine

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")

EngineFactory = tuple[Callable[[], Engine], Callable[[], None]]


def sqlite_file(tmp_path: Path) -> EngineFactory:
    path = tmp_path / "concilia.db"
    engines: list[Engine] = []

    def make() -> Engine:
        engine = make_engine(f"sqlite:///{path}")
        engines.append(engine)
        return engine

    def cleanup() -> None:
        for engine in engines:
            engine.dispose()

    return make, cleanup


def postgres_schema(tmp_path: Path) -> EngineFactory:
    assert POSTGRES_URL
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engines: list[Engine] = []

    def make() -> Engine:
        engine = make_engine(
            POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}", "connect_timeout": 5}
        )
        engines.append(engine)
        return engine

    def cleanup() -> None:
        for engine in engines:
            engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return make, cleanup


BACKENDS = [
    pytest.param(sqlite_file, id="sqlite"),
    pytest.param(
        postgres_schema,
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
        ],
    ),
]
