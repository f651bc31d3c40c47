"""Shared fixtures of the integration tier."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import Store, upgrade
from tests.fakes.databases import BACKENDS


@pytest.fixture(params=BACKENDS)
async def db(request, tmp_path):
    """A migrated store on each database backend (a SQLite file; PostgreSQL with TEST_POSTGRES_URL), and
    ``make`` for more engines on the same database (other connections, other gateways)."""
    make, cleanup = request.param(tmp_path)
    engine = make()
    await asyncio.to_thread(upgrade, engine)
    store = Store(engine)
    yield store, make
    store.close()
    cleanup()
